/**
 * Queue mode's bound (README, “Queue mode”: more than `maxQueued` requests wait, all instances): two apps accept on
 * one queue and no worker takes anything, so every accepted request waits. The depth each app checks is the queue's
 * (read from Redis every half second, plus the app's own additions since), so an app refuses at once what it filled
 * itself, and another app refuses once it has read the depth again. Beyond the bound: 503 with `Retry-After`, no
 * rid, no record. A job that leaves the queue gives its place back.
 */
import 'reflect-metadata';
import { Controller, Get, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable } from '../src/index.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { createScratch, disposeScratch, type TestDatabase } from './support/database.js';
import { sendRaw, submit, withBgrs, type HttpClient } from './support/http.js';
import { QueueProbe, assertRefusedWithoutRid, queueThrough, redisTrafficTwice } from './support/queue.js';
import { REDIS, deleteQueueKeys, testQueueName } from './support/redis.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { eventually } from './support/wait.js';

const MAX_QUEUED = 3;
/** Handler runs: none may happen, no worker runs here. */
let runs = 0;

@Controller('bounded')
class BoundedController {
  @Get('job')
  @BackgroundCapable()
  job(@Query('n') n: string) {
    runs++;
    return { n };
  }
}

describe('queue mode: maxQueued bounds the queue of all instances', () => {
  const name = testQueueName('bounds');
  let db: TestDatabase;
  let resultDir: string;
  const proxies: TcpProxy[] = [];
  const apps: AppOnDatabase[] = [];
  let probe: QueueProbe;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-bounds-'));
    probe = new QueueProbe(name);
    for (let i = 0; i < 2; i++) {
      // Through a proxy only so that the test sees when an app has read the depth again (its only Redis traffic).
      const proxy = await TcpProxy.start('127.0.0.1', REDIS.port);
      proxies.push(proxy);
      apps.push(
        await startAppOn({
          url: db.url,
          resultDir,
          controllers: [BoundedController],
          // A long lease: no reconciler pass (which would also talk to Redis) during the suite.
          bgrs: { maxQueued: MAX_QUEUED, leaseMs: 120_000, queue: queueThrough(proxy, { name, worker: false }) },
        }),
      );
    }
    for (const proxy of proxies) {
      // Past its start-up traffic (connection, the scripts its first read loads): from now on, one read at a time.
      await redisTrafficTwice(proxy, 'an app to read the depth of the queue');
      await redisTrafficTwice(proxy, 'an app to read the depth of the queue');
    }
  });

  after(async () => {
    for (const app of apps) {
      await app.close().catch(() => undefined);
    }
    for (const proxy of proxies) {
      await proxy.close();
    }
    await probe?.close();
    await deleteQueueKeys(name);
    await disposeScratch(db, resultDir);
  });

  async function expectRefused(http: HttpClient, n: string): Promise<void> {
    const records = await db.count('bgrs_requests');
    assertRefusedWithoutRid(await sendRaw(http, { path: withBgrs(`/bounded/job?n=${n}`) }), `submission ${n}`);
    assert.equal(await db.count('bgrs_requests'), records, `no record for the refused submission ${n}`);
  }

  it('refuses beyond maxQueued on the instance that filled the queue at once, and on the other once it has read the depth', async () => {
    const [a, b] = apps;
    for (let i = 0; i < MAX_QUEUED; i++) {
      await submit(a.http, { path: `/bounded/job?n=a${i}` });
    }
    // A counts its own additions: no waiting for a read.
    await expectRefused(a.http, 'a-over');
    await redisTrafficTwice(proxies[1], 'B to read the depth of the queue again');
    await expectRefused(b.http, 'b-over');
    await redisTrafficTwice(proxies[0], 'A to read the depth of the queue again');
    await expectRefused(a.http, 'a-over-again');

    assert.equal(await probe.waiting(), MAX_QUEUED, 'the queue holds exactly maxQueued jobs');
    assert.equal(await db.count('bgrs_requests'), MAX_QUEUED, 'a record for each accepted request only');
    assert.equal(await db.count('bgrs_jobs'), MAX_QUEUED);
    assert.equal(runs, 0, 'no handler ran (no worker)');
  });

  it('gives the place of a job that left the queue back, to one request of either instance', async () => {
    const [a, b] = apps;
    const [leaving] = (await db.query<{ rid: string }>('SELECT rid FROM bgrs_requests ORDER BY id LIMIT 1')).map(
      (row) => row.rid,
    );
    // Cancelling a waiting request removes its job.
    const cancelled = await a.http.delete(`/bgrs/${leaving}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(await probe.stateOf(leaving), 'unknown', 'the cancelled job left the queue');

    // B refuses until it has read the depth again (a refusal leaves nothing behind), then accepts one, then is full.
    await eventually('B to accept once the cancelled job has left the queue', async () => {
      const res = await sendRaw(b.http, { path: withBgrs('/bounded/job?n=b-back') });
      if (res.status === 202) {
        return true;
      }
      assertRefusedWithoutRid(res, 'B before it has read the depth again');
      return undefined;
    });
    await expectRefused(b.http, 'b-full-again');
    await redisTrafficTwice(proxies[0], 'A to read the depth of the queue again');
    await expectRefused(a.http, 'a-full-again');
    assert.equal(await probe.waiting(), MAX_QUEUED);
    assert.equal(await db.count('bgrs_requests', 'status_id = 2'), MAX_QUEUED, 'maxQueued requests wait as queued');
    assert.equal(runs, 0);
  });

  it('holds the bound for a burst of submissions at once on one instance', async () => {
    const [a] = apps;
    // Empty the queue: every waiting request cancelled, its job removed.
    for (const { rid } of await db.query<{ rid: string }>('SELECT rid FROM bgrs_requests WHERE status_id = 2')) {
      assert.equal((await a.http.delete(`/bgrs/${rid}`)).status, 200);
    }
    assert.equal(await probe.waiting(), 0);
    await redisTrafficTwice(proxies[0], 'A to read the depth of the queue again');

    const burst = await Promise.all(
      Array.from({ length: 4 * MAX_QUEUED }, (_, i) => sendRaw(a.http, { path: withBgrs(`/bounded/job?n=burst${i}`) })),
    );
    const accepted = burst.filter((res) => res.status === 202).length;
    for (const res of burst.filter((res) => res.status !== 202)) {
      assertRefusedWithoutRid(res, 'a submission of the burst beyond the bound');
    }
    assert.equal(accepted, MAX_QUEUED, `accepted ${accepted} of ${burst.length} at once`);
    assert.equal(await probe.waiting(), MAX_QUEUED);
    assert.equal(await db.count('bgrs_requests', 'status_id = 2'), MAX_QUEUED);
  });
});
