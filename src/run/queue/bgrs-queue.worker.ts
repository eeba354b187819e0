import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Worker } from 'bullmq';
import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackgroundRun } from '../../accept/background-run.js';
import { BGRS_INSTANCE_ID, BGRS_OPTIONS, BgrsStatusId } from '../../bgrs.constants.js';
import { BGRS_MESSAGES } from '../../bgrs.messages.js';
import type { ResolvedBgrsOptions } from '../../options/bgrs-options.js';
import { BgrsJobRepository, type RunStarter, type StartedRun } from '../../persistence/bgrs-job.repository.js';
import { BgrsRequestRepository } from '../../persistence/bgrs-request.repository.js';
import { ProgressBuffer } from '../../progress/progress-buffer.js';
import { isRid } from '../../util/rid.js';
import { settledWithin } from '../../util/settled-within.js';
import { BgrsRunCompletion, type ProducedResponse } from '../bgrs-run-completion.service.js';
import type { BgrsJobData } from './bgrs-queue.service.js';
import { loadBullmq } from './bullmq.js';
import { skipGuardsOnReplays } from './replay-guards.js';
import { decodeEnvelope } from './request-envelope.js';
import { BgrsRequestReplayer } from './request-replay.js';

/** Why a run on this worker stops before its end. */
type StopReason = 'cancelled' | 'ended' | 'handed back' | 'shutdown';

/** What a stopped handler's `signal` aborts with. */
const STOP_MESSAGES: Record<StopReason, string> = {
  cancelled: 'cancelled',
  ended: 'the request has ended elsewhere',
  'handed back': 'handed back to the queue: this worker is shutting down',
  shutdown: BGRS_MESSAGES.interruptedByShutdown,
};

/** How long to wait before a job whose request could not be read (database away) is tried again. */
const RETRY_LATER_MS = 1000;

interface WorkerRun {
  run: BackgroundRun;
  rerun: boolean;
  stopReason?: StopReason;
  /** Settles once its job is done with, on this worker. */
  done: Promise<void>;
}

/**
 * The worker side of queue mode: takes jobs from the queue (`queue.concurrency` at once) and runs each request by
 * replaying it through this app, its guards skipped (they decided at acceptance), its response stored and its end
 * written by `BgrsRunCompletion`, fenced by its attempt. A worker that dies loses its lock: BullMQ gives the job to
 * another worker (a run again, attempt 2), and fails it after a second death (its request is then failed by the
reconciler: BullMQ's stalled check tells no worker). On shutdown it takes no new jobs, lets
 * the running ones finish within `shutdownGraceMs`, and hands the rest back to the queue for another worker.
 */
@Injectable()
export class BgrsQueueWorker implements OnApplicationBootstrap {
  private readonly logger = new Logger('Bgrs');
  private readonly runs = new Map<string, WorkerRun>();
  private worker: Worker<BgrsJobData> | undefined;
  private draining = false;
  /** Set once the shutdown grace is over: a run that registers later (its job fetched as the worker paused) stops. */
  private graceOver = false;
  /** Shown in the details rows of the runs: which instance ran a request. */
  private readonly name = `${hostname()}#${process.pid}`;
  /** Its runs start with a details row saying where, written with the start (none for a run it fails at once). */
  private readonly starter: RunStarter = {
    workerId: this.instanceId,
    detailOf: ({ attempt, rerun }) => {
      if (attempt === 1) {
        return BGRS_MESSAGES.runStarted(this.name, attempt);
      }
      return rerun ? BGRS_MESSAGES.runAgain(this.name, attempt) : undefined;
    },
  };

  constructor(
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    @Inject(BGRS_INSTANCE_ID) private readonly instanceId: string,
    private readonly jobs: BgrsJobRepository,
    private readonly repository: BgrsRequestRepository,
    private readonly completion: BgrsRunCompletion,
    private readonly replayer: BgrsRequestReplayer,
  ) {}

  /** The requests this worker runs now. */
  get rids(): string[] {
    return [...this.runs.keys()];
  }

  /** Starts taking jobs once the app is set up (its routes are there to replay requests through). */
  async onApplicationBootstrap(): Promise<void> {
    const queue = this.options.queue;
    if (!queue?.worker) {
      return;
    }
    await skipGuardsOnReplays();
    const { Worker } = loadBullmq();
    this.worker = new Worker<BgrsJobData>(queue.name, (job, token) => this.process(job, token), {
      // A worker's blocking connection must retry for ever (BullMQ's requirement).
      connection: { ...queue.connection, maxRetriesPerRequest: null },
      prefix: queue.prefix,
      concurrency: queue.concurrency,
      autorun: false,
      // A dead worker's jobs run again within about two leases, as a dead instance's requests fail in-process.
      lockDuration: this.options.leaseMs,
      stalledInterval: this.options.leaseMs,
      maxStalledCount: 1,
    });
    this.worker.on('failed', (job, error) => void this.onFailed(job, error));
    this.worker.on('error', (error) => this.logger.warn(`Queue worker: ${error.message}`));
    void this.worker.run();
  }

