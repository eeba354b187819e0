import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { BGRS_DATA_SOURCE, BGRS_ENDED_STATUSES, BGRS_RUNNING_STATUSES, BgrsStatusId } from '../bgrs.constants.js';
import { fitDetails } from '../progress/progress-values.js';
import { BgrsRequestRepository } from './bgrs-request.repository.js';
import { BgrsJob } from './entities/bgrs-job.entity.js';
import { WriteBatcher } from './write-batcher.js';

/** A run of a queued request that a worker has just started. */
export interface StartedRun {
  /** 1 for the first run, more for a run again. */
  attempt: number;
  /** A run cut by its worker's death may run again. */
  rerun: boolean;
  /** The request, as the worker replays it. */
  envelope: Buffer;
  /** What the record shows of its progress: a run again starts from there. */
  progress: number;
}

/** A worker starting runs: the details row of each run it starts (none for one it will not run). */
export interface RunStarter {
  workerId: string;
  detailOf(run: StartedRun): string | undefined;
}

const RUNNING = BGRS_RUNNING_STATUSES.join(', ');
const JOBS_RELEASED_AT_ONCE = 1000;

/**
 * The queue mode's bookkeeping (`bgrs_jobs`): which requests were handed to the queue and have not ended, the request
 * each carries to its worker, and how many runs of it have started, which fences their final writes. A row is
 * written with its request at acceptance (`BgrsRequestRepository`) and deleted once the request has ended.
 */
@Injectable()
export class BgrsJobRepository {
  constructor(
    @Inject(BGRS_DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly requests: BgrsRequestRepository,
  ) {}

  /** Runs that start while a start is being written, per worker (one in a process), written together. */
  private readonly starts = new Map<string, WriteBatcher<string, StartedRun | undefined>>();

  /**
   * Starts a run of a request that has not ended: counts it (its attempt), marks the request `processing`, reads
   * what the run needs and writes the details row that `starter` gives it. Undefined when the request has ended or is gone (nothing to run). One transaction, so
   * that two workers that start the same job at once count two attempts and each sees its own. Runs that start
   * together on this worker share the transaction and its statements: a transaction of four statements per job
   * was half of the statements of a queued request (bench row q3).
   */
  startRun(rid: string, starter: RunStarter): Promise<StartedRun | undefined> {
    let batcher = this.starts.get(starter.workerId);
    if (!batcher) {
      batcher = new WriteBatcher((rids) => this.startMany(rids, starter));
      this.starts.set(starter.workerId, batcher);
    }
    return batcher.add(rid);
  }

  private startMany(rids: string[], starter: RunStarter): Promise<Array<StartedRun | undefined>> {
    const { workerId } = starter;
    const keys = rids.map(() => '?').join(', ');
    // READ COMMITTED where the driver has it: under REPEATABLE READ the UPDATE of a list of keys locks the gaps
    // between them too, where acceptances insert their rows, and the two deadlock (as `releaseEnded` below).
    const readCommitted = this.dataSource.driver.supportedIsolationLevels.includes('READ COMMITTED');
    const start = async (manager: EntityManager) => {
      await manager.query(
        'UPDATE bgrs_jobs SET attempt = attempt + 1, worker_id = ? ' +
          `WHERE rid IN (${keys}) AND rid IN (SELECT rid FROM bgrs_requests WHERE rid IN (${keys}) ` +
          `AND status_id IN (${RUNNING}))`,
        [workerId, ...rids, ...rids],
      );
      await manager.query(
        `UPDATE bgrs_requests SET status_id = ${BgrsStatusId.Processing} ` +
          `WHERE rid IN (${keys}) AND status_id = ${BgrsStatusId.Queued}`,
        rids,
      );
      // The rows counted above: an ended request stays ended, so the ones still running are those.
      const rows: Array<{ rid: string; attempt: number; rerun: number; envelope: Buffer; progress: string }> =
        await manager.query(
          'SELECT j.rid, j.attempt, j.rerun, j.envelope, r.progress FROM bgrs_jobs j ' +
            `INNER JOIN bgrs_requests r ON r.rid = j.rid WHERE j.rid IN (${keys}) AND r.status_id IN (${RUNNING})`,
          rids,
        );
      const byRid = new Map(rows.map((row) => [row.rid, row]));
      const started = rids.map((rid) => {
        const row = byRid.get(rid);
        return (
          row && {
            attempt: Number(row.attempt),
            rerun: Number(row.rerun) === 1,
            envelope: Buffer.from(row.envelope),
            progress: Number(row.progress),
          }
        );
      });
      // With the start, not by the run's progress buffer: that row was written after the handler, on the way to the
      // run's final write (bench row q3: a write of its own on each queued request's path to `finished`).
      const at = new Date();
      const details = rids.flatMap((rid, i) => {
        const text = started[i] && starter.detailOf(started[i]);
        return text === undefined ? [] : [{ rid, at, details: fitDetails(text) }];
      });
      if (details.length > 0) {
        await this.requests.insertDetailsWith(manager, details);
      }
      return started;
    };
    return readCommitted ? this.dataSource.transaction('READ COMMITTED', start) : this.dataSource.transaction(start);
  }

  /** Requests of the queue that have not ended, last handed to it before `before` (epoch ms), oldest first. */
  async findHandedBefore(before: number, limit: number): Promise<string[]> {
    const rows: Array<{ rid: string }> = await this.dataSource.query(
      'SELECT j.rid FROM bgrs_jobs j INNER JOIN bgrs_requests r ON r.rid = j.rid ' +
        `WHERE r.status_id IN (${RUNNING}) AND j.queued_at < ? ORDER BY j.queued_at LIMIT ${Number(limit)}`,
      [before],
    );
    return rows.map((row) => row.rid);
  }

  /** The request has been handed to the queue again, at `at` (epoch ms). */
  async handedAgain(rid: string, at: number): Promise<void> {
    await this.dataSource.getRepository(BgrsJob).update({ rid }, { queuedAt: String(at) });
  }

  /**
   * Deletes the rows of requests that have ended, the requests they carried with them: found by a plain read,
   * deleted by key under READ COMMITTED where the driver has it (as leases are, for the same reason). Under
   * REPEATABLE READ the DELETE of a list of keys takes next-key locks, gaps included, where acceptances insert
   * their rows: the two deadlocked under load (bench rows q2, q3), each time costing an acceptance batch its
   * transaction and a retry one row at a time.
   */
  async releaseEnded(): Promise<void> {
    const readCommitted = this.dataSource.driver.supportedIsolationLevels.includes('READ COMMITTED');
    for (;;) {
      const rows: Array<{ rid: string }> = await this.dataSource.query(
        'SELECT j.rid FROM bgrs_jobs j INNER JOIN bgrs_requests r ON r.rid = j.rid ' +
          `WHERE r.status_id IN (${BGRS_ENDED_STATUSES.join(', ')}) LIMIT ${JOBS_RELEASED_AT_ONCE}`,
      );
      const remove = (manager: EntityManager) => manager.delete(BgrsJob, { rid: In(rows.map((row) => row.rid)) });
      if (rows.length > 0) {
        await (readCommitted ? this.dataSource.transaction('READ COMMITTED', remove) : remove(this.dataSource.manager));
      }
      if (rows.length < JOBS_RELEASED_AT_ONCE) {
        return;
      }
    }
  }
}
