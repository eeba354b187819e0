import 'reflect-metadata';
import type { DynamicModule, INestApplication, LoggerService, LogLevel, Provider, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { BgrsModule, bgrsMigrations, type BgrsModuleOptions } from '../../src/index.js';
import { expressAdapter, type TestAdapter } from './app.js';
import type { HttpClient } from './http.js';

/** Nest's log levels during tests: errors and warnings, or everything with `BGRS_TEST_LOG=1`. */
const LOG_LEVELS: LogLevel[] = process.env.BGRS_TEST_LOG
  ? ['log', 'error', 'warn', 'debug', 'verbose']
  : ['error', 'warn'];

export interface AppOnDatabaseOptions {
  /** `mysql://…/<database>` the app's TypeORM connects to (the test database, or a proxy in front of it). */
  url: string;
  resultDir: string;
  controllers?: Type[];
  providers?: Provider[];
  imports?: Array<Type | DynamicModule>;
  bgrs?: BgrsModuleOptions;
  /** mysql2 pool options (TypeORM `extra`), e.g. short connect timeouts for outage tests. */
  extra?: Record<string, unknown>;
  /** Replaces Nest's logger, e.g. to keep the warnings the module logs. */
  logger?: LoggerService;
  /** Called before the app listens, e.g. `app.set('query parser', 'extended')`. */
  configure?: (app: INestApplication) => void;
  /** The HTTP platform; Express unless told. */
  adapter?: TestAdapter;
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
 * so that several apps can share them, or the database can be reached through a proxy.
 */
export async function startAppOn(options: AppOnDatabaseOptions): Promise<AppOnDatabase> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        type: 'mariadb',
        url: options.url,
        autoLoadEntities: true,
        migrations: bgrsMigrations,
        migrationsRun: true,
        ...(options.extra ? { extra: options.extra } : {}),
      }),
      BgrsModule.forRoot({ resultDir: options.resultDir, progressIntervalMs: 50, ...options.bgrs }),
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

/** A Nest logger that keeps what is logged (and prints errors and warnings unless told to be quiet). */
export class KeepingLogger implements LoggerService {
  readonly entries: Array<{ level: string; message: string; context?: string }> = [];

  constructor(private readonly quiet = false) {}

  log(message: unknown, context?: string): void {
    this.keep('log', message, context);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.keep('error', message, rest.at(-1) as string | undefined);
  }
  warn(message: unknown, context?: string): void {
    this.keep('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.keep('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.keep('verbose', message, context);
  }

  /** Warnings and errors whose message matches `pattern`. */
  problems(pattern: RegExp = /./): string[] {
    return this.entries
      .filter((entry) => (entry.level === 'warn' || entry.level === 'error') && pattern.test(entry.message))
      .map((entry) => `[${entry.level}] ${entry.context ?? ''}: ${entry.message}`);
  }

  private keep(level: string, message: unknown, context?: string): void {
    const text = message instanceof Error ? (message.stack ?? message.message) : String(message);
    this.entries.push({ level, message: text, context });
    if (!this.quiet && (level === 'warn' || level === 'error' || process.env.BGRS_TEST_LOG)) {
      process.stderr.write(`[${level}] ${context ?? ''}: ${text}\n`);
    }
  }
}
