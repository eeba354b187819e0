/**
 * Graceful shutdown (README, “Under failure”), with `shutdownGraceMs: 1500`:
 * - `app.close()` in process: while it drains, a new `bgrs` request gets `503` with `Retry-After` (the HTTP server
 *   is still open), a running request that ends within the grace finishes normally, one that does not ends
 *   `failed` ("interrupted by shutdown"), a queued one too; nothing is left `created`/`queued`/`processing`.
 * - A request accepted just before the shutdown began (its record written, its `202` still on the way out) is a
 *   running request too: it gets the grace like the others.
 * - SIGTERM to a real instance (child process with `enableShutdownHooks()`): the same, from the outside.
 */
import 'reflect-metadata';
import {
  Controller,
  Get,
  Injectable,
  Query,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import assert from 'node:assert/strict';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { after, before, describe, it } from 'node:test';
import { concatMap } from 'rxjs';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { BgrsInProcessRunner } from '../src/run/in-process/bgrs-in-process.runner.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { Gates } from './support/gate.js';
import { jsonOf, lookup, sendRaw, submit, waitForStatus, withBgrs, type HttpResponse } from './support/http.js';
import { killAllInstances, startInstance } from './support/instances.js';
import { eventually } from './support/wait.js';

const GRACE_MS = 1500;
/** A deadline for `close()`: the grace, the second wait for stopped handlers (at most 5 s), and slack. */
const CLOSE_DEADLINE_MS = GRACE_MS + Math.min(GRACE_MS, 5000) + Number(process.env.BGRS_TEST_SLACK_MS ?? 10_000);

/** Gates opened by the test, by name. */
const gates = new Gates();

const seen = { started: [] as string[], aborted: new Map<string, string>(), returned: [] as string[] };

@Controller('drain')
class DrainController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('gated')
  @BackgroundCapable()
  async gated(@Query('name') name: string) {
    const rid = this.progress.rid;
    const signal = this.progress.signal!;
    seen.started.push(name);
    await this.progress.report(10, `${name}: started`);
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener(
        'abort',
        () => {
          seen.aborted.set(name, (signal.reason as Error)?.message ?? String(signal.reason));
          resolve();
        },
        { once: true },
      ),
    );
    await Promise.race([gates.wait(name), aborted]);
    if (signal.aborted) {
      throw new Error(`${name}: aborted`);
    }
    seen.returned.push(name);
    return { name, rid, rows: [1, 2, 3].map((i) => ({ i, label: `${name}#${i}` })) };
  }
}

/**
 * A host app's own global interceptor (outside the module's): with `?hold=<name>` it holds the answer until the test
 * opens `hold:<name>`, so the test decides when a 202 leaves, after its record was written.
 */
@Injectable()
class HoldAnswerInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    const hold = context.switchToHttp().getRequest().query?.hold;
    if (typeof hold !== 'string') {
      return next.handle();
    }
    return next.handle().pipe(
      concatMap(async (value: unknown) => {
        await gates.wait(`hold:${hold}`);
        return value;
      }),
    );
  }
}

function assertRetryLater(res: HttpResponse, what: string): void {
  assert.equal(res.status, 503, `${what}: expected 503, got ${res.status}: ${res.body}`);
  const retryAfter = res.headers['retry-after'];
  assert.ok(retryAfter !== undefined, `${what}: the 503 must carry Retry-After`);
  assert.match(String(retryAfter), /^\d+$/, `${what}: Retry-After in seconds`);
  assert.ok(Number(retryAfter) > 0);
  const body = jsonOf(res);
  assert.equal(body.statusCode, 503);
  assert.equal(body.request, undefined, `${what}: a refused request has no rid`);
}

type Row = {
  rid: string;
  status_id: number;
  status: number | null;
  content_type: string | null;
  result: string | null;
};

