import { Controller, Get, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as yieldToOthers } from 'node:timers/promises';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { QueryLog, startTestApp, type TestApp } from './support/app.js';
import { Gates } from './support/gate.js';
import { detailsOf, jsonOf, lookup, resultOf, sendRaw, submit, waitForStatus } from './support/http.js';
import { eventually } from './support/wait.js';

const gates = new Gates();
const MILLION = 1_000_000;

/** Sequences of `report()` percents, and the progress they must leave (clamped, never decreasing). */
const CLAMPING: Array<{ name: string; percents: number[]; expected: string }> = [
  { name: 'increasing', percents: [10, 20.5, 33.333], expected: '33.33' },
  { name: 'never decreasing', percents: [40, 30, 5], expected: '40.00' },
  { name: 'NaN and negative ignored or clamped', percents: [12.5, Number.NaN, -5], expected: '12.50' },
  { name: 'over 100 clamped', percents: [150], expected: '100.00' },
];

@Controller('progress')
@BackgroundCapable()
class ProgressController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('steps')
  async steps(@Query('gate') gate: string) {
    for (let step = 1; step <= 5; step++) {
      await this.progress.report(step * 15, `step ${step}`);
      if (step === 3) {
        await this.progress.detail('half way, no new percent');
      }
    }
    await gates.wait(gate);
    return { steps: 5 };
  }

  @Get('clamp')
  async clamp(@Query('case') name: string, @Query('gate') gate: string) {
    for (const percent of CLAMPING.find((entry) => entry.name === name)!.percents) {
      await this.progress.report(percent);
    }
    await gates.wait(gate);
    return {};
  }

  /** Reports markers of its own, interleaving with the others, and says which rid it saw. */
  @Get('marker')
  async marker(@Query('n') n: string) {
    const seen = new Set<string | undefined>();
    await gates.wait('markers');
    for (let step = 1; step <= 5; step++) {
      seen.add(this.progress.rid);
      await this.progress.report(step * 10, `req-${n}-step-${step}`);
      await yieldToOthers();
    }
    await this.progress.detail(`req-${n}-rid-${this.progress.rid}`);
    return { n, rids: [...seen] };
  }

  @Get('million')
  async million(@Query('gate') gate: string) {
    for (let i = 1; i <= MILLION; i++) {
      await this.progress.report((i / MILLION) * 73.5);
    }
    await gates.wait(gate);
    return { reports: MILLION };
  }

  /** What the reporter does outside a background request (also called from a foreground request here). */
  @Get('outside')
  async outside() {
    return {
      report: await this.progress.report(50, 'not recorded'),
      detail: await this.progress.detail('not recorded either'),
      rid: this.progress.rid ?? 'undefined',
      signal: this.progress.signal === undefined ? 'undefined' : 'defined',
    };
  }
}