  /** Stops a run of a request that another writer has ended: cancelled by a client, or failed by a reconciler. */
  stopEnded(rid: string, statusId: BgrsStatusId): void {
    const entry = this.runs.get(rid);
    if (entry) {
      this.stop(entry, statusId === BgrsStatusId.Cancelled ? 'cancelled' : 'ended');
    }
  }

  /**
   * Shutdown: takes no new jobs; running ones get `shutdownGraceMs` to finish; the rest are handed back to the queue
   * at once for another worker (not failed, no stall counted), except those that must not run twice (`rerun:
   * false`), which fail as "interrupted by shutdown".
   */
  async drain(): Promise<void> {
    this.draining = true;
    if (!this.worker) {
      return;
    }
    await this.worker.pause(true);
    const running = () => Promise.all([...this.runs.values()].map((entry) => entry.done));
    await settledWithin(running(), this.options.shutdownGraceMs);
    this.graceOver = true;
    for (const entry of this.runs.values()) {
      this.stop(entry, entry.rerun ? 'handed back' : 'shutdown');
    }
    await settledWithin(running(), Math.min(this.options.shutdownGraceMs, 5000));
    await this.worker.close();
  }

  private stop(entry: WorkerRun, reason: StopReason): void {
    if (!entry.stopReason) {
      entry.stopReason = reason;
      entry.run.abortController.abort(new Error(STOP_MESSAGES[reason]));
    }
  }

  private async process(job: Job<BgrsJobData>, token?: string): Promise<void> {
    const { DelayedError, WaitingError } = loadBullmq();
    const rid = job.data?.rid;
    if (!isRid(rid)) {
      return;
    }
    if (this.draining) {
      // Fetched while the worker pauses: another worker takes it.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (this.runs.has(rid)) {
      // Handed back to this worker while its own run of it lives on (it lost its lock in an event-loop stall):
      // BullMQ tracks a worker's locks by job id, so when that run ended, a second one here would no longer have its
      // lock renewed and the queue would give the job up. It waits for the run here (which may still end it).
      await job.moveToDelayed(Date.now() + RETRY_LATER_MS, token);
      throw new DelayedError();
    }
    let started: StartedRun | undefined;
    try {
      started = await this.jobs.startRun(rid, this.starter);
    } catch (error) {
      this.logger.warn(`${rid}: not started, the database is away: ${(error as Error).message}`);
      await job.moveToDelayed(Date.now() + RETRY_LATER_MS, token);
      throw new DelayedError();
    }
    if (!started) {
      // Ended (cancelled while it waited) or gone: nothing to run.
      return;
    }
    if (started.attempt > 1 && !started.rerun) {
      await this.completion.fail(rid, BGRS_MESSAGES.notRunAgain, started.attempt);
      return;
    }
    const outcome = await this.run(rid, started);
    if (outcome === 'handed back') {
      await this.repository.addDetails([{ rid, at: new Date(), details: BGRS_MESSAGES.handedBack }]).catch(() => {});
      await job.moveToWait(token);
      throw new WaitingError();
    }
  }

  /** Runs one attempt of a request to its end on this worker; what stopped it, if something did. */
  private async run(rid: string, started: StartedRun): Promise<StopReason | undefined> {
    const { attempt } = started;
    const progress = new ProgressBuffer(rid, this.repository, this.options.progressIntervalMs, started.progress);
    const run = new BackgroundRun(rid, progress, attempt);
    // No door to hold the handler at: its guards and pipes decided at acceptance.
    run.open();
    let markDone!: () => void;
    const entry: WorkerRun = { run, rerun: started.rerun, done: new Promise((resolve) => (markDone = resolve)) };
    this.runs.set(rid, entry);
    if (this.graceOver) {
      this.stop(entry, entry.rerun ? 'handed back' : 'shutdown');
    }
    try {
      const outcome = await this.completion.complete(
        run,
        (body) => this.produce(started.envelope, run, body),
        () => undefined,
        attempt,
      );
      if (outcome !== 'stopped') {
        return undefined;
      }
      if (entry.stopReason === 'shutdown') {
        await this.completion.fail(rid, BGRS_MESSAGES.interruptedByShutdown, attempt);
      }
      return entry.stopReason;
    } finally {
      this.runs.delete(rid);
      markDone();
    }
  }

  /** Replays the request through this app and streams its response into the store. */
  private async produce(envelope: Buffer, run: BackgroundRun, body: Writable): Promise<ProducedResponse> {
    const response = await this.replayer.replay(decodeEnvelope(envelope), run);
    // A stopped run's response goes nowhere; the handler may go on (it sees its signal abort).
    run.signal.addEventListener('abort', () => response.body.destroy(), { once: true });
    await pipeline(response.body, body);
    return response;
  }

  /**
   * A job failed by this worker (its processing threw past the run's own handling): its request fails, unless it has
   * ended already. A job BullMQ gives up after a second stall raises no event here; the reconciler fails that one.
   */
  private async onFailed(job: Job<BgrsJobData> | undefined, error: Error): Promise<void> {
    const rid = job?.data?.rid;
    if (isRid(rid)) {
      await this.completion.fail(rid, BGRS_MESSAGES.jobFailed(error.message));
    }
  }
}
