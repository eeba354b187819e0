import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { inlineResultAt } from '../../src/result-store/inline/inline-result-location.js';

/** The MariaDB server the suite runs against (root, no password). */
export const MYSQL_SERVER_URL = process.env.BGRS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

/**
 * A database of its own for one spec file: `bgrs_t_<pid>_<random hex>`, created on the server and dropped in
 * `after`. `query()` reads it with plain mysql2, independently of the module's TypeORM data source.
 */
export class TestDatabase {
  private constructor(
    readonly name: string,
    private readonly connection: mysql.Connection,
  ) {}

  static async create(): Promise<TestDatabase> {
    const name = `bgrs_t_${process.pid}_${randomBytes(4).toString('hex')}`;
    const connection = await mysql.createConnection({ uri: MYSQL_SERVER_URL, multipleStatements: false });
    await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await connection.changeUser({ database: name });
    return new TestDatabase(name, connection);
  }

  /** `mysql://root@127.0.0.1:3306/<name>`, for TypeORM. */
  get url(): string {
    return `${MYSQL_SERVER_URL}/${this.name}`;
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const [rows] = await this.connection.query(sql, params);
    return rows as T[];
  }

  /** Rows of a table (optionally `WHERE <where>`), as a number. */
  async count(table: string, where = '1 = 1', params: unknown[] = []): Promise<number> {
    const [row] = await this.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM \`${table}\` WHERE ${where}`,
      params,
    );
    return Number(row.n);
  }

  /**
   * The bytes a record's `result` names, read where they were written: a result kept in its row (`inline:<rid>`,
   * `inlineResultBytes`) from `result_body`, a result file from the disk.
   */
  async storedResult(location: string): Promise<Buffer> {
    const inline = inlineResultAt(location);
    if (!inline) {
      return readFile(location);
    }
    const [row] = await this.query<{ result_body: Buffer | null }>(
      'SELECT result_body FROM bgrs_requests WHERE rid = ?',
      [inline.rid],
    );
    assert.ok(row?.result_body, `the row of ${inline.rid} holds its result`);
    return row.result_body;
  }

  async drop(): Promise<void> {
    try {
      await this.connection.query(`DROP DATABASE IF EXISTS \`${this.name}\``);
    } finally {
      await this.connection.end();
    }
  }
}

/** A database and a result folder of their own, for one suite. */
export async function createScratch(prefix: string): Promise<{ db: TestDatabase; resultDir: string }> {
  return { db: await TestDatabase.create(), resultDir: await mkdtemp(join(tmpdir(), prefix)) };
}

/** Drops what `createScratch` made; either may be missing when `before` failed early. */
export async function disposeScratch(db: TestDatabase | undefined, resultDir: string | undefined): Promise<void> {
  await db?.drop();
  if (resultDir) {
    await rm(resultDir, { recursive: true, force: true });
  }
}
