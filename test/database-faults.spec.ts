/**
 * Database trouble (README, “Under failure”): a TCP proxy between the app's TypeORM connection and MariaDB is
 * cut for real. Acceptance answers 503 and hands out no rid; a running request whose progress writes fail keeps
 * running; when the database is back its final state lands (retried with backoff) and the result file was kept.
 * The shared MariaDB server itself is never stopped.
 */
import 'reflect-metadata';
import { Controller, Get, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { Gates } from './support/gate.js';
import { detailsOf, lookup, resultOf, submit, waitForStatus } from './support/http.js';
import { rawRequest, jsonAnswer } from './support/raw-http.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { eventually } from './support/wait.js';

const gates = new Gates();
/** How often each handler body ran (it must not run for a request that was refused). */
const runs = { quick: 0, long: 0 };
/** Steps the long handler reached, by name. */
const reached = new Set<string>();

/** Enough details to fill the progress buffer, so that the handler itself waits for a (failing) write. */
const DETAILS_DURING_CUT = 1000;

/** Larger than `inlineResultBytes` (8192 by default): a result file, watched while the database is away. */
function longResult(name: string) {
  return { name, rows: Array.from({ length: 1000 }, (_, i) => ({ i, square: i * i })) };
}

@Controller('faults')
class FaultsController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('quick')
  @BackgroundCapable()
  quick(@Query('n') n: string) {
    runs.quick++;
    return { quick: n };
  }

  @Get('long')
  @BackgroundCapable()
  async long(@Query('name') name: string) {
    runs.long++;
    await this.progress.report(10, `${name}: before the cut`);
    await gates.wait(`${name}:cut`);
    for (let i = 0; i < DETAILS_DURING_CUT; i++) {
      // The last of these makes the handler wait for the flush, which fails: the database is away.
      await this.progress.report(20 + i / 100, `${name}: during the cut ${i}`);
    }
    reached.add(`${name}:wrote during the cut`);
    await gates.wait(`${name}:finish`);
    reached.add(`${name}:returned`);
    return longResult(name);
  }
}

