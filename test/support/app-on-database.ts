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
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { BgrsModule, bgrsMigrations, type BgrsModuleOptions } from '../../src/index.js';
import { expressAdapter, type TestAdapter } from './adapters.js';
import type { HttpClient } from './http.js';

export type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/** Nest's log levels during tests: errors and warnings, or everything with `BGRS_TEST_LOG=1`. */
const LOG_LEVELS: LogLevel[] = process.env.BGRS_TEST_LOG
  ? ['log', 'error', 'warn', 'debug', 'verbose']
  : ['error', 'warn'];

/** How a test app is set up, as a host app would set itself up. */
export interface AppSetup {
  controllers?: Type[];
  providers?: Provider[];
  /** Modules imported after `TypeOrmModule` and `BgrsModule`, in this order. */
  imports?: ModuleImport[];
  /** Modules imported before `BgrsModule` (after `TypeOrmModule`), in this order. */
  importsBefore?: ModuleImport[];
  /** Options of `BgrsModule.forRoot()` beyond the test defaults (the test's `resultDir`, 50 ms progress). */
  bgrs?: BgrsModuleOptions;
  /** How the app imports BgrsModule, given the options above: `BgrsModule.forRoot(options)` unless told. */
  bgrsModule?: (options: BgrsModuleOptions) => DynamicModule;
  /** A TypeORM logger for the module's data source, e.g. to count queries. */
  typeormLogger?: TypeOrmLogger;
  /** mysql2 pool options (TypeORM `extra`), e.g. short connect timeouts for outage tests. */
  extra?: Record<string, unknown>;
  /** The HTTP platform; Express unless told. */
  adapter?: TestAdapter;
  /** Replaces Nest's logger, e.g. a quiet `KeepingLogger` where a test causes errors on purpose. */
  logger?: LoggerService;
  /** Called before the app listens, as a host's `main.ts` would: global prefix, versioning, pipes, interceptors. */
  configure?: (app: INestApplication) => void;
}

export interface AppOnDatabaseOptions extends AppSetup {
  /** `mysql://…/<database>` the app's TypeORM connects to (the test database, or a proxy in front of it). */
  url: string;
  resultDir: string;
}

export interface AppOnDatabase {
  app: INestApplication;
  http: HttpClient;
  port: number;
  /** Closes the app only: the database and the result folder belong to the test. */
  close(): Promise<void>;
}

/**
 * A real Nest app listening on 127.0.0.1 with `BgrsModule` on a database and result folder that the test owns,
 * so that several apps can share them, or the database can be reached through a proxy. Fastify is ready once
 * listening, so both platforms are reached the same way: real HTTP on a real port.
 */
export async function startAppOn(options: AppOnDatabaseOptions): Promise<AppOnDatabase> {
  const bgrsModule = options.bgrsModule ?? ((bgrs: BgrsModuleOptions) => BgrsModule.forRoot(bgrs));
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        // 'mariadb', not 'mysql': on a MariaDB server TypeORM's mysql driver misreads NULL defaults.
        type: 'mariadb',
        url: options.url,
        autoLoadEntities: true,
        migrations: bgrsMigrations,
        migrationsRun: true,
        ...(options.extra ? { extra: options.extra } : {}),
        ...(options.typeormLogger ? { logger: options.typeormLogger, logging: true } : {}),
      }),
      ...(options.importsBefore ?? []),
      bgrsModule({ resultDir: options.resultDir, progressIntervalMs: 50, ...options.bgrs }),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  }).compile();
  const adapter = options.adapter ?? expressAdapter;
  const app = moduleRef.createNestApplication(adapter.create(), { logger: options.logger ?? LOG_LEVELS });
  try {
    options.configure?.(app);
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, http: supertest(`http://127.0.0.1:${port}`), port, close: () => app.close() };
}
