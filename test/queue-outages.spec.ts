/**
 * Queue mode under Redis and MySQL outages (README, “Queue mode”, its failure table), over HTTP. A TCP proxy between
 * the app and Redis (or MariaDB) is cut (connections refused) or held (the link takes bytes and answers nothing, then
 * delivers them late); the shared servers are never touched.
 * - Redis away at acceptance: 503 with `Retry-After` within `enqueueTimeoutMs`, no rid, no record; once Redis is
 *   back, a job that reached it late finds nothing to run.
 * - Redis away while a request runs: it runs on, its end lands in MySQL, and once Redis is back nothing runs twice.
 * - MySQL away at acceptance: 503, no rid, nothing queued.
 */
import 'reflect-metadata';
import { Controller, Get, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { createScratch, disposeScratch, type TestDatabase } from './support/database.js';
import { Gates } from './support/gate.js';
import { detailsOf, jsonOf, lookup, resultOf, sendRaw, submit, waitForStatus, withBgrs } from './support/http.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { QueueProbe, assertRefusedWithoutRid, queueThrough } from './support/queue.js';
import { REDIS, deleteQueueKeys, testQueueName } from './support/redis.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { eventually } from './support/wait.js';

const ENQUEUE_TIMEOUT_MS = 2000;
/** How long past `enqueueTimeoutMs` a refusal may take on a loaded machine: a deadline against hangs, not speed. */
const HANG_SLACK_MS = 10_000;

const gates = new Gates();
/** Runs of each handler, by the `n`/`name` of its request. */
const runs = new Map<string, number>();

@Controller('outage')
class OutageController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('quick')
  @BackgroundCapable()
  quick(@Query('n') n: string) {
    runs.set(n, (runs.get(n) ?? 0) + 1);
    return { n, attempt: this.progress.attempt };
  }

  @Get('long')
  @BackgroundCapable()
  async long(@Query('name') name: string) {
    runs.set(name, (runs.get(name) ?? 0) + 1);
    await this.progress.report(10, `${name}: started`);
    await gates.wait(name);
    return { name, attempt: this.progress.attempt };
  }
}

/** A submission that must be refused (see `assertRefusedWithoutRid`) within the hang deadline. */
async function expectRefused(app: AppOnDatabase, n: string): Promise<void> {
  const res = await app.http.get(withBgrs(`/outage/quick?n=${n}`)).timeout(ENQUEUE_TIMEOUT_MS + HANG_SLACK_MS);
  assertRefusedWithoutRid(res, `submission ${n}`);
}

