import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { DatabaseResultStore } from '../src/index.js';
import { adapters, startTestApp, type TestAdapter, type TestApp } from './support/app.js';
import { detailsOf } from './support/http.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { QueueWorkerProcess } from './support/queue-workers.js';
import { REDIS, deleteQueueKeys, testQueueName } from './support/redis.js';
import {
  assertBackgroundAnswersAsForeground,
  isInlined,
  requestOf,
  SAME_BYTES_APP,
  SAME_BYTES_CASES,
} from './support/same-bytes.controller.js';
import { RESULT_KEEPING, type ResultKeeping } from './support/result-keeping.js';

/**
 * Queue mode keeps the wire contract (issue 12, item 1): the same-bytes matrix of `same-bytes.spec.ts`, with the
 * background requests accepted by an app that does not work (`queue.worker: false`) and run by a worker in another
 * process, booted from the same host app without listening, results in the shared database (in their rows where
 * small, the default, or all in `DatabaseResultStore`). Every `/result` answers as the accepting app's foreground did.
 */
function queueSameBytesSuite(adapter: TestAdapter, keeping: ResultKeeping): void {
  describe(`${adapter.name}: same bytes from a queue worker in another process, ${keeping.label}`, () => {
    const name = testQueueName('same-bytes');
    const queue = { connection: REDIS, name };
    // The plain-Error case logs its error on purpose.
    const logger = new KeepingLogger(true);
    let accepting: TestApp;
    let worker: QueueWorkerProcess;

    before(async () => {
      accepting = await startTestApp({
        adapter,
        ...SAME_BYTES_APP,
        logger,
        bgrs: { ...keeping.bgrs, queue: { ...queue, worker: false }, resultStore: DatabaseResultStore },
      });
      worker = await QueueWorkerProcess.start({
        app: 'same-bytes',
        dbUrl: accepting.db.url,
        resultDir: accepting.resultDir,
        bgrs: { ...keeping.bgrs, queue },
        store: 'database',
        adapter,
      });
    });

    after(async () => {
      await worker?.kill();
      await accepting?.close();
      await deleteQueueKeys(name);
    });

    for (const testCase of SAME_BYTES_CASES) {
      it(`${testCase.name}: /result answers status, Content-Type and bytes as the foreground`, async () => {
        const { rid, record } = await assertBackgroundAnswersAsForeground(
          accepting.http,
          requestOf(testCase),
          testCase.keptHeaders,
        );
        const inline = keeping.inline && isInlined(testCase);
        assert.equal(record.result, `${inline ? 'inline' : 'db'}:${rid}`, 'the result is in the shared database');
        // Only the worker process could have run it: the accepting app takes no jobs.
        const details = (await detailsOf(accepting.http, rid)).map((row) => row.details);
        assert.ok(
          details.includes(`started on ${hostname()}#${worker.pid} (attempt 1)`),
          `not run by the worker process ${worker.pid}: ${JSON.stringify(details)}\n${worker.log}`,
        );
      });
    }

    it("logs the plain Error's run on the worker, not on the accepting app", () => {
      // The accepting app logged it once, for its foreground answer.
      assert.equal(logger.problems(/boom: this message must not leak/).length, 1, JSON.stringify(logger.problems()));
      assert.match(worker.log, /boom: this message must not leak/);
    });
  });
}

for (const adapter of adapters) {
  for (const keeping of RESULT_KEEPING) {
    queueSameBytesSuite(adapter, keeping);
  }
}
