/**
 * Nothing stuck (README, “Under failure”): real instances of a host app (child processes) share one MariaDB
 * database. One holding requests is killed with SIGKILL; another instance, started afterwards or already live,
 * finds the expired lease within `leaseMs` plus one heartbeat and marks them `failed`, with a details row saying
 * that the instance died. Two live instances running long requests side by side for several lease periods never
 * fail each other's requests.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { detailsOf, jsonOf, lookup, resultOf, submit, waitForStatus } from './support/http.js';
import { killAllInstances, startInstance, type Instance } from './support/instances.js';
import { eventually } from './support/wait.js';

const LEASE_MS = 1500;
/** The heartbeat runs every third of the lease. */
const HEARTBEAT_MS = Math.floor(LEASE_MS / 3);
/** Added to poll deadlines for a loaded machine; the contract is `leaseMs` + one heartbeat. */
const SLACK_MS = Number(process.env.BGRS_TEST_SLACK_MS ?? 3000);
/** How long two live instances run side by side: several lease periods. */
const SIDE_BY_SIDE_MS = 5 * LEASE_MS;

const RUNNING = ['created', 'queued', 'processing'];

describe('crash: an instance killed with SIGKILL (leaseMs 1500, real processes, one shared database)', () => {
  let db: TestDatabase;
  let resultDir: string;

  const start = (name: string, bgrs: Record<string, unknown> = {}) =>
    startInstance({ name, dbUrl: db.url, resultDir, bgrs: { leaseMs: LEASE_MS, ...bgrs } });

  /** Polls `rid` on `observer` until `failed` by the deadline, then checks the details row and the 409. */
  async function expectFailedByLeaseExpiry(observer: Instance, rid: string, deadlineMs: number): Promise<void> {
    const record = await waitForStatus(observer.http, rid, 'failed', { deadlineMs });
    assert.notEqual(record.finished_dt, null, 'a failed request has its finished_dt');
    assert.equal(record.result, null);
    const details = (await detailsOf(observer.http, rid)).map((detail) => detail.details);
    assert.ok(
      details.some((text) => /lease expired/.test(text) && /instance/.test(text)),
      `a details row must say that the instance running it died (its lease expired); got ${JSON.stringify(details)}`,
    );
    const result = await resultOf(observer.http, rid);
    assert.equal(result.status, 409);
    assert.equal(jsonOf(result).status_name, 'failed');
  }

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-crash-'));
  });

  after(async () => {
    await killAllInstances();
    await disposeScratch(db, resultDir);
  });

  it(
    'a request processing (and one queued) on a killed instance is failed by an instance started afterwards',
    { timeout: 120_000 },
    async () => {
      const a = await start('A', { maxConcurrent: 1 });
      const running = await submit(a.http, { path: '/work/long?name=crash-running' });
      const queued = await submit(a.http, { path: '/work/long?name=crash-queued' });
      await waitForStatus(a.http, running, 'processing');
      assert.equal((await lookup(a.http, queued)).status_name, 'queued');
      await a.waitForStarted('crash-running');
      // It really runs: its progress moves.
      await eventually('crash-running to report progress', async () =>
        Number((await lookup(a.http, running)).progress) > 0 ? true : undefined,
      );

      const killedAt = Date.now();
      const exit = await a.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      // Nobody is left to notice yet: the records still say what they said.
      assert.equal(
        await db.count('bgrs_requests', 'rid IN (?, ?) AND status_id IN (2, 3)', [running, queued]),
        2,
        'the records of the killed instance are still open before anyone looks',
      );

      const b = await start('B');
      const readyAt = Date.now();
      // Due once the lease is over (counted from the kill) and B is up, plus one heartbeat of B.
      const due = Math.max(killedAt + LEASE_MS, readyAt) + HEARTBEAT_MS + SLACK_MS;
      await expectFailedByLeaseExpiry(b, running, due - Date.now());
      await expectFailedByLeaseExpiry(b, queued, Math.max(0, due - Date.now()));
      // B takes over nothing: it never ran them.
      const state = await b.state();
      assert.deepEqual(state.started, []);
      await b.kill('SIGKILL');
    },
  );

  it(
    'an instance that is already live fails the requests of a peer killed with SIGKILL',
    { timeout: 120_000 },
    async () => {
      const live = await start('live');
      const doomed = await start('doomed');
      const rids = [
        await submit(doomed.http, { path: '/work/long?name=doomed-1' }),
        await submit(doomed.http, { path: '/work/stream?name=doomed-2' }),
      ];
      // The live instance's own request runs throughout and must not be touched.
      const own = await submit(live.http, { path: '/work/long?name=live-own' });
      for (const rid of rids) {
        await waitForStatus(live.http, rid, 'processing');
      }
      await doomed.waitForStarted('doomed-1');
      await doomed.waitForStarted('doomed-2');
      await live.waitForStarted('live-own');

      const killedAt = Date.now();
      await doomed.kill('SIGKILL');
      const due = killedAt + LEASE_MS + HEARTBEAT_MS + SLACK_MS;
      for (const rid of rids) {
        await expectFailedByLeaseExpiry(live, rid, Math.max(0, due - Date.now()));
      }

      assert.equal((await lookup(live.http, own)).status_name, 'processing');
      await live.release('live-own');
      const record = await waitForStatus(live.http, own, 'finished');
      assert.equal(record.status, '200');
      const result = await resultOf(live.http, own);
      assert.equal(result.status, 200);
      assert.deepEqual(jsonOf(result), { name: 'live-own', rid: own, instance: 'live' });
      await live.kill('SIGKILL');
    },
  );

  it(
    'two live instances sharing the database for several lease periods never fail each other’s requests',
    { timeout: 180_000 },
    async () => {
      const p = await start('P');
      const q = await start('Q');
      const submitted: Array<{ instance: Instance; name: string; rid: string }> = [];
      for (const instance of [p, q]) {
        for (let i = 1; i <= 3; i++) {
          const name = `${instance.name}-long-${i}`;
          const route = i === 3 ? 'stream' : 'long';
          submitted.push({ instance, name, rid: await submit(instance.http, { path: `/work/${route}?name=${name}` }) });
        }
      }
      for (const { instance, name, rid } of submitted) {
        await waitForStatus(instance.http, rid, 'processing');
        await instance.waitForStarted(name);
      }
      const rids = submitted.map(({ rid }) => rid);

      // Several lease periods (each instance beats a dozen times), watching the records all along.
      const until = Date.now() + SIDE_BY_SIDE_MS;
      while (Date.now() < until) {
        const rows = await db.query<{ rid: string; status_id: number }>(
          'SELECT rid, status_id FROM bgrs_requests WHERE rid IN (?)',
          [rids],
        );
        assert.equal(rows.length, rids.length);
        const notRunning = rows.filter((row) => Number(row.status_id) !== 3);
        if (notRunning.length > 0) {
          const details = await db.query<{ rid: string; details: string }>(
            'SELECT rid, details FROM bgrs_details WHERE rid IN (?) ORDER BY id',
            [notRunning.map((row) => row.rid)],
          );
          assert.fail(
            `a live instance's request left processing: ${JSON.stringify(notRunning)} ${JSON.stringify(details)}`,
          );
        }
        await sleep(100);
      }
      // Both instances beat all along: neither saw the other as dead.
      for (const instance of [p, q]) {
        const [row] = await db.query<{ expires_at: string }>('SELECT expires_at FROM bgrs_instances WHERE id = ?', [
          instance.instanceId,
        ]);
        assert.ok(row, `${instance.name} still has its instance row`);
      }

      for (const { instance, name } of submitted) {
        await instance.release(name);
      }
      for (const { instance, name, rid } of submitted) {
        const record = await waitForStatus(instance.http, rid, 'finished');
        assert.equal(record.status, '200');
        // Looked up on the other instance: the result is shared.
        const other = instance === p ? q : p;
        const result = await resultOf(other.http, rid);
        assert.equal(result.status, 200);
        assert.deepEqual(jsonOf(result), { name, rid, instance: instance.name });
        const details = (await detailsOf(other.http, rid)).map((detail) => detail.details);
        assert.ok(!details.some((text) => /lease expired|interrupted/.test(text)), JSON.stringify(details));
      }
      const [open] = await db.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM bgrs_requests r JOIN bgrs_statuses s ON s.id = r.status_id
        WHERE r.rid IN (?) AND s.name IN (?)`,
        [rids, RUNNING],
      );
      assert.equal(Number(open.n), 0);
      await Promise.all([p.kill('SIGKILL'), q.kill('SIGKILL')]);
    },
  );

  it(
    'gives up the lease of an ended request within a heartbeat, and a killed instance’s through a peer, failing nothing',
    { timeout: 120_000 },
    async () => {
      const leasesOf = (rid: string) => db.count('bgrs_leases', 'rid = ?', [rid]);
      const live = await start('lease-live');
      const doomed = await start('lease-doomed');

      const own = await submit(live.http, { path: '/work/long?name=lease-own' });
      await live.waitForStarted('lease-own');
      assert.equal(await leasesOf(own), 1, 'a running request holds its lease');
      await live.release('lease-own');
      await waitForStatus(live.http, own, 'finished');
      await eventually(
        'the lease of the finished request to be given up',
        async () => ((await leasesOf(own)) === 0 ? true : undefined),
        { deadlineMs: HEARTBEAT_MS + SLACK_MS },
      );

      // Killed right after its request finished: whatever lease it left is cleared by the live peer.
      const orphan = await submit(doomed.http, { path: '/work/long?name=lease-orphan' });
      await doomed.waitForStarted('lease-orphan');
      await doomed.release('lease-orphan');
      await waitForStatus(doomed.http, orphan, 'finished');
      await doomed.kill('SIGKILL');
      await eventually(
        'the killed instance’s lease to be cleared',
        async () => ((await leasesOf(orphan)) === 0 ? true : undefined),
        { deadlineMs: LEASE_MS + HEARTBEAT_MS + SLACK_MS },
      );
      for (const rid of [own, orphan]) {
        const record = await lookup(live.http, rid);
        assert.equal(record.status_name, 'finished', `${rid} stays finished`);
        const details = (await detailsOf(live.http, rid)).map((detail) => detail.details);
        assert.ok(!details.some((text) => /lease expired/.test(text)), JSON.stringify(details));
        assert.deepEqual(jsonOf(await resultOf(live.http, rid)).rid, rid);
      }
      await live.kill('SIGKILL');
    },
  );
});
