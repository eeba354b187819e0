/**
 * Retention (README, “How results are stored”, “Under failure”): with `retentionDays: 1` and a 200 ms sweep, records older
 * than a day, their details and their result files are purged by the periodic sweep; younger ones stay. Two app
 * instances on the same database and result folder sweep at once: neither fails, nothing young is deleted.
 */
import 'reflect-metadata';
import { Controller, Get, Header, Param } from '@nestjs/common';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { BgrsRetentionSweeper } from '../src/persistence/bgrs-retention-sweeper.service.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { resultOf, submit, waitForStatus } from './support/http.js';
import { eventually } from './support/wait.js';

@Controller('kept')
class KeptController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get(':n')
  @BackgroundCapable()
  @Header('X-Kept', 'yes')
  async one(@Param('n') n: string) {
    await this.progress.report(50, `${n}: half`);
    await this.progress.detail(`${n}: done`);
    return { n };
  }
}

describe('retention sweep (retentionDays: 1, retentionSweepMs: 200, two instances)', () => {
  let db: TestDatabase;
  let resultDir: string;
  const apps: AppOnDatabase[] = [];
  const logger = new KeepingLogger(true);
  /** Every request submitted, with what it should still look like when it is kept. */
  const submitted = new Map<string, { n: string; details: number; files: string[] }>();

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-retention-'));
    const options = {
      url: db.url,
      resultDir,
      controllers: [KeptController],
      logger,
      bgrs: { retentionDays: 1, retentionSweepMs: 200 },
    };
    // One after the other, so that the second finds the migrations done.
    apps.push(await startAppOn(options));
    apps.push(await startAppOn(options));
  });

  after(async () => {
    await Promise.allSettled(apps.map((app) => app.close()));
    await disposeScratch(db, resultDir);
  });

  /** `count` finished requests, submitted alternately to both instances. */
  async function finishedRequests(prefix: string, count: number): Promise<string[]> {
    const rids = await Promise.all(
      Array.from({ length: count }, (_, i) => submit(apps[i % 2].http, { path: `/kept/${prefix}-${i}` })),
    );
    await eventually(
      `${prefix}: ${count} requests to finish`,
      async () => (await db.count('bgrs_requests', 'rid IN (?) AND status_id = 4', [rids])) === count || undefined,
    );
    // Each instance sees the other's requests.
    await waitForStatus(apps[1].http, rids[0], 'finished');
    await waitForStatus(apps[0].http, rids[count - 1], 'finished');
    for (const [i, rid] of rids.entries()) {
      submitted.set(rid, {
        n: `${prefix}-${i}`,
        details: await db.count('bgrs_details', 'rid = ?', [rid]),
        files: await filesOf(rid),
      });
      assert.ok(submitted.get(rid)!.details >= 2, 'each request has details rows');
      assert.ok(submitted.get(rid)!.files.length >= 1, 'each request has a result file');
    }
    return rids;
  }

  async function filesOf(rid: string): Promise<string[]> {
    return (await readdir(resultDir)).filter((file) => file.includes(rid)).sort();
  }

  /** Moves requests into the past, as if they had been made `interval` ago (a MySQL INTERVAL, e.g. `2 DAY`). */
  async function age(rids: string[], interval: string): Promise<void> {
    await db.query(
      `UPDATE bgrs_requests SET created_dt = created_dt - INTERVAL ${interval}, ` +
        `finished_dt = finished_dt - INTERVAL ${interval} WHERE rid IN (?)`,
      [rids],
    );
    await db.query(`UPDATE bgrs_details SET dt = dt - INTERVAL ${interval} WHERE rid IN (?)`, [rids]);
  }

  async function remaining(rids: string[]): Promise<number> {
    return db.count('bgrs_requests', 'rid IN (?)', [rids]);
  }

  async function assertPurged(rids: string[]): Promise<void> {
    assert.equal(await remaining(rids), 0, 'old records are deleted');
    assert.equal(await db.count('bgrs_details', 'rid IN (?)', [rids]), 0, 'their details are deleted');
    assert.equal(await db.count('bgrs_leases', 'rid IN (?)', [rids]), 0, 'their leases are gone');
    const files = await readdir(resultDir);
    await Promise.all(
      rids.map(async (rid) => {
        assert.deepEqual(
          files.filter((file) => file.includes(rid)),
          [],
          `no file of ${rid} is left in the result folder`,
        );
        for (const app of apps) {
          const answer = await app.http.get(`/bgrs/${rid}`);
          assert.equal(answer.status, 404, `a purged request is unknown: ${answer.status} ${answer.text}`);
        }
      }),
    );
  }

  async function assertKept(rids: string[]): Promise<void> {
    await Promise.all(rids.map((rid) => assertOneKept(rid)));
  }

  async function assertOneKept(rid: string): Promise<void> {
    const expected = submitted.get(rid)!;
    const [row] = await db.query<{ status_id: number }>('SELECT status_id FROM bgrs_requests WHERE rid = ?', [rid]);
    assert.ok(row, `young request ${rid} (${expected.n}) must be kept`);
    assert.equal(Number(row.status_id), 4);
    assert.equal(
      await db.count('bgrs_details', 'rid = ?', [rid]),
      expected.details,
      `the details of ${expected.n} are kept`,
    );
    assert.deepEqual(await filesOf(rid), expected.files, `the result files of ${expected.n} are kept`);
    for (const app of apps) {
      const result = await resultOf(app.http, rid);
      assert.equal(result.status, 200, `the result of ${expected.n} is still served`);
      assert.deepEqual(JSON.parse(result.body.toString('utf8')), { n: expected.n });
      assert.equal(result.headers['x-kept'], 'yes');
    }
  }

  function sweepProblems(): string[] {
    return logger
      .problems()
      .filter((problem) => /sweep|retention|deadlock|ER_/i.test(problem) || problem.startsWith('[error]'));
  }

  it('the periodic sweep purges requests older than retentionDays, with their details and files; younger ones stay', async () => {
    const old = await finishedRequests('old', 30);
    const nearlyADay = await finishedRequests('23h', 5);
    const young = await finishedRequests('young', 10);
    // Not one has been swept while young, although both instances have been sweeping every 200 ms.
    await assertKept([...old, ...nearlyADay, ...young]);

    await age(old, '2 DAY');
    await age(nearlyADay, '23 HOUR');
    // Nothing but the instances' own timers sweeps here.
    await eventually('the old requests to be purged', async () => ((await remaining(old)) === 0 ? true : undefined));

    await assertPurged(old);
    await assertKept([...nearlyADay, ...young]);
    assert.deepEqual(sweepProblems(), [], 'no sweep failed');
  });

  it('two instances sweeping at once neither fail nor delete anything young', async () => {
    const sweepers = apps.map((app) => app.app.get(BgrsRetentionSweeper));
    const keptBefore = [...submitted.keys()].filter((rid) => !submitted.get(rid)!.n.startsWith('old-'));
    for (let round = 0; round < 3; round++) {
      const old = await finishedRequests(`old${round}`, 40);
      const young = await finishedRequests(`young${round}`, 10);
      await age(old, '3 DAY');
      // Both instances start a sweep of the same expired rows at the same moment (their timers run as well).
      const counts = await Promise.all([
        sweepers[0].sweep(),
        sweepers[1].sweep(),
        sweepers[0].sweep(),
        sweepers[1].sweep(),
      ]);
      assert.ok(
        counts.every((count) => Number.isInteger(count) && count >= 0),
        `sweeps resolve to counts: ${counts}`,
      );
      // A call during a sweep joins it; two instances' sweeps count each row only where it was deleted.
      assert.equal(counts[0], counts[2]);
      assert.equal(counts[1], counts[3]);
      assert.ok(counts[0] + counts[1] <= old.length, `no row is counted by both instances: ${counts}`);
      await eventually(`round ${round}: the old requests to be purged`, async () =>
        (await remaining(old)) === 0 ? true : undefined,
      );
      await assertPurged(old);
      await assertKept([...keptBefore, ...young]);
      keptBefore.push(...young);
    }
    // And again, with nothing left to purge: nothing young goes. A sweep its timer started may still be under
    // way (it counts what it deleted); once it is over, a sweep finds nothing.
    await Promise.all(sweepers.map((sweeper) => sweeper.sweep()));
    assert.deepEqual(await Promise.all(sweepers.map((sweeper) => sweeper.sweep())), [0, 0]);
    await assertKept(keptBefore);
    assert.deepEqual(sweepProblems(), [], 'no sweep failed');
  });
});
