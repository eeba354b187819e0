/**
 * A host app set up the way Nest's docs set one up (global prefix, URI versioning, a bearer-token guard,
 * `ValidationPipe`, `ClassSerializerInterceptor` and a response-wrapping interceptor in the root module, a base
 * CRUD controller, `@Res()`, `@Redirect()`, `@Sse()`), on Express and Fastify. Whatever the setup, `?bgrs=yes`
 * answers exactly `202 {"request": rid}` with a `Location` that answers the record, and the stored result is the
 * foreground response byte for byte.
 */
import {
  BadRequestException,
  ClassSerializerInterceptor,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Param,
  Query,
  Redirect,
  RequestTimeoutException,
  Res,
  Sse,
  ValidationPipe,
  VersioningType,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type MessageEvent,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, HttpAdapterHost, Reflector } from '@nestjs/core';
import { Exclude, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { catchError, map, of, throwError, timeout, TimeoutError, type Observable } from 'rxjs';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { adapters, startTestApp, type TestAdapter, type TestApp } from './support/app.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { Gates } from './support/gate.js';
import {
  jsonOf,
  lookup,
  RID_PATTERN,
  sendRaw,
  waitForStatus,
  withBgrs,
  type HttpResponse,
  type RawRequest,
} from './support/http.js';

const TOKEN = 'Bearer host-token';
const AUTH = { Authorization: TOKEN };
const gates = new Gates();

/** The bearer-token guard of the docs' authentication chapter, as `APP_GUARD`. */
@Injectable()
class BearerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    if (request.headers.authorization !== TOKEN) {
      return false;
    }
    request.user = { id: 7 };
    return true;
  }
}

/** The docs' response mapping interceptor: `{ data }` around every answer. */
@Injectable()
class TransformInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((data) => ({ data })));
  }
}

/**
 * The docs' timeout interceptor, exempting background runs the way the README says: a background run is told
 * apart by `ProgressReporter.rid`.
 */
@Injectable()
class TimeoutInterceptor implements NestInterceptor {
  constructor(private readonly progress: ProgressReporter) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.progress.rid) {
      return next.handle();
    }
    return next.handle().pipe(
      timeout(200),
      catchError((error) => throwError(() => (error instanceof TimeoutError ? new RequestTimeoutException() : error))),
    );
  }
}

class UserEntity {
  id: number;
  name: string;
  @Exclude()
  passwordHash: string;

  constructor(values: UserEntity) {
    Object.assign(this, values);
  }
}

class ReportQuery {
  @Type(() => Number)
  @IsInt()
  @Min(2000)
  @Max(2100)
  year: number;

  @IsOptional()
  @IsIn(['csv', 'json'])
  t?: string;
}

/** A base CRUD controller of the kind hosts share between resources. */
abstract class CrudController {
  protected abstract readonly items: Array<{ id: number; name: string }>;

  @Get()
  findAll() {
    return this.items;
  }

  @Get(':id')
  findOne(@Param('id') id: string) {
    return this.items.find((item) => String(item.id) === id) ?? null;
  }
}

@Controller('items')
@BackgroundCapable()
class ItemsController extends CrudController {
  protected readonly items = [
    { id: 1, name: 'mug' },
    { id: 2, name: 'cup' },
  ];
}

/** A base whose own method is marked, used by a controller that is not. */
abstract class ExportsBase {
  @Get('everything')
  @BackgroundCapable()
  everything() {
    return { export: 'everything', rows: 3 };
  }
}

@Controller('exports')
class ExportsController extends ExportsBase {}

@Controller('host')
@BackgroundCapable()
class HostController {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  @Get('me')
  me() {
    return new UserEntity({ id: 7, name: 'Ann', passwordHash: 'secret-hash' });
  }

  @Get('report')
  report(@Query() query: ReportQuery) {
    return { year: query.year, yearType: typeof query.year, keys: Object.keys(query).sort() };
  }

  /** Answers through the response itself, later than the handler returns. */
  @Get('raw')
  raw(@Res() response: unknown, @Query('name') name: string): void {
    const { httpAdapter } = this.adapterHost;
    setImmediate(() => {
      httpAdapter.status(response, 201);
      httpAdapter.setHeader(response, 'X-Raw', 'written by the handler');
      httpAdapter.reply(response, { raw: true, name });
    });
  }

