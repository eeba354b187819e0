import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { adapters, startTestApp, type TestApp } from './support/app.js';
import { jsonOf, resultOf, sendRaw, submit, waitForStatus, detailsOf } from './support/http.js';
import { REDIS, deleteQueueKeys, testQueueName } from './support/redis.js';

@Controller('q')
@BackgroundCapable()
class QueuedController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('hello')
  async hello(@Query('n') n: string) {
    await this.progress.report(50, `half of ${n}`);
    return { hello: n, attempt: this.progress.attempt };
  }

  @Post('echo')
  @HttpCode(201)
  echo(@Body() body: unknown) {
    return body;
  }
}

for (const adapter of adapters) {
  describe(`${adapter.name}: queue mode smoke`, () => {
    let testApp: TestApp;
    const name = testQueueName('smoke');

    before(async () => {
      testApp = await startTestApp({
        adapter,
        controllers: [QueuedController],
        bgrs: { queue: { connection: REDIS, name } },
      });
    });

    after(async () => {
      await testApp?.close();
      await deleteQueueKeys(name);
    });

    it('runs a queued request on the worker and stores the foreground answer', async () => {
      const foreground = await sendRaw(testApp.http, { path: '/q/hello?n=3' });
      const rid = await submit(testApp.http, { path: '/q/hello?n=3' });
      await waitForStatus(testApp.http, rid, 'finished');
      const result = await resultOf(testApp.http, rid);
      assert.equal(result.status, 200);
      assert.deepEqual(jsonOf(result), { hello: '3', attempt: 1 });
      assert.deepEqual(jsonOf(foreground), { hello: '3' });
      const details = (await detailsOf(testApp.http, rid)).map((row) => row.details);
      assert.ok(
        details.some((text) => /^started on .* \(attempt 1\)$/.test(text)),
        JSON.stringify(details),
      );
    });

    it('carries a JSON body', async () => {
      const body = { a: [1, 2], b: 'ü' };
      const rid = await submit(testApp.http, { method: 'post', path: '/q/echo', body });
      await waitForStatus(testApp.http, rid, 'finished');
      const result = await resultOf(testApp.http, rid);
      assert.equal(result.status, 201);
      assert.deepEqual(jsonOf(result), body);
    });
  });
}
