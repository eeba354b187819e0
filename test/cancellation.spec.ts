/**
 * Cancellation (README, `DELETE /bgrs/:rid` in “Lookup endpoints”, and “Under failure”): two real instances (child processes) share one
 * database. `DELETE /bgrs/:rid` on instance B cancels a request running on instance A: within one heartbeat A's
 * handler sees `ProgressReporter.signal` abort, its subscription ends, and the record is `cancelled` for good.
 * The same on one instance, and for a queued request (its handler never runs). Cancelling an ended request is
 * `409` naming its status; cancelling twice is harmless.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import {
  CANCELLED_DETAIL,
  assertCancelledAnswer,
  assertStaysCancelled as assertStaysCancelledOn,
  cancel,
  type CancelAnswer,
} from './support/cancel.js';
import { detailsOf, jsonOf, lookup, resultOf, submit, waitForStatus } from './support/http.js';
import { waitForAbort as waitForAbortOf, waitUntilLetGo as waitUntilLetGoOf } from './support/instance-runs.js';
import { killAllInstances, startInstance, type Instance } from './support/instances.js';
import { eventually } from './support/wait.js';

const LEASE_MS = 1500;
const HEARTBEAT_MS = Math.floor(LEASE_MS / 3);
/** Added to poll deadlines for a loaded machine; the contract is one heartbeat. */
const SLACK_MS = Number(process.env.BGRS_TEST_SLACK_MS ?? 3000);