describe('graceful shutdown: app.close() (shutdownGraceMs 1500, maxConcurrent 2)', () => {
  let db: TestDatabase;
  let resultDir: string;
  let app: AppOnDatabase | undefined;
  let closing: Promise<void> | undefined;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-shutdown-'));
    app = await startAppOn({
      url: db.url,
      resultDir,
      controllers: [DrainController],
      bgrs: { shutdownGraceMs: GRACE_MS, maxConcurrent: 2, leaseMs: 3000 },
    });
  });

  after(async () => {
    gates.openAll();
    await (closing ?? app?.close())?.catch(() => undefined);
    await disposeScratch(db, resultDir);
  });

  it(
    'refuses new requests with 503 + Retry-After, lets the grace run out, fails what did not end',
    { timeout: 120_000 },
    async () => {
      const { http } = app!;
      const within = await submit(http, { path: '/drain/gated?name=within' });
      const beyond = await submit(http, { path: '/drain/gated?name=beyond' });
      const queued = await submit(http, { path: '/drain/gated?name=queued' });
      await waitForStatus(http, within, 'processing');
      await waitForStatus(http, beyond, 'processing');
      assert.equal((await lookup(http, queued)).status_name, 'queued');
      await eventually('both running handlers to start', async () =>
        seen.started.includes('within') && seen.started.includes('beyond') ? true : undefined,
      );

      const runner = app!.app.get(BgrsInProcessRunner, { strict: false });
      closing = app!.close();
      await eventually('the app to start draining', async () => (runner.accepting ? undefined : true));

      // The HTTP server is still open during the grace: lookups answer, new background requests are refused.
      const late = await sendRaw(http, { path: withBgrs('/drain/gated?name=late') });
      assertRetryLater(late, 'a background request during shutdown');
      const viaPrefer = await sendRaw(http, {
        path: '/drain/gated?name=late-prefer',
        headers: { Prefer: 'respond-async' },
      });
      assertRetryLater(viaPrefer, 'Prefer: respond-async during shutdown');
      assert.equal((await lookup(http, beyond)).status_name, 'processing');

      // One request ends within the grace; the other never does.
      gates.open('within');
      await Promise.race([
        closing,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('app.close() did not end')), CLOSE_DEADLINE_MS).unref(),
        ),
      ]);

      assert.ok(!seen.started.includes('late') && !seen.started.includes('late-prefer'), 'refused handlers never ran');
      assert.ok(seen.aborted.has('beyond'), "the interrupted handler's ProgressReporter.signal aborted");
      assert.ok(!seen.aborted.has('within'));

      const rows = await db.query<Row>(
        'SELECT rid, status_id, status, content_type, result FROM bgrs_requests ORDER BY id',
      );
      assert.deepEqual(
        rows.map((row) => row.rid),
        [within, beyond, queued],
        'exactly the three accepted requests are recorded (the refused ones are not)',
      );
      const byRid = new Map(rows.map((row) => [row.rid, row]));

      const finished = byRid.get(within)!;
      assert.equal(Number(finished.status_id), 4, 'the request that ended within the grace is finished');
      assert.equal(Number(finished.status), 200);
      assert.match(String(finished.content_type), /^application\/json/);
      const body = JSON.parse((await db.storedResult(finished.result!)).toString('utf8'));
      assert.deepEqual(body, {
        name: 'within',
        rid: within,
        rows: [1, 2, 3].map((i) => ({ i, label: `within#${i}` })),
      });

      for (const rid of [beyond, queued]) {
        const row = byRid.get(rid)!;
        assert.equal(Number(row.status_id), 5, `${rid} is failed`);
        assert.equal(row.result, null);
        const details = await db.query<{ details: string }>(
          'SELECT details FROM bgrs_details WHERE rid = ? ORDER BY id',
          [rid],
        );
        assert.ok(
          details.some((detail) => detail.details === 'interrupted by shutdown'),
          `${rid}: a details row "interrupted by shutdown", got ${JSON.stringify(details)}`,
        );
      }
      assert.equal(
        await db.count('bgrs_requests', 'status_id IN (1, 2, 3)'),
        0,
        'nothing is left created/queued/processing',
      );
    },
  );
});

describe('graceful shutdown: a request accepted just before app.close() (its 202 still on the way out)', () => {
  let db: TestDatabase;
  let resultDir: string;
  let app: AppOnDatabase | undefined;
  let closing: Promise<void> | undefined;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-shutdown-edge-'));
    app = await startAppOn({
      url: db.url,
      resultDir,
      controllers: [DrainController],
      bgrs: { shutdownGraceMs: GRACE_MS, leaseMs: 3000 },
      // In the root module, so that it is outside the module's interceptor: it holds the early answer itself.
      providers: [{ provide: APP_INTERCEPTOR, useClass: HoldAnswerInterceptor }],
    });
  });

  after(async () => {
    gates.openAll();
    await (closing ?? app?.close())?.catch(() => undefined);
    await disposeScratch(db, resultDir);
  });

  it('runs within the grace and finishes, like any running request', { timeout: 120_000 }, async () => {
    const { http } = app!;
    // Keeps the drain waiting for the whole grace.
    const blocker = await submit(http, { path: '/drain/gated?name=edge-blocker' });
    await waitForStatus(http, blocker, 'processing');
    await eventually('the blocker to start', async () => (seen.started.includes('edge-blocker') ? true : undefined));

    gates.open('edge'); // its handler may return as soon as it runs
    // Sent now (a supertest request goes out when it is awaited or `then`ed), answered when the test says.
    const answer = sendRaw(http, { path: withBgrs('/drain/gated?name=edge&hold=edge') }).then((res) => res);
    const [row] = await eventually('the edge request to be recorded', async () => {
      const rows = await db.query<{ rid: string; status_id: number }>(
        "SELECT rid, status_id FROM bgrs_requests WHERE name LIKE '%name=edge&%'",
      );
      return rows.length > 0 ? rows : undefined;
    });
    assert.equal(Number(row.status_id), 3, 'accepted with a run slot: processing');

    const runner = app!.app.get(BgrsInProcessRunner, { strict: false });
    closing = app!.close();
    await eventually('the app to start draining', async () => (runner.accepting ? undefined : true));
    gates.open('hold:edge');
    const res = await answer;
    assert.equal(res.status, 202, `it was accepted before the shutdown began: ${res.status} ${res.body}`);
    assert.equal(jsonOf(res).request, row.rid);

    await Promise.race([
      closing,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('app.close() did not end')), CLOSE_DEADLINE_MS).unref(),
      ),
    ]);
    const [edge] = await db.query<Row>(
      'SELECT rid, status_id, status, content_type, result FROM bgrs_requests WHERE rid = ?',
      [row.rid],
    );
    const details = await db.query<{ details: string }>('SELECT details FROM bgrs_details WHERE rid = ? ORDER BY id', [
      row.rid,
    ]);
    assert.equal(
      Number(edge.status_id),
      4,
      `a request accepted before the shutdown gets the grace and finishes: ${JSON.stringify(edge)} ${JSON.stringify(details)}`,
    );
    assert.ok(seen.returned.includes('edge'), 'its handler ran');
    assert.deepEqual(JSON.parse((await db.storedResult(edge.result!)).toString('utf8')), {
      name: 'edge',
      rid: row.rid,
      rows: [1, 2, 3].map((i) => ({ i, label: `edge#${i}` })),
    });
    assert.equal(
      await db.count('bgrs_requests', 'status_id IN (1, 2, 3)'),
      0,
      'nothing is left created/queued/processing',
    );
  });
});

