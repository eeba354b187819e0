/**
 * The Nest app under test, in its own process: with `BgrsModule` (BENCH_WITH_BGRS=1) or, for row 1's baselines,
 * the very same app without it (BENCH_WITH_BGRS=0): bare, or (BENCH_PEER=1) with what any module with a global
 * interceptor and a request context costs (nestjs-cls, throttler): one empty global interceptor and an
 * `AsyncLocalStorage` in use. TypeORM on the benchmark's MariaDB, with a logger that counts the statements.
 * Every variant also has the routes a Nest developer would write by hand with mysql2 (`/own/…`, rows 2 and 6).
 * BENCH_STORE keeps the results in S3 or in the database instead of files (rows 5b, 5c), with the stores' defaults.
 * BENCH_QUEUE puts it in queue mode (rows q1–q3): an instance that only accepts, or a worker (which also listens, but
 * gets no traffic); its results stay files in the shared result dir, which every instance on this machine reads.
 */
import 'reflect-metadata';
import {
  BadRequestException,
  Controller,
  Get,
  Header,
  HttpCode,
  Injectable,
  Module,
  NotFoundException,
  Optional,
  Param,
  Query,
  Res,
  StreamableFile,
  type CallHandler,
  type DynamicModule,
  type ExecutionContext,
  type NestInterceptor,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Response } from 'express';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { Observable } from 'rxjs';
import {
  BackgroundCapable,
  BgrsModule,
  bgrsMigrations,
  DatabaseResultStore,
  ProgressReporter,
  S3ResultStore,
  type BgrsModuleOptions,
} from 'nestjs-bgrs';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { createPool, insertRequest, lookupRows, RID } from './hand-written-sql.js';
import { announce, ENV, MARIADB, REDIS, requiredEnv, S3RVER_CREDENTIALS, type ServerStats } from './ipc.js';

const SMALL_BODY = { ok: true, items: [1, 2, 3], name: 'nestjs-bgrs benchmark' };
const CHUNK = Buffer.alloc(64 * 1024, 'x');
const RESOLVED = Promise.resolve();

/** The SET clause of an UPDATE of `bgrs_requests`. */
const REQUEST_UPDATE = /^\s*UPDATE\s+`?bgrs_requests`?\s+SET\s+([\s\S]*?)(?:\s+WHERE\s|$)/i;

/**
 * Counts the statements TypeORM sends; a progress write sets `progress` without changing `status_id`.
 * BENCH_LOG_SQL=1 also prints each one.
 */
class QueryCounter implements TypeOrmLogger {
  readonly stats: ServerStats = { queries: 0, progressWrites: 0 };
  private readonly print = process.env.BENCH_LOG_SQL === '1';

  logQuery(query: string, parameters?: unknown[]): void {
    this.stats.queries++;
    if (this.print) {
      console.error(`SQL ${query} -- ${JSON.stringify(parameters ?? [])}`);
    }
    const set = REQUEST_UPDATE.exec(query)?.[1];
    if (set && /\bprogress\b/i.test(set) && !/\bstatus_id\b/i.test(set)) {
      this.stats.progressWrites++;
    }
  }
  logQueryError(error: string | Error, query: string): void {
    console.error(`query failed: ${error instanceof Error ? error.message : error}: ${query.slice(0, 200)}`);
  }
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') {
      console.error(`typeorm: ${String(message)}`);
    }
  }
}

/** The peer app's global interceptor: does nothing, as the cheapest one a module could register. */
@Injectable()
class EmptyInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

/** The mysql2 pool of the hand-written routes, beside TypeORM's own (10 connections each). */
@Injectable()
class HandWrittenPool implements OnApplicationShutdown {
  readonly pool = createPool(requiredEnv(ENV.database));

  onApplicationShutdown(): Promise<void> {
    return this.pool.end();
  }
}

/** The routes a Nest developer would write by hand for rows 2 and 6: mysql2, no BgrsModule code. */
@Controller('own')
class HandWrittenController {
  constructor(
    private readonly sql: HandWrittenPool,
    private readonly counter: QueryCounter,
  ) {}

  /** Row 2's B: INSERTs one row of the shape of an acceptance's, answers `202 {"request": rid}` and a Location. */
  @Get('accept')
  @HttpCode(202)
  async accept(@Res({ passthrough: true }) response: Response) {
    const rid = await insertRequest(this.sql.pool, this.counter.stats, '/own/accept');
    response.setHeader('Location', `/own/lookup/${rid}`);
    return { request: rid };
  }

  /** Row 6's B: the lookup's indexed SELECT, answered as the same JSON. */
  @Get('lookup/:rid')
  @Header('Cache-Control', 'no-store')
  async lookup(@Param('rid') rid: string) {
    if (!RID.test(rid)) {
      throw new BadRequestException('Not a request id');
    }
    const rows = await lookupRows(this.sql.pool, this.counter.stats, rid);
    if (rows.length === 0) {
      throw new NotFoundException();
    }
    return rows;
  }
}

/** `bytes` of generated data, never held whole in memory. */
function generatedStream(bytes: number): Readable {
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const size = Math.min(left, CHUNK.length);
      left -= size;
      this.push(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size));
    },
  });
}

