/**
 * Queue mode under load, with real processes: 1000 requests accepted across two API instances (50 submissions in
 * flight at a time) and run by two workers (20 at once each), on one database, one queue and results in the
 * database. None is lost: every rid ends `finished` with its own result (its `name` and `rid`), served by the API
 * instance that did not accept it, and the workers ran each request once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { submit } from './support/http.js';
import type { Instance } from './support/instances.js';
import { pooled } from './support/pooled.js';
import { QueueCluster, expectOwnResult } from './support/queue-cluster.js';
import { eventually } from './support/wait.js';

const REQUESTS = 1000;
const IN_FLIGHT = 50;
const FINISHED = 4;
const FAILED_OR_CANCELLED = [5, 6];

describe('queue mode under load: 1000 requests, two API instances, two workers (real processes)', () => {
  let cluster: QueueCluster;
  let apis: Instance[];
  let workers: Instance[];

  before(async () => {
    cluster = await QueueCluster.create({
      label: 'load',
      // The bound on waiting requests is not what is tested here: submissions may outpace the workers.
      bgrs: { maxQueued: 10 * REQUESTS },
      concurrency: 20,
    });
    const first = await cluster.startApi('api-1');
    const [second, started] = await Promise.all([cluster.startApi('api-2'), cluster.ensureWorkers(2)]);
    apis = [first, second];
    workers = started;
  });

  after(() => cluster?.dispose());

  it('loses none: each of the 1000 finishes with its own result, run once', { timeout: 600_000 }, async () => {
    const indices = Array.from({ length: REQUESTS }, (_, i) => i);
    const nameOf = (i: number) => `load-${i}`;
    const rids = await pooled(indices, IN_FLIGHT, (i) =>
      submit(apis[i % 2].http, { path: `/work/quick?name=${nameOf(i)}` }),
    );
    assert.equal(new Set(rids).size, REQUESTS, 'every submission has a rid of its own');

    await eventually(
      `all ${REQUESTS} requests to finish`,
      async () => {
        const ended = await cluster.db.query(
          `SELECT rid, status_id FROM bgrs_requests WHERE status_id IN (${FAILED_OR_CANCELLED.join(', ')}) LIMIT 5`,
        );
        assert.deepEqual(ended, [], 'no request may fail or be cancelled');
        return (await cluster.db.count('bgrs_requests', `status_id = ${FINISHED}`)) === REQUESTS ? true : undefined;
      },
      { deadlineMs: 300_000 },
    );
    assert.equal(await cluster.db.count('bgrs_requests'), REQUESTS, 'no request more than submitted');

    const workerNames = workers.map((worker) => worker.name);
    await pooled(indices, IN_FLIGHT, async (i) => {
      // Asked of the API instance that did not accept it: any instance serves any result.
      const answer = await expectOwnResult(apis[(i + 1) % 2], rids[i], nameOf(i));
      assert.ok(workerNames.includes(answer.instance), `${nameOf(i)} ran on a worker: ${JSON.stringify(answer)}`);
    });

    const runs = (await Promise.all(workers.map((worker) => worker.state()))).flatMap((state) => state.started);
    assert.equal(runs.length, REQUESTS, 'the workers ran as many handlers as there are requests');
    assert.deepEqual(new Set(runs.map((run) => run.rid)), new Set(rids), 'each request ran once, with its own rid');
    assert.ok(
      runs.every((run) => run.attempt === 1),
      'no request ran again',
    );
  });
});
