/**
 * The wire format (README, “Lookup endpoints”): the lookup endpoints keep their wire format whatever response-shaping interceptors
 * the host has globally. A host set up the way the Nest docs set one up (a `{ data }` wrapper as `APP_INTERCEPTOR`
 * in the root module, the same with `app.useGlobalInterceptors()`, `ClassSerializerInterceptor` exposing only what
 * is `@Expose()`d) answers every lookup — the record, the details, the listing, the result replay, `DELETE`, the
 * JSON errors and the `/events` stream — with the same status, headers and bytes as a host without interceptors
 * looking up the same requests (two apps on one database). The host's interceptors still run on the lookups.
 */
import 'reflect-metadata';
import {
  ClassSerializerInterceptor,
  Controller,
  Get,
  Injectable,
  Query,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
  type Provider,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, Reflector } from '@nestjs/core';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { map, type Observable } from 'rxjs';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { adapters, type TestAdapter } from './support/app.js';
import { createScratch, disposeScratch, type TestDatabase } from './support/database.js';
import { Gates } from './support/gate.js';
import { detailsOf, lookup, submit, waitForStatus } from './support/http.js';
import { rawRequest, type RawAnswer } from './support/raw-http.js';
import { DEFAULT_DEADLINE_MS, eventually } from './support/wait.js';

const USER = { 'X-User': '7' };
const gates = new Gates();

/** The host's authentication: `X-User: <id>` makes you that user. */
@Injectable()
class HostUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const user = request.headers['x-user'];
    if (typeof user === 'string' && /^[1-9]\d{0,8}$/.test(user)) {
      request.user = { id: Number(user) };
    }
    return true;
  }
}

/** What the `{ data }` wrappers saw: `<METHOD> <url>`. */
const intercepted = new Set<string>();

/** The response mapping of the Nest docs ("Interceptors"): every answer becomes `{ "data": … }`. */
@Injectable()
class TransformInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const { method, url } = context.switchToHttp().getRequest();
    intercepted.add(`${method} ${url}`);
    return next.handle().pipe(map((data: unknown) => ({ data })));
  }
}

@Controller('jobs')
class JobsController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('quick')
  @BackgroundCapable()
  quick() {
    return { job: 'quick' };
  }

  @Get('held')
  @BackgroundCapable()
  async held(@Query('gate') gate: string) {
    await this.progress.report(25, 'a quarter done');
    await gates.wait(gate);
    return { job: 'held' };
  }
}

interface HostSetup {
  name: string;
  providers?: Provider[];
  configure?: (app: INestApplication) => void;
  /** Whether its interceptor is `TransformInterceptor`, which tells what it saw. */
  wraps: boolean;
}

const HOST_SETUPS: HostSetup[] = [
  {
    name: 'a { data } wrapper as APP_INTERCEPTOR in the root module',
    providers: [{ provide: APP_INTERCEPTOR, useClass: TransformInterceptor }],
    wraps: true,
  },
  {
    name: 'a { data } wrapper registered with app.useGlobalInterceptors()',
    configure: (app) => app.useGlobalInterceptors(new TransformInterceptor()),
    wraps: true,
  },
  {
    name: "ClassSerializerInterceptor with strategy 'excludeAll' as APP_INTERCEPTOR",
    providers: [
      {
        provide: APP_INTERCEPTOR,
        inject: [Reflector],
        useFactory: (reflector: Reflector) => new ClassSerializerInterceptor(reflector, { strategy: 'excludeAll' }),
      },
    ],
    wraps: false,
  },
];

type RidName = 'finished' | 'running' | 'cancelled' | 'unknown' | 'malformed';

interface Lookup {
  method: string;
  /** With `<name>` for the rid of that request. */
  path: string;
  /** The stream stays open: compare it up to its first event. */
  firstEvent?: boolean;
}

const LOOKUPS: Lookup[] = [
  { method: 'GET', path: '/bgrs' },
  { method: 'GET', path: '/bgrs?status=finished&limit=5' },
  { method: 'GET', path: '/bgrs?limit=0' },
  ...(['finished', 'running', 'cancelled'] as const).flatMap((name) => [
    { method: 'GET', path: `/bgrs/<${name}>` },
    { method: 'GET', path: `/bgrs/<${name}>/details` },
    { method: 'GET', path: `/bgrs/<${name}>/result` },
  ]),
  { method: 'GET', path: '/bgrs/<finished>/events' },
  { method: 'GET', path: '/bgrs/<cancelled>/events' },
  { method: 'GET', path: '/bgrs/<running>/events', firstEvent: true },
  { method: 'DELETE', path: '/bgrs/<cancelled>' },
  { method: 'DELETE', path: '/bgrs/<finished>' },
  ...(['unknown', 'malformed'] as const).flatMap((name) => [
    { method: 'GET', path: `/bgrs/<${name}>` },
    { method: 'GET', path: `/bgrs/<${name}>/details` },
    { method: 'GET', path: `/bgrs/<${name}>/result` },
    { method: 'GET', path: `/bgrs/<${name}>/events` },
    { method: 'DELETE', path: `/bgrs/<${name}>` },
  ]),
];

