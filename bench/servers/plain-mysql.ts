/**
 * The hand-written baseline of rows 2 and 6, in its own process: `node:http` and a mysql2 pool (10 connections,
 * as TypeORM's default), plain `query` with placeholders as TypeORM's MySQL driver sends them.
 *
 * - `GET /accept`: INSERTs one row into `bench_requests` (the shape of `bgrs_requests`, its foreign key included)
 *   and answers `202 {"request": rid}`.
 * - `GET /lookup/<rid>`: the indexed SELECT of `GET /bgrs/<rid>` (joined with the status name), rendered the same way.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { announce, ENV, MARIADB, requiredEnv, type ServerStats } from './ipc.js';

const LOOKUP_SQL =
  'SELECT r.id, r.rid, r.user_id, r.name, r.created_dt, r.status_id, s.name AS status_name, r.progress, ' +
  'r.finished_dt, r.status, r.content_type, r.result ' +
  'FROM bgrs_requests r INNER JOIN bgrs_statuses s ON s.id = r.status_id WHERE r.rid = ?';
const INSERT_SQL =
  'INSERT INTO bench_requests (rid, user_id, name, created_dt, status_id, progress) VALUES (?, NULL, ?, ?, 3, 0)';
const RID = /^[0-9a-f]{32}$/;

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/** Every column as a string, or null, as the lookup endpoint renders it. */
function asStrings(row: RowDataPacket): Record<string, string | null> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, value === null ? null : String(value)]));
}

async function main(): Promise<void> {
  const pool = mysql.createPool({
    ...MARIADB,
    database: requiredEnv(ENV.database),
    connectionLimit: 10,
    dateStrings: true,
  });
  await pool.query('CREATE TABLE IF NOT EXISTS bench_requests LIKE bgrs_requests');
  await pool.query(
    'ALTER TABLE bench_requests ADD CONSTRAINT FK_bench_requests_status FOREIGN KEY (status_id) REFERENCES bgrs_statuses (id)',
  );

  const stats: ServerStats = { queries: 0, progressWrites: 0 };
  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    const handle = async () => {
      if (url.startsWith('/accept')) {
        const rid = randomBytes(16).toString('hex');
        const now = new Date();
        now.setMilliseconds(0);
        stats.queries++;
        await pool.query(INSERT_SQL, [rid, url, now]);
        send(response, 202, { request: rid }, { Location: `/lookup/${rid}` });
        return;
      }
      const rid = /^\/lookup\/([^/?]+)/.exec(url)?.[1];
      if (rid !== undefined) {
        if (!RID.test(rid)) {
          send(response, 400, { statusCode: 400, message: 'Not a request id' });
          return;
        }
        stats.queries++;
        const [rows] = await pool.query<RowDataPacket[]>(LOOKUP_SQL, [rid]);
        if (rows.length === 0) {
          send(response, 404, { statusCode: 404, message: 'Not found' });
          return;
        }
        send(response, 200, rows.map(asStrings));
        return;
      }
      send(response, 404, { statusCode: 404, message: 'Not found' });
    };
    handle().catch((error: Error) => send(response, 500, { statusCode: 500, message: error.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  announce(
    (server.address() as AddressInfo).port,
    async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
    () => ({ ...stats }),
  );
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
