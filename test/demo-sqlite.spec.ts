import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  detailsOf,
  jsonOf,
  resultOf,
  sendRaw,
  submit,
  waitForStatus,
  withBgrs,
  type HttpClient,
} from './support/http.js';
import { startDemo, type RunningDemo } from './support/demo.js';

/** Rows of a table of the demo's SQLite file, read with better-sqlite3 (what the demo itself uses). */
function countSqliteRows(file: string, table: string): number {
  const Database = createRequire(import.meta.url)('better-sqlite3');
  const db = new Database(file, { readonly: true });
  try {
    return Number(db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get().n);
  } finally {
    db.close();
  }
}

/**
 * The demo as `npm start` runs it (`node build/demo/main.js`), without DATABASE_URL, so on its embedded SQLite
 * file; in a temp folder, so that `data/` and `media/` are its own. The slow routes are made quick.
 */
describe('the demo on its embedded SQLite default', () => {
  let cwd: string;
  let demo: ChildProcess;
  let http: HttpClient;
  let running: RunningDemo;

  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'bgrs-demo-'));
    running = await startDemo(cwd);
    ({ child: demo, http } = running);
  });

  after(async () => {
    await running?.stop();
    await rm(cwd, { recursive: true, force: true });
  });

  it('keeps its data in data/demo.sqlite', () => {
    assert.ok(existsSync(join(cwd, 'data/demo.sqlite')), 'data/demo.sqlite was not created');
    assert.equal(countSqliteRows(join(cwd, 'data/demo.sqlite'), 'bgrs_statuses'), 6, 'the six statuses are seeded');
  });

  it('answers the quick JSON route in the foreground', async () => {
    const res = await http.get('/v2.5/users/me');
    assert.equal(res.status, 200);
    assert.equal(res.body.id, 1);
  });

  it('runs the slow CSV report in the background: progress, details, the same bytes as the foreground', async () => {
    const path = '/v2.5/reports/sales?year=2024&t=csv';
    const rid = await submit(http, { path, headers: { Authorization: 'Bearer demo-42' } });
    const record = await waitForStatus(http, rid, 'finished');
    assert.equal(record.user_id, '42');
    assert.equal(record.progress, '100.00');
    assert.equal(record.name, withBgrs(path));
    assert.equal(record.result, join('media', `keep1m.bgrs.${rid}.result.csv`));

    const details = await detailsOf(http, rid);
    assert.equal(details.length, 12);
    assert.match(details[0].details, /^month 1\/12 done/);

    const foreground = await sendRaw(http, { path });
    const result = await resultOf(http, rid);
    assert.equal(result.status, 200);
    assert.equal(result.headers['content-type'], foreground.headers['content-type']);
    assert.equal(result.headers['content-disposition'], foreground.headers['content-disposition']);
    assert.ok(result.body.equals(foreground.body), 'the replayed CSV differs from the foreground');
    assert.match(result.body.toString('utf8'), /^month,region,orders,revenue\r\n/);
    assert.ok((await readFile(join(cwd, record.result!))).equals(foreground.body));
  });

  it('validates the import body in the foreground, then imports in the background', async () => {
    const file = join(cwd, 'data/demo.sqlite');
    const before = countSqliteRows(file, 'bgrs_requests');
    const invalid = await sendRaw(http, { method: 'post', path: withBgrs('/v2.5/imports'), body: { rows: [] } });
    assert.equal(invalid.status, 400, `an invalid body: ${invalid.body}`);
    assert.equal(countSqliteRows(file, 'bgrs_requests'), before, 'no record for a rejected body');

    const body = {
      rows: [
        { sku: 'A-1', name: 'Mug', price: 7.5 },
        { sku: 'A-1', name: 'Mug again', price: 7.5 },
      ],
    };
    const rid = await submit(http, { method: 'post', path: '/v2.5/imports', body });
    const record = await waitForStatus(http, rid, 'finished');
    assert.equal(record.status, '201');
    const result = await resultOf(http, rid);
    assert.equal(result.status, 201);
    assert.deepEqual(jsonOf(result), {
      rows: 2,
      imported: 1,
      skipped: [{ row: 2, sku: 'A-1', reason: 'duplicate sku' }],
      importedBy: 1,
    });
  });

  it('stops on SIGTERM, giving up its leases and its instance row', async () => {
    const file = join(cwd, 'data/demo.sqlite');
    assert.ok(countSqliteRows(file, 'bgrs_requests') >= 2, 'the requests of the tests above are recorded');
    const exited = new Promise((resolve) => demo.once('exit', (code, signal) => resolve({ code, signal })));
    demo.kill('SIGTERM');
    // Nest's shutdown hooks close the app, then end the process with the signal it got.
    assert.deepEqual(await exited, { code: null, signal: 'SIGTERM' }, running.output().slice(-2000));
    assert.equal(countSqliteRows(file, 'bgrs_leases'), 0, 'no lease is left on the ended requests');
    assert.equal(countSqliteRows(file, 'bgrs_instances'), 0, 'the instance row is gone');
    assert.doesNotMatch(running.output(), /Heartbeat failed|Instance lease not removed/);
  });
});
