import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, IsNull, LessThan, MoreThan, Not, type EntityManager, type Repository } from 'typeorm';
import {
  BGRS_CONTENT_TYPE_MAX_LENGTH,
  BGRS_DATA_SOURCE,
  BGRS_ENDED_STATUSES,
  BGRS_NAME_MAX_LENGTH,
  BGRS_RUNNING_STATUSES,
  BgrsStatusId,
} from '../bgrs.constants.js';
import type { BgrsCallerId } from '../options/caller-id.js';
import { BgrsDetail } from './entities/bgrs-detail.entity.js';
import { BgrsLease } from './entities/bgrs-lease.entity.js';
import { BgrsOwner } from './entities/bgrs-owner.entity.js';
import { BgrsRequest } from './entities/bgrs-request.entity.js';
import { BgrsStatus } from './entities/bgrs-status.entity.js';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import {
  poolChangeOf,
  poolQueryOf,
  poolTransactionOf,
  type PoolChange,
  type PoolQuery,
  type PoolStatement,
  type PoolTransaction,
} from './pool-query.js';
import { WriteBatcher } from './write-batcher.js';

/** `?, ?, ?`: `count` placeholders. */
function placeholders(count: number): string {
  return Array(count).fill('?').join(', ');
}

/** One multi-row INSERT into `table` (a constant, as are its `columns`): each row holds its columns' values, in order. */
function insertInto(table: string, columns: string[], rows: unknown[][]): PoolStatement {
  const values = Array(rows.length)
    .fill(`(${placeholders(columns.length)})`)
    .join(', ');
  return { sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values}`, parameters: rows.flat() };
}

/** A text caller id as `bgrs_owners.owner` keeps it; bytes, so that no connection charset converts it. */
function ownerBytes(owner: string): Buffer {
  return Buffer.from(owner, 'utf8');
}

/**
 * The fence of a queue-mode run's final write: no row of `bgrs_jobs` says that a later run of the request has
 * started. The `CASE` takes `count` pairs (rid, attempt); a request without a pair (in-process) is not fenced.
 */
function laterRunThan(count: number): string {
  const cases = Array(count).fill('WHEN ? THEN ?').join(' ');
  return (
    'NOT EXISTS (SELECT 1 FROM bgrs_jobs j WHERE j.rid = bgrs_requests.rid ' +
    `AND j.attempt <> CASE j.rid ${cases} ELSE j.attempt END)`
  );
}

/** DATETIME keeps whole seconds; MySQL would round the milliseconds rather than drop them. */
function toSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

export interface NewBgrsRequest {
  rid: string;
  /** The caller: a number goes to `user_id`, any other id to `bgrs_owners` (see `toCallerId`). */
  userId: BgrsCallerId | null;
  name: string;
  statusId: BgrsStatusId.Processing | BgrsStatusId.Queued;
  createdAt: Date;
  /** In-process: the instance that runs it, which holds its lease. */
  instanceId?: string;
  /** Queue mode: the job that carries it to a worker. */
  job?: NewBgrsJob;
}

/** The `bgrs_jobs` row of a request handed to the queue. */
export interface NewBgrsJob {
  /** A run cut by its worker's death may run again. */
  rerun: boolean;
  /** The request, as the worker replays it. */
  envelope: Buffer;
  /** Epoch ms. */
  queuedAt: number;
}

export interface BgrsOutcomeRecord {
  rid: string;
  /** Queue mode: the run that produced it; it lands only while no later run has started. */
  attempt?: number;
  httpStatus: number;
  contentType: string | null;
  result: string;
  /** The result's bytes when it is kept in the row (`inlineResultBytes`); null when it is in the store. */
  body: Buffer | null;
  finishedAt: Date;
}

export interface NewBgrsDetail {
  rid: string;
  at: Date;
  details: string;
}

/** What a request's record says of its result. */
export type BgrsResultState = Pick<BgrsRequest, 'rid' | 'statusId' | 'result'>;

export interface ExpiredBgrsRequest {
  rid: string;
  result: string | null;
}

/** What a lookup reads besides the record: `withResultBody`, the bytes of a result kept in the row (`/result`). */
export interface BgrsLookupOptions {
  withResultBody?: boolean;
}

/** The inline result bytes one final UPDATE carries at most (besides a single larger one): well within any packet limit. */
const OUTCOME_BATCH_BODY_BYTES = 1024 * 1024;

const LOOKUP_COLUMNS =
  'r.id, r.rid, r.user_id, r.name, r.created_dt, r.status_id, r.progress, r.finished_dt, r.status, ' +
  'r.content_type, r.result, s.name AS status_name';
const LOOKUP_FROM = 'FROM bgrs_requests r INNER JOIN bgrs_statuses s ON s.id = r.status_id WHERE r.rid = ?';
const LOOKUP_SQL = `SELECT ${LOOKUP_COLUMNS} ${LOOKUP_FROM}`;
/** `/result`'s: with a small result's bytes, so that serving one kept in its row takes no second statement. */
const LOOKUP_WITH_BODY_SQL = `SELECT ${LOOKUP_COLUMNS}, r.result_body ${LOOKUP_FROM}`;

/**
 * Reads and writes of the requests, their details and owners (the leases and instances are `BgrsLeaseRepository`'s,
 * but for the lease an acceptance writes with its request); parameters only, never SQL built from input.
 */
@Injectable()
export class BgrsRequestRepository {
  private readonly requests: Repository<BgrsRequest>;
  private readonly details: Repository<BgrsDetail>;
  private readonly leases: Repository<BgrsLease>;
  private readonly owners: Repository<BgrsOwner>;
  /** The DATETIME columns the raw writes convert their dates for. */
  private readonly dateColumns: { createdDt: ColumnMetadata; finishedDt: ColumnMetadata };
  private readonly acceptances = new WriteBatcher<NewBgrsRequest>((requests) => this.insertMany(requests));
  private readonly starts = new WriteBatcher<string>(async (rids) => {
    await this.dataSource.query(
      `UPDATE bgrs_requests SET status_id = ${BgrsStatusId.Processing} ` +
        `WHERE rid IN (${placeholders(rids.length)}) AND status_id = ${BgrsStatusId.Queued}`,
      rids,
    );
  });
  private readonly outcomes = new WriteBatcher<BgrsOutcomeRecord, boolean>((outcomes) => this.finishMany(outcomes), {
    weigh: (outcome) => outcome.body?.length ?? 0,
    maxWeight: OUTCOME_BATCH_BODY_BYTES,
  });
  /** Lists of details; a few at a time, as a run may hand over up to a thousand rows at once. */
  private readonly detailWrites = new WriteBatcher<NewBgrsDetail[]>(
    (lists) => this.insertDetailsWith(this.dataSource.manager, lists.flat()),
    { maxBatch: 20 },
  );
  private readonly poolQuery: PoolQuery;
  private readonly poolChange: PoolChange;
  private readonly poolTransaction: PoolTransaction;

  constructor(@Inject(BGRS_DATA_SOURCE) private readonly dataSource: DataSource) {
    this.requests = dataSource.getRepository(BgrsRequest);
    this.details = dataSource.getRepository(BgrsDetail);
    this.leases = dataSource.getRepository(BgrsLease);
    this.owners = dataSource.getRepository(BgrsOwner);
    const columnOf = (property: string) => this.requests.metadata.findColumnWithPropertyName(property)!;
    this.dateColumns = { createdDt: columnOf('createdDt'), finishedDt: columnOf('finishedDt') };
    this.poolQuery = poolQueryOf(dataSource);
    this.poolChange = poolChangeOf(dataSource);
    this.poolTransaction = poolTransactionOf(dataSource);
  }

  /** Records an accepted request together with its lease or its job: all land, or none. */
  insert(request: NewBgrsRequest): Promise<void> {
    return this.acceptances.add(request);
  }

  /**
   * Concurrent acceptances share one transaction of multi-row INSERTs, written as SQL on the driver's pool
   * (`poolTransactionOf`): TypeORM's insert builder costs more CPU per row than the acceptance itself. Callers with
   * ids other than numbers add an INSERT, and so do requests handed to the queue.
   */
  private async insertMany(requests: NewBgrsRequest[]): Promise<void> {
    const { createdDt } = this.dateColumns;
    const owners = requests.flatMap(({ rid, userId }) =>
      typeof userId === 'string' ? [[rid, ownerBytes(userId)]] : [],
    );
    const leases = requests.flatMap(({ rid, instanceId }) => (instanceId ? [[rid, instanceId]] : []));
    const jobs = requests.flatMap(({ rid, job }) =>
      job ? [[rid, job.rerun ? 1 : 0, job.queuedAt, job.envelope]] : [],
    );
    const statements = [
      insertInto(
        'bgrs_requests',
        ['rid', 'user_id', 'name', 'status_id', 'created_dt', 'progress'],
        requests.map((request) => [
          request.rid,
          typeof request.userId === 'number' ? request.userId : null,
          request.name.slice(0, BGRS_NAME_MAX_LENGTH),
          request.statusId,
          this.dataSource.driver.preparePersistentValue(toSecond(request.createdAt), createdDt),
          '0.00',
        ]),
      ),
    ];
    if (leases.length > 0) {
      statements.push(insertInto('bgrs_leases', ['rid', 'instance_id'], leases));
    }
    if (jobs.length > 0) {
      statements.push(insertInto('bgrs_jobs', ['rid', 'rerun', 'queued_at', 'envelope'], jobs));
    }
    if (owners.length > 0) {
      statements.push(insertInto('bgrs_owners', ['rid', 'owner'], owners));
    }
    await this.poolTransaction(statements);
  }

  /** A queued request starts; requests starting together are updated in one statement. */
  markProcessing(rid: string): Promise<void> {
    return this.starts.add(rid);
  }

  async saveProgress(rid: string, percent: number): Promise<void> {
    await this.requests.update({ rid, statusId: In(BGRS_RUNNING_STATUSES) }, { progress: percent.toFixed(2) });
  }

  /**
   * Details written at the same time (by several runs) share one INSERT, written as SQL: a queue worker writes a
   * "run started" row for every request it runs, and TypeORM's insert builder, one per row, was a hot spot there.
   */
  async addDetails(rows: NewBgrsDetail[]): Promise<void> {
    if (rows.length > 0) {
      await this.detailWrites.add(rows);
    }
  }

  /** One INSERT of details rows, in the transaction of `manager` (a queue worker's start writes them with it). */
  async insertDetailsWith(manager: EntityManager, rows: NewBgrsDetail[]): Promise<void> {
    const dt = this.details.metadata.findColumnWithPropertyName('dt')!;
    const { sql, parameters } = insertInto(
      'bgrs_details',
      ['rid', 'dt', 'details'],
      rows.map((row) => [row.rid, this.dataSource.driver.preparePersistentValue(toSecond(row.at), dt), row.details]),
    );
    await manager.query(sql, parameters);
  }

  /**
   * Records the outcome of a request that is still running; resolves to false when it had ended otherwise (failed by
   * another instance that took this one's lease for lost, or cancelled). An end state is final: such an outcome
   * changes nothing, and its writer gives its result up.
   */
  finish(outcome: BgrsOutcomeRecord): Promise<boolean> {
    return this.outcomes.add(outcome);
  }

  /**
   * Outcomes that end together are written by one statement, one log flush, fenced to requests still running. The
   * lease is given up later, by `releaseEndedLeases`: a lease on an ended request holds nothing, and a final write
   * with no second statement and no transaction lands sooner. Only when fewer rows changed than outcomes were
   * written are they read back: an outcome landed if its request is finished with its result, which is also what a
   * retried write finds whose first try landed but lost its answer.
   */
  private async finishMany(outcomes: BgrsOutcomeRecord[]): Promise<boolean[]> {
    const byRid = (value: (outcome: BgrsOutcomeRecord) => unknown) =>
      outcomes.flatMap((outcome) => [outcome.rid, value(outcome)]);
    const cases = outcomes.map(() => 'WHEN ? THEN ?').join(' ');
    const { finishedDt } = this.dateColumns;
    const rids = outcomes.map((outcome) => outcome.rid);
    const fenced = outcomes.filter((outcome) => outcome.attempt !== undefined);
    const changed = await this.poolChange(
      `UPDATE bgrs_requests SET status_id = ${BgrsStatusId.Finished}, progress = ?, ` +
        `finished_dt = CASE rid ${cases} END, status = CASE rid ${cases} END, ` +
        `content_type = CASE rid ${cases} END, result = CASE rid ${cases} END, result_body = CASE rid ${cases} END ` +
        `WHERE rid IN (${placeholders(outcomes.length)}) AND status_id IN (${BGRS_RUNNING_STATUSES.join(', ')})` +
        (fenced.length > 0 ? ` AND ${laterRunThan(fenced.length)}` : ''),
      [
        '100.00',
        ...byRid((outcome) => this.dataSource.driver.preparePersistentValue(toSecond(outcome.finishedAt), finishedDt)),
        ...byRid((outcome) => outcome.httpStatus),
        ...byRid((outcome) => outcome.contentType?.slice(0, BGRS_CONTENT_TYPE_MAX_LENGTH) ?? null),
        ...byRid((outcome) => outcome.result),
        ...byRid((outcome) => outcome.body),
        ...rids,
        ...fenced.flatMap((outcome) => [outcome.rid, outcome.attempt]),
      ],
    );
    if (changed === outcomes.length) {
      return outcomes.map(() => true);
    }
    const stored = new Map((await this.findResults(rids)).map((row) => [row.rid, row]));
    return outcomes.map((outcome) => {
      const row = stored.get(outcome.rid);
      return row?.statusId === BgrsStatusId.Finished && row.result === outcome.result;
    });
  }

  /**
   * Ends a request that has not ended as `failed`, with a details row saying why; false if it had ended. In queue
   * mode, `attempt` fences it as a final write is fenced: a stale run never fails a later one's request.
   */
  async fail(rid: string, reason: string, attempt?: number): Promise<boolean> {
    return this.end(rid, BgrsStatusId.Failed, reason, attempt);
  }

  /** Ends a request that has not ended as `cancelled`, with a details row saying why; false if it had ended. */
  async cancel(rid: string, reason: string): Promise<boolean> {
    return this.end(rid, BgrsStatusId.Cancelled, reason);
  }

  /** Which of `rids` have ended, by any writer (a cancellation, another instance's reaper), and how. */
  async findEnded(rids: string[]): Promise<Array<{ rid: string; statusId: BgrsStatusId }>> {
    if (rids.length === 0) {
      return [];
    }
    return this.requests.find({
      select: { rid: true, statusId: true },
      where: { rid: In(rids), statusId: In(BGRS_ENDED_STATUSES) },
    });
  }

  /** Ended requests created before `before`, oldest first. */
  async findExpired(before: Date, limit: number): Promise<ExpiredBgrsRequest[]> {
    return this.requests.find({
      select: { rid: true, result: true },
      where: { createdDt: LessThan(toSecond(before)), statusId: Not(In(BGRS_RUNNING_STATUSES)) },
      order: { id: 'ASC' },
      take: limit,
    });
  }

  /** The status and result of each of `rids` that has a record. */
  async findResults(rids: string[]): Promise<BgrsResultState[]> {
    if (rids.length === 0) {
      return [];
    }
    return this.requests.find({ select: { rid: true, statusId: true, result: true }, where: { rid: In(rids) } });
  }

  /**
   * Deletes requests; their details and leases go with them (foreign keys cascade). Resolves to how many of them
   * this call deleted (another instance may have deleted the rest).
   */
  async deleteRequests(rids: string[]): Promise<number> {
    if (rids.length === 0) {
      return 0;
    }
    const { affected } = await this.requests.delete({ rid: In(rids) });
    return affected ?? 0;
  }

  /**
   * The hottest read (every poll): one constant, parameterised statement, its row hydrated by the driver, without
   * TypeORM building the query each time, on the driver's pool where it can (`poolQueryOf`). `withResultBody`
   * also reads `resultBody`, the bytes of a result kept in the row (null when it is in the store).
   */
  async findOne(rid: string, { withResultBody = false }: BgrsLookupOptions = {}): Promise<BgrsRequest | null> {
    const sql = withResultBody ? LOOKUP_WITH_BODY_SQL : LOOKUP_SQL;
    const [row] = (await this.poolQuery(sql, [rid])) as Array<Record<string, unknown>>;
    if (!row) {
      return null;
    }
    const request = new BgrsRequest();
    for (const column of this.requests.metadata.columns) {
      (request as unknown as Record<string, unknown>)[column.propertyName] =
        this.dataSource.driver.prepareHydratedValue(row[column.databaseName], column);
    }
    request.state = Object.assign(new BgrsStatus(), { id: request.statusId, name: String(row.status_name) });
    return request;
  }

  findDetails(rid: string): Promise<BgrsDetail[]> {
    return this.details.find({ where: { rid }, order: { id: 'ASC' } });
  }

  /** Whether `owner`, a text caller id, made the request `rid`. */
  async isOwnedBy(rid: string, owner: string): Promise<boolean> {
    return this.owners.exists({ where: { rid, owner: ownerBytes(owner) } });
  }

  /** A caller's requests, newest first, from before the request with id `beforeId` (keyset pagination). */
  findByUser(
    userId: BgrsCallerId,
    page: { statusId?: BgrsStatusId; beforeId?: number; limit: number },
  ): Promise<BgrsRequest[]> {
    const query = this.requests.createQueryBuilder('request').innerJoinAndSelect('request.state', 'state');
    if (typeof userId === 'string') {
      query.innerJoin(BgrsOwner, 'ownership', 'ownership.rid = request.rid AND ownership.owner = :owner', {
        owner: ownerBytes(userId),
      });
    }
    // `limit`, not `take`: with a join, `take` makes TypeORM run a second, DISTINCT query first.
    return query
      .where({
        // A request of a text id has no user_id.
        userId: typeof userId === 'number' ? userId : IsNull(),
        ...(page.statusId ? { statusId: page.statusId } : {}),
        ...(page.beforeId ? { id: LessThan(page.beforeId) } : {}),
      })
      .orderBy('request.id', 'DESC')
      .limit(page.limit)
      .getMany();
  }

  /** The records of several requests at once. */
  findMany(rids: string[]): Promise<BgrsRequest[]> {
    return this.requests.find({ where: { rid: In(rids) }, relations: { state: true } });
  }

  /** The details rows of several requests with an id above `afterId`, oldest first. */
  findDetailsAfter(rids: string[], afterId: string): Promise<BgrsDetail[]> {
    return this.details.find({ where: { rid: In(rids), id: MoreThan(afterId) }, order: { id: 'ASC' } });
  }

  /** The id of the newest details row of a request, or '0'. */
  async lastDetailId(rid: string): Promise<string> {
    const newest = await this.details.findOne({ select: { id: true }, where: { rid }, order: { id: 'DESC' } });
    return newest ? String(newest.id) : '0';
  }

  /**
   * Ends a request that has not ended and writes its details row in one transaction, so that a reader who sees the
   * end state sees the row too. False if it had ended already. Its lease goes with the others of ended requests
   * (`releaseEndedLeases`).
   */
  private async end(rid: string, statusId: BgrsStatusId, reason: string, attempt?: number): Promise<boolean> {
    const at = new Date();
    const { finishedDt } = this.dateColumns;
    return this.dataSource.transaction(async (manager) => {
      const { affected } = await manager.queryRunner!.query(
        `UPDATE bgrs_requests SET status_id = ?, finished_dt = ? ` +
          `WHERE rid = ? AND status_id IN (${BGRS_RUNNING_STATUSES.join(', ')})` +
          (attempt === undefined ? '' : ` AND ${laterRunThan(1)}`),
        [
          statusId,
          this.dataSource.driver.preparePersistentValue(toSecond(at), finishedDt),
          rid,
          ...(attempt === undefined ? [] : [rid, attempt]),
        ],
        true,
      );
      const ended = (affected ?? 0) > 0;
      if (ended) {
        await manager.insert(BgrsDetail, { rid, dt: toSecond(at), details: reason });
      }
      return ended;
    });
  }
}
