/**
 * Queue mode, cancellation (SPEC §4 `DELETE /bgrs/:rid`, §7 "Cancellation", README "Queue mode"): an instance that
 * only accepts (the API) and a worker (child processes, one database, one queue; the worker runs one request at a
 * time). `DELETE` on the API instance of a job that waits, for a worker that is not there yet or whose slot is
 * taken, removes it from the queue: its handler never starts, even once a worker is free. Of a running one: the
 * worker's handler sees its signal abort ("cancelled") within about one heartbeat, its output is dropped, and it is
 * never run again: when its worker was stalled past its lock as it was cancelled, the job leaves the queue at once and
 * the run stops once the worker's event loop runs again.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertCancelledAnswer, assertStaysCancelled, cancel } from './support/cancel.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { jsonOf, lookup, resultOf, submit, waitForStatus } from './support/http.js';
import { startedAttempts, waitForAbort, waitForAttempt, waitUntilLetGo } from './support/instance-runs.js';
import { killAllInstances, startInstance, type Instance } from './support/instances.js';
import { jobLocked, queueJobOf } from './support/queue-jobs.js';
import { REDIS, deleteQueueKeys, testQueueName } from './support/redis.js';
import { eventually } from './support/wait.js';

const LEASE_MS = 1500;
const HEARTBEAT_MS = Math.floor(LEASE_MS / 3);
/** Added to poll deadlines for a loaded machine; the contract is one heartbeat. */
const SLACK_MS = Number(process.env.BGRS_TEST_SLACK_MS ?? 3000);
/** Long past the lock (`leaseMs`): the worker's job stalls while it is blocked. */
const STALL_MS = 3 * LEASE_MS;

for (const adapter of ['express', 'fastify'] as const) {
  describe(`${adapter}: queue mode cancellation from an instance that only accepts`, () => {
    let db: TestDatabase;
    let resultDir: string;
    const queueName = testQueueName(`cancel-${adapter}`);
    let api: Instance;
    let worker: Instance | undefined;

    const start = (name: string, queue: { worker: boolean; concurrency?: number }) =>
      startInstance({
        name,
        dbUrl: db.url,
        resultDir,
        adapter,
        bgrs: { leaseMs: LEASE_MS, queue: { connection: REDIS, name: queueName, ...queue } },
      });
    /** The worker: on Express started once the first test has run without it, on Fastify with the API instance. */
    const theWorker = async () => (worker ??= await start('W', { worker: true, concurrency: 1 }));
    /** The case of no worker running is the queue's, not the platform's: once (on Express) is enough. */
    const workerLater = adapter === 'express';

    /** A request submitted after the others runs to its end on the worker: the worker has taken what was before. */
    async function runsNext(name: string): Promise<void> {
      const rid = await submit(api.http, { path: `/work/quick?name=${name}` });
      await waitForStatus(api.http, rid, 'finished');
      assert.deepEqual(jsonOf(await resultOf(api.http, rid)), { name, rid, instance: 'W' });
    }

    /** Nothing of a result of `rid` (committed or partial) is in the shared result folder. */
    async function assertNoResultFiles(rid: string): Promise<void> {
      assert.deepEqual(
        (await readdir(resultDir)).filter((file) => file.includes(rid)),
        [],
      );
    }

    /** `name` ran once on the worker (attempt 1), and was never run again. */
    const assertRanOnce = async (name: string) => assert.deepEqual(await startedAttempts(await theWorker(), name), [1]);

    /** Cancels a running request on the API instance and waits for the worker to stop it ("cancelled"). */
    async function cancelRunning(rid: string, name: string, deadlineMs?: number): Promise<void> {
      assertCancelledAnswer(await cancel(api.http, rid), rid);
      const w = await theWorker();
      assert.equal(await waitForAbort(w, name, deadlineMs), 'cancelled');
      await waitUntilLetGo(w, rid);
      assert.ok(!(await w.state()).ended.some((seen) => seen.name === name), 'the handler produced no response');
      await assertStaysCancelled([api, w], rid);
      await assertNoResultFiles(rid);
    }

    before(async () => {
      ({ db, resultDir } = await createScratch('bgrs-queue-cancel-'));
      [api] = await Promise.all([start('API', { worker: false }), workerLater ? undefined : theWorker()]);
    });

    after(async () => {
      await killAllInstances();
      await disposeScratch(db, resultDir);
      await deleteQueueKeys(queueName);
    });

    if (workerLater) {
      it('a job waiting with no worker running is removed and never runs, once a worker is there either', async () => {
        const rid = await submit(api.http, { path: '/work/long?name=no-worker' });
        assert.equal((await lookup(api.http, rid)).status_name, 'queued');
        assertCancelledAnswer(await cancel(api.http, rid), rid);
        assert.equal((await queueJobOf(queueName, rid)).state, 'unknown', 'the job left the queue');

        const w = await theWorker();
        await runsNext('after-no-worker');
        assert.ok(!(await w.state()).started.some((seen) => seen.name === 'no-worker'), 'it never ran');
        await assertStaysCancelled([api, w], rid);
      });
    }

    it('a job waiting for the worker’s busy slot is removed and never runs, once the slot is free either', async () => {
      const w = await theWorker();
      const busy = await submit(api.http, { path: '/work/long?name=busy' });
      await w.waitForStarted('busy');
      const rid = await submit(api.http, { path: '/work/long?name=behind-busy' });
      assert.equal((await lookup(api.http, rid)).status_name, 'queued');
      assertCancelledAnswer(await cancel(api.http, rid), rid);
      assert.equal((await queueJobOf(queueName, rid)).state, 'unknown', 'the job left the queue');

      await w.release('busy');
      await waitForStatus(api.http, busy, 'finished');
      await runsNext('after-busy');
      assert.ok(!(await w.state()).started.some((seen) => seen.name === 'behind-busy'), 'it never ran');
      await assertStaysCancelled([api, w], rid);
    });

    it('a running job sees its signal abort on the worker within a heartbeat; no result, no run again', async () => {
      const w = await theWorker();
      const rid = await submit(api.http, { path: '/work/long?name=running' });
      await w.waitForStarted('running');
      await waitForStatus(api.http, rid, 'processing');

      await cancelRunning(rid, 'running', HEARTBEAT_MS + SLACK_MS);
      // Done with in the queue, taken once: BullMQ never hands a completed job out again.
      assert.deepEqual(await queueJobOf(queueName, rid), { state: 'completed', attemptsStarted: 1 });
      await runsNext('after-running');
      await assertRanOnce('running');
    });

    it('a running job cancelled while its worker is stalled past its lock leaves the queue; its run stops after', async () => {
      const w = await theWorker();
      const rid = await submit(api.http, { path: '/work/long?name=stalled' });
      await waitForAttempt(w, 'stalled', 1);
      const stalled = w.stall(STALL_MS);
      // Cancelled once the worker has lost its lock (it is stalled: it would have renewed it); the API instance answers
      // meanwhile, and the worker sees it once its event loop runs again.
      await eventually(`the worker to lose the lock of ${rid}`, async () =>
        (await jobLocked(queueName, rid)) ? undefined : true,
      );
      await cancelRunning(rid, 'stalled', STALL_MS + HEARTBEAT_MS + SLACK_MS);
      await stalled;
      // No lock held, the job was removed by the DELETE: nothing is left in the queue to hand out again.
      assert.deepEqual(await queueJobOf(queueName, rid), { state: 'unknown', attemptsStarted: 0 });
      await runsNext('after-stalled');
      await assertRanOnce('stalled');
      await assertStaysCancelled([api, w], rid);
    });
  });
}
