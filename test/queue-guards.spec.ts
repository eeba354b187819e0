import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { DatabaseResultStore } from '../src/index.js';
import { adapters, startTestApp, type TestAdapter, type TestApp } from './support/app.js';
import {
  createTokenTable,
  GUARDED_APP,
  issueToken,
  revokeToken,
  type TokenUser,
} from './support/guarded.controller.js';
import { detailsOf, jsonOf, lookup, resultOf, sendRaw, submit, waitForStatus, withBgrs } from './support/http.js';
import { QueueWorkerProcess } from './support/queue-workers.js';
import { REDIS, deleteQueueKeys, queueContents, testQueueName } from './support/redis.js';
import { eventually } from './support/wait.js';

/** The lease (and BullMQ lock) of the test: short, so that ended requests' envelopes go within a few heartbeats. */
const LEASE_MS = 2000;
const ANN: TokenUser = { id: 7, name: 'Ann Example', roles: ['orders', 'reports'] };

/** Key by key, which of the queue's Redis keys hold any of `secrets`. */
async function keysHolding(queueName: string, secrets: string[]): Promise<string[]> {
  const contents = await queueContents(queueName);
  return [...contents].filter(([, text]) => secrets.some((secret) => text.includes(secret))).map(([key]) => key);
}

/**
 * Guards and pipes decide at acceptance (issue 12, item 2): an app that accepts (`queue.worker: false`) with a
 * bearer-token guard and a ValidationPipe, and a worker of the same app in another process. A refused request
 * leaves nothing behind; an accepted one runs to the handler's result even when its token is revoked while it
 * waits, with `req.user` as the guard left it; credentials and bodies stay out of Redis, and their envelope goes
 * from MySQL once the request has ended.
 */
function queueGuardsSuite(adapter: TestAdapter): void {
  describe(`${adapter.name}: guards and pipes decide at acceptance`, () => {
    const name = testQueueName('guards');
    const queue = { connection: REDIS, name };
    const bgrs = { leaseMs: LEASE_MS, queue };
    // Distinctive, so that finding them anywhere in Redis means they went there.
    const token = `tok-${randomBytes(12).toString('hex')}`;
    const note = `deliver-to-${randomBytes(12).toString('hex')}`;
    const authorization = { Authorization: `Bearer ${token}` };
    let accepting: TestApp;
    let worker: QueueWorkerProcess | undefined;

    before(async () => {
      accepting = await startTestApp({
        adapter,
        ...GUARDED_APP,
        bgrs: { ...bgrs, queue: { ...queue, worker: false }, resultStore: DatabaseResultStore },
      });
      await createTokenTable(accepting.db);
      await issueToken(accepting.db, token, ANN);
    });

    after(async () => {
      await worker?.kill();
      await accepting?.close();
      await deleteQueueKeys(name);
    });

    it('answers a missing or bad token 401 and an invalid body 400 at acceptance: no rid, no record, no job', async () => {
      const refused = [
        { expected: 401, request: { path: withBgrs('/guarded/me') } },
        { expected: 401, request: { path: withBgrs('/guarded/me'), headers: { Authorization: 'Bearer forged' } } },
        {
          expected: 400,
          request: {
            method: 'post' as const,
            path: withBgrs('/guarded/orders'),
            headers: authorization,
            body: { item: '', quantity: 0, note },
          },
        },
        {
          expected: 400,
          request: {
            method: 'post' as const,
            path: withBgrs('/guarded/orders'),
            headers: authorization,
            body: { item: 'widget', quantity: 1, note, admin: true },
          },
        },
      ];
      for (const { expected, request } of refused) {
        const res = await sendRaw(accepting.http, request);
        const answer = jsonOf(res);
        assert.equal(res.status, expected, JSON.stringify(answer));
        assert.equal(answer.statusCode, expected, "the guard's or the pipe's own error");
        assert.equal(answer.request, undefined, 'no rid handed out');
      }
      assert.equal(await accepting.db.count('bgrs_requests'), 0, 'no record');
      assert.equal(await accepting.db.count('bgrs_jobs'), 0, 'no envelope');
      const keys = [...(await queueContents(name)).keys()];
      assert.deepEqual(
        keys.filter((key) => /:[0-9a-f]{32}$/.test(key)),
        [],
        'no job in Redis',
      );
    });

    it("runs a request whose token was revoked while it waited to the handler's result, on the worker, with req.user", async () => {
      const order = { item: 'widget', quantity: 3, note };
      const me = await submit(accepting.http, { path: '/guarded/me', headers: authorization });
      const ordered = await submit(accepting.http, {
        method: 'post',
        path: '/guarded/orders',
        headers: authorization,
        body: order,
      });

      // No worker yet: both wait in the queue, their envelopes (token, body) in MySQL only.
      for (const rid of [me, ordered]) {
        assert.equal((await lookup(accepting.http, rid)).status_name, 'queued');
      }
      const envelopes = await accepting.db.query<{ rid: string; envelope: Buffer }>(
        'SELECT rid, envelope FROM bgrs_jobs WHERE rid IN (?, ?)',
        [me, ordered],
      );
      assert.equal(envelopes.length, 2);
      assert.ok(
        envelopes.every(({ envelope }) => envelope.includes(token)),
        'the envelope carries the token',
      );
      assert.ok(envelopes.find(({ rid }) => rid === ordered)!.envelope.includes(note), 'and the body');
      const waiting = await queueContents(name);
      assert.ok(waiting.has(`bull:${name}:${me}`) && waiting.has(`bull:${name}:${ordered}`), 'both jobs are queued');
      assert.deepEqual(await keysHolding(name, [token, note]), [], 'no token and no body in Redis');

      await revokeToken(accepting.db, token);
      const now = await sendRaw(accepting.http, { path: '/guarded/me', headers: authorization });
      assert.equal(now.status, 401, 'the guard would now refuse the token');

      worker = await QueueWorkerProcess.start({
        app: 'guarded',
        dbUrl: accepting.db.url,
        resultDir: accepting.resultDir,
        bgrs,
        store: 'database',
        adapter,
      });
      await waitForStatus(accepting.http, me, 'finished');
      await waitForStatus(accepting.http, ordered, 'finished');

      const meResult = await resultOf(accepting.http, me);
      assert.equal(meResult.status, 200, meResult.body.toString('utf8'));
      assert.deepEqual(jsonOf(meResult), { user: ANN });
      const orderResult = await resultOf(accepting.http, ordered);
      assert.equal(orderResult.status, 201, orderResult.body.toString('utf8'));
      assert.deepEqual(jsonOf(orderResult), { user: ANN, order, validated: true });
      for (const rid of [me, ordered]) {
        const details = (await detailsOf(accepting.http, rid)).map((row) => row.details);
        assert.ok(
          details.includes(`started on ${hostname()}#${worker.pid} (attempt 1)`),
          `not run by the worker process ${worker.pid}: ${JSON.stringify(details)}\n${worker.log}`,
        );
      }

      assert.deepEqual(await keysHolding(name, [token, note]), [], 'no token and no body in Redis after the runs');
      await eventually('the envelopes of the ended requests to be deleted', async () =>
        (await accepting.db.count('bgrs_jobs', 'rid IN (?, ?)', [me, ordered])) === 0 ? true : undefined,
      );
    });
  });
}

for (const adapter of adapters) {
  queueGuardsSuite(adapter);
}
