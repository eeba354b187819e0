import assert from 'node:assert/strict';
import { createScratch, disposeScratch, type TestDatabase } from './database.js';
import { jsonOf, lookup, resultOf, waitForStatus } from './http.js';
import { startInstance, type Instance, type InstanceOptions } from './instances.js';
import { REDIS, deleteQueueKeys, testQueueName } from './redis.js';
import { eventually } from './wait.js';

export interface QueueClusterOptions {
  /** Part of the queue's name and of the scratch folder's. */
  label: string;
  /** `BgrsModule.forRoot()` options of every instance (leaseMs, shutdownGraceMs, …), `queue` aside. */
  bgrs?: Omit<NonNullable<InstanceOptions['bgrs']>, 'queue'>;
  /** The workers' `queue.concurrency`. */
  concurrency?: number;
}

/** What the fixture's routes answer: which request ran, and where. */
interface WorkAnswer {
  name: string;
  rid: string;
  instance: string;
  attempt?: number;
}

/**
 * Queue mode with real processes: API instances (`queue.worker: false`, they only accept) and workers
 * (`queue.worker: true`) of the fixture app, on one database, one queue of their own and one result store any of
 * them can serve (`DatabaseResultStore`). `dispose()` kills them all and deletes the queue's keys and the database.
 */
export class QueueCluster {
  readonly queueName: string;
  private readonly instances: Instance[] = [];
  private readonly isWorker = new WeakSet<Instance>();
  private workersNamed = 0;
  /** The first start runs the migrations; the others wait for it, so that no two run them at once. */
  private firstStart: Promise<unknown> | undefined;

  private constructor(
    private readonly options: QueueClusterOptions,
    readonly db: TestDatabase,
    private readonly resultDir: string,
  ) {
    this.queueName = testQueueName(options.label);
  }

  static async create(options: QueueClusterOptions): Promise<QueueCluster> {
    const { db, resultDir } = await createScratch(`bgrs-${options.label}-`);
    return new QueueCluster(options, db, resultDir);
  }

  /** An instance that accepts requests into the queue and never runs one. */
  startApi(name: string): Promise<Instance> {
    return this.start(name, false);
  }

  /**
   * An instance that runs queued requests (it serves HTTP too, for its `/work/state`); `bgrs` over the cluster's
   * options.
   */
  startWorker(name: string, bgrs: QueueClusterOptions['bgrs'] = {}): Promise<Instance> {
    return this.start(name, true, bgrs);
  }

  /** The workers started and not yet exited. */
  get liveWorkers(): Instance[] {
    return this.instances.filter((instance) => instance.alive && this.isWorker.has(instance));
  }

  /** The live worker that has started the handler of `name` (run `attempt`), if one has. */
  async findStarted(name: string, attempt = 1): Promise<Instance | undefined> {
    for (const worker of this.liveWorkers) {
      // A worker being killed may not answer any more: it is not where the run is.
      const state = await worker.state().catch(() => undefined);
      if (state?.started.some((seen) => seen.name === name && seen.attempt === attempt)) {
        return worker;
      }
    }
    return undefined;
  }

  /** Waits until a live worker has started the handler of `name` (run `attempt`), and returns that worker. */
  whereStarted(name: string, attempt = 1, options: { deadlineMs?: number } = {}): Promise<Instance> {
    return eventually(
      `${name} to start on a worker (attempt ${attempt})`,
      () => this.findStarted(name, attempt),
      options,
    );
  }

  /**
   * After a run was cut (its worker died or handed it back): waits until a live worker has started run `attempt` of
   * `name`, checking at every poll (asked of `api`) that the record still says `processing`: never failed, never
   * back to queued.
   */
  runAgainWhileProcessing(
    api: Instance,
    rid: string,
    name: string,
    attempt: number,
    options: { deadlineMs?: number } = {},
  ): Promise<Instance> {
    return eventually(
      `${name} to run again (attempt ${attempt}), processing meanwhile`,
      async () => {
        const record = await lookup(api.http, rid);
        assert.equal(
          record.status_name,
          'processing',
          `${name} while it waits to run again: ${JSON.stringify(record)}`,
        );
        return this.findStarted(name, attempt);
      },
      options,
    );
  }

  /** Starts workers (named `w<n>`) until `count` are alive; returns the live ones. */
  async ensureWorkers(count: number): Promise<Instance[]> {
    const missing = count - this.liveWorkers.length;
    await Promise.all(Array.from({ length: missing }, () => this.startWorker(`w${++this.workersNamed}`)));
    return this.liveWorkers;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.instances.map((instance) => instance.kill('SIGKILL')));
    await deleteQueueKeys(this.queueName);
    await disposeScratch(this.db, this.resultDir);
  }

  private async start(name: string, worker: boolean, bgrs: QueueClusterOptions['bgrs'] = {}): Promise<Instance> {
    const starting = this.firstStart
      ? this.firstStart.catch(() => undefined).then(() => this.spawn(name, worker, bgrs))
      : this.spawn(name, worker, bgrs);
    this.firstStart ??= starting;
    const instance = await starting;
    this.instances.push(instance);
    if (worker) {
      this.isWorker.add(instance);
    }
    return instance;
  }

  private spawn(name: string, worker: boolean, bgrs: QueueClusterOptions['bgrs']): Promise<Instance> {
    return startInstance({
      name,
      dbUrl: this.db.url,
      resultDir: this.resultDir,
      store: 'database',
      adapter: 'fastify',
      bgrs: {
        ...this.options.bgrs,
        ...bgrs,
        queue: {
          connection: REDIS,
          name: this.queueName,
          worker,
          ...(worker && this.options.concurrency ? { concurrency: this.options.concurrency } : {}),
        },
      },
    });
  }
}

/**
 * Waits for `rid` to be `finished` (asked of `api`) and checks that its result is its own: a 200 naming the request
 * (`name`) and its rid. Returns the answer (which instance ran it, which attempt).
 */
export async function expectOwnResult(
  api: Instance,
  rid: string,
  name: string,
  options: { deadlineMs?: number } = {},
): Promise<WorkAnswer> {
  const record = await waitForStatus(api.http, rid, 'finished', options);
  assert.equal(record.status, '200', `${name}: ${JSON.stringify(record)}`);
  const result = await resultOf(api.http, rid);
  assert.equal(result.status, 200, `${name}: the result answered ${result.status}`);
  const answer: WorkAnswer = jsonOf(result);
  assert.equal(answer.name, name, `${rid}: the result of another request: ${JSON.stringify(answer)}`);
  assert.equal(answer.rid, rid, `${name}: the result of another request: ${JSON.stringify(answer)}`);
  return answer;
}
