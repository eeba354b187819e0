/**
 * Queue mode: deploys lose nothing (README, “Queue mode”, its failure table), with real processes on one database,
 * one queue and results in the database.
 * - A worker shut down gracefully (SIGTERM → `app.close()`) takes no new jobs; a run that ends within
 *   `shutdownGraceMs` finishes on it; the others are handed back to the queue at once (a `handed back` details row,
 *   the record `processing` throughout, never failed) and run on another worker. A run handed back is counted as a
 *   run (`startRun` counts every start): the next one is attempt 2, with the `run again` details row. The hand-back
 *   uses none of the job's stall budget (BullMQ's `maxStalledCount` 1): that next run's worker killed, a third runs
 *   it (attempt 3) to its end instead of failing it. A `rerun: false` run fails as interrupted by shutdown.
 * - A rolling restart of the workers, one after the other, while 50 requests of 2–5 s run: all 50 finish, each with
 *   its own result, each run again exactly once per hand-back.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { BGRS_MESSAGES } from '../src/bgrs.messages.js';
import { detailsOf, submit, waitForStatus } from './support/http.js';
import type { Instance } from './support/instances.js';
import { pooled } from './support/pooled.js';
import { QueueCluster, expectOwnResult } from './support/queue-cluster.js';
import { eventually } from './support/wait.js';

const LEASE_MS = 3000;
/** The workers' grace in the rolling restart: most 2–5 s runs are cut by it. */
const ROLLING_GRACE_MS = 500;
/** The grace of the worker shut down in the first test: long enough for the test to release a run within it. */
const LONG_GRACE_MS = 6000;
/** Deadlines against hangs only, generous for a loaded machine. */
const WAIT = { deadlineMs: 60_000 };
const TEST = { timeout: 300_000 };
const REQUESTS = 50;

describe('queue mode: deploys lose nothing (real processes)', () => {
  let cluster: QueueCluster;
  let api: Instance;

  before(async () => {
    cluster = await QueueCluster.create({
      label: 'deploy',
      bgrs: { leaseMs: LEASE_MS, shutdownGraceMs: ROLLING_GRACE_MS },
      concurrency: 4,
    });
    api = await cluster.startApi('api');
  });

  after(() => cluster?.dispose());

  async function texts(rid: string): Promise<string[]> {
    return (await detailsOf(api.http, rid)).map((row) => row.details);
  }

  it(
    'a graceful shutdown: no new jobs, a run within the grace finishes there, the rest are handed back',
    TEST,
    async () => {
      const leaving = await cluster.startWorker('leaving', { shutdownGraceMs: LONG_GRACE_MS });
      const within = await submit(api.http, { path: '/work/long?name=within-grace' });
      const handed = await submit(api.http, { path: '/work/long?name=handed-back' });
      const once = await submit(api.http, { path: '/work/once?name=once-cut' });
      for (const name of ['within-grace', 'handed-back', 'once-cut']) {
        await leaving.waitForStarted(name);
      }
      // The workers that take over: idle until the leaving one lets its jobs go.
      await cluster.ensureWorkers(3);

      leaving.child.kill('SIGTERM');
      await eventually('the leaving worker to drain', async () =>
        (await leaving.state()).accepting === false ? true : undefined,
      );
      await leaving.release('within-grace');
      const afterStop = await submit(api.http, { path: '/work/long?name=after-stop' });
      const taker = await cluster.whereStarted('after-stop', 1, WAIT);
      assert.notEqual(taker, leaving, 'a draining worker takes no new job');
      await taker.release('after-stop');
      assert.equal((await expectOwnResult(api, afterStop, 'after-stop', WAIT)).instance, taker.name);

      const finished = await expectOwnResult(api, within, 'within-grace', WAIT);
      assert.equal(finished.instance, 'leaving', 'a run that ends within the grace finishes on its worker');

      // Past the grace: handed back, run again elsewhere as attempt 2, processing throughout.
      const next = await cluster.runAgainWhileProcessing(api, handed, 'handed-back', 2, WAIT);
      assert.notEqual(next, leaving);
      const exit = await leaving.exited;
      assert.notEqual(exit.signal, 'SIGKILL', `the leaving worker shut down by itself: ${JSON.stringify(exit)}`);
      const ranAgain = BGRS_MESSAGES.runAgain(`${hostname()}#${next.pid}`, 2);
      const details = await eventually(
        'the details rows of the hand-back and the run again',
        async () => {
          const rows = await texts(handed);
          return rows.includes(ranAgain) ? rows : undefined;
        },
        WAIT,
      );
      assert.ok(details.includes(BGRS_MESSAGES.handedBack), JSON.stringify(details));
      assert.ok(!details.some((text) => text.startsWith('failed')), JSON.stringify(details));

      const cut = await waitForStatus(api.http, once, 'failed', WAIT);
      assert.equal(cut.result, null);
      assert.ok((await texts(once)).includes(BGRS_MESSAGES.interruptedByShutdown));

      // The hand-back counted no stall: a death now is the job's first, so it runs again instead of failing.
      await next.kill('SIGKILL');
      const last = await cluster.runAgainWhileProcessing(api, handed, 'handed-back', 3, WAIT);
      await last.release('handed-back');
      const answer = await expectOwnResult(api, handed, 'handed-back', WAIT);
      assert.equal(answer.instance, last.name);
      assert.equal(answer.attempt, undefined, '/work/long answers without its attempt');
    },
  );

  it('a rolling restart while 50 requests of 2–5 s run: all 50 finish, each with its own result', TEST, async () => {
    const olds = await cluster.ensureWorkers(2);
    const indices = Array.from({ length: REQUESTS }, (_, i) => i);
    const nameOf = (i: number) => `rolling-${i}`;
    // Spread over 2–5 s, the same every run.
    const msOf = (i: number) => 2000 + ((i * 617) % 3001);
    const rids = await pooled(indices, 10, (i) =>
      submit(api.http, { path: `/work/sleep?name=${nameOf(i)}&ms=${msOf(i)}` }),
    );

    for (const old of olds) {
      // Stopped in the middle of a run that outlasts its grace (with room for the signal to arrive): one at least
      // is handed back, so the restart is no idle one.
      await eventually(
        `${old.name} to be in a run that outlasts its grace`,
        async () => {
          const { sleeping } = await old.state();
          return sleeping.some((run) => run.until - Date.now() > ROLLING_GRACE_MS + 2000) ? true : undefined;
        },
        WAIT,
      );
      const exit = await old.kill('SIGTERM');
      assert.notEqual(exit.signal, 'SIGKILL', `${old.name} shut down by itself: ${JSON.stringify(exit)}`);
      await cluster.startWorker(`${old.name}-next`);
    }

    let handedBackRuns = 0;
    await pooled(indices, 10, async (i) => {
      const answer = await expectOwnResult(api, rids[i], nameOf(i), WAIT);
      const handedBack = (await texts(rids[i])).filter((text) => text === BGRS_MESSAGES.handedBack).length;
      // Every run after the first came from a hand-back: none from a stall, none failed.
      assert.equal(answer.attempt, 1 + handedBack, `${nameOf(i)}: ${JSON.stringify(answer)}`);
      handedBackRuns += handedBack;
    });
    assert.ok(handedBackRuns >= olds.length, `each stopped worker handed a run back; ${handedBackRuns} in all`);
  });
});
