/**
 * Queue mode, exactly one outcome (SPEC §8 "Queue mode", README "Queue mode", at-least-once): two worker instances
 * (child processes, one database, one queue). A worker whose event loop stalls past its lock loses the job to the
 * other, which runs it again (attempt 2) while the first run is still alive. Both runs then end, in either order;
 * whatever the order, the request gets one end state and one result, those of attempt 2: the stale run's final
 * write is fenced by its attempt, its stored result is given up, and it adds no second end. A worker with a free
 * slot that gets its own stalled job back while its stale run lives does not run it a second time beside it.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { BgrsRequestView } from '../src/index.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { detailsOf, jsonOf, lookup, resultOf, submit, waitForStatus } from './support/http.js';
import { startedAttempts, waitForAttempt, waitUntilLetGo, whereStarted } from './support/instance-runs.js';
import { killAllInstances, startInstance, type Instance } from './support/instances.js';
import { queueJobOf } from './support/queue-jobs.js';
import { REDIS, deleteQueueKeys, testQueueName } from './support/redis.js';
import { RESULT_KEEPING, type ResultKeeping } from './support/result-keeping.js';
import { eventually } from './support/wait.js';

const LEASE_MS = 1500;
/** Long past the lock (`leaseMs`), so that the other worker's stalled check takes the job away. */
const STALL_MS = 3 * LEASE_MS;
/** Details rows that end a request (failed, cancelled, interrupted, not stored). */
const END_ROW = /^(failed|cancelled|interrupted|No result could be stored)/;

for (const keeping of RESULT_KEEPING) {
  exactlyOnceSuite(keeping);
}

function exactlyOnceSuite(keeping: ResultKeeping): void {
  describe(`queue mode: exactly one outcome when a stalled worker and the one that took its job over both end, ${keeping.label}`, () => {
    let db: TestDatabase;
    let resultDir: string;
    const queueName = testQueueName('exactly-once');
    let workers: Instance[];

    /** Both run queued requests, one at a time: a stalled worker's slot stays taken by its stale run. */
    const startWorker = (name: string) =>
      startInstance({
        name,
        dbUrl: db.url,
        resultDir,
        bgrs: {
          ...keeping.bgrs,
          leaseMs: LEASE_MS,
          queue: { connection: REDIS, name: queueName, worker: true, concurrency: 1 },
        },
      });

    before(async () => {
      ({ db, resultDir } = await createScratch('bgrs-exactly-once-'));
      workers = await Promise.all([startWorker('W1'), startWorker('W2')]);
    });

    after(async () => {
      await killAllInstances();
      await disposeScratch(db, resultDir);
      await deleteQueueKeys(queueName);
    });

    /**
     * Submits `name`, stalls the worker that runs it past its lock, and waits for the other worker to run it again
     * (attempt 2) meanwhile. Both runs are then alive, waiting to be released.
     */
    async function overlappingRuns(name: string): Promise<{ rid: string; stale: Instance; taker: Instance }> {
      const rid = await submit(workers[0].http, { path: `/work/long?name=${name}` });
      const stale = await whereStarted(workers, name);
      const taker = workers.find((worker) => worker !== stale)!;
      await waitForAttempt(stale, name, 1);
      const stalled = stale.stall(STALL_MS);
      await waitForAttempt(taker, name, 2);
      await stalled;
      // The stale run lives on: no one stopped it (the request is still running).
      const state = await stale.state();
      assert.ok(state.held.includes(rid), `${stale.name} still runs attempt 1: ${JSON.stringify(state)}`);
      assert.equal((await lookup(taker.http, rid)).status_name, 'processing');
      return { rid, stale, taker };
    }

    /** Files of results of `rid` other than attempt 2's (committed or partial) in the shared result folder. */
    async function staleFilesOf(rid: string): Promise<string[]> {
      const attempt2 = `keep1m.bgrs.${rid}.result.2.`;
      return (await readdir(resultDir)).filter((file) => file.includes(rid) && !file.startsWith(attempt2));
    }

    /** The request ended once, as attempt 2 on `taker` finished it: its record, result bytes, files and details. */
    async function assertAttempt2Outcome(rid: string, name: string, taker: Instance): Promise<BgrsRequestView> {
      const record = await lookup(taker.http, rid);
      assert.equal(record.status_name, 'finished', JSON.stringify(record));
      assert.equal(record.status, '200');
      assert.equal(record.progress, '100.00');
      if (keeping.inline) {
        // The attempt is in the location, so that the fenced re-read still tells the two runs apart.
        assert.equal(record.result, `inline:${rid}.2`);
      } else {
        assert.match(record.result ?? '', new RegExp(`keep1m\\.bgrs\\.${rid}\\.result\\.2\\.json$`));
      }
      for (const worker of workers) {
        const result = await resultOf(worker.http, rid);
        assert.equal(result.status, 200);
        assert.match(String(result.headers['content-type']), /^application\/json/);
        assert.deepEqual(jsonOf(result), { name, rid, instance: taker.name });
      }
      assert.deepEqual(await staleFilesOf(rid), [], 'only attempt 2 keeps a result');
      if (keeping.inline) {
        assert.deepEqual(
          (await readdir(resultDir)).filter((file) => file.includes(rid)),
          [],
          'in its row, no file',
        );
      }
      const details = (await detailsOf(taker.http, rid)).map((row) => row.details);
      assert.deepEqual(
        details.filter((text) => END_ROW.test(text)),
        [],
        `no run wrote an end of its own: ${JSON.stringify(details)}`,
      );
      assert.equal(details.filter((text) => /^started on .* \(attempt 1\)$/.test(text)).length, 1, String(details));
      assert.equal(details.filter((text) => /^run again on .* \(attempt 2\)/.test(text)).length, 1, String(details));
      // The queue is done with it too: completed by attempt 2 (the stale run's completion was refused), taken twice.
      const job = await eventually(`the job of ${rid} to complete`, async () => {
        const seen = await queueJobOf(queueName, rid);
        return seen.state === 'active' ? undefined : seen;
      });
      assert.deepEqual(job, { state: 'completed', attemptsStarted: 2 });
      return record;
    }

    it(
      'the stale run (attempt 1) ends after attempt 2 finished: attempt 2’s end and result stand',
      { timeout: 90_000 },
      async () => {
        const name = 'late-stale';
        const { rid, stale, taker } = await overlappingRuns(name);

        await taker.release(name);
        const finished = await waitForStatus(taker.http, rid, 'finished');
        // At once, so that the stale run mostly ends before its heartbeat sees the end and stops it.
        await stale.release(name);
        await waitUntilLetGo(stale, rid);
        // Either its final write was fenced (it ended: its result was given up), or its heartbeat saw the request
        // ended first and stopped it; nothing of it lands either way.
        const state = await stale.state();
        const ended = state.ended.some((seen) => seen.name === name);
        const aborted = state.aborted.find((seen) => seen.name === name);
        assert.ok(ended || aborted?.reason === 'the request has ended elsewhere', JSON.stringify(state));
        assert.deepEqual(await assertAttempt2Outcome(rid, name, taker), finished, 'the record is unchanged');
      },
    );

    it(
      'the stale run (attempt 1) ends first, while attempt 2 runs: it does not land; attempt 2’s end does',
      { timeout: 90_000 },
      async () => {
        const name = 'early-stale';
        const { rid, stale, taker } = await overlappingRuns(name);

        await stale.release(name);
        await waitUntilLetGo(stale, rid);
        const state = await stale.state();
        // Its handler produced its response (no one stopped it); the final write is what was refused.
        assert.ok(
          state.ended.some((seen) => seen.name === name),
          `the stale handler ran to its end: ${JSON.stringify(state)}`,
        );
        const record = await lookup(taker.http, rid);
        assert.equal(record.status_name, 'processing', `the stale run's end did not land: ${JSON.stringify(record)}`);
        assert.equal(record.result, null);
        assert.equal(record.finished_dt, null);
        const early = await resultOf(taker.http, rid);
        assert.equal(early.status, 409);
        assert.equal(jsonOf(early).status_name, 'processing');
        assert.deepEqual(await staleFilesOf(rid), [], 'the stale run’s result was given up');
        assert.ok((await taker.state()).held.includes(rid), 'attempt 2 runs on');

        await taker.release(name);
        await waitForStatus(stale.http, rid, 'finished');
        await assertAttempt2Outcome(rid, name, taker);
        await waitUntilLetGo(taker, rid);
      },
    );
  });
}

