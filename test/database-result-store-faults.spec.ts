/**
 * Store-level faults of `DatabaseResultStore`: a TCP proxy between its data source and MariaDB is cut
 * for real, in the middle of a chunk's INSERT and at commit. The writer fails, no result becomes visible, and once
 * the database is back what was left is abandoned and the request's result can be written again. The shared
 * MariaDB server itself is never stopped.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { bgrsEntities, bgrsMigrations, DatabaseResultStore } from '../src/index.js';
import { createRid } from '../src/util/rid.js';
import { TestDatabase } from './support/database.js';
import { entriesOf, storeResult } from './support/result-store-contract.js';
import { TcpProxy } from './support/tcp-proxy.js';

const MiB = 1024 * 1024;

describe('DatabaseResultStore when the database link is cut (TCP proxy between the store and MariaDB)', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let dataSource: DataSource;
  let store: DatabaseResultStore;

  before(async () => {
    db = await TestDatabase.create();
    proxy = await TcpProxy.start('127.0.0.1', 3306);
    dataSource = new DataSource({
      type: 'mariadb',
      url: db.url.replace(/:3306\//, `:${proxy.port}/`),
      entities: bgrsEntities,
      migrations: bgrsMigrations,
      extra: { connectTimeout: 2000, connectionLimit: 5 },
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    store = new DatabaseResultStore(dataSource);
  });

  beforeEach(async () => {
    await proxy.restore();
  });

  after(async () => {
    await dataSource?.destroy();
    await proxy?.close();
    await db?.drop();
  });

  async function recordRequest(): Promise<string> {
    const rid = createRid();
    await db.query(
      "INSERT INTO bgrs_requests (rid, user_id, name, created_dt, status_id, progress) VALUES (?, NULL, '/r', NOW(), 3, 0)",
      [rid],
    );
    return rid;
  }

  /** Once the link is back: no committed result of `rid`, and after `abandon()` nothing of it at all. */
  async function assertNothingVisible(rid: string): Promise<void> {
    await proxy.restore();
    await assert.rejects(store.open(`db:${rid}`), /No result stored/);
    assert.equal(await db.count('bgrs_results', 'rid = ? AND committed_dt IS NOT NULL', [rid]), 0);
    await store.abandon(rid);
    assert.deepEqual(await entriesOf(store, rid), []);
    assert.equal(await db.count('bgrs_result_chunks', 'rid = ?', [rid]), 0);

    const location = await storeResult(store, rid, Buffer.from('after the cut'), 'text/plain');
    assert.equal((await store.open(location)).size, 'after the cut'.length);
  }

  it('a link cut in the middle of a chunk fails the writer and leaves no visible result', async () => {
    const rid = await recordRequest();
    const writer = store.create(rid);
    // A chunk goes as about 2 MiB of SQL: the cut falls inside the second chunk's INSERT.
    const cut = proxy.cutAfter(3 * MiB);
    async function* produce() {
      for (let i = 0; i < 16; i++) {
        yield Buffer.alloc(MiB, i);
      }
    }
    await assert.rejects(pipeline(Readable.from(produce(), { objectMode: false }), writer.body));
    await cut;
    await assert.rejects(writer.commit('application/octet-stream', {}));
    await writer.discard().catch(() => undefined);
    await assertNothingVisible(rid);
  });

  it('a link cut at commit fails the commit and leaves no visible result', async () => {
    const rid = await recordRequest();
    const writer = store.create(rid);
    await pipeline(Readable.from([Buffer.alloc(3 * MiB, 5)]), writer.body);
    await proxy.cut();
    await assert.rejects(writer.commit('application/octet-stream', { 'x-a': '1' }));
    await writer.discard().catch(() => undefined);
    await assertNothingVisible(rid);
  });
});
