/**
 * Bounded load (README, “Under failure”):
 * - `maxConcurrent: 4, maxQueued: 20`, 40 simultaneous submissions of a gated handler: exactly 24 are accepted
 *   (4 `processing`, 20 `queued`), the other 16 get `503` with `Retry-After` and no rid (their handler never runs).
 *   Releasing one running request at a time, each freed slot goes to the oldest queued request (acceptance order =
 *   record id order), and all 24 finish with their own correct result.
 * - With the default limits, 1000 concurrent background requests (100 in flight at a time) lose none: every rid
 *   ends `finished` with its own result.
 */
import 'reflect-metadata';
import { Controller, Get, Param, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { Gates } from './support/gate.js';
import { jsonOf, lookup, resultOf, sendRaw, submit, waitForStatus, withBgrs, RID_PATTERN } from './support/http.js';
import { pooled } from './support/pooled.js';
import { eventually } from './support/wait.js';

const MAX_CONCURRENT = 4;
const MAX_QUEUED = 20;
const SUBMISSIONS = 40;
const MANY = 1000;
const IN_FLIGHT = 100;

/** Gates keyed by rid, opened by the test one at a time. */
const gates = new Gates();

/** The rids of the gated handlers, in the order their bodies started; and how often each `n` ran. */
const startSequence: string[] = [];
const runsOfN = new Map<number, number>();

function tokenOf(n: number): string {
  return createHash('sha256').update(`own-${n}`).digest('hex');
}

@Controller('load')
class LoadController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('gated')
  @BackgroundCapable()
  async gated(@Query('n') n: string) {
    const rid = this.progress.rid!;
    startSequence.push(rid);
    runsOfN.set(Number(n), (runsOfN.get(Number(n)) ?? 0) + 1);
    await this.progress.report(5, `gated ${n} started`);
    await gates.wait(rid);
    return { n: Number(n), rid, square: Number(n) ** 2 };
  }

  @Get('own/:n')
  @BackgroundCapable()
  async own(@Param('n') n: string) {
    const i = Number(n);
    // Interleave: the requests overtake each other between their steps.
    for (let step = 0; step < i % 4; step++) {
      await nextTurn();
    }
    await this.progress.report(50);
    return { n: i, rid: this.progress.rid, token: tokenOf(i), pad: 'x'.repeat(i % 97) };
  }
}

