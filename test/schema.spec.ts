import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { bgrsEntities, bgrsMigrations } from '../src/index.js';
import { TestDatabase } from './support/database.js';

/**
 * The tables of the README's “Tables”, column by column: the type as MariaDB/MySQL report it (integer display widths dropped), nullability,
 * and whether it auto-increments.
 */
type ExpectedColumn = [name: string, type: string | RegExp, nullable: 'YES' | 'NO', autoIncrement?: true];

const COLUMNS: Record<string, ExpectedColumn[]> = {
  bgrs_requests: [
    ['id', 'int unsigned', 'NO', true],
    ['rid', 'char(32)', 'NO'],
    ['user_id', 'int unsigned', 'YES'],
    ['name', 'varchar(2048)', 'NO'],
    ['created_dt', 'datetime', 'NO'],
    ['status_id', 'tinyint unsigned', 'NO'],
    ['progress', 'decimal(5,2)', 'NO'],
    ['finished_dt', 'datetime', 'YES'],
    ['status', 'smallint unsigned', 'YES'],
    ['content_type', 'varchar(255)', 'YES'],
    ['result', 'varchar(255)', 'YES'],
    ['result_body', 'blob', 'YES'],
  ],
  bgrs_details: [
    ['id', 'bigint unsigned', 'NO', true],
    ['rid', 'char(32)', 'NO'],
    ['dt', 'datetime', 'NO'],
    ['details', 'text', 'NO'],
  ],
  bgrs_statuses: [
    // The type of `bgrs_requests.status_id`, which references it.
    ['id', 'tinyint unsigned', 'NO'],
    ['name', /^varchar\(\d+\)$/, 'NO'],
  ],
};
const TABLES = Object.keys(COLUMNS);

interface ColumnRow {
  TABLE_NAME: string;
  COLUMN_NAME: string;
  COLUMN_TYPE: string;
  IS_NULLABLE: string;
  EXTRA: string;
}

/** `int(10) unsigned` (MariaDB, MySQL 5) and `int unsigned` (MySQL 8) are the same type. */
function normalizeType(type: string): string {
  return type.toLowerCase().replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/, '$1');
}