@Controller()
class BenchController {
  constructor(@Optional() private readonly progress?: ProgressReporter) {}

  /** Rows 1 and 7: a plain JSON route. */
  @Get('plain')
  plain() {
    return SMALL_BODY;
  }

  /** Rows 2, 3, 6 and 7: a background-capable route whose handler returns at once. */
  @Get('quick')
  @BackgroundCapable()
  quick() {
    return SMALL_BODY;
  }

  /**
   * Row 4: `n` iterations of `await progress.report(i / (n / 100))`, or (`mode=none`) the same loop awaiting an
   * already resolved promise instead. Answers the loop's own wall time.
   */
  @Get('loop')
  @BackgroundCapable()
  async loop(@Query('mode') mode: string, @Query('n') n: string) {
    const iterations = Number(n);
    const scale = iterations / 100;
    const step = mode === 'report' ? (percent: number) => this.progress!.report(percent) : () => RESOLVED;
    const started = performance.now();
    for (let i = 0; i < iterations; i++) {
      await step(i / scale);
    }
    return { mode, iterations, ms: performance.now() - started };
  }

  /** Rows 5, 5b, 5c: a generated `StreamableFile` of `mib` MiB. */
  @Get('big')
  @BackgroundCapable()
  big(@Query('mib') mib: string) {
    const bytes = Number(mib) * 1024 * 1024;
    return new StreamableFile(generatedStream(bytes), { type: 'application/octet-stream', length: bytes });
  }
}

/** BENCH_STORE as a `resultStore` option: none (files), the database, or S3 (defaults: 8 MiB parts, 4 at once). */
function resultStoreOption(spec = process.env[ENV.store]): Pick<BgrsModuleOptions, 'resultStore'> {
  if (!spec) {
    return {};
  }
  if (spec === 'database') {
    return { resultStore: DatabaseResultStore };
  }
  const url = new URL(spec.replace(/^s3:/, ''));
  const [bucket, ...prefix] = url.pathname.slice(1).split('/');
  const client = { endpoint: url.origin, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS };
  return { resultStore: new S3ResultStore({ bucket, prefix: prefix.join('/'), client }) };
}

/**
 * BENCH_QUEUE (`<name>:api` or `<name>:worker`) as a `queue` option, with its defaults otherwise; `maxQueued` is
 * raised so that row q1's acceptances into a paused queue (several thousand per round) are not refused.
 */
function queueOption(spec = process.env[ENV.queue]): Pick<BgrsModuleOptions, 'queue' | 'maxQueued'> {
  if (!spec) {
    return {};
  }
  const at = spec.lastIndexOf(':');
  return {
    queue: { connection: REDIS, name: spec.slice(0, at), worker: spec.slice(at + 1) === 'worker' },
    maxQueued: 1_000_000,
  };
}

/**
 * The peer's request context. One `run` enables it for good: from then on Node 20 runs its async hooks for every
 * promise of the process, as in the app with BgrsModule once a background request has run.
 */
const requestContext = new AsyncLocalStorage<object>();

function benchAppModule(withBgrs: boolean, peer: boolean, counter: QueryCounter): DynamicModule {
  @Module({})
  class BenchAppModule {}
  return {
    module: BenchAppModule,
    imports: [
      TypeOrmModule.forRoot({
        type: 'mariadb',
        ...MARIADB,
        username: MARIADB.user,
        database: requiredEnv(ENV.database),
        autoLoadEntities: true,
        migrations: bgrsMigrations,
        migrationsRun: true,
        logger: counter,
      }),
      ...(withBgrs
        ? [
            BgrsModule.forRoot({
              resultDir: requiredEnv(ENV.resultDir),
              shutdownGraceMs: 1000,
              ...resultStoreOption(),
              ...queueOption(),
              // The module's default unless set by hand (`BENCH_INLINE_RESULT_BYTES=0 npm run bench`: every result a file).
              ...(process.env.BENCH_INLINE_RESULT_BYTES
                ? { inlineResultBytes: Number(process.env.BENCH_INLINE_RESULT_BYTES) }
                : {}),
            }),
          ]
        : []),
    ],
    controllers: [BenchController, HandWrittenController],
    providers: [
      HandWrittenPool,
      { provide: QueryCounter, useValue: counter },
      ...(peer ? [{ provide: APP_INTERCEPTOR, useClass: EmptyInterceptor }] : []),
    ],
  };
}

async function main(): Promise<void> {
  const counter = new QueryCounter();
  const withBgrs = process.env[ENV.withBgrs] === '1';
  const peer = process.env[ENV.peer] === '1';
  if (peer) {
    requestContext.run({}, () => undefined);
  }
  const app = await NestFactory.create(benchAppModule(withBgrs, peer, counter), { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  // Longer than any pause between a client's requests in one round: with Node's 5 s, a kept-alive socket the
  // measuring client reused after a longer side of q2 was being closed by the server (socket hang up).
  app.getHttpServer().keepAliveTimeout = 120_000;
  const { port } = app.getHttpServer().address() as AddressInfo;
  announce(
    port,
    () => app.close(),
    () => ({ ...counter.stats }),
  );
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
