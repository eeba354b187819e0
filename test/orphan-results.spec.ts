/**
 * Orphan results (README, “Under failure”): two instances share one database, each with a result folder
 * of its own. A record swept by one instance leaves its result on the other's disk; that instance's own sweep
 * removes it, as it removes every file of its store that no record asks for (no record, or a record that ended
 * without naming it), past a short grace. Results of running requests and results their records name are kept;
 * files that are not the store's own (other names, folders, links) are never touched. Sweeps run by hand here
 * (`retentionSweepMs` is an hour), several at once.
 */
import 'reflect-metadata';
import { Controller, Get, Header, Param } from '@nestjs/common';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable } from '../src/index.js';
import { BgrsRetentionSweeper } from '../src/persistence/bgrs-retention-sweeper.service.js';
import { createRid } from '../src/util/rid.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { jsonOf, resultOf, submit, waitForStatus } from './support/http.js';

@Controller('kept')
class KeptController {
  @Get(':n')
  @BackgroundCapable()
  @Header('X-Kept', 'yes')
  one(@Param('n') n: string) {
    return { n };
  }
}

/** Two days ago: past the retention period (1 day) and any grace. */
const LONG_AGO = new Date(Date.now() - 2 * 86_400_000);

describe('orphan results (two instances, a result folder each, one database)', () => {
  let db: TestDatabase;
  let dirA: string;
  let dirB: string;
  /** Holds files outside both result folders, e.g. the targets of links. */
  let outside: string;
  let a: AppOnDatabase;
  let b: AppOnDatabase;
  const logger = new KeepingLogger(true);

  const sweep = (app: AppOnDatabase) => app.app.get(BgrsRetentionSweeper).sweep();
  const fileOf = (dir: string, rid: string, suffix = 'json') => join(dir, `keep1m.bgrs.${rid}.result.${suffix}`);
  const filesOf = async (dir: string, rid: string) => (await readdir(dir)).filter((file) => file.includes(rid)).sort();

  /** Creates `path` as a file written long ago (or now, with `fresh`). */
  async function plant(path: string, fresh = false): Promise<void> {
    await writeFile(path, '{"planted":true}');
    if (!fresh) {
      await utimes(path, LONG_AGO, LONG_AGO);
    }
  }

  /** Makes every file of a folder look written long ago. */
  async function ageFiles(dir: string, rid: string): Promise<void> {
    await Promise.all((await filesOf(dir, rid)).map((file) => utimes(join(dir, file), LONG_AGO, LONG_AGO)));
  }

  /** A record written with SQL, in `statusId`, naming the result `resultOf(rid)` if given. */
  async function record(statusId: number, resultOf?: (rid: string) => string): Promise<string> {
    const rid = createRid();
    await db.query(
      'INSERT INTO bgrs_requests (rid, user_id, name, created_dt, status_id, progress, result) ' +
        "VALUES (?, NULL, '/planted', NOW(), ?, 0, ?)",
      [rid, statusId, resultOf?.(rid) ?? null],
    );
    return rid;
  }

  /** A request finished on `app`, with its result and headers file. */
  async function finishedOn(app: AppOnDatabase, n: string): Promise<string> {
    const rid = await submit(app.http, { path: `/kept/${n}` });
    await waitForStatus(app.http, rid, 'finished');
    return rid;
  }

  before(async () => {
    ({ db, resultDir: dirA } = await createScratch('bgrs-orphans-a-'));
    dirB = await mkdtemp(join(tmpdir(), 'bgrs-orphans-b-'));
    outside = await mkdtemp(join(tmpdir(), 'bgrs-orphans-outside-'));
    const common = {
      url: db.url,
      controllers: [KeptController],
      logger,
      bgrs: { retentionDays: 1, retentionSweepMs: 3_600_000 },
    };
    // One after the other, so that the second finds the migrations done.
    a = await startAppOn({ ...common, resultDir: dirA });
    b = await startAppOn({ ...common, resultDir: dirB });
  });

  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await disposeScratch(db, dirA);
    await Promise.all([dirB, outside].map((dir) => dir && rm(dir, { recursive: true, force: true })));
  });

  it('a record swept by B leaves its result on A; A’s sweep removes it once past the grace', async () => {
    const rid = await finishedOn(a, 'swept-by-b');
    const files = await filesOf(dirA, rid);
    assert.deepEqual(files, [`keep1m.bgrs.${rid}.result.json`, `keep1m.bgrs.${rid}.result.json.headers.json`]);
    await db.query('UPDATE bgrs_requests SET created_dt = created_dt - INTERVAL 2 DAY WHERE rid = ?', [rid]);

    assert.equal(await sweep(b), 1, 'B deletes the expired record');
    assert.equal(await db.count('bgrs_requests', 'rid = ?', [rid]), 0);
    assert.deepEqual(await filesOf(dirA, rid), files, 'B leaves the result on A’s disk alone');

    // Just written: kept for the grace, whatever the records say.
    assert.equal(await sweep(a), 0);
    assert.deepEqual(await filesOf(dirA, rid), files);

    await ageFiles(dirA, rid);
    assert.equal(await sweep(a), 0, 'no record was left to delete');
    assert.deepEqual(await filesOf(dirA, rid), [], 'A removes the orphan and its headers file');
  });

  it('removes files of its own naming that have no record; leaves every other file, folder and link alone', async () => {
    const orphan = createRid();
    const partial = createRid();
    const headersOnly = createRid();
    const young = createRid();
    await plant(fileOf(dirA, orphan));
    await plant(fileOf(dirA, orphan, 'json.headers.json'));
    await plant(fileOf(dirA, partial, 'partial'));
    await plant(fileOf(dirA, partial, 'partial.headers'));
    await plant(fileOf(dirA, headersOnly, 'pdf.headers.json'));
    await plant(fileOf(dirA, young, 'csv'), true);

    const target = join(outside, 'precious.json');
    await writeFile(target, 'precious');
    const foreign = [
      'notes.txt',
      `keep1m.bgrs.${createRid().toUpperCase()}.result.json`,
      `keep1m.bgrs.${createRid()}.result.exe`,
      `keep1m.bgrs.${createRid()}.result.json.bak`,
      `keep1m.bgrs.${createRid().slice(1)}.result.json`,
      `xkeep1m.bgrs.${createRid()}.result.json`,
    ];
    for (const name of foreign) {
      await plant(join(dirA, name));
    }
    const folder = `keep1m.bgrs.${createRid()}.result.json`;
    await mkdir(join(dirA, folder));
    await plant(join(dirA, folder, 'inside.json'));
    await utimes(join(dirA, folder), LONG_AGO, LONG_AGO);
    const link = `keep1m.bgrs.${createRid()}.result.json`;
    await symlink(target, join(dirA, link));

    await sweep(a);
    const left = await readdir(dirA);
    for (const rid of [orphan, partial, headersOnly]) {
      assert.deepEqual(
        left.filter((file) => file.includes(rid)),
        [],
        `the files of ${rid} (no record) are removed`,
      );
    }
    assert.deepEqual(await filesOf(dirA, young), [`keep1m.bgrs.${young}.result.csv`], 'a young file is kept');
    for (const name of [...foreign, folder, link]) {
      assert.ok(left.includes(name), `${name} is not the store's and is left alone`);
    }
    assert.deepEqual(await readdir(join(dirA, folder)), ['inside.json']);
    assert.equal(await readFile(target, 'utf8'), 'precious', 'a link is never followed');
  });

  it('keeps what running records and naming records ask for; removes results their ended records do not name', async () => {
    // A request really finished on A: its record names its result, which is served.
    const named = await finishedOn(a, 'named');
    await ageFiles(dirA, named);
    // Running records (written with SQL, so that nothing ends them): a partial being written, a committed result
    // whose final write has not landed.
    const writing = await record(3);
    await plant(fileOf(dirA, writing, 'partial'));
    const waiting = await record(2);
    await plant(fileOf(dirA, waiting));
    // Ended records that do not name the file: a given-up result (failed, or cancelled, no result) and a
    // finished record that names another result.
    const givenUp = await record(5);
    await plant(fileOf(dirA, givenUp));
    const cancelled = await record(6);
    await plant(fileOf(dirA, cancelled, 'partial'));
    const otherRid = await record(4, (rid) => fileOf(dirA, rid, 'csv'));
    await plant(fileOf(dirA, otherRid, 'csv'));
    await plant(fileOf(dirA, otherRid, 'txt'));

    await sweep(a);
    assert.deepEqual(await filesOf(dirA, named), [
      `keep1m.bgrs.${named}.result.json`,
      `keep1m.bgrs.${named}.result.json.headers.json`,
    ]);
    const result = await resultOf(b.http, named);
    assert.equal(result.status, 200);
    assert.deepEqual(jsonOf(result), { n: 'named' });
    assert.equal(result.headers['x-kept'], 'yes');
    assert.deepEqual(await filesOf(dirA, writing), [`keep1m.bgrs.${writing}.result.partial`]);
    assert.deepEqual(await filesOf(dirA, waiting), [`keep1m.bgrs.${waiting}.result.json`]);
    assert.deepEqual(await filesOf(dirA, givenUp), []);
    assert.deepEqual(await filesOf(dirA, cancelled), []);
    assert.deepEqual(await filesOf(dirA, otherRid), [`keep1m.bgrs.${otherRid}.result.csv`]);
    // Records are never deleted for their files' sake.
    assert.equal(await db.count('bgrs_requests', 'rid IN (?)', [[writing, waiting, givenUp, cancelled, otherRid]]), 5);
  });

  it('several sweeps at once, on both instances, agree and fail nowhere', async () => {
    const kept = [await finishedOn(a, 'kept-a'), await finishedOn(b, 'kept-b')];
    const orphans = Array.from({ length: 30 }, () => createRid());
    for (const [i, rid] of orphans.entries()) {
      await plant(fileOf(i % 2 === 0 ? dirA : dirB, rid));
    }
    for (const [dir, rid] of [
      [dirA, kept[0]],
      [dirB, kept[1]],
    ]) {
      await ageFiles(dir, rid);
    }
    const counts = await Promise.all([sweep(a), sweep(b), sweep(a), sweep(b)]);
    assert.deepEqual(counts, [0, 0, 0, 0]);
    for (const dir of [dirA, dirB]) {
      const left = await readdir(dir);
      assert.deepEqual(
        orphans.filter((rid) => left.some((file) => file.includes(rid))),
        [],
        `no orphan is left in ${dir}`,
      );
    }
    for (const rid of kept) {
      assert.equal((await resultOf(a.http, rid)).status, 200, `${rid} is still served`);
    }
    const problems = logger
      .problems()
      .filter((problem) => /sweep|retention|ER_/i.test(problem) || problem.startsWith('[error]'));
    assert.deepEqual(problems, [], 'no sweep failed');
  });
});
