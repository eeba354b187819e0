/**
 * `DatabaseResultStore` on MariaDB, through the store contract, and what is its own: 1 MiB chunk rows that
 * fit the server's packet limit, results that go with their request, one result per request, MySQL only, and no
 * statement for a malformed rid.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { bgrsEntities, bgrsMigrations, DatabaseResultStore } from '../src/index.js';
import { createRid } from '../src/util/rid.js';
import { DATABASE_RESULT_MAX_PACKET } from '../src/result-store/database/database-result-store.js';
import { TestDatabase } from './support/database.js';
import {
  BAD_RIDS,
  describeResultStoreContract,
  entriesOf,
  storeResult,
  writeAndWait,
} from './support/result-store-contract.js';

const MiB = 1024 * 1024;

/** Counts the statements a data source sends: each goes through a query runner of its own. */
function countStatements(dataSource: DataSource): { count: number } {
  const counter = { count: 0 };
  const createQueryRunner = dataSource.createQueryRunner.bind(dataSource);
  dataSource.createQueryRunner = (...args) => {
    counter.count++;
    return createQueryRunner(...args);
  };
  return counter;
}

/** A test database with the module's schema, and a data source on it as the module has one. */
async function migratedDatabase(): Promise<{ db: TestDatabase; dataSource: DataSource }> {
  const db = await TestDatabase.create();
  const dataSource = new DataSource({
    type: 'mariadb',
    url: db.url,
    entities: bgrsEntities,
    migrations: bgrsMigrations,
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  return { db, dataSource };
}

/** A recorded request, as the runner's are before their results are written. */
async function recordRequest(db: TestDatabase): Promise<string> {
  const rid = createRid();
  await db.query(
    "INSERT INTO bgrs_requests (rid, user_id, name, created_dt, status_id, progress) VALUES (?, NULL, '/r', NOW(), 3, 0)",
    [rid],
  );
  return rid;
}

describeResultStoreContract('DatabaseResultStore (MariaDB)', async () => {
  const { db, dataSource } = await migratedDatabase();
  const store = new DatabaseResultStore(dataSource);
  await store.onModuleInit();
  return {
    store,
    newRid: () => recordRequest(db),
    close: async () => {
      await dataSource.destroy();
      await db.drop();
    },
  };
});

describe('DatabaseResultStore', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let store: DatabaseResultStore;
  let statements: { count: number };

  before(async () => {
    ({ db, dataSource } = await migratedDatabase());
    statements = countStatements(dataSource);
    store = new DatabaseResultStore(dataSource);
    await store.onModuleInit();
  });

  after(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('keeps a result as db:<rid>, its body in 1 MiB rows, each statement within the packet limit', async () => {
    const rid = await recordRequest(db);
    const size = 3 * MiB + 5;
    assert.equal(await storeResult(store, rid, Buffer.alloc(size, 9), 'text/plain'), `db:${rid}`);
    const chunks = await db.query<{ seq: number; bytes: number | string }>(
      'SELECT seq, LENGTH(data) AS bytes FROM bgrs_result_chunks WHERE rid = ? ORDER BY seq',
      [rid],
    );
    assert.deepEqual(
      chunks.map((chunk) => [Number(chunk.seq), Number(chunk.bytes)]),
      [
        [0, MiB],
        [1, MiB],
        [2, MiB],
        [3, 5],
      ],
    );
    const [{ max }] = await db.query<{ max: number | string }>('SELECT @@max_allowed_packet AS max');
    assert.ok(DATABASE_RESULT_MAX_PACKET <= Number(max), `${DATABASE_RESULT_MAX_PACKET} > max_allowed_packet ${max}`);
    assert.ok(MiB < DATABASE_RESULT_MAX_PACKET);
  });

  it('a result, committed or partial, goes with its request (cascade)', async () => {
    const committed = await recordRequest(db);
    await storeResult(store, committed, Buffer.alloc(2 * MiB, 1), 'text/plain', { 'x-a': '1' });
    const partial = await recordRequest(db);
    await writeAndWait(store.create(partial).body, Buffer.alloc(2 * MiB, 2));
    assert.equal((await entriesOf(store, partial)).length, 1);

    await db.query('DELETE FROM bgrs_requests WHERE rid IN (?, ?)', [committed, partial]);
    for (const table of ['bgrs_results', 'bgrs_result_chunks']) {
      assert.equal(await db.count(table, 'rid IN (?, ?)', [committed, partial]), 0, table);
    }
  });

  it('a second result of a request whose result is committed fails, and the first stays', async () => {
    const rid = await recordRequest(db);
    const location = await storeResult(store, rid, Buffer.from('first'), 'text/plain');
    await assert.rejects(storeResult(store, rid, Buffer.from('second'), 'text/plain'), /stored already/);
    const stored = await store.open(location);
    assert.equal(stored.size, 'first'.length);
    stored.body.destroy();
  });

  it('a result of a request that is not recorded is refused, saying why', async () => {
    await assert.rejects(
      storeResult(store, createRid(), Buffer.from('x')),
      /keeps results of recorded requests only: [0-9a-f]{32} is not in bgrs_requests/,
    );
  });

  it('a writer whose row was abandoned meanwhile fails its commit', async () => {
    const rid = await recordRequest(db);
    const writer = store.create(rid);
    await writeAndWait(writer.body, Buffer.alloc(2 * MiB, 3));
    await store.abandon(rid);
    writer.body.end(Buffer.from('the end'));
    await assert.rejects(writer.commit('text/plain', {}));
    assert.deepEqual(await entriesOf(store, rid), []);
  });

  it('malformed and hostile rids never reach a statement', async () => {
    const before = statements.count;
    for (const rid of BAD_RIDS) {
      assert.throws(() => store.create(rid), /Not a request id/);
      await assert.rejects(store.abandon(rid), /Not a request id/);
    }
    for (const location of ['db:../x', `db:${'A'.repeat(32)}`, `media/keep1m.bgrs.${createRid()}.result.json`]) {
      await assert.rejects(store.open(location), /No result stored/);
      await store.remove(location);
    }
    assert.equal(statements.count, before);
    await store.abandon(createRid());
    assert.ok(statements.count > before, 'the count sees statements');
  });

  it('runs on MySQL and MariaDB only, and says so naming the option', () => {
    const sqlite = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    assert.throws(
      () => new DatabaseResultStore(sqlite),
      /resultStore: DatabaseResultStore keeps results in MySQL or MariaDB/,
    );
  });

  it('refuses at start a server whose max_allowed_packet is too small for a chunk', async () => {
    const small = Object.create(dataSource, {
      query: { value: async () => [{ max: 1024 * 1024 }] },
    }) as DataSource;
    await assert.rejects(new DatabaseResultStore(small).onModuleInit(), /max_allowed_packet is 1048576: raise it/);
  });
});