describe('database faults (TCP proxy cut between the app and MariaDB)', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let resultDir: string;
  let app: AppOnDatabase;
  const logger = new KeepingLogger(true);

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-faults-'));
    proxy = await TcpProxy.start('127.0.0.1', 3306);
    app = await startAppOn({
      // Every connection of the app, migrations included, goes through the proxy.
      url: db.url.replace(/:3306\//, `:${proxy.port}/`),
      resultDir,
      controllers: [FaultsController],
      // One slot: a request queued behind a running one shows when the slot is given back.
      bgrs: { maxConcurrent: 1 },
      extra: { connectTimeout: 2000, connectionLimit: 5, maxIdle: 5, idleTimeout: 60_000 },
      logger,
    });
    assert.ok(proxy.accepted > 0, 'the app must reach MariaDB through the proxy');
  });

  after(async () => {
    gates.openAll();
    await proxy?.restore();
    await app?.close().catch(() => undefined);
    await proxy?.close();
    await disposeScratch(db, resultDir);
  });

  it('answers 503 with no rid, and runs nothing, while the record cannot be written; accepts again once back', async () => {
    const before = await db.count('bgrs_requests');
    const quickRunsBefore = runs.quick;
    await proxy.cut();
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await rawRequest(app.port, 'GET', `/faults/quick?n=cut${attempt}&bgrs=yes`);
        assert.equal(answer.status, 503, `expected 503 during the outage, got ${answer.status}: ${answer.body}`);
        const body = jsonAnswer(answer, 'a submission during the outage');
        assert.equal(body.request, undefined, `a 503 must hand out no rid: ${answer.body}`);
        assert.doesNotMatch(answer.body.toString('utf8'), /[0-9a-f]{32}/, 'no rid anywhere in the 503 body');
        assert.equal(answer.headers.location, undefined, 'a 503 has no Location');
        assert.ok(answer.headers['retry-after'], 'a 503 says when to come back');
      }
      for (const path of ['', '/details', '/result', '/events']) {
        const lookup = await rawRequest(app.port, 'GET', `/bgrs/${'0'.repeat(32)}${path}`);
        assert.equal(lookup.status, 503, `a lookup during the outage: ${lookup.status} ${lookup.body}`);
        assert.ok(lookup.headers['retry-after'], 'a lookup 503 says when to come back');
        jsonAnswer(lookup, 'a lookup during the outage');
      }
    } finally {
      await proxy.restore();
    }
    // The MariaDB server was reachable all along (read directly, not through the proxy): nothing was recorded.
    assert.equal(await db.count('bgrs_requests'), before, 'no record may exist for a refused submission');
    assert.equal(runs.quick, quickRunsBefore, 'the handler of a refused submission must not run');

    // Back: the same app accepts and finishes requests again, through the restored proxy.
    const rid = await eventually('the app to accept background requests again', async () => {
      const answer = await rawRequest(app.port, 'GET', '/faults/quick?n=back&bgrs=yes');
      return answer.status === 202 ? (JSON.parse(answer.body.toString('utf8')).request as string) : undefined;
    });
    await waitForStatus(app.http, rid, 'finished');
    const result = await resultOf(app.http, rid);
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.body.toString('utf8')), { quick: 'back' });
  });

  it('keeps a running request going when its progress writes fail, keeps its result file, lets the next one run, and lands its final state once back', async () => {
    const name = 'r1';
    const rid = await submit(app.http, { path: `/faults/long?name=${name}` });
    // Queued behind it (one slot): it runs once r1's result is stored, without waiting for r1's final write.
    const next = await submit(app.http, { path: '/faults/quick?n=next' });
    assert.equal((await lookup(app.http, next)).status_name, 'queued');
    const quickRunsBefore = runs.quick;
    // Its first progress landed before the outage.
    await eventually(
      'the first detail to land',
      async () =>
        (await detailsOf(app.http, rid)).some((detail) => detail.details === `${name}: before the cut`) || undefined,
    );
    const resultFile = join(resultDir, `keep1m.bgrs.${rid}.result.json`);

    await proxy.cut();
    let restored = false;
    try {
      gates.open(`${name}:cut`);
      // The handler wrote a buffer-full of details into a database that is away, and went on.
      await eventually(
        'the handler to go on past its failed progress writes',
        async () => reached.has(`${name}:wrote during the cut`) || undefined,
      );
      gates.open(`${name}:finish`);
      await eventually('the handler to return', async () => reached.has(`${name}:returned`) || undefined);

      // The result is stored although the database is away ...
      await eventually(`the result file ${resultFile}`, async () => existsSync(resultFile) || undefined);
      // ... and the final write is tried again and again (at least twice more after the file was in place).
      const loggedBefore = logger.problems(new RegExp(rid)).length;
      await eventually(
        'the final state to be tried again while the database is away',
        async () => logger.problems(new RegExp(rid)).length >= loggedBefore + 2 || undefined,
      );
      // Read directly (not through the proxy): the record is still running, the final state has not landed.
      const [row] = await db.query<{ status_id: number; result: string | null }>(
        'SELECT status_id, result FROM bgrs_requests WHERE rid = ?',
        [rid],
      );
      assert.equal(Number(row.status_id), 3, 'while the database is away, the record is still processing');
      assert.equal(row.result, null);
      assert.ok(existsSync(resultFile), 'the result file is kept while the final state waits');
      await eventually(
        'the queued request to run while the final state of the one before waits for the database',
        async () => runs.quick > quickRunsBefore || undefined,
      );

      await proxy.restore();
      restored = true;
    } finally {
      if (!restored) {
        await proxy.restore();
      }
    }

    // Back: the final state lands by itself (no new request triggers it), within a deadline.
    const record = await waitForStatus(app.http, rid, 'finished');
    assert.equal(record.status, '200');
    assert.equal(record.progress, '100.00');
    assert.equal(record.result, resultFile);
    assert.match(record.content_type ?? '', /^application\/json/);
    assert.equal(runs.long, 1, 'the handler ran exactly once');

    const expected = longResult(name);
    const result = await resultOf(app.http, rid);
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.body.toString('utf8')), expected);
    assert.deepEqual(JSON.parse(await readFile(resultFile, 'utf8')), expected, 'the kept file is the result');
    const leftovers = (await readdir(resultDir)).filter((file) => file.includes(rid) && file.endsWith('.partial'));
    assert.deepEqual(leftovers, [], 'no temporary file is left behind');

    const details = await detailsOf(app.http, rid);
    assert.equal(details[0]?.details, `${name}: before the cut`, 'what landed before the outage is kept');
    assert.ok(details.every((detail) => detail.rid === rid));

    // The small one is kept in its row: its final write, held back by the outage too, brought it along.
    assert.equal((await waitForStatus(app.http, next, 'finished')).result, `inline:${next}`);
    assert.deepEqual(JSON.parse((await resultOf(app.http, next)).body.toString('utf8')), { quick: 'next' });
  });
});