describe('bounded load: maxConcurrent 4, maxQueued 20, 40 simultaneous submissions', () => {
  let db: TestDatabase;
  let resultDir: string;
  let app: AppOnDatabase | undefined;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-load-'));
    app = await startAppOn({
      url: db.url,
      resultDir,
      controllers: [LoadController],
      bgrs: { maxConcurrent: MAX_CONCURRENT, maxQueued: MAX_QUEUED, shutdownGraceMs: 1000 },
    });
  });

  after(async () => {
    gates.openAll();
    await app?.close().catch(() => undefined);
    await disposeScratch(db, resultDir);
  });

  it(
    'accepts 24 (4 processing, 20 queued), refuses 16 with 503 + Retry-After, runs the queued in order',
    { timeout: 120_000 },
    async () => {
      const { http } = app!;
      const answers = await Promise.all(
        Array.from({ length: SUBMISSIONS }, (_, n) => sendRaw(http, { path: withBgrs(`/load/gated?n=${n}`) })),
      );
      const accepted = new Map<string, number>();
      const refused: number[] = [];
      answers.forEach((res, n) => {
        if (res.status === 202) {
          const rid = jsonOf(res).request;
          assert.match(rid, RID_PATTERN);
          accepted.set(rid, n);
        } else {
          assert.equal(res.status, 503, `submission ${n}: expected 202 or 503, got ${res.status}: ${res.body}`);
          const retryAfter = res.headers['retry-after'];
          assert.match(String(retryAfter), /^\d+$/, `submission ${n}: a 503 carries Retry-After in seconds`);
          assert.ok(Number(retryAfter) > 0);
          const body = jsonOf(res);
          assert.equal(body.statusCode, 503);
          assert.equal(body.request, undefined, 'a refused submission gets no rid');
          refused.push(n);
        }
      });
      assert.equal(accepted.size, MAX_CONCURRENT + MAX_QUEUED, 'exactly maxConcurrent + maxQueued are accepted');
      assert.equal(refused.length, SUBMISSIONS - MAX_CONCURRENT - MAX_QUEUED);

      // Acceptance order: the order the records were written (their ids).
      const rows = await db.query<{ rid: string; status_id: number }>(
        'SELECT rid, status_id FROM bgrs_requests ORDER BY id',
      );
      assert.deepEqual(
        new Set(rows.map((row) => row.rid)),
        new Set(accepted.keys()),
        'only the accepted ones are recorded',
      );
      const order = rows.map((row) => row.rid);
      assert.deepEqual(
        rows.map((row) => Number(row.status_id)),
        [...Array(MAX_CONCURRENT).fill(3), ...Array(MAX_QUEUED).fill(2)],
        'the first 4 accepted are processing, the other 20 queued',
      );
      const views = await Promise.all(order.map((rid) => lookup(http, rid)));
      assert.equal(views.filter((view) => view.status_name === 'processing').length, MAX_CONCURRENT);
      assert.equal(views.filter((view) => view.status_name === 'queued').length, MAX_QUEUED);

      await eventually('the 4 running handlers to start', async () =>
        startSequence.length >= MAX_CONCURRENT ? true : undefined,
      );
      assert.deepEqual(new Set(startSequence), new Set(order.slice(0, MAX_CONCURRENT)), 'the first 4 accepted run');
      assert.equal(startSequence.length, MAX_CONCURRENT, 'no more than maxConcurrent handlers run');

      // Free one slot at a time: the oldest queued request takes it.
      for (let finishedCount = 0; finishedCount < order.length; finishedCount++) {
        const oldestRunning = startSequence[finishedCount];
        gates.open(oldestRunning);
        await waitForStatus(http, oldestRunning, 'finished');
        const expectedStarted = Math.min(order.length, MAX_CONCURRENT + finishedCount + 1);
        await eventually(`${expectedStarted} handlers to have started`, async () =>
          startSequence.length >= expectedStarted ? true : undefined,
        );
        assert.equal(startSequence.length, expectedStarted, 'one freed slot starts exactly one queued request');
        if (MAX_CONCURRENT + finishedCount < order.length) {
          // A queued request's start is written with its progress, within progressIntervalMs.
          await waitForStatus(http, startSequence[expectedStarted - 1], 'processing');
        }
        // The first 4 started together (in any order); every later one in acceptance order.
        assert.deepEqual(
          startSequence.slice(MAX_CONCURRENT),
          order.slice(MAX_CONCURRENT, expectedStarted),
          'queued requests start in acceptance order',
        );
        const running = await db.count('bgrs_requests', 'status_id = 3');
        assert.ok(running <= MAX_CONCURRENT, `at most ${MAX_CONCURRENT} processing, saw ${running}`);
      }

      for (const [rid, n] of accepted) {
        const record = await lookup(http, rid);
        assert.equal(record.status_name, 'finished');
        assert.equal(record.status, '200');
        assert.equal(record.name, `/load/gated?n=${n}&bgrs=yes`);
        const result = await resultOf(http, rid);
        assert.equal(result.status, 200);
        assert.deepEqual(jsonOf(result), { n, rid, square: n * n });
      }
      for (const n of refused) {
        assert.equal(runsOfN.get(n), undefined, `the handler of refused submission ${n} never ran`);
      }
      for (const n of accepted.values()) {
        assert.equal(runsOfN.get(n), 1, `the handler of accepted submission ${n} ran once`);
      }
    },
  );
});

describe('bounded load: 1000 concurrent background requests with the default limits', () => {
  let db: TestDatabase;
  let resultDir: string;
  let app: AppOnDatabase | undefined;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-many-'));
    app = await startAppOn({ url: db.url, resultDir, controllers: [LoadController], bgrs: { shutdownGraceMs: 5000 } });
  });

  after(async () => {
    await app?.close().catch(() => undefined);
    await disposeScratch(db, resultDir);
  });

  it('loses none: every rid ends finished with its own result', { timeout: 300_000 }, async () => {
    const { http } = app!;
    const ns = Array.from({ length: MANY }, (_, n) => n);
    const rids = await pooled(ns, IN_FLIGHT, (n) => submit(http, { path: `/load/own/${n}` }));
    assert.equal(new Set(rids).size, MANY, 'every submission has a rid of its own');

    await eventually(
      `all ${MANY} requests to end`,
      async () => {
        const failed = await db.query<{ rid: string; status_id: number }>(
          'SELECT rid, status_id FROM bgrs_requests WHERE status_id IN (5, 6) LIMIT 5',
        );
        assert.deepEqual(failed, [], 'no request may fail or be cancelled');
        return (await db.count('bgrs_requests', 'status_id = 4')) === MANY ? true : undefined;
      },
      { deadlineMs: 120_000, describeLast: () => 'not all finished' },
    );
    assert.equal(await db.count('bgrs_requests'), MANY);

    await pooled(ns, IN_FLIGHT, async (n) => {
      const rid = rids[n];
      const record = await lookup(http, rid);
      assert.equal(record.status_name, 'finished', `${n}: ${JSON.stringify(record)}`);
      assert.equal(record.status, '200');
      assert.equal(record.progress, '100.00');
      assert.equal(record.name, `/load/own/${n}?bgrs=yes`);
      const result = await resultOf(http, rid);
      assert.equal(result.status, 200);
      assert.deepEqual(jsonOf(result), { n, rid, token: tokenOf(n), pad: 'x'.repeat(n % 97) }, `result of ${n}`);
    });
  });
});