  @Get('raw-error')
  rawError(@Res() _response: unknown): void {
    throw new BadRequestException('refused by a handler that answers itself');
  }

  @Get('go')
  @Redirect('https://docs.example.com/start', 301)
  go(@Query('version') version?: string) {
    return version ? { url: `https://docs.example.com/v${version}/start`, statusCode: 302 } : undefined;
  }

  @Sse('ticks')
  ticks(): Observable<MessageEvent> {
    return of({ data: { tick: 1 } }, { data: { tick: 2 } });
  }

  /** Slower than the timeout interceptor allows a foreground answer. */
  @Get('slow')
  async slow(@Query('gate') gate: string) {
    await gates.wait(gate);
    return { slow: 'but finished' };
  }

  /** A value the platform cannot serialize: the foreground answer is Nest's 500. */
  @Get('circular')
  circular() {
    const value: Record<string, unknown> = { name: 'loop' };
    value.self = value;
    return value;
  }

  @Get('plain')
  @HttpCode(200)
  plain() {
    return { plain: true };
  }
}

@Controller('closed')
class NotCapableController {
  @Get()
  plain() {
    return { capable: false };
  }
}

/** Registers the wrapper from a module imported before `BgrsModule`. */
@Module({ providers: [{ provide: APP_INTERCEPTOR, useClass: TransformInterceptor }] })
class TransformBeforeModule {}

const CONTROLLERS = [HostController, ItemsController, ExportsController, NotCapableController];

/** The answer as text, to compare bytes and show them. */
function textOf(res: HttpResponse): string {
  return Buffer.isBuffer(res.body) ? res.body.toString('utf8') : res.text;
}

/** Accepts `request` in the background and checks the early answer is exactly the README's “Turning a request into a background request”. Returns the rid. */
async function accept(testApp: TestApp, request: RawRequest): Promise<{ rid: string; location: string }> {
  const accepted = await sendRaw(testApp.http, {
    ...request,
    path: withBgrs(request.path),
    headers: { ...AUTH, ...request.headers },
  });
  assert.equal(accepted.status, 202, `expected 202, got ${accepted.status}: ${textOf(accepted)}`);
  const rid = jsonOf(accepted).request;
  assert.match(rid, RID_PATTERN);
  assert.equal(textOf(accepted), JSON.stringify({ request: rid }), 'the early answer is exactly {"request": rid}');
  assert.equal(accepted.headers['content-type'], 'application/json; charset=utf-8');
  return { rid, location: accepted.headers.location };
}

/** Runs `request` in the foreground and in the background; the stored result replays the foreground bytes. */
async function assertSameAsForeground(testApp: TestApp, prefix: string, request: RawRequest): Promise<HttpResponse> {
  const foreground = await sendRaw(testApp.http, { ...request, headers: { ...AUTH, ...request.headers } });
  const { rid } = await accept(testApp, request);
  await waitForStatus(http(testApp, prefix), rid, 'finished');
  const replay = await sendRaw(testApp.http, { path: `${prefix}/bgrs/${rid}/result`, headers: AUTH });
  const both = `\n  foreground: ${foreground.status} ${textOf(foreground)}\n  replay:     ${replay.status} ${textOf(replay)}`;
  assert.equal(replay.status, foreground.status, `status differs${both}`);
  assert.equal(replay.headers['content-type'], foreground.headers['content-type'], `Content-Type differs${both}`);
  assert.equal(replay.headers.location, foreground.headers.location, `Location differs${both}`);
  assert.ok(replay.body.equals(foreground.body), `body bytes differ${both}`);
  return foreground;
}

/** The test app's client with the bearer token, under the lookup prefix: `waitForStatus` takes it as it is. */
function http(testApp: TestApp, prefix: string) {
  const base = testApp.http;
  return {
    get: (path: string) => base.get(path.replace(/^\/bgrs/, `${prefix}/bgrs`)).set(AUTH),
  } as unknown as TestApp['http'];
}

interface HostSetup {
  name: string;
  /** The lookup routes' prefix, as the app's prefix and versioning put it. */
  prefix: string;
  options: Parameters<typeof startTestApp>[0];
}