describe('cancellation across instances (leaseMs 1500, real processes, one shared database)', () => {
  let db: TestDatabase;
  let resultDir: string;
  let a: Instance;
  let b: Instance;

  /** Due within one heartbeat, with slack for a loaded machine. */
  const waitForAbort = (instance: Instance, name: string, deadlineMs = HEARTBEAT_MS + SLACK_MS) =>
    waitForAbortOf(instance, name, deadlineMs);
  const waitUntilLetGo = (instance: Instance, rid: string, deadlineMs = HEARTBEAT_MS + SLACK_MS) =>
    waitUntilLetGoOf(instance, rid, deadlineMs);

  const assertStaysCancelled = (rid: string) => assertStaysCancelledOn([a, b], rid);

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-cancel-'));
    a = await startInstance({ name: 'A', dbUrl: db.url, resultDir, bgrs: { leaseMs: LEASE_MS, maxConcurrent: 2 } });
    b = await startInstance({ name: 'B', dbUrl: db.url, resultDir, bgrs: { leaseMs: LEASE_MS } });
  });

  after(async () => {
    await killAllInstances();
    await disposeScratch(db, resultDir);
  });

  it(
    'DELETE on B cancels a request running on A: A aborts the signal within a heartbeat, the record is cancelled',
    { timeout: 60_000 },
    async () => {
      const rid = await submit(a.http, { path: '/work/long?name=x-long' });
      await waitForStatus(b.http, rid, 'processing');
      await a.waitForStarted('x-long');

      const answer = await cancel(b.http, rid);
      assertCancelledAnswer(answer, rid);
      assert.match(answer.contentType, /^application\/json/);

      const reason = await waitForAbort(a, 'x-long');
      assert.match(reason, /cancel/i);
      await waitUntilLetGo(a, rid);
      const state = await a.state();
      assert.ok(!state.ended.some((seen) => seen.name === 'x-long'), 'the cancelled handler did not produce a result');
      await assertStaysCancelled(rid);
    },
  );

  it(
    'DELETE on B of an Observable handler running on A ends its subscription (teardown runs)',
    { timeout: 60_000 },
    async () => {
      const rid = await submit(a.http, { path: '/work/stream?name=x-stream' });
      await waitForStatus(a.http, rid, 'processing');
      await a.waitForStarted('x-stream');

      assertCancelledAnswer(await cancel(b.http, rid), rid);
      await waitForAbort(a, 'x-stream');
      await eventually(
        "A to tear the handler's Observable down",
        async () => ((await a.state()).teardowns.some((seen) => seen.name === 'x-stream') ? true : undefined),
        { deadlineMs: HEARTBEAT_MS + SLACK_MS },
      );
      await waitUntilLetGo(a, rid);
      // Released afterwards, the Observable emits nothing any more.
      await a.release('x-stream');
      await assertStaysCancelled(rid);
    },
  );

  it('DELETE on the instance that runs it aborts the handler at once', { timeout: 60_000 }, async () => {
    const rid = await submit(a.http, { path: '/work/long?name=same-instance' });
    await waitForStatus(a.http, rid, 'processing');
    await a.waitForStarted('same-instance');

    assertCancelledAnswer(await cancel(a.http, rid), rid);
    // No heartbeat needed here; the deadline is the default one against hangs.
    const reason = await waitForAbort(a, 'same-instance', undefined);
    assert.match(reason, /cancel/i);
    await waitUntilLetGo(a, rid, undefined);
    await assertStaysCancelled(rid);
  });

  it(
    'a queued request cancelled from B never runs on A, and A goes on with the others',
    { timeout: 60_000 },
    async () => {
      // A runs two at once: two long ones take the slots, the third waits.
      const first = await submit(a.http, { path: '/work/long?name=q-run-1' });
      const second = await submit(a.http, { path: '/work/long?name=q-run-2' });
      const waiting = await submit(a.http, { path: '/work/long?name=q-waiting' });
      await a.waitForStarted('q-run-1');
      await a.waitForStarted('q-run-2');
      assert.equal((await lookup(b.http, waiting)).status_name, 'queued');

      assertCancelledAnswer(await cancel(b.http, waiting), waiting);
      // A drops it from its queue at its next heartbeat.
      await waitUntilLetGo(a, waiting);

      await a.release('q-run-1');
      const record = await waitForStatus(b.http, first, 'finished');
      assert.equal(record.status, '200');
      assert.deepEqual(jsonOf(await resultOf(b.http, first)), { name: 'q-run-1', rid: first, instance: 'A' });
      // The slot it freed is not given to the cancelled request: a new one runs in it.
      const next = await submit(a.http, { path: '/work/quick?name=q-after' });
      await waitForStatus(a.http, next, 'finished');
      assert.ok(
        !(await a.state()).started.some((seen) => seen.name === 'q-waiting'),
        'the cancelled queued handler never ran',
      );
      await assertStaysCancelled(waiting);

      await a.release('q-run-2');
      await waitForStatus(a.http, second, 'finished');
    },
  );

  it(
    'DELETE of a finished request is 409 naming its status; the request stays finished',
    { timeout: 60_000 },
    async () => {
      const rid = await submit(a.http, { path: '/work/quick?name=done' });
      await waitForStatus(a.http, rid, 'finished');
      for (const instance of [a, b]) {
        const answer = await cancel(instance.http, rid);
        assert.equal(answer.status, 409, JSON.stringify(answer.body));
        assert.match(answer.contentType, /^application\/json/);
        assert.equal(answer.body.status_name, 'finished');
        assert.equal(answer.body.progress, '100.00');
        assert.match(String(answer.body.message), /finished/);
      }
      const record = await lookup(b.http, rid);
      assert.equal(record.status_name, 'finished');
      const result = await resultOf(b.http, rid);
      assert.equal(result.status, 200);
      assert.deepEqual(jsonOf(result), { name: 'done', rid, instance: 'A' });
      assert.ok(!(await detailsOf(a.http, rid)).some((detail) => detail.details === CANCELLED_DETAIL));
    },
  );

  it(
    'DELETE twice (on either instance) is harmless: 200 and cancelled again, one details row',
    { timeout: 60_000 },
    async () => {
      const rid = await submit(a.http, { path: '/work/long?name=twice' });
      await waitForStatus(a.http, rid, 'processing');
      await a.waitForStarted('twice');
      assertCancelledAnswer(await cancel(b.http, rid), rid);
      assertCancelledAnswer(await cancel(b.http, rid), rid);
      assertCancelledAnswer(await cancel(a.http, rid), rid);
      await waitForAbort(a, 'twice');
      await waitUntilLetGo(a, rid);
      assertCancelledAnswer(await cancel(b.http, rid), rid);
      await assertStaysCancelled(rid);
      // The handler's signal aborted once.
      assert.equal((await a.state()).aborted.filter((seen) => seen.name === 'twice').length, 1);
    },
  );

  it('DELETEs that race each other (on both instances) all answer 200 cancelled', { timeout: 60_000 }, async () => {
    const rid = await submit(a.http, { path: '/work/long?name=racing' });
    await waitForStatus(a.http, rid, 'processing');
    await a.waitForStarted('racing');
    // Make the race happen every time, with no timings: a connection of the test holds the record's row lock, so
    // each DELETE reads the record (a plain read is not blocked) and then waits at its UPDATE; once all of them
    // wait there, the lock goes and they proceed together.
    const locker = await mysql.createConnection({ uri: db.url });
    let answers: CancelAnswer[];
    try {
      await locker.beginTransaction();
      await locker.query('SELECT id FROM bgrs_requests WHERE rid = ? FOR UPDATE', [rid]);
      const racing = Array.from({ length: 6 }, (_, i) => cancel((i % 2 ? a : b).http, rid));
      await eventually('all the DELETEs to wait at their UPDATE', async () => {
        const [rows] = await locker.query(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'UPDATE%bgrs_requests%finished_dt%'",
          [db.name],
        );
        return Number((rows as Array<{ n: number }>)[0].n) >= 6 ? true : undefined;
      });
      await locker.rollback();
      answers = await Promise.all(racing);
    } finally {
      await locker.end();
    }
    for (const answer of answers) {
      assertCancelledAnswer(answer, rid);
    }
    await waitForAbort(a, 'racing');
    await waitUntilLetGo(a, rid);
    await assertStaysCancelled(rid);
  });

  it('DELETE of an unknown rid is 404, of a malformed one 400 (JSON both)', async () => {
    const unknown = await cancel(b.http, 'f'.repeat(32));
    assert.equal(unknown.status, 404);
    assert.match(unknown.contentType, /^application\/json/);
    const malformed = await cancel(b.http, 'not-a-rid');
    assert.equal(malformed.status, 400);
    assert.match(malformed.contentType, /^application\/json/);
  });
});
