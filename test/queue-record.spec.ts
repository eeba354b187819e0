/**
 * In queue mode the record tells the truth (SPEC §3, README “Queue mode”): a request is `queued` until a worker
 * starts it, `processing` while one runs it, then ended; when the queue loses its jobs (Redis restarted without
 * persistence: the test deletes the queue's keys), the reconciler of an instance queues the requests whose job is
 * gone again, so that none stays `queued` or `processing` for ever; and progress never goes down across a run again
 * after a worker's death (real child processes, killed with SIGKILL).
 */
import 'reflect-metadata';
import { Controller, Get, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BGRS_MESSAGES } from '../src/bgrs.messages.js';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { createScratch, disposeScratch, type TestDatabase } from './support/database.js';
import { Gates } from './support/gate.js';
import { detailsOf, jsonOf, lookup, resultOf, submit, waitForStatus, type HttpClient } from './support/http.js';
import { killAllInstances, startInstance, type Instance } from './support/instances.js';
import { QueueProbe } from './support/queue.js';
import { REDIS, deleteQueueKeys, testQueueName } from './support/redis.js';
import { eventually } from './support/wait.js';

/** Short leases: the reconciler passes every lease, and BullMQ finds a dead worker's job within about two. */
const LEASE_MS = 2000;
/** The reconciler leaves alone what was handed to the queue less than max(leaseMs, 2 × this) ago. */
const ENQUEUE_TIMEOUT_MS = 1000;

const gates = new Gates();
const started: Array<{ name: string; attempt: number | undefined }> = [];

@Controller('record')
class RecordController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('gated')
  @BackgroundCapable()
  async gated(@Query('name') name: string) {
    started.push({ name, attempt: this.progress.attempt });
    await gates.wait(name);
    return { name, attempt: this.progress.attempt };
  }
}

/**
 * The fixture's routes that the child workers run (`test/fixtures/instance-app.ts`), as the accepting app needs them
 * to accept: it never runs them (it is no worker). `rerun` is decided at acceptance.
 */
@Controller('work')
class FixtureRoutesController {
  @Get('long')
  @BackgroundCapable()
  long() {
    throw new Error('run by the workers only');
  }

  @Get('once')
  @BackgroundCapable({ rerun: false })
  once() {
    throw new Error('run by the workers only');
  }
}

/** Waits for the details row the reconciler writes when it queues a lost job again. */
function jobLostNoted(http: HttpClient, rid: string): Promise<true> {
  return eventually(`the reconciler to queue ${rid} again`, async () =>
    (await detailsOf(http, rid)).some((row) => row.details === BGRS_MESSAGES.jobLost) ? true : undefined,
  );
}

