import {
  Controller,
  Get,
  Injectable,
  Module,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { map, type Observable } from 'rxjs';
import { BackgroundCapable } from '../src/index.js';
import { adapters, startTestApp, type TestAdapter, type TestApp } from './support/app.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { jsonOf, sendRaw, waitForStatus, withBgrs, type HttpResponse, type RawRequest } from './support/http.js';
import {
  assertBackgroundAnswersAsForeground,
  expectedExtOf,
  isInlined,
  requestOf,
  SAME_BYTES_APP,
  SAME_BYTES_CASES,
} from './support/same-bytes.controller.js';
import { RESULT_KEEPING } from './support/result-keeping.js';

/**
 * Runs `request` in the foreground and in the background, and checks the replayed result, the record and the
 * stored bytes (its row's or its result file's) against the foreground answer. Returns both answers.
 */
async function assertBackgroundReplaysForeground(
  testApp: TestApp,
  request: RawRequest,
  expected: { ext: string; keptHeaders?: string[]; inline: boolean },
): Promise<{ foreground: HttpResponse; replay: HttpResponse }> {
  const { rid, record, foreground, replay } = await assertBackgroundAnswersAsForeground(
    testApp.http,
    request,
    expected.keptHeaders,
  );
  assert.equal(
    record.result,
    expected.inline ? `inline:${rid}` : join(testApp.resultDir, `keep1m.bgrs.${rid}.result.${expected.ext}`),
    "the record's result",
  );
  const stored = await testApp.db.storedResult(record.result!);
  assert.ok(
    stored.equals(foreground.body),
    `the stored result holds other bytes: ${JSON.stringify(stored.toString('latin1'))}`,
  );
  if (expected.inline) {
    const files = (await readdir(testApp.resultDir)).filter((file) => file.includes(rid));
    assert.deepEqual(files, [], 'a result kept in its row has no file');
  }
  return { foreground, replay };
}

function sameBytesSuite(adapter: TestAdapter): void {
  for (const keeping of RESULT_KEEPING) {
    describe(`same bytes as the foreground, ${keeping.label}`, () => {
      let testApp: TestApp;
      const logger = new KeepingLogger(true);

      before(async () => {
        testApp = await startTestApp({
          adapter,
          ...SAME_BYTES_APP,
          logger,
          bgrs: keeping.bgrs,
        });
      });

      after(async () => {
        await testApp?.close();
      });

      it(`runs on ${adapter.platform}`, () => {
        assert.equal(testApp.app.getHttpAdapter().getType(), adapter.platform);
      });

      for (const testCase of SAME_BYTES_CASES) {
        it(`${testCase.name}: GET /bgrs/<rid>/result replays status, Content-Type and bytes`, async () => {
          await assertBackgroundReplaysForeground(testApp, requestOf(testCase), {
            ext: expectedExtOf(testCase, adapter.platform),
            keptHeaders: testCase.keptHeaders,
            inline: keeping.inline && isInlined(testCase),
          });
        });
      }

      it('logs an unknown error as Nest does, for the foreground answer and the background run alike', () => {
        assert.equal(logger.problems(/boom: this message must not leak/).length, 2, JSON.stringify(logger.problems()));
      });
    });
  }
}

@Controller('wrapped')
@BackgroundCapable()
class WrappedController {
  @Get('report')
  report() {
    return { total: 3, rows: ['a', 'b', 'c'] };
  }
}

/** A host's own response-wrapping interceptor, for the routes of `WrappedController` only. */
@Injectable()
class WrapDataInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const wrapped = next.handle();
    return context.getClass() === WrappedController ? wrapped.pipe(map((data) => ({ data }))) : wrapped;
  }
}

/** Registers the wrapper globally; imported after `BgrsModule`. */
@Module({ providers: [{ provide: APP_INTERCEPTOR, useClass: WrapDataInterceptor }] })
class WrapDataModule {}

function wrappingInterceptorSuite(adapter: TestAdapter): void {
  describe('a second global interceptor registered after BgrsModule', () => {
    let testApp: TestApp;

    before(async () => {
      testApp = await startTestApp({ adapter, controllers: [WrappedController], imports: [WrapDataModule] });
    });

    after(async () => {
      await testApp?.close();
    });

    it('wraps the background result just as it wraps the foreground answer', async () => {
      const request = { path: '/wrapped/report' };
      const { foreground } = await assertBackgroundReplaysForeground(testApp, request, { ext: 'json', inline: true });
      assert.deepEqual(jsonOf(foreground), { data: { total: 3, rows: ['a', 'b', 'c'] } });
    });

    it('leaves the early answer exactly {"request": rid}', async () => {
      const accepted = await sendRaw(testApp.http, { path: withBgrs('/wrapped/report') });
      assert.equal(accepted.status, 202);
      const rid = jsonOf(accepted).request;
      assert.equal(accepted.body.toString('utf8'), JSON.stringify({ request: rid }));
      await waitForStatus(testApp.http, rid, 'finished');
    });
  });
}

// One suite, run on each HTTP platform (as nestjs/throttler does with describe.each): the foreground answer of the
// same platform is the expected one, as Express and Fastify answer some routes differently.
for (const adapter of adapters) {
  describe(adapter.name, () => {
    sameBytesSuite(adapter);
    wrappingInterceptorSuite(adapter);
  });
}
