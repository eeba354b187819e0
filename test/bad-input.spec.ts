/**
 * Bad input never breaks anything (README, “Under failure”), table-driven: hostile `bgrs` values,
 * malformed and hostile rids on every lookup route, a URL longer than the `name` column, binary and huge details
 * text, NaN/Infinity/negative/over-100 progress. Each gets a clear 4xx JSON answer or is clamped/truncated: never
 * a 500, a crash, a lost or a corrupted record. Also proves that no file outside `resultDir` is ever served.
 */
import 'reflect-metadata';
import { Controller, Get, Param, Query } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { TestDatabase } from './support/database.js';
import { Gates } from './support/gate.js';
import { detailsOf, lookup, resultOf, submit, waitForStatus } from './support/http.js';
import { jsonAnswer, rawRequest, type RawAnswer } from './support/raw-http.js';
import { eventually } from './support/wait.js';

const gates = new Gates();
const runs = { items: 0 };
const TEXT_MAX_BYTES = 65_535;

/** Details texts a handler may well pass on: binary junk, NULs, broken UTF-16, huge. */
const HOSTILE_DETAILS: Array<{ label: string; text: string; huge?: boolean }> = [
  { label: 'random bytes as a latin1 string', text: randomBytes(4096).toString('latin1') },
  { label: 'every latin1 character', text: Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1') },
  { label: 'NUL bytes', text: '\u0000start\u0000\u0000middle\u0000end\u0000' },
  { label: 'lone surrogates', text: 'a\uD800b\uDFFFc\uDBFF' },
  { label: 'control characters', text: '\u0001\u001b[31mred\u001b[0m\r\n\t\u007f' },
  { label: 'an empty string', text: '' },
  { label: 'astral characters', text: 'done 😀 ✅ 𝄞' },
  { label: '1 MB of ASCII', text: `begin ${'x'.repeat(1024 * 1024)} end`, huge: true },
  { label: '1 MB of two-byte characters', text: 'é'.repeat(1024 * 1024), huge: true },
  { label: '1 MB of emoji (surrogate pairs)', text: 'ab😀'.repeat(256 * 1024), huge: true },
];

/** Sequences of `report()` values, and the progress that must be stored after them (clamped, never decreasing). */
const PROGRESS_ROWS: Array<{ reports: number[]; stored: string }> = [
  { reports: [Number.NaN], stored: '0.00' },
  { reports: [-5], stored: '0.00' },
  { reports: [200], stored: '100.00' },
  { reports: [Number.POSITIVE_INFINITY], stored: '100.00' },
  { reports: [Number.NEGATIVE_INFINITY], stored: '0.00' },
  { reports: [30, Number.NaN], stored: '30.00' },
  { reports: [30, -5], stored: '30.00' },
  { reports: [30, 200, 50], stored: '100.00' },
  { reports: [42.5, Number.POSITIVE_INFINITY, -5, Number.NaN], stored: '100.00' },
  { reports: [60, 20, Number.NEGATIVE_INFINITY], stored: '60.00' },
];

@Controller('items')
class ItemsController {
  @Get()
  @BackgroundCapable()
  list(@Query('tag') tag: string | undefined) {
    runs.items++;
    return { tag: tag ?? null, items: [1, 2, 3] };
  }
}

@Controller('hostile')
class HostileController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('details')
  @BackgroundCapable()
  async details() {
    for (const { text } of HOSTILE_DETAILS) {
      await this.progress.detail(text);
    }
    return { written: HOSTILE_DETAILS.length };
  }

  @Get('progress/:row')
  @BackgroundCapable()
  async reportProgress(@Param('row') row: string) {
    for (const value of PROGRESS_ROWS[Number(row)].reports) {
      await this.progress.report(value);
    }
    await this.progress.detail('mark 1');
    await gates.wait(`progress ${row}: mark 2`);
    // In a later write than the reports: once it is visible, the reports' progress has landed.
    await this.progress.detail('mark 2');
    await gates.wait(`progress ${row}: end`);
    return { row: Number(row) };
  }

  @Get('held')
  @BackgroundCapable()
  async held(@Query('name') name: string) {
    await gates.wait(`held ${name}`);
    return { held: name };
  }
}