describe('graceful shutdown: SIGTERM to a real instance (enableShutdownHooks, shutdownGraceMs 1500)', () => {
  let db: TestDatabase;
  let resultDir: string;

  before(async () => {
    ({ db, resultDir } = await createScratch('bgrs-sigterm-'));
  });

  after(async () => {
    await killAllInstances();
    await disposeScratch(db, resultDir);
  });

  it(
    'drains on SIGTERM: 503 for new requests, the one that ends in time is finished, the other failed',
    { timeout: 120_000 },
    async () => {
      const instance = await startInstance({
        name: 'S',
        dbUrl: db.url,
        resultDir,
        bgrs: { shutdownGraceMs: GRACE_MS, leaseMs: 3000 },
      });
      const { http } = instance;
      const within = await submit(http, { path: '/work/long?name=sig-within' });
      const beyond = await submit(http, { path: '/work/long?name=sig-beyond' });
      await waitForStatus(http, within, 'processing');
      await waitForStatus(http, beyond, 'processing');
      await eventually('both handlers to start', async () =>
        (await instance.state()).started.length === 2 ? true : undefined,
      );

      instance.child.kill('SIGTERM');
      await eventually('the instance to start draining', async () =>
        (await instance.state()).accepting === false ? true : undefined,
      );
      const refused = await sendRaw(http, { path: withBgrs('/work/quick?name=after-sigterm') });
      assertRetryLater(refused, 'a background request after SIGTERM');

      await instance.release('sig-within');
      const exit = await Promise.race([
        instance.exited,
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`the instance did not exit after SIGTERM\n${instance.log}`)),
            CLOSE_DEADLINE_MS,
          ).unref(),
        ),
      ]);
      assert.ok(
        exit.code === 0 || exit.signal === 'SIGTERM',
        `a graceful exit, got ${JSON.stringify(exit)}\n${instance.log}`,
      );

      const rows = await db.query<Row>('SELECT rid, status_id, status, content_type, result FROM bgrs_requests');
      const byRid = new Map(rows.map((row) => [row.rid, row]));
      assert.equal(rows.length, 2, 'the refused request is not recorded');
      const finished = byRid.get(within)!;
      assert.equal(Number(finished.status_id), 4, `sig-within finished: ${JSON.stringify(finished)}`);
      assert.equal(Number(finished.status), 200);
      assert.deepEqual(JSON.parse((await db.storedResult(finished.result!)).toString('utf8')), {
        name: 'sig-within',
        rid: within,
        instance: 'S',
      });
      const failed = byRid.get(beyond)!;
      assert.equal(Number(failed.status_id), 5, `sig-beyond failed: ${JSON.stringify(failed)}`);
      const details = await db.query<{ details: string }>(
        'SELECT details FROM bgrs_details WHERE rid = ? ORDER BY id',
        [beyond],
      );
      assert.ok(
        details.some((detail) => detail.details === 'interrupted by shutdown'),
        JSON.stringify(details),
      );
      assert.equal(
        await db.count('bgrs_requests', 'status_id IN (1, 2, 3)'),
        0,
        'nothing is left created/queued/processing',
      );
    },
  );
});