describe('queue mode: the record tells the truth (an accepting app; workers in-process, or child processes that die)', () => {
  const name = testQueueName('record');
  let db: TestDatabase;
  let resultDir: string;
  let probe: QueueProbe;
  let acceptor: AppOnDatabase;
  const workers: AppOnDatabase[] = [];
  /** The child worker that outlives the first death. */
  let survivor: Instance | undefined;

  const queue = (worker: boolean) => ({ connection: REDIS, name, worker, enqueueTimeoutMs: ENQUEUE_TIMEOUT_MS });
  const startApp = (worker: boolean) =>
    startAppOn({
      url: db.url,
      resultDir,
      controllers: [RecordController, FixtureRoutesController],
      bgrs: { leaseMs: LEASE_MS, queue: queue(worker) },
    });
  const startChild = (label: string) =>
    startInstance({
      name: label,
      dbUrl: db.url,
      resultDir,
      adapter: 'fastify',
      bgrs: { leaseMs: LEASE_MS, queue: queue(true) },
    });

  async function startWorker(): Promise<AppOnDatabase> {
    const worker = await startApp(true);
    workers.push(worker);
    return worker;
  }

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-record-'));
    probe = new QueueProbe(name);
    // It only accepts, answers lookups and reconciles: the workers come and go.
    acceptor = await startApp(false);
  });

  after(async () => {
    gates.openAll();
    await killAllInstances();
    for (const app of [...workers, acceptor]) {
      await app?.close().catch(() => undefined);
    }
    await probe?.close();
    await deleteQueueKeys(name);
    await disposeScratch(db, resultDir);
  });

  it('is queued until a worker starts it, processing while it runs, then finished', async () => {
    const rid = await submit(acceptor.http, { path: '/record/gated?name=q1' });
    assert.equal((await lookup(acceptor.http, rid)).status_name, 'queued');
    assert.equal(await probe.stateOf(rid), 'waiting');

    const worker = await startWorker();
    const running = await waitForStatus(acceptor.http, rid, 'processing');
    assert.equal(running.finished_dt, null);
    await eventually('the handler to run', async () => (started.some((run) => run.name === 'q1') ? true : undefined));
    gates.open('q1');
    const ended = await waitForStatus(acceptor.http, rid, 'finished');
    assert.equal(ended.progress, '100.00');
    assert.deepEqual(jsonOf(await resultOf(acceptor.http, rid)), { name: 'q1', attempt: 1 });
    await worker.close();
  });

  it('queues a queued request whose job was lost again, and it runs once a worker comes', async () => {
    const rid = await submit(acceptor.http, { path: '/record/gated?name=q2' });
    assert.equal(await probe.stateOf(rid), 'waiting');
    // Redis restarted without persistence: the queue is gone, the record still says queued.
    await deleteQueueKeys(name);
    assert.equal(await probe.stateOf(rid), 'unknown');

    await jobLostNoted(acceptor.http, rid);
    assert.equal(await probe.stateOf(rid), 'waiting', 'its job is in the queue again');
    assert.equal((await lookup(acceptor.http, rid)).status_name, 'queued', 'it waits, as the record says');

    const worker = await startWorker();
    await waitForStatus(acceptor.http, rid, 'processing');
    gates.open('q2');
    await waitForStatus(acceptor.http, rid, 'finished');
    assert.deepEqual(jsonOf(await resultOf(acceptor.http, rid)), { name: 'q2', attempt: 1 });
    assert.equal(started.filter((run) => run.name === 'q2').length, 1, 'a lost job that never ran runs once');
    // The next tests' workers are child processes.
    await worker.close();
  });

  it('queues the processing requests of a worker that died after the queue was lost again: run again, or failed when they must not run twice', async () => {
    const w1 = await startChild('w1');
    const again = await submit(acceptor.http, { path: '/work/long?name=again' });
    const once = await submit(acceptor.http, { path: '/work/once?name=once' });
    await w1.waitForStarted('again');
    await w1.waitForStarted('once');
    assert.equal((await lookup(acceptor.http, again)).status_name, 'processing');
    // Idle until the jobs are queued again: it has no other way to find them.
    survivor = await startChild('w2');

    // Redis loses the queue, then the worker running both dies: no lock is left for BullMQ to find lapsed.
    await deleteQueueKeys(name);
    await w1.kill('SIGKILL');
    await jobLostNoted(acceptor.http, again);
    await jobLostNoted(acceptor.http, once);

    const w2 = survivor;
    const rerun = await eventually('the request to run again on w2', async () =>
      (await w2.state()).started.find((run) => run.name === 'again'),
    );
    assert.ok(rerun.attempt >= 2, `a run again counts its attempt: ${JSON.stringify(rerun)}`);
    await w2.release('again');
    const finished = await waitForStatus(acceptor.http, again, 'finished');
    assert.equal(finished.progress, '100.00');
    assert.deepEqual(jsonOf(await resultOf(acceptor.http, again)), { name: 'again', rid: again, instance: 'w2' });

    await waitForStatus(acceptor.http, once, 'failed');
    const details = (await detailsOf(acceptor.http, once)).map((row) => row.details);
    assert.ok(details.includes(BGRS_MESSAGES.notRunAgain), JSON.stringify(details));
    assert.ok(!(await w2.state()).started.some((run) => run.name === 'once'), 'a rerun: false route never ran again');
    assert.equal(await db.count('bgrs_requests', 'status_id IN (2, 3)'), 0, 'nothing stays queued or processing');
  });

  it('never lowers the progress while a run again, after the worker died, has not passed it', async () => {
    // The worker left by the test before (or a new one): the only one when the request is taken.
    const first = survivor ?? (await startChild('w2'));
    const rid = await submit(acceptor.http, { path: '/work/long?name=progress' });
    await first.waitForStarted('progress');
    // Idle until the first run's worker dies: then BullMQ finds its lock lapsed and it runs the request again.
    const next = await startChild('w3');
    let highest = 0;
    /** Reads the progress and checks that it never went down since the last read. */
    const progressNow = async (): Promise<number> => {
      const progress = Number((await lookup(acceptor.http, rid)).progress);
      assert.ok(progress >= highest, `progress went down from ${highest} to ${progress}`);
      highest = progress;
      return progress;
    };
    // The fixture's handler reports a tenth of a percent per tick: 1 % is well past where a run again starts.
    await eventually('the first run to report 1 %', async () => ((await progressNow()) >= 1 ? true : undefined));
    await first.kill('SIGKILL');
    const beforeDeath = await progressNow();

    await eventually('the run again to pass the progress of the run before', async () => {
      const rerunning = (await next.state()).started.some((run) => run.name === 'progress' && run.attempt === 2);
      return rerunning && (await progressNow()) > beforeDeath ? true : undefined;
    });
    await next.release('progress');
    await waitForStatus(acceptor.http, rid, 'finished');
    assert.equal(await progressNow(), 100);
  });
});