describe('queue mode: Redis away (a proxy between the app and Redis)', () => {
  const name = testQueueName('redis-outage');
  const logger = new KeepingLogger(true);
  let db: TestDatabase;
  let resultDir: string;
  let proxy: TcpProxy;
  let probe: QueueProbe;
  let app: AppOnDatabase;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-redis-outage-'));
    proxy = await TcpProxy.start('127.0.0.1', REDIS.port);
    probe = new QueueProbe(name);
    app = await startAppOn({
      url: db.url,
      resultDir,
      controllers: [OutageController],
      // It accepts and works; a short lease, so that BullMQ finds a job whose lock lapsed in the outage soon after.
      bgrs: { leaseMs: 2000, queue: queueThrough(proxy, { name, enqueueTimeoutMs: ENQUEUE_TIMEOUT_MS }) },
      logger,
    });
  });

  after(async () => {
    gates.openAll();
    await proxy?.restore();
    await app?.close().catch(() => undefined);
    await proxy?.close();
    await probe?.close();
    await deleteQueueKeys(name);
    await disposeScratch(db, resultDir);
  });

  /** The rids of the refused submissions, as the app logged them: no client ever saw them. */
  function refusedRids(): string[] {
    return logger.problems(/not queued, so not accepted/).map((line) => /([0-9a-f]{32})/.exec(line)![1]);
  }

  async function expectNoRecordOf(rid: string): Promise<void> {
    assert.equal(await db.count('bgrs_requests', 'rid = ?', [rid]), 0, `no record of the refused ${rid}`);
    assert.equal(await db.count('bgrs_jobs', 'rid = ?', [rid]), 0, `no job row of the refused ${rid}`);
    assert.equal((await app.http.get(`/bgrs/${rid}`)).status, 404);
  }

  /** Redis is back: a new request runs to its end on the app's worker. */
  async function expectWorkingAgain(n: string): Promise<void> {
    const rid = await eventually('the app to accept background requests again', async () => {
      const res = await sendRaw(app.http, { path: withBgrs(`/outage/quick?n=${n}`) });
      return res.status === 202 ? (jsonOf(res).request as string) : undefined;
    });
    await waitForStatus(app.http, rid, 'finished');
    assert.deepEqual(jsonOf(await resultOf(app.http, rid)), { n, attempt: 1 });
  }

  it('refuses with 503 and no rid while Redis refuses connections, and leaves no record behind', async () => {
    const records = await db.count('bgrs_requests');
    await proxy.cut();
    try {
      for (let i = 0; i < 2; i++) {
        await expectRefused(app, `cut${i}`);
      }
    } finally {
      await proxy.restore();
    }
    assert.equal(refusedRids().length, 2, 'each refusal was logged with the rid it did not hand out');
    for (const rid of refusedRids()) {
      await expectNoRecordOf(rid);
    }
    assert.equal(await db.count('bgrs_requests'), records);
    await expectWorkingAgain('after-cut');
    assert.equal(runs.get('cut0'), undefined, 'a refused request never runs');
    assert.equal(runs.get('cut1'), undefined, 'a refused request never runs');
  });

  it('refuses with 503 within enqueueTimeoutMs while Redis answers nothing, and a job that reaches Redis late runs nothing', async () => {
    const before = new Set(refusedRids());
    proxy.hold();
    let rid: string;
    try {
      await expectRefused(app, 'held');
      [rid] = refusedRids().filter((seen) => !before.has(seen));
      assert.ok(rid, 'the refusal was logged with its rid');
      await expectNoRecordOf(rid);
    } finally {
      // Redis gets what was held: the add of the refused request arrives late, and makes a job.
      await proxy.restore();
    }
    // The app's worker takes that job and finds no request to run: BullMQ is done with it, and nothing ran.
    await eventually(`the late job of ${rid} to be done with`, async () =>
      (await probe.stateOf(rid)) === 'completed' ? true : undefined,
    );
    await expectWorkingAgain('after-hold');
    assert.equal(runs.get('held'), undefined, 'a refused request never runs, even when its job reached Redis late');
    await expectNoRecordOf(rid);
  });

  it('lets a request running while Redis is away end, serves its result, and runs nothing twice once Redis is back', async () => {
    const rid = await submit(app.http, { path: '/outage/long?name=r1' });
    await waitForStatus(app.http, rid, 'processing');
    await eventually('the handler to run', async () => (runs.get('r1') === 1 ? true : undefined));
    await proxy.cut();
    let record;
    try {
      gates.open('r1');
      record = await waitForStatus(app.http, rid, 'finished');
      const result = await resultOf(app.http, rid);
      assert.equal(result.status, 200);
      assert.deepEqual(jsonOf(result), { name: 'r1', attempt: 1 });
    } finally {
      await proxy.restore();
    }
    // Back: BullMQ finishes the job, or finds its lock lapsed and has it taken again, which finds the request ended.
    await eventually(`the job of ${rid} to be done with`, async () =>
      ['completed', 'failed'].includes(await probe.stateOf(rid)) ? true : undefined,
    );
    assert.equal(runs.get('r1'), 1, 'the handler ran once');
    assert.deepEqual(await lookup(app.http, rid), record, 'the record is as its one end left it');
    const details = (await detailsOf(app.http, rid)).map((row) => row.details);
    assert.equal(details.filter((text) => /^started on /.test(text)).length, 1, JSON.stringify(details));
    assert.ok(!details.some((text) => /^run again on /.test(text)), JSON.stringify(details));
    assert.deepEqual(jsonOf(await resultOf(app.http, rid)), { name: 'r1', attempt: 1 });
  });
});

describe('queue mode: MySQL away at acceptance (a proxy between the app and MariaDB)', () => {
  const name = testQueueName('mysql-outage');
  let db: TestDatabase;
  let resultDir: string;
  let proxy: TcpProxy;
  let probe: QueueProbe;
  let app: AppOnDatabase;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-mysql-outage-'));
    proxy = await TcpProxy.start('127.0.0.1', 3306);
    probe = new QueueProbe(name);
    app = await startAppOn({
      url: db.url.replace(/:3306\//, `:${proxy.port}/`),
      resultDir,
      controllers: [OutageController],
      bgrs: { queue: { connection: REDIS, name } },
      extra: { connectTimeout: 2000, connectionLimit: 5, maxIdle: 5, idleTimeout: 60_000 },
      logger: new KeepingLogger(true),
    });
    assert.ok(proxy.accepted > 0, 'the app must reach MariaDB through the proxy');
  });

  after(async () => {
    await proxy?.restore();
    await app?.close().catch(() => undefined);
    await proxy?.close();
    await probe?.close();
    await deleteQueueKeys(name);
    await disposeScratch(db, resultDir);
  });

  it('answers 503 with no rid and queues nothing while the record cannot be written; accepts again once back', async () => {
    await proxy.cut();
    try {
      for (let i = 0; i < 2; i++) {
        await expectRefused(app, `db-cut${i}`);
      }
    } finally {
      await proxy.restore();
    }
    assert.equal(await probe.total(), 0, 'nothing reached the queue');
    assert.equal(await db.count('bgrs_requests'), 0, 'no record');
    assert.equal(runs.get('db-cut0'), undefined);

    const rid = await eventually('the app to accept background requests again', async () => {
      const res = await sendRaw(app.http, { path: withBgrs('/outage/quick?n=db-back') });
      return res.status === 202 ? (jsonOf(res).request as string) : undefined;
    });
    await waitForStatus(app.http, rid, 'finished');
    assert.deepEqual(jsonOf(await resultOf(app.http, rid)), { n: 'db-back', attempt: 1 });
    assert.equal(runs.get('db-cut0'), undefined, 'a refused request never runs');
    assert.equal(runs.get('db-cut1'), undefined, 'a refused request never runs');
  });
});