describe('schema made by bgrsMigrations on MariaDB', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  before(async () => {
    db = await TestDatabase.create();
    dataSource = new DataSource({ type: 'mariadb', url: db.url, entities: bgrsEntities, migrations: bgrsMigrations });
    await dataSource.initialize();
    await dataSource.runMigrations();
  });

  after(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  for (const table of TABLES) {
    it(`${table} has exactly the columns of the README's “Tables”`, async () => {
      const rows = await db.query<ColumnRow>(
        'SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA FROM information_schema.COLUMNS ' +
          'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
        [db.name, table],
      );
      assert.deepEqual(
        rows.map((row) => row.COLUMN_NAME),
        COLUMNS[table].map(([name]) => name),
        'column names and order',
      );
      for (const [index, [name, type, nullable, autoIncrement]] of COLUMNS[table].entries()) {
        const row = rows[index];
        const actualType = normalizeType(row.COLUMN_TYPE);
        if (type instanceof RegExp) {
          assert.match(actualType, type, `${table}.${name} type`);
        } else {
          assert.equal(actualType, type, `${table}.${name} type`);
        }
        assert.equal(row.IS_NULLABLE, nullable, `${table}.${name} nullable`);
        assert.equal(/auto_increment/i.test(row.EXTRA), autoIncrement ?? false, `${table}.${name} auto_increment`);
      }
    });
  }

  async function indexes(table: string): Promise<Array<{ name: string; unique: boolean; columns: string }>> {
    const rows = await db.query<{ INDEX_NAME: string; NON_UNIQUE: number | string; COLUMN_NAME: string }>(
      'SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS ' +
        'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX',
      [db.name, table],
    );
    const byName = new Map<string, { name: string; unique: boolean; columns: string[] }>();
    for (const row of rows) {
      const index = byName.get(row.INDEX_NAME) ?? {
        name: row.INDEX_NAME,
        unique: Number(row.NON_UNIQUE) === 0,
        columns: [],
      };
      index.columns.push(row.COLUMN_NAME);
      byName.set(row.INDEX_NAME, index);
    }
    return [...byName.values()].map((index) => ({ ...index, columns: index.columns.join(',') }));
  }

  it('primary keys are id, rid is unique in bgrs_requests and indexed in bgrs_details', async () => {
    for (const table of TABLES) {
      const primary = (await indexes(table)).find((index) => index.name === 'PRIMARY');
      assert.deepEqual(primary, { name: 'PRIMARY', unique: true, columns: 'id' }, `${table} primary key`);
    }
    assert.ok(
      (await indexes('bgrs_requests')).some((index) => index.unique && index.columns === 'rid'),
      'a UNIQUE index on bgrs_requests(rid)',
    );
    assert.ok(
      (await indexes('bgrs_details')).some((index) => index.columns.split(',')[0] === 'rid'),
      'an index on bgrs_details(rid)',
    );
  });

  it('foreign keys: requests.status_id → statuses.id, details.rid → requests.rid with cascade delete', async () => {
    const rows = await db.query<{
      TABLE_NAME: string;
      COLUMN_NAME: string;
      REFERENCED_TABLE_NAME: string;
      REFERENCED_COLUMN_NAME: string;
      DELETE_RULE: string;
    }>(
      'SELECT k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE ' +
        'FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ' +
        'ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME ' +
        'WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME IN (?) AND k.REFERENCED_TABLE_NAME IS NOT NULL ' +
        'ORDER BY k.TABLE_NAME, k.COLUMN_NAME',
      [db.name, TABLES],
    );
    assert.deepEqual(
      rows.map(
        (row) => `${row.TABLE_NAME}.${row.COLUMN_NAME} → ${row.REFERENCED_TABLE_NAME}.${row.REFERENCED_COLUMN_NAME}`,
      ),
      ['bgrs_details.rid → bgrs_requests.rid', 'bgrs_requests.status_id → bgrs_statuses.id'],
    );
    assert.equal(rows.find((row) => row.TABLE_NAME === 'bgrs_details')!.DELETE_RULE, 'CASCADE');
  });

  it('bgrs_owners (bookkeeping of its own): rid CHAR(32) primary key → bgrs_requests.rid with cascade delete, owner VARBINARY(255) indexed', async () => {
    const columns = await db.query<ColumnRow>(
      'SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA FROM information_schema.COLUMNS ' +
        'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [db.name, 'bgrs_owners'],
    );
    assert.deepEqual(
      columns.map((row) => [row.COLUMN_NAME, row.COLUMN_TYPE.toLowerCase(), row.IS_NULLABLE]),
      [
        ['rid', 'char(32)', 'NO'],
        ['owner', 'varbinary(255)', 'NO'],
      ],
    );
    const ownerIndexes = await indexes('bgrs_owners');
    assert.deepEqual(
      ownerIndexes.find((index) => index.name === 'PRIMARY'),
      { name: 'PRIMARY', unique: true, columns: 'rid' },
    );
    assert.ok(
      ownerIndexes.some((index) => !index.unique && index.columns === 'owner'),
      `an index on bgrs_owners(owner): ${JSON.stringify(ownerIndexes)}`,
    );
    const [key] = await db.query<{
      REFERENCED_TABLE_NAME: string;
      REFERENCED_COLUMN_NAME: string;
      DELETE_RULE: string;
    }>(
      'SELECT k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE ' +
        'FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ' +
        'ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME ' +
        "WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = 'bgrs_owners' AND k.COLUMN_NAME = 'rid'",
      [db.name],
    );
    assert.deepEqual(key, {
      REFERENCED_TABLE_NAME: 'bgrs_requests',
      REFERENCED_COLUMN_NAME: 'rid',
      DELETE_RULE: 'CASCADE',
    });

    // Deleting a request deletes its owner row; ids compare byte for byte, not by a collation.
    const rid = randomBytes(16).toString('hex');
    await db.query(
      "INSERT INTO bgrs_requests (rid, user_id, name, created_dt, status_id, progress) VALUES (?, NULL, '/x', NOW(), 3, 0)",
      [rid],
    );
    await db.query('INSERT INTO bgrs_owners (rid, owner) VALUES (?, ?)', [rid, Buffer.from('Alice')]);
    for (const [other, matches] of [
      ['Alice', 1],
      ['alice', 0],
      ['Alice ', 0],
    ] as const) {
      assert.equal(await db.count('bgrs_owners', 'owner = ?', [Buffer.from(other)]), matches, JSON.stringify(other));
    }
    await db.query('DELETE FROM bgrs_requests WHERE rid = ?', [rid]);
    assert.equal(await db.count('bgrs_owners', 'rid = ?', [rid]), 0);
  });

  it("the database result store's tables (of their own): bgrs_results per request and attempt, bgrs_result_chunks per MiB, both going with their request", async () => {
    const columnsOf = async (table: string) =>
      (
        await db.query<ColumnRow>(
          'SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA FROM information_schema.COLUMNS ' +
            'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
          [db.name, table],
        )
      ).map((row) => [row.COLUMN_NAME, normalizeType(row.COLUMN_TYPE), row.IS_NULLABLE]);
    assert.deepEqual(await columnsOf('bgrs_results'), [
      ['rid', 'char(32)', 'NO'],
      ['attempt', 'int unsigned', 'NO'],
      ['size', 'bigint unsigned', 'NO'],
      ['headers', 'text', 'YES'],
      ['created_dt', 'datetime', 'NO'],
      ['committed_dt', 'datetime', 'YES'],
    ]);
    assert.deepEqual(await columnsOf('bgrs_result_chunks'), [
      ['rid', 'char(32)', 'NO'],
      ['attempt', 'int unsigned', 'NO'],
      ['seq', 'int unsigned', 'NO'],
      ['data', 'mediumblob', 'NO'],
    ]);
    assert.deepEqual(
      (await indexes('bgrs_results')).find((index) => index.name === 'PRIMARY'),
      { name: 'PRIMARY', unique: true, columns: 'rid,attempt' },
    );
    assert.deepEqual(
      (await indexes('bgrs_result_chunks')).find((index) => index.name === 'PRIMARY'),
      { name: 'PRIMARY', unique: true, columns: 'rid,attempt,seq' },
    );
    const keys = await db.query<{ TABLE_NAME: string; REFERENCED_TABLE_NAME: string; DELETE_RULE: string }>(
      'SELECT k.TABLE_NAME, k.REFERENCED_TABLE_NAME, r.DELETE_RULE ' +
        'FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ' +
        'ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME ' +
        "WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME IN ('bgrs_results', 'bgrs_result_chunks') AND k.COLUMN_NAME = 'rid'",
      [db.name],
    );
    assert.deepEqual(
      keys.map((key) => `${key.TABLE_NAME}.rid → ${key.REFERENCED_TABLE_NAME}.rid ${key.DELETE_RULE}`).sort(),
      ['bgrs_result_chunks.rid → bgrs_results.rid CASCADE', 'bgrs_results.rid → bgrs_requests.rid CASCADE'],
    );
  });

  it("bgrs_jobs (the queue mode's bookkeeping, of its own): rid primary key → bgrs_requests.rid with cascade delete", async () => {
    const columns = await db.query<ColumnRow>(
      'SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA FROM information_schema.COLUMNS ' +
        'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [db.name, 'bgrs_jobs'],
    );
    assert.deepEqual(
      columns.map((row) => [row.COLUMN_NAME, normalizeType(row.COLUMN_TYPE), row.IS_NULLABLE]),
      [
        ['rid', 'char(32)', 'NO'],
        ['attempt', 'int unsigned', 'NO'],
        ['rerun', 'tinyint unsigned', 'NO'],
        ['worker_id', 'char(32)', 'YES'],
        ['queued_at', 'bigint unsigned', 'NO'],
        ['envelope', 'mediumblob', 'NO'],
      ],
    );
    assert.deepEqual(
      (await indexes('bgrs_jobs')).find((index) => index.name === 'PRIMARY'),
      { name: 'PRIMARY', unique: true, columns: 'rid' },
    );
    const rid = randomBytes(16).toString('hex');
    await db.query(
      "INSERT INTO bgrs_requests (rid, user_id, name, created_dt, status_id, progress) VALUES (?, NULL, '/x', NOW(), 2, 0)",
      [rid],
    );
    await db.query('INSERT INTO bgrs_jobs (rid, rerun, queued_at, envelope) VALUES (?, 1, 0, ?)', [
      rid,
      Buffer.from('{}'),
    ]);
    assert.equal(await db.count('bgrs_jobs', 'rid = ? AND attempt = 0', [rid]), 1, 'no run started yet');
    await db.query('DELETE FROM bgrs_requests WHERE rid = ?', [rid]);
    assert.equal(await db.count('bgrs_jobs', 'rid = ?', [rid]), 0);
  });

  it('seeds the six statuses', async () => {
    const rows = await db.query<{ id: number; name: string }>('SELECT id, name FROM bgrs_statuses ORDER BY id');
    assert.deepEqual(
      rows.map((row) => [Number(row.id), row.name]),
      [
        [1, 'created'],
        [2, 'queued'],
        [3, 'processing'],
        [4, 'finished'],
        [5, 'failed'],
        [6, 'cancelled'],
      ],
    );
  });

  it('deleting a request deletes its details (cascade)', async () => {
    const rid = randomBytes(16).toString('hex');
    await db.query(
      "INSERT INTO bgrs_requests (rid, user_id, name, created_dt, status_id, progress) VALUES (?, NULL, '/x', NOW(), 3, 0)",
      [rid],
    );
    await db.query("INSERT INTO bgrs_details (rid, dt, details) VALUES (?, NOW(), 'a'), (?, NOW(), 'b')", [rid, rid]);
    assert.equal(await db.count('bgrs_details', 'rid = ?', [rid]), 2);
    await db.query('DELETE FROM bgrs_requests WHERE rid = ?', [rid]);
    assert.equal(await db.count('bgrs_details', 'rid = ?', [rid]), 0);
  });

  it('synchronize from the entities finds nothing to change', async () => {
    const { upQueries } = await dataSource.driver.createSchemaBuilder().log();
    assert.deepEqual(
      upQueries.map((query) => query.query),
      [],
      'the migrations and the entities disagree',
    );
  });

  it('reverting the migrations drops the tables, and running them again restores them', async () => {
    for (let step = 0; step < bgrsMigrations.length; step++) {
      await dataSource.undoLastMigration();
    }
    const remaining = await db.query<{ TABLE_NAME: string }>(
      "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'bgrs\\_%'",
      [db.name],
    );
    assert.deepEqual(
      remaining.map((row) => row.TABLE_NAME),
      [],
    );

    await dataSource.runMigrations();
    assert.equal(await db.count('bgrs_statuses'), 6);
    assert.deepEqual((await dataSource.driver.createSchemaBuilder().log()).upQueries, []);
  });
});