describe('queue mode: a stalled worker that gets its own job back while its run lives', () => {
  let db: TestDatabase;
  let resultDir: string;
  const queueName = testQueueName('self-taken');
  let worker: Instance;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-self-taken-'));
    // The only worker, with a slot free for the job its own stalled check hands back.
    worker = await startInstance({
      name: 'S',
      dbUrl: db.url,
      resultDir,
      bgrs: { leaseMs: LEASE_MS, queue: { connection: REDIS, name: queueName, worker: true, concurrency: 2 } },
    });
  });

  after(async () => {
    await killAllInstances();
    await disposeScratch(db, resultDir);
    await deleteQueueKeys(queueName);
  });

  it(
    'does not start it again beside it; the one run ends the request, and the job then completes',
    { timeout: 90_000 },
    async () => {
      const name = 'self-taken';
      const rid = await submit(worker.http, { path: `/work/long?name=${name}` });
      await waitForAttempt(worker, name, 1);
      await worker.stall(STALL_MS);
      // Its lock lost, the job went back to the queue and the worker took it twice more (it waits, handed back
      // for later each time) while the first run goes on: BullMQ tracks a worker's locks by job id, so a second run
      // here would have its lock left unrenewed once the first one ended, and the queue would give the job up.
      await eventually(`the worker to take the job of ${rid} again, twice`, async () =>
        (await queueJobOf(queueName, rid)).attemptsStarted >= 3 ? true : undefined,
      );
      assert.deepEqual(await startedAttempts(worker, name), [1], 'one run of it at a time on this worker');

      await worker.release(name);
      const record = await waitForStatus(worker.http, rid, 'finished');
      assert.equal(record.result, `inline:${rid}`, 'a small result is kept in its row');
      assert.deepEqual(jsonOf(await resultOf(worker.http, rid)), { name, rid, instance: 'S' });
      await eventually(`the job of ${rid} to complete`, async () =>
        (await queueJobOf(queueName, rid)).state === 'completed' ? true : undefined,
      );
      assert.deepEqual(
        await startedAttempts(worker, name),
        [1],
        'never run again: the run that ended it was the last one',
      );
      assert.deepEqual(await lookup(worker.http, rid), record, 'the record is unchanged');
    },
  );
});
