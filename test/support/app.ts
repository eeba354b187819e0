import 'reflect-metadata';
import type {
  DynamicModule,
  ForwardReference,
  INestApplication,
  LoggerService,
  LogLevel,
  Provider,
  Type,
} from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import supertest from 'supertest';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { BgrsModule, bgrsMigrations, type BgrsModuleOptions } from '../../src/index.js';
import { TestDatabase } from './database.js';
import type { HttpClient } from './http.js';

type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/** An HTTP platform to run a test app on. */
export interface TestAdapter {
  /** The adapter class's name, e.g. for `describe(adapter.name, …)`. */
  name: 'ExpressAdapter' | 'FastifyAdapter';
  /** What the adapter's `getType()` answers. */
  platform: 'express' | 'fastify';
  /** A fresh adapter (with a fresh server) for one app. */
  create(): AbstractHttpAdapter;
}

export const expressAdapter: TestAdapter = {
  name: 'ExpressAdapter',
  platform: 'express',
  create: () => new ExpressAdapter(),
};
export const fastifyAdapter: TestAdapter = {
  name: 'FastifyAdapter',
  platform: 'fastify',
  create: () => new FastifyAdapter(),
};

/** Both HTTP platforms, for suites that run on each: `for (const adapter of adapters) describe(adapter.name, …)`. */
export const adapters: readonly TestAdapter[] = [expressAdapter, fastifyAdapter];

export interface TestAppOptions {
  controllers?: Type[];
  providers?: Provider[];
  /** Modules imported after `TypeOrmModule` and `BgrsModule`, in this order. */
  imports?: ModuleImport[];
  /** Options of `BgrsModule.forRoot()` beyond the test defaults (`resultDir` in a temp folder, 50 ms progress). */
  bgrs?: BgrsModuleOptions;
  /** How the app imports BgrsModule, given those options, e.g. through `forRootAsync()`. `forRoot()` unless told. */
  bgrsModule?: (options: BgrsModuleOptions) => DynamicModule;
  /** A TypeORM logger for the module's data source, e.g. to count queries. */
  typeormLogger?: TypeOrmLogger;
  /** The HTTP platform; Express unless told. */
  adapter?: TestAdapter;
  /** Modules imported before `BgrsModule` (after `TypeOrmModule`), in this order. */
  importsBefore?: ModuleImport[];
  /** Replaces Nest's logger, e.g. a quiet `KeepingLogger` where a test causes errors on purpose. */
  logger?: LoggerService;
  /** Called before the app listens, as a host's `main.ts` would: global prefix, versioning, pipes, interceptors. */
  configure?: (app: INestApplication) => void;
}

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

/** Nest's log levels during tests: errors and warnings, or everything with `BGRS_TEST_LOG=1`. */
const LOG_LEVELS: LogLevel[] = process.env.BGRS_TEST_LOG
  ? ['log', 'error', 'warn', 'debug', 'verbose']
  : ['error', 'warn'];

/**
 * A real Nest app over HTTP (on `options.adapter`, Express unless told) with `BgrsModule` on a database of its own
 * (migrations run at start), as a host app would set it up. `close()` stops it, drops the database and removes the result folder.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const adapter = options.adapter ?? expressAdapter;
  const bgrsModule = options.bgrsModule ?? ((bgrs: BgrsModuleOptions) => BgrsModule.forRoot(bgrs));
  const db = await TestDatabase.create();
  const resultDir = await mkdtemp(join(tmpdir(), 'bgrs-results-'));
  let app: INestApplication | undefined;
  try {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          // 'mariadb', not 'mysql': on a MariaDB server TypeORM's mysql driver misreads NULL defaults.
          type: 'mariadb',
          url: db.url,
          autoLoadEntities: true,
          migrations: bgrsMigrations,
          migrationsRun: true,
          ...(options.typeormLogger ? { logger: options.typeormLogger, logging: true } : {}),
        }),
        ...(options.importsBefore ?? []),
        bgrsModule({ resultDir, progressIntervalMs: 50, ...options.bgrs }),
        ...(options.imports ?? []),
      ],
      controllers: options.controllers ?? [],
      providers: options.providers ?? [],
    }).compile();
    app = moduleRef.createNestApplication(adapter.create(), { logger: options.logger ?? LOG_LEVELS });
    options.configure?.(app);
    // Fastify is ready once listening, so both platforms are reached the same way: real HTTP on a real port.
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const started = app;
    return {
      app: started,
      adapter,
      http: supertest(`http://127.0.0.1:${port}`),
      port,
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
    await app?.close().catch(() => undefined);
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
