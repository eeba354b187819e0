/**
 * Queue mode loses nothing to a crash (README, “Queue mode”, its failure table), with real processes: API instances
 * that only accept (`queue.worker: false`), workers that run (`queue.worker: true`), one database, one queue and
 * results in the database, so that any instance serves any result.
 * - The accepting instance killed (SIGKILL) right after its 202: a worker still runs the request to its end.
 * - A worker killed mid-run: another worker runs it again (the handler sees attempt 2, a details row says so) and
 *   it finishes with its own result; its record stays `processing` meanwhile.
 * - A second death (the second worker killed too, a third alive) fails it, with a details row saying the queue
 *   gave its job up; the third never runs it.
 * - A `rerun: false` route is failed at the first death, and never runs again.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { BGRS_MESSAGES } from '../src/bgrs.messages.js';
import { detailsOf, lookup, submit, waitForStatus } from './support/http.js';
import type { Instance } from './support/instances.js';
import { QueueCluster, expectOwnResult } from './support/queue-cluster.js';
import { eventually } from './support/wait.js';

/** The workers' lock and stalled check (BullMQ's `lockDuration` = `stalledInterval`): small, so deaths show fast. */
const LEASE_MS = 2000;
/**
 * A death shows after the lock expires and two stalled checks: a few leases. Deadlines against hangs only, generous
 * for a loaded machine.
 */
const DEADLINE_MS = 60_000;
const WAIT = { deadlineMs: DEADLINE_MS };
const TEST = { timeout: 240_000 };

/** How a worker names itself in details rows. */
function runnerName(worker: Instance): string {
  return `${hostname()}#${worker.pid}`;
}

describe('queue mode: nothing lost to a SIGKILL (leaseMs 2000, real processes)', () => {
  let cluster: QueueCluster;
  let api: Instance;
  let doomed: Instance;

  before(async () => {
    cluster = await QueueCluster.create({ label: 'crash', bgrs: { leaseMs: LEASE_MS } });
    api = await cluster.startApi('api');
    [doomed] = await Promise.all([cluster.startApi('doomed'), cluster.ensureWorkers(3)]);
  });

  after(() => cluster?.dispose());

  async function texts(rid: string): Promise<string[]> {
    return (await detailsOf(api.http, rid)).map((row) => row.details);
  }

  /** The workers still alive (those not killed) never started `name`. */
  async function expectNeverRanOnLiveWorkers(name: string): Promise<void> {
    assert.ok(cluster.liveWorkers.length > 0);
    for (const worker of cluster.liveWorkers) {
      const runs = (await worker.state()).started.filter((seen) => seen.name === name);
      assert.deepEqual(runs, [], `${worker.name} never ran ${name}`);
    }
  }

  it('the accepting instance killed right after its 202: a worker runs the request to its end', TEST, async () => {
    const rid = await submit(doomed.http, { path: '/work/long?name=orphan' });
    const exit = await doomed.kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');

    const worker = await cluster.whereStarted('orphan', 1, WAIT);
    assert.equal((await lookup(api.http, rid)).status_name, 'processing');
    await worker.release('orphan');
    const answer = await expectOwnResult(api, rid, 'orphan', WAIT);
    assert.equal(answer.instance, worker.name);
    const details = await texts(rid);
    assert.ok(details.includes(BGRS_MESSAGES.runStarted(runnerName(worker), 1)), JSON.stringify(details));
    assert.ok(!details.some((text) => text.startsWith('run again')), `it ran once: ${JSON.stringify(details)}`);
  });

  it('a worker killed mid-run: another runs it again (attempt 2) and it finishes', TEST, async () => {
    await cluster.ensureWorkers(2);
    const rid = await submit(api.http, { path: '/work/long?name=rerun' });
    const first = await cluster.whereStarted('rerun', 1, WAIT);
    await eventually(
      'rerun to report progress',
      async () => (Number((await lookup(api.http, rid)).progress) > 0 ? true : undefined),
      WAIT,
    );
    await first.kill('SIGKILL');

    const second = await cluster.runAgainWhileProcessing(api, rid, 'rerun', 2, WAIT);
    assert.notEqual(second, first);
    // The rows are written a progress interval after the run starts.
    const ranAgain = BGRS_MESSAGES.runAgain(runnerName(second), 2);
    const details = await eventually(
      'the details row of the run again',
      async () => {
        const rows = await texts(rid);
        return rows.includes(ranAgain) ? rows : undefined;
      },
      WAIT,
    );
    assert.ok(details.includes(BGRS_MESSAGES.runStarted(runnerName(first), 1)), JSON.stringify(details));
    const state = await second.state();
    assert.deepEqual(
      state.started.filter((seen) => seen.name === 'rerun'),
      [{ name: 'rerun', rid, attempt: 2 }],
      'the second worker ran it once, as attempt 2',
    );

    await second.release('rerun');
    const answer = await expectOwnResult(api, rid, 'rerun', WAIT);
    assert.equal(answer.instance, second.name);
  });

  it('a second death fails it with a details row; the third worker never runs it', TEST, async () => {
    await cluster.ensureWorkers(3);
    const rid = await submit(api.http, { path: '/work/long?name=twice' });
    const first = await cluster.whereStarted('twice', 1, WAIT);
    await first.kill('SIGKILL');
    const second = await cluster.runAgainWhileProcessing(api, rid, 'twice', 2, WAIT);
    await second.kill('SIGKILL');

    const record = await waitForStatus(api.http, rid, 'failed', WAIT);
    assert.notEqual(record.finished_dt, null);
    assert.equal(record.result, null);
    const details = await texts(rid);
    assert.ok(
      details.some((text) => /^failed: the queue gave its job up \(.*stalled.*\)$/.test(text)),
      `a details row must say that the queue gave the job up; got ${JSON.stringify(details)}`,
    );
    await expectNeverRanOnLiveWorkers('twice');
  });

  it('a rerun: false route is failed at the first death and never runs again', TEST, async () => {
    await cluster.ensureWorkers(2);
    const rid = await submit(api.http, { path: '/work/once?name=once' });
    const first = await cluster.whereStarted('once', 1, WAIT);
    await first.kill('SIGKILL');

    await waitForStatus(api.http, rid, 'failed', WAIT);
    const details = await texts(rid);
    assert.ok(details.includes(BGRS_MESSAGES.notRunAgain), JSON.stringify(details));
    await expectNeverRanOnLiveWorkers('once');
  });
});
