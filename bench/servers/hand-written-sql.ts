/**
 * What the hand-written baselines of rows 2 and 6 send and answer, shared by the `node:http` server (the limit)
 * and the routes in the Nest app (the peer): a mysql2 pool of 10 connections, as TypeORM's default, and plain
 * `query` with placeholders, as TypeORM's MySQL driver sends them.
 */
import { randomBytes } from 'node:crypto';
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise';
import { MARIADB, type ServerStats } from './ipc.js';

/** The indexed SELECT of `GET /bgrs/<rid>`, joined with the status name. */
export const LOOKUP_SQL =
  'SELECT r.id, r.rid, r.user_id, r.name, r.created_dt, r.status_id, s.name AS status_name, r.progress, ' +
  'r.finished_dt, r.status, r.content_type, r.result ' +
  'FROM bgrs_requests r INNER JOIN bgrs_statuses s ON s.id = r.status_id WHERE r.rid = ?';
/** One row of the shape of an acceptance's INSERT into `bgrs_requests`. */
const INSERT_SQL =
  'INSERT INTO bench_requests (rid, user_id, name, created_dt, status_id, progress) VALUES (?, NULL, ?, ?, 3, 0)';
export const RID = /^[0-9a-f]{32}$/;

export function createPool(database: string): Pool {
  return mysql.createPool({ ...MARIADB, database, connectionLimit: 10, dateStrings: true });
}

/** `bench_requests`: a copy of `bgrs_requests` (made by the migrations) with its foreign key. Made once per run. */
export async function createAcceptTable(pool: Pool): Promise<void> {
  await pool.query('CREATE TABLE IF NOT EXISTS bench_requests LIKE bgrs_requests');
  await pool.query(
    'ALTER TABLE bench_requests ADD CONSTRAINT FK_bench_requests_status FOREIGN KEY (status_id) REFERENCES bgrs_statuses (id)',
  );
}

/** INSERTs one row named `name` into `bench_requests`; answers its rid. */
export async function insertRequest(pool: Pool, stats: ServerStats, name: string): Promise<string> {
  const rid = randomBytes(16).toString('hex');
  const now = new Date();
  now.setMilliseconds(0);
  stats.queries++;
  await pool.query(INSERT_SQL, [rid, name, now]);
  return rid;
}

/** The lookup's rows, every column as a string or null, as the lookup endpoint renders them. */
export async function lookupRows(
  pool: Pool,
  stats: ServerStats,
  rid: string,
): Promise<Array<Record<string, string | null>>> {
  stats.queries++;
  const [rows] = await pool.query<RowDataPacket[]>(LOOKUP_SQL, [rid]);
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([key, value]) => [key, value === null ? null : String(value)])),
  );
}
