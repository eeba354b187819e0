/**
 * The demo in queue mode (README, the demo's environment): the web server started as `npm start` runs it with
 * `REDIS_URL` (and a queue of the test's own, `DEMO_QUEUE`) only accepts; a request waits as `queued` until the
 * worker, started as `npm run worker` runs it, takes it from the queue and runs it in its own process. Both share
 * the SQLite file and `media/`. The result is the foreground's bytes; the details name the worker's pid. A worker
 * without `REDIS_URL` is refused at start.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDemo, startDemoWorker, type RunningDemo, type RunningDemoWorker } from './support/demo.js';
import { detailsOf, lookup, resultOf, sendRaw, submit, waitForStatus } from './support/http.js';
import { REPO_ROOT, runNode } from './support/processes.js';
import { REDIS, deleteQueueKeys, testQueueName } from './support/redis.js';

describe('the demo with REDIS_URL set (queue mode, a worker process)', () => {
  const queue = testQueueName('demo');
  const env = { REDIS_URL: `redis://${REDIS.host}:${REDIS.port}`, DEMO_QUEUE: queue };
  let cwd: string;
  let demo: RunningDemo;
  let worker: RunningDemoWorker | undefined;

  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'bgrs-demo-queue-'));
    demo = await startDemo(cwd, env);
  });

  after(async () => {
    await worker?.stop();
    await demo?.stop();
    await deleteQueueKeys(queue);
    if (cwd) {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('keeps a request queued until a worker runs it, then serves the foreground bytes', async () => {
    const path = '/v2.5/reports/sales?year=2024&t=csv';
    const rid = await submit(demo.http, { path });
    // The web server does not run it: with no worker yet, it stays queued.
    const waiting = await lookup(demo.http, rid);
    assert.equal(waiting.status_name, 'queued');

    worker = await startDemoWorker(cwd, env);
    await waitForStatus(demo.http, rid, 'finished');
    const foreground = await sendRaw(demo.http, { path });
    const result = await resultOf(demo.http, rid);
    assert.equal(result.status, 200);
    assert.equal(result.headers['content-type'], foreground.headers['content-type']);
    assert.equal(result.headers['content-disposition'], 'attachment; filename="sales-2024.csv"');
    assert.ok(result.body.equals(foreground.body), 'the queued CSV differs from the foreground');

    const details = (await detailsOf(demo.http, rid)).map((row) => row.details);
    const ranOn = `started on ${hostname()}#${worker.child.pid} (attempt 1)`;
    assert.ok(details.includes(ranOn), `no "${ranOn}" in ${JSON.stringify(details)}`);
  });

  it('refuses to start a worker without REDIS_URL, saying what it needs', async () => {
    const withoutRedis = { ...process.env };
    delete withoutRedis.REDIS_URL;
    await assert.rejects(
      runNode([join(REPO_ROOT, 'build/demo/worker.js')], { cwd, env: withoutRedis }),
      /npm run worker needs REDIS_URL/,
    );
  });
});