describe('ProgressReporter', () => {
  let testApp: TestApp;
  const queryLog = new QueryLog();

  before(async () => {
    testApp = await startTestApp({ controllers: [ProgressController], typeormLogger: queryLog });
  });

  after(async () => {
    gates.openAll();
    await testApp?.close();
  });

  it('progress and details rows land in order while the request runs', async () => {
    const { http } = testApp;
    const rid = await submit(http, { path: '/progress/steps?gate=s1' });
    const expected = ['step 1', 'step 2', 'step 3', 'half way, no new percent', 'step 4', 'step 5'];

    const details = await eventually('all details rows', async () => {
      const rows = await detailsOf(http, rid);
      return rows.length === expected.length ? rows : undefined;
    });
    assert.deepEqual(
      details.map((row) => row.details),
      expected,
    );
    const ids = details.map((row) => BigInt(row.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      'ids ascend in the order of the calls',
    );
    const running = await eventually('the last progress', async () => {
      const record = await lookup(http, rid);
      return record.progress === '75.00' ? record : undefined;
    });
    assert.equal(running.status_name, 'processing');

    gates.open('s1');
    assert.equal((await waitForStatus(http, rid, 'finished')).progress, '100.00');
    assert.deepEqual(
      (await detailsOf(http, rid)).map((row) => row.details),
      expected,
    );
  });

  for (const { name, expected } of CLAMPING) {
    it(`report() percents: ${name} → ${expected}`, async () => {
      const gate = `clamp-${name}`;
      const rid = await submit(testApp.http, { path: `/progress/clamp?case=${encodeURIComponent(name)}&gate=${gate}` });
      try {
        await eventually(`progress ${expected}`, async () =>
          (await lookup(testApp.http, rid)).progress === expected ? true : undefined,
        );
        // Nothing else comes: the request still runs and its progress stays.
        const record = await lookup(testApp.http, rid);
        assert.equal(record.status_name, 'processing');
        assert.equal(record.progress, expected);
      } finally {
        gates.open(gate);
      }
      await waitForStatus(testApp.http, rid, 'finished');
    });
  }

  it('100 concurrent background requests never see each other’s context', async () => {
    const { http } = testApp;
    const count = 100;
    const rids = await Promise.all(
      Array.from({ length: count }, (_, n) => submit(http, { path: `/progress/marker?n=${n}` })),
    );
    assert.equal(new Set(rids).size, count, 'every request has its own rid');
    gates.open('markers');

    await Promise.all(
      rids.map(async (rid, n) => {
        await waitForStatus(http, rid, 'finished', { deadlineMs: 60_000 });
        const details = (await detailsOf(http, rid)).map((row) => row.details);
        assert.deepEqual(details, [1, 2, 3, 4, 5].map((step) => `req-${n}-step-${step}`).concat(`req-${n}-rid-${rid}`));
        const result = jsonOf(await resultOf(http, rid));
        assert.deepEqual(result, { n: String(n), rids: [rid] }, 'progress.rid is the request’s own, at every step');
      }),
    );
  });

  it('a million report() calls finish, leave the last value, and are not a million writes', async () => {
    const { http } = testApp;
    const rid = await submit(http, { path: '/progress/million?gate=m1' });
    await eventually(
      'the last reported value (73.50) to land',
      async () => ((await lookup(http, rid)).progress === '73.50' ? true : undefined),
      { deadlineMs: 60_000 },
    );
    assert.equal((await lookup(http, rid)).status_name, 'processing');
    const updates = queryLog.progressUpdates(rid);
    assert.ok(updates.length >= 1, 'the progress was written through the module’s data source');
    assert.ok(updates.length < 1000, `${updates.length} progress UPDATEs for ${MILLION} report() calls`);

    gates.open('m1');
    await waitForStatus(http, rid, 'finished');
    assert.deepEqual(jsonOf(await resultOf(http, rid)), { reports: MILLION });
  });

  describe('outside a background request', () => {
    it('in a foreground request, report()/detail() resolve and do nothing; rid and signal are undefined', async () => {
      const detailsBefore = await testApp.db.count('bgrs_details');
      const res = await sendRaw(testApp.http, { path: '/progress/outside' });
      assert.equal(res.status, 200);
      assert.deepEqual(
        jsonOf(res),
        { rid: 'undefined', signal: 'undefined' },
        'report and detail resolve to undefined',
      );
      assert.equal(await testApp.db.count('bgrs_details'), detailsBefore);
    });

    it('outside any request, e.g. from a service at startup', async () => {
      const reporter = testApp.app.get(ProgressReporter);
      const detailsBefore = await testApp.db.count('bgrs_details');
      assert.equal(await reporter.report(10, 'nowhere'), undefined);
      assert.equal(await reporter.detail('nowhere'), undefined);
      assert.equal(reporter.rid, undefined);
      assert.equal(reporter.signal, undefined);
      assert.equal(await testApp.db.count('bgrs_details'), detailsBefore);
    });
  });
});