describe('bad input', () => {
  let db: TestDatabase;
  let workDir: string;
  let resultDir: string;
  let app: AppOnDatabase;
  const secret = `TOP-SECRET-${randomBytes(8).toString('hex')}`;
  /** Every accepted request, with the `name` its record must keep. */
  const accepted = new Map<string, { name: string; result: unknown }>();

  before(async () => {
    db = await TestDatabase.create();
    workDir = await mkdtemp(join(tmpdir(), 'bgrs-bad-input-'));
    resultDir = join(workDir, 'results');
    await mkdir(resultDir);
    // Files a path traversal would be after: beside the result folder, and inside it under a non-result name.
    await writeFile(join(workDir, 'secret.txt'), secret);
    await writeFile(join(resultDir, 'secret.txt'), secret);
    app = await startAppOn({
      url: db.url,
      resultDir,
      controllers: [ItemsController, HostileController],
      // As many hosts configure Express 5 (nested query objects, as in Express 4), so that `bgrs[a]=1` is an object.
      configure: (nest) => (nest as NestExpressApplication).set('query parser', 'extended'),
    });
  });

  after(async () => {
    gates.openAll();
    await app?.close().catch(() => undefined);
    await db?.drop();
    if (workDir) {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  function send(method: string, path: string, headers?: Record<string, string>): Promise<RawAnswer> {
    return rawRequest(app.port, method, path, headers);
  }

  /** Submits through the raw client, records what the record's `name` must be. */
  async function accept(path: string, result: unknown): Promise<string> {
    const rid = await submit(app.http, { path, bgrs: null });
    accepted.set(rid, { name: path, result });
    return rid;
  }

  const HOSTILE_BGRS: Array<{ label: string; query: string }> = [
    { label: 'yes%00', query: 'bgrs=yes%00' },
    { label: 'a NUL alone', query: 'bgrs=%00' },
    { label: 'SQL', query: `bgrs=${encodeURIComponent("'; DROP TABLE bgrs_requests; --")}` },
    { label: 'SQL, unencoded quotes', query: "bgrs='%20OR%20'1'='1" },
    { label: '10 kB value', query: `bgrs=${'y'.repeat(10 * 1024)}` },
    { label: 'repeated, yes then no', query: 'bgrs=yes&bgrs=no' },
    { label: 'repeated, no then yes', query: 'bgrs=no&bgrs=yes' },
    { label: 'repeated, yes twice', query: 'bgrs=yes&bgrs=yes' },
    { label: 'an object', query: 'bgrs[a]=1' },
    { label: 'an array', query: 'bgrs[]=yes' },
    { label: 'a nested object', query: 'bgrs[a][b]=yes' },
    { label: 'invalid percent-encoding', query: 'bgrs=%FF%FE' },
    { label: 'unicode', query: `bgrs=${encodeURIComponent('yés')}` },
    { label: 'fullwidth yes', query: `bgrs=${encodeURIComponent('ｙｅｓ')}` },
    { label: 'surrounding spaces', query: 'bgrs=%20yes%20' },
    { label: 'a number that is not 1', query: 'bgrs=2' },
  ];

  describe('hostile bgrs values → 400 JSON naming the accepted values, no record, handler not run', () => {
    for (const { label, query } of HOSTILE_BGRS) {
      it(label, async () => {
        const records = await db.count('bgrs_requests');
        const handlerRuns = runs.items;
        const answer = await send('GET', `/items?tag=t&${query}`);
        assert.equal(
          answer.status,
          400,
          `bgrs ${label}: expected 400, got ${answer.status}: ${answer.body.toString().slice(0, 300)}`,
        );
        const body = jsonAnswer(answer, `bgrs ${label}`);
        assert.equal(body.statusCode, 400);
        assert.match(JSON.stringify(body.message), /yes/, 'the error names the accepted values');
        assert.equal(body.request, undefined);
        assert.equal(await db.count('bgrs_requests'), records, 'no record is created');
        assert.equal(runs.items, handlerRuns, 'the handler does not run');
      });
    }

    it('the same values with Prefer: respond-async are refused the same way', async () => {
      const records = await db.count('bgrs_requests');
      for (const { label, query } of HOSTILE_BGRS) {
        const answer = await send('GET', `/items?${query}`, { Prefer: 'respond-async' });
        assert.equal(answer.status, 400, `bgrs ${label} with Prefer: ${answer.status}`);
        jsonAnswer(answer, `bgrs ${label} with Prefer`);
      }
      assert.equal(await db.count('bgrs_requests'), records);
    });

    it('the tables are intact and accepted values still work', async () => {
      assert.equal(await db.count('bgrs_statuses'), 6);
      const rid = await accept('/items?tag=after-hostile&bgrs=YES', { tag: 'after-hostile', items: [1, 2, 3] });
      await waitForStatus(app.http, rid, 'finished');
    });
  });

  describe('malformed and hostile rids on every lookup route → 400 (404 where no route matches), JSON, never 500', () => {
    let real: string;

    before(async () => {
      // A live request: an rid lookalike that reached its row (e.g. by a case-insensitive match) would show.
      real = await accept('/hostile/held?name=target&bgrs=yes', { held: 'target' });
      await waitForStatus(app.http, real, 'processing');
    });

    after(async () => {
      gates.open('held target');
    });

    function hostileRids(): Array<{ label: string; segment: string; routed?: false }> {
      const resultDirName = basename(resultDir);
      return [
        { label: '../../etc/passwd, encoded', segment: encodeURIComponent('../../etc/passwd') },
        { label: 'deep traversal, encoded', segment: encodeURIComponent('../'.repeat(12) + 'etc/passwd') },
        { label: 'traversal, encoded dots', segment: '%2e%2e%2f%2e%2e%2fetc%2fpasswd' },
        { label: 'traversal, double-encoded', segment: '%252e%252e%252fsecret.txt' },
        { label: 'backslash traversal', segment: encodeURIComponent('..\\secret.txt') },
        { label: 'the file beside resultDir', segment: encodeURIComponent('../secret.txt') },
        { label: 'the file in resultDir', segment: 'secret.txt' },
        { label: 'resultDir itself', segment: encodeURIComponent(`../${resultDirName}/secret.txt`) },
        { label: 'a result file name', segment: `keep1m.bgrs.${real}.result.json` },
        {
          label: 'a traversal to a result file',
          segment: encodeURIComponent(`../${resultDirName}/keep1m.bgrs.${real}.result.json`),
        },
        { label: 'absolute path', segment: encodeURIComponent('/etc/passwd') },
        { label: "SQL ' OR 1=1 --", segment: encodeURIComponent("' OR 1=1 --") },
        { label: 'SQL quote tautology', segment: encodeURIComponent("x' OR '1'='1") },
        { label: 'SQL wildcard', segment: '%25' },
        { label: 'SQL LIKE-ish 32 chars', segment: encodeURIComponent('_'.repeat(32)) },
        { label: 'unicode letters', segment: encodeURIComponent('é'.repeat(32)) },
        { label: 'fullwidth hex digits', segment: encodeURIComponent('０'.repeat(32)) },
        { label: 'arabic-indic digits', segment: encodeURIComponent('٠١٢٣٤٥٦٧٨٩'.repeat(3) + 'ab') },
        { label: 'emoji', segment: encodeURIComponent('😀'.repeat(16)) },
        { label: '31 hex characters', segment: real.slice(0, 31) },
        { label: '33 hex characters', segment: `${real}0` },
        { label: 'uppercase hex', segment: real.toUpperCase() },
        {
          label: 'one uppercase character',
          segment: `${real.slice(0, 31)}${real[31].toUpperCase() === real[31] ? 'A' : real[31].toUpperCase()}`,
        },
        { label: 'trailing NUL', segment: `${real}%00` },
        { label: 'NUL inside, 32 characters', segment: `${real.slice(0, 31)}%00` },
        { label: 'trailing newline', segment: `${real}%0A` },
        { label: 'trailing space', segment: `${real}%20` },
        { label: 'leading space', segment: `%20${real}` },
        { label: 'a file extension', segment: `${real}.json` },
        { label: 'invalid percent-encoding', segment: '%FF%FE' + 'a'.repeat(30) },
        { label: '10 kB', segment: 'a'.repeat(10 * 1024) },
        { label: 'raw traversal (not routed)', segment: '../../etc/passwd', routed: false },
        { label: 'raw traversal to the secret (not routed)', segment: '../secret.txt', routed: false },
      ];
    }

    const ROUTES: Array<{ method: string; path: (rid: string) => string }> = [
      { method: 'GET', path: (rid) => `/bgrs/${rid}` },
      { method: 'GET', path: (rid) => `/bgrs/${rid}/details` },
      { method: 'GET', path: (rid) => `/bgrs/${rid}/result` },
      { method: 'DELETE', path: (rid) => `/bgrs/${rid}` },
    ];

    it('every hostile rid on every route', async () => {
      const failures: string[] = [];
      for (const { label, segment, routed } of hostileRids()) {
        for (const route of ROUTES) {
          const path = route.path(segment);
          const what = `${route.method} ${path.length > 120 ? `${path.slice(0, 120)}…` : path} (${label})`;
          const answer = await send(route.method, path);
          const text = answer.body.toString('latin1');
          if (text.includes(secret) || text.includes('root:x:0:0')) {
            failures.push(`${what}: served a file outside the results!`);
          }
          const expected = routed === false ? [400, 404] : [400];
          if (!expected.includes(answer.status)) {
            failures.push(`${what}: ${answer.status} ${text.slice(0, 200)}`);
            continue;
          }
          try {
            const body = jsonAnswer(answer, what);
            assert.equal(body.statusCode, answer.status);
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
      }
      assert.deepEqual(failures, [], `hostile rids answered wrongly:\n${failures.join('\n')}`);
    });

    it('a well-formed unknown rid → 404 JSON on every route', async () => {
      const unknown = randomBytes(16).toString('hex');
      for (const route of ROUTES) {
        const answer = await send(route.method, route.path(unknown));
        assert.equal(answer.status, 404, `${route.method} ${route.path(unknown)}: ${answer.status}`);
        assert.equal(jsonAnswer(answer, 'unknown rid').statusCode, 404);
      }
    });

    it('the live request was neither found, cancelled nor changed by any of them', async () => {
      const record = await lookup(app.http, real);
      assert.equal(record.status_name, 'processing');
      assert.deepEqual(await detailsOf(app.http, real), []);
      gates.open('held target');
      await waitForStatus(app.http, real, 'finished');
    });
  });

  describe('a URL longer than the name column', () => {
    for (const length of [2049, 3000, 8000]) {
      it(`${length} characters → accepted, name cut to 2048, the handler sees the whole query`, async () => {
        const prefix = '/items?bgrs=yes&tag=';
        const tag = Array.from({ length: length - prefix.length }, (_, i) => 'abcdefghij'[i % 10]).join('');
        const path = `${prefix}${tag}`;
        assert.equal(path.length, length);
        const rid = await submit(app.http, { path, bgrs: null });
        accepted.set(rid, { name: path.slice(0, 2048), result: { tag, items: [1, 2, 3] } });
        const record = await waitForStatus(app.http, rid, 'finished');
        assert.equal(record.name, path.slice(0, 2048));
        const [row] = await db.query<{ name: string }>('SELECT name FROM bgrs_requests WHERE rid = ?', [rid]);
        assert.equal(row.name, path.slice(0, 2048));
        const result = await resultOf(app.http, rid);
        assert.deepEqual(JSON.parse(result.body.toString('utf8')), { tag, items: [1, 2, 3] });
      });
    }

    it('a long URL of multi-byte characters is cut to 2048 characters too', async () => {
      const prefix = '/items?bgrs=yes&tag=';
      const tag = 'é€😀'.repeat(400);
      const path = `${prefix}${encodeURIComponent(tag)}`;
      const rid = await submit(app.http, { path, bgrs: null });
      accepted.set(rid, { name: path.slice(0, 2048), result: { tag, items: [1, 2, 3] } });
      const record = await waitForStatus(app.http, rid, 'finished');
      assert.equal(record.name, path.slice(0, 2048));
      assert.deepEqual(JSON.parse((await resultOf(app.http, rid)).body.toString('utf8')), { tag, items: [1, 2, 3] });
    });
  });

  describe('details text: binary, broken and huge', () => {
    it('every text is stored (cut to fit TEXT), in order, and the request finishes', async () => {
      const rid = await accept('/hostile/details?bgrs=yes', { written: HOSTILE_DETAILS.length });
      await waitForStatus(app.http, rid, 'finished');
      const rows = await detailsOf(app.http, rid);
      assert.equal(rows.length, HOSTILE_DETAILS.length, 'one row per detail, none lost');
      const failures: string[] = [];
      HOSTILE_DETAILS.forEach(({ label, text, huge }, index) => {
        const stored = rows[index].details;
        // What UTF-8 can carry: lone surrogates become U+FFFD, everything else is kept as it is.
        const wellFormed = Buffer.from(text, 'utf8').toString('utf8');
        if (!huge) {
          if (stored !== wellFormed) {
            failures.push(
              `${label}: stored ${JSON.stringify(stored.slice(0, 80))}, expected ${JSON.stringify(wellFormed.slice(0, 80))}`,
            );
          }
          return;
        }
        const bytes = Buffer.byteLength(stored, 'utf8');
        if (bytes > TEXT_MAX_BYTES || bytes < TEXT_MAX_BYTES - 3) {
          failures.push(
            `${label}: ${bytes} bytes stored, expected the most of ${TEXT_MAX_BYTES} on a character boundary`,
          );
        }
        if (!wellFormed.startsWith(stored)) {
          failures.push(`${label}: the stored text is not the beginning of the text`);
        }
        if (stored.includes('\uFFFD')) {
          failures.push(`${label}: a character was split`);
        }
      });
      assert.deepEqual(failures, [], failures.join('\n'));
      const [{ bytes }] = await db.query<{ bytes: number }>(
        'SELECT MAX(LENGTH(details)) AS bytes FROM bgrs_details WHERE rid = ?',
        [rid],
      );
      assert.ok(Number(bytes) <= TEXT_MAX_BYTES);
    });
  });

  describe('progress values: NaN, ±Infinity, negative, over 100 → clamped to 0..100, never decreasing', () => {
    PROGRESS_ROWS.forEach(({ reports, stored }, row) => {
      it(`report(${reports.join(', ')}) → ${stored}`, async () => {
        const rid = await accept(`/hostile/progress/${row}?bgrs=yes`, { row });
        const hasDetail = (text: string) => async () =>
          (await detailsOf(app.http, rid)).some((detail) => detail.details === text) || undefined;
        await eventually(`${rid}: mark 1`, hasDetail('mark 1'));
        gates.open(`progress ${row}: mark 2`);
        await eventually(`${rid}: mark 2`, hasDetail('mark 2'));
        const record = await lookup(app.http, rid);
        assert.equal(record.status_name, 'processing');
        assert.equal(record.progress, stored);
        const [raw] = await db.query<{ progress: string }>('SELECT progress FROM bgrs_requests WHERE rid = ?', [rid]);
        assert.equal(Number(raw.progress).toFixed(2), stored);
        gates.open(`progress ${row}: end`);
        const finished = await waitForStatus(app.http, rid, 'finished');
        assert.equal(finished.progress, '100.00');
      });
    });
  });

  describe('afterwards', () => {
    it('the app still serves, and no accepted record is lost or corrupted', async () => {
      const rid = await accept('/items?tag=last&bgrs=1', { tag: 'last', items: [1, 2, 3] });
      await waitForStatus(app.http, rid, 'finished');
      assert.ok(accepted.size >= 15);
      assert.equal(await db.count('bgrs_requests'), accepted.size, 'exactly the accepted requests are recorded');
      for (const [rid, { name, result }] of accepted) {
        const record = await waitForStatus(app.http, rid, 'finished');
        assert.equal(record.rid, rid);
        assert.equal(record.name, name);
        assert.equal(record.status, '200');
        const answer = await resultOf(app.http, rid);
        assert.equal(answer.status, 200);
        assert.deepEqual(JSON.parse(answer.body.toString('utf8')), result, `the result of ${name.slice(0, 80)}`);
      }
      const health = await send('GET', '/items?tag=foreground');
      assert.equal(health.status, 200);
      assert.deepEqual(jsonAnswer(health, 'foreground'), { tag: 'foreground', items: [1, 2, 3] });
    });
  });
});
