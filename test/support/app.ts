import type { INestApplication } from '@nestjs/common';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { expressAdapter, type TestAdapter } from './adapters.js';
import { startAppOn, type AppSetup } from './app-on-database.js';
import { TestDatabase } from './database.js';
import type { HttpClient } from './http.js';

export { adapters, expressAdapter, fastifyAdapter, type TestAdapter } from './adapters.js';

/** How a test app is set up: a database and a result folder of its own are made for it. */
export type TestAppOptions = AppSetup;

export interface TestApp {
  app: INestApplication;
  /** The HTTP platform the app runs on. */
  adapter: TestAdapter;
  /** Requests to the app listening on 127.0.0.1 (a real port, so that many may run at once). */
  http: HttpClient;
  /** The port the app listens on (127.0.0.1), for raw HTTP clients. */
  port: number;
  db: TestDatabase;
  /** The module's `resultDir`, a fresh temp folder. */
  resultDir: string;
  close(): Promise<void>;
}

/**
 * A real Nest app over HTTP (on `options.adapter`, Express unless told) with `BgrsModule` on a database of its own
 * (migrations run at start), as a host app would set it up. `close()` stops it, drops the database and removes the result folder.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = await TestDatabase.create();
  const resultDir = await mkdtemp(join(tmpdir(), 'bgrs-results-'));
  try {
    const started = await startAppOn({ ...options, url: db.url, resultDir });
    return {
      ...started,
      adapter: options.adapter ?? expressAdapter,
      db,
      resultDir,
      close: async () => {
        try {
          await started.close();
        } finally {
          await cleanUp(db, resultDir);
        }
      },
    };
  } catch (error) {
    await cleanUp(db, resultDir);
    throw error;
  }
}

async function cleanUp(db: TestDatabase, resultDir: string): Promise<void> {
  await db.drop();
  await rm(resultDir, { recursive: true, force: true });
}

/** A TypeORM logger that keeps every query with its parameters. */
export class QueryLog implements TypeOrmLogger {
  readonly queries: Array<{ query: string; parameters: unknown[] }> = [];

  logQuery(query: string, parameters?: unknown[] | object): void {
    this.queries.push({ query, parameters: Array.isArray(parameters) ? parameters : parameters ? [parameters] : [] });
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}

  /** The UPDATEs of `bgrs_requests` that set `progress` for one request. */
  progressUpdates(rid: string): string[] {
    return this.queries
      .filter(
        ({ query, parameters }) =>
          /^\s*UPDATE\s+`?bgrs_requests`?\s+SET\b/i.test(query) &&
          /`?progress`?\s*=/i.test(query) &&
          parameters.includes(rid),
      )
      .map(({ query }) => query);
  }
}