const SETUPS: HostSetup[] = [
  {
    name: 'APP_INTERCEPTOR in the root module, global prefix and URI versioning',
    prefix: '/api/v1',
    options: {
      providers: [
        { provide: APP_GUARD, useClass: BearerGuard },
        { provide: APP_INTERCEPTOR, useClass: TransformInterceptor },
        { provide: APP_INTERCEPTOR, useClass: ClassSerializerInterceptor },
        { provide: APP_INTERCEPTOR, useClass: TimeoutInterceptor },
      ],
      configure: (app: INestApplication) => {
        app.setGlobalPrefix('api');
        app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
        app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
      },
    },
  },
  {
    name: 'app.useGlobalInterceptors() and a module imported before BgrsModule',
    prefix: '',
    options: {
      importsBefore: [TransformBeforeModule],
      providers: [{ provide: APP_GUARD, useClass: BearerGuard }],
      configure: (app: INestApplication) => {
        app.useGlobalInterceptors(new ClassSerializerInterceptor(app.get(Reflector)), app.get(TimeoutInterceptor));
        app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
      },
    },
  },
];

function hostAppSuite(adapter: TestAdapter, setup: HostSetup): void {
  describe(setup.name, () => {
    let testApp: TestApp;
    const prefix = setup.prefix;
    const suite = `${adapter.platform}-${SETUPS.indexOf(setup)}`;
    const logger = new KeepingLogger(true);

    before(async () => {
      testApp = await startTestApp({
        adapter,
        controllers: CONTROLLERS,
        bgrs: { maxConcurrent: 2 },
        logger,
        ...setup.options,
        providers: [...(setup.options?.providers ?? []), TimeoutInterceptor],
      });
    });

    after(async () => {
      gates.openAll();
      await testApp?.close();
    });

    it('answers 202 with exactly {"request": rid}, and stores the serialized, wrapped foreground answer', async () => {
      const foreground = await assertSameAsForeground(testApp, prefix, { path: `${prefix}/host/me` });
      assert.deepEqual(jsonOf(foreground), { data: { id: 7, name: 'Ann' } }, 'the @Exclude()d field is not served');
    });

    it('gives a Location that answers the record, and records the guard’s user', async () => {
      const { rid, location } = await accept(testApp, { path: `${prefix}/host/plain` });
      assert.equal(location, `${prefix}/bgrs/${rid}`);
      const record = await lookup(http(testApp, prefix), rid);
      assert.equal(record.user_id, '7');
      const res = await testApp.http.get(location).set(AUTH);
      assert.equal(res.status, 200, `GET ${location} answered ${res.status}: ${res.text}`);
    });

    it('keeps bgrs out of the query the pipes and the handler see; the record keeps the original URL', async () => {
      const path = `${prefix}/host/report?year=2024&t=csv`;
      const foreground = await assertSameAsForeground(testApp, prefix, { path });
      assert.deepEqual(jsonOf(foreground).data, { year: 2024, yearType: 'number', keys: ['t', 'year'] });
      const { rid } = await accept(testApp, { path });
      assert.equal((await lookup(http(testApp, prefix), rid)).name, withBgrs(path));
    });

    it('still refuses an invalid query at once, as without bgrs', async () => {
      const res = await sendRaw(testApp.http, { path: withBgrs(`${prefix}/host/report?year=twenty`), headers: AUTH });
      assert.equal(res.status, 400);
      assert.equal(await testApp.db.count('bgrs_requests', 'name LIKE ?', ['%year=twenty%']), 0);
    });

    it('@Res() without passthrough: the 202 goes out, and what the handler writes is the result', async () => {
      const foreground = await assertSameAsForeground(testApp, prefix, { path: `${prefix}/host/raw?name=r1` });
      assert.equal(foreground.status, 201);
      assert.equal(foreground.headers['x-raw'], 'written by the handler');
    });

    it('@Res() whose handler throws: the result is the error the foreground answered', async () => {
      const foreground = await assertSameAsForeground(testApp, prefix, { path: `${prefix}/host/raw-error` });
      assert.equal(foreground.status, 400);
    });

    it('@Redirect(): the 202 goes out, and the result is the redirect (status and Location)', async () => {
      const fixed = await assertSameAsForeground(testApp, prefix, { path: `${prefix}/host/go` });
      assert.equal(fixed.status, 301);
      assert.equal(fixed.headers.location, 'https://docs.example.com/start');
      // The handler's own URL (which the wrapping interceptor hides from Nest here, in the foreground too).
      await assertSameAsForeground(testApp, prefix, { path: `${prefix}/host/go?version=2` });
    });

    it('routes inherited from a base controller run in the background (class-level and base-method marks)', async () => {
      await assertSameAsForeground(testApp, prefix, { path: `${prefix}/items` });
      await assertSameAsForeground(testApp, prefix, { path: `${prefix}/items/2` });
      await assertSameAsForeground(testApp, prefix, { path: `${prefix}/exports/everything` });
    });

    it('an @Sse() route of a capable controller is not capable: bgrs=yes is a 400, Prefer is ignored', async () => {
      const before = await testApp.db.count('bgrs_requests');
      const refused = await sendRaw(testApp.http, { path: withBgrs(`${prefix}/host/ticks`), headers: AUTH });
      assert.equal(refused.status, 400, textOf(refused));
      assert.match(jsonOf(refused).message, /cannot run in the background/);
      const preferred = await sendRaw(testApp.http, {
        path: `${prefix}/host/ticks`,
        headers: { ...AUTH, Prefer: 'respond-async' },
      });
      assert.equal(preferred.status, 200);
      assert.match(preferred.headers['content-type'], /^text\/event-stream/);
      assert.equal(await testApp.db.count('bgrs_requests'), before, 'nothing is recorded');
      // Both run slots (maxConcurrent 2) are still free: the next request runs at once.
      const { rid } = await accept(testApp, { path: `${prefix}/host/plain` });
      assert.notEqual((await lookup(http(testApp, prefix), rid)).status_name, 'queued');
    });

    it('Prefer: respond-async on a route that cannot (a lookup route too) answers as without it', async () => {
      const res = await sendRaw(testApp.http, {
        path: `${prefix}/closed`,
        headers: { ...AUTH, Prefer: 'respond-async' },
      });
      assert.equal(res.status, 200, textOf(res));
      assert.equal(res.headers['preference-applied'], undefined);
      const { rid } = await accept(testApp, { path: `${prefix}/host/plain` });
      const record = await sendRaw(testApp.http, {
        path: `${prefix}/bgrs/${rid}`,
        headers: { ...AUTH, Prefer: 'respond-async' },
      });
      assert.equal(record.status, 200, textOf(record));
      const explicit = await sendRaw(testApp.http, { path: withBgrs(`${prefix}/closed`), headers: AUTH });
      assert.equal(explicit.status, 400, 'an explicit bgrs=yes on a route that cannot is still a 400');
    });

    it('a host timeout interceptor that exempts background runs lets a long run finish', async () => {
      const [foregroundGate, backgroundGate] = [`${suite}-fg`, `${suite}-bg`];
      const timedOut = await sendRaw(testApp.http, {
        path: `${prefix}/host/slow?gate=${foregroundGate}`,
        headers: AUTH,
      });
      gates.open(foregroundGate);
      assert.equal(timedOut.status, 408, 'the foreground answer is timed out');
      const { rid } = await accept(testApp, { path: `${prefix}/host/slow?gate=${backgroundGate}` });
      // Held past the interceptor's timeout, then let go.
      await sleep(400);
      gates.open(backgroundGate);
      const record = await waitForStatus(http(testApp, prefix), rid, 'finished');
      assert.equal(record.status, '200');
    });

    it('a value the platform cannot send ends as the foreground 500', async () => {
      const foreground = await assertSameAsForeground(testApp, prefix, { path: `${prefix}/host/circular` });
      assert.equal(foreground.status, 500);
      assert.equal(
        logger.problems(/circular|call stack/i).length,
        2,
        'Nest logs the error of the foreground answer and of the background run alike',
      );
    });
  });
}

for (const adapter of adapters) {
  describe(`${adapter.name}: a host app set up the Nest docs' way`, () => {
    for (const setup of SETUPS) {
      hostAppSuite(adapter, setup);
    }
  });
}
