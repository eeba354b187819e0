/**
 * The limit of rows 2 and 6, in its own process: `node:http` and the hand-written SQL of `hand-written-sql.ts`,
 * with no framework at all.
 *
 * - `GET /accept`: INSERTs one row into `bench_requests` (the shape of `bgrs_requests`, its foreign key included)
 *   and answers `202 {"request": rid}`.
 * - `GET /lookup/<rid>`: the indexed SELECT of `GET /bgrs/<rid>` (joined with the status name), rendered the same way.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, ENV, requiredEnv, type ServerStats } from './ipc.js';
import { createAcceptTable, createPool, insertRequest, lookupRows, RID } from './hand-written-sql.js';

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

async function main(): Promise<void> {
  const pool = createPool(requiredEnv(ENV.database));
  await createAcceptTable(pool);

  const stats: ServerStats = { queries: 0, progressWrites: 0 };
  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    const handle = async () => {
      if (url.startsWith('/accept')) {
        const rid = await insertRequest(pool, stats, url);
        send(response, 202, { request: rid }, { Location: `/lookup/${rid}` });
        return;
      }
      const rid = /^\/lookup\/([^/?]+)/.exec(url)?.[1];
      if (rid !== undefined) {
        if (!RID.test(rid)) {
          send(response, 400, { statusCode: 400, message: 'Not a request id' });
          return;
        }
        const rows = await lookupRows(pool, stats, rid);
        if (rows.length === 0) {
          send(response, 404, { statusCode: 404, message: 'Not found' });
          return;
        }
        send(response, 200, rows);
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