/** An answer as the client sees it, but for its `Date`. */
function comparable(answer: RawAnswer): { status: number; headers: object; body: string } {
  const { date: _date, ...headers } = answer.headers;
  return { status: answer.status, headers, body: answer.body.toString('utf8') };
}

/**
 * The start of an event stream that does not end by itself: the status, the headers and the bytes up to the end
 * of its first event; then the client goes away. Fails at the deadline with what came.
 */
function firstEventOf(port: number, path: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const fail = (why: string) => {
      req.destroy();
      reject(new Error(`${path} ${why} before its first event: ${JSON.stringify(String(Buffer.concat(chunks)))}`));
    };
    const deadline = setTimeout(() => fail(`sent nothing more in ${DEFAULT_DEADLINE_MS} ms`), DEFAULT_DEADLINE_MS);
    const req = request({ host: '127.0.0.1', port, path, headers: USER, agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const body = Buffer.concat(chunks);
        // Past the blank line the stream opens with, an event ends with a blank line.
        if (/data: .*\n\n$/s.test(body.toString('utf8'))) {
          clearTimeout(deadline);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        }
      });
      res.on('end', () => {
        clearTimeout(deadline);
        fail('ended');
      });
    });
    req.on('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    req.end();
  });
}

function suite(adapter: TestAdapter): void {
  let db: TestDatabase;
  let resultDir: string;
  /** The host without interceptors: it runs the requests, and its answers are the reference. */
  let plain: AppOnDatabase;
  const rids: Record<RidName, string> = {
    finished: '',
    running: '',
    cancelled: '',
    unknown: randomBytes(16).toString('hex'),
    malformed: 'not-a-rid',
  };

  /** The path of `lookup` for this suite's requests. */
  const pathOf = (lookup: Lookup): string => lookup.path.replace(/<(\w+)>/, (_, name: RidName) => rids[name]);

  function answerOf(app: AppOnDatabase, lookup: Lookup): Promise<RawAnswer> {
    return lookup.firstEvent
      ? firstEventOf(app.port, pathOf(lookup))
      : rawRequest(app.port, lookup.method, pathOf(lookup), USER);
  }

  const hostOptions = () => ({
    adapter,
    url: db.url,
    resultDir,
    controllers: [JobsController],
    providers: [{ provide: APP_GUARD, useClass: HostUserGuard }],
  });

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-host-interceptors-'));
    plain = await startAppOn(hostOptions());
    const { http } = plain;
    rids.finished = await submit(http, { path: '/jobs/quick', headers: USER });
    await waitForStatus(http, rids.finished, 'finished');
    rids.running = await submit(http, { path: `/jobs/held?gate=${adapter.platform}-running`, headers: USER });
    rids.cancelled = await submit(http, { path: `/jobs/held?gate=${adapter.platform}-cancelled`, headers: USER });
    for (const rid of [rids.running, rids.cancelled]) {
      await eventually(`${rid} to report its quarter and its detail`, async () =>
        (await lookup(http, rid)).progress === '25.00' && (await detailsOf(http, rid)).length === 1 ? true : undefined,
      );
    }
    assert.equal((await http.delete(`/bgrs/${rids.cancelled}`).set(USER)).status, 200);
  });

  after(async () => {
    gates.openAll();
    await plain?.close();
    await disposeScratch(db, resultDir);
  });

  for (const setup of HOST_SETUPS) {
    describe(`a host with ${setup.name}`, () => {
      let host: AppOnDatabase;

      before(async () => {
        intercepted.clear();
        const options = hostOptions();
        host = await startAppOn({
          ...options,
          providers: [...options.providers, ...(setup.providers ?? [])],
          configure: setup.configure,
        });
      });

      after(async () => {
        await host?.close();
      });

      for (const lookup of LOOKUPS) {
        it(`${lookup.method} ${lookup.path} answers byte for byte as without interceptors`, async () => {
          assert.deepEqual(comparable(await answerOf(host, lookup)), comparable(await answerOf(plain, lookup)));
        });
      }

      if (setup.wraps) {
        it('still runs its interceptor on the lookups', async () => {
          // Each answered by the handler (not by a guard or a pipe), so every interceptor ran.
          for (const lookup of LOOKUPS.filter(({ path }) => !/<(unknown|malformed)>|limit=0/.test(path))) {
            const seen = `${lookup.method} ${pathOf(lookup)}`;
            assert.ok(intercepted.has(seen), `${seen} in ${JSON.stringify([...intercepted])}`);
          }
        });
      }
    });
  }
}

for (const adapter of adapters) {
  describe(adapter.name, () => suite(adapter));
}
