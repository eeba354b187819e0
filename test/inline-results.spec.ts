/**
 * Small results in their request's row (README, “How results are stored”): with `inlineResultBytes`, a result of up to
 * that many bytes with no headers beyond its Content-Type is written by the final UPDATE into
 * `bgrs_requests.result_body`, its `result` reads `inline:<rid>`, and `/result` serves it byte for byte as the
 * foreground answered; nothing of it is in the store. A larger one, or one with headers to replay, goes to the store
 * as before. An `inlineResultBytes` that cannot work is refused at start, naming the option.
 */
import 'reflect-metadata';
import { Controller, Get, Header, HttpCode, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable } from '../src/index.js';
import { adapters, startTestApp, type TestAdapter, type TestApp } from './support/app.js';
import { resultOf, sendRaw, submit, waitForStatus } from './support/http.js';

const LIMIT = 1024;

@Controller('inline')
class InlineController {
  @Get('json')
  @BackgroundCapable()
  json(@Query('n') n: string) {
    return { n: Number(n), text: 'x'.repeat(Number(n)) };
  }

  @Get('empty')
  @BackgroundCapable()
  @HttpCode(204)
  empty() {}

  @Get('csv')
  @BackgroundCapable()
  @Header('Content-Type', 'text/csv; charset=utf-8')
  @Header('Content-Disposition', 'attachment; filename="small.csv"')
  csv() {
    return 'a,b\n1,2\n';
  }
}

function suite(adapter: TestAdapter): void {
  let testApp: TestApp;

  before(async () => {
    testApp = await startTestApp({ adapter, controllers: [InlineController], bgrs: { inlineResultBytes: LIMIT } });
  });

  after(() => testApp?.close());

  /** Runs `path` in the foreground and in the background; answers the record and both answers. */
  async function both(path: string) {
    const foreground = await sendRaw(testApp.http, { path });
    const rid = await submit(testApp.http, { path });
    const record = await waitForStatus(testApp.http, rid, 'finished');
    const background = await resultOf(testApp.http, rid);
    assert.equal(background.status, foreground.status);
    assert.equal(background.headers['content-type'], foreground.headers['content-type']);
    assert.deepEqual(background.body, foreground.body, 'the same bytes as the foreground');
    return { rid, record, foreground, background };
  }

  it('keeps a result within the limit in its row: no file, `result` reads inline:<rid>', async () => {
    const { rid, record, background } = await both('/inline/json?n=100');
    assert.equal(record.result, `inline:${rid}`);
    assert.equal(background.headers['content-length'], String(background.body.length));
    assert.deepEqual(await readdir(testApp.resultDir), [], 'nothing in the store');
  });

  it('keeps an empty 204 in its row too', async () => {
    const { rid, record, background } = await both('/inline/empty');
    assert.equal(background.status, 204);
    assert.equal(record.result, `inline:${rid}`);
  });

  it('sends a result over the limit to the store, written on from the bytes held so far', async () => {
    const { rid, record, background } = await both(`/inline/json?n=${LIMIT * 3}`);
    assert.ok(background.body.length > LIMIT);
    assert.match(String(record.result), new RegExp(`keep1m\\.bgrs\\.${rid}\\.result\\.json$`));
    assert.ok(
      (await readdir(testApp.resultDir)).some((name) => name.includes(rid)),
      'its file is in resultDir',
    );
  });

  it('sends a small result with headers to replay to the store, and replays them', async () => {
    const { rid, record, background } = await both('/inline/csv');
    assert.match(String(record.result), new RegExp(`keep1m\\.bgrs\\.${rid}\\.result\\.csv$`));
    assert.equal(background.headers['content-disposition'], 'attachment; filename="small.csv"');
  });

  for (const bad of [-1, 1.5, 16 * 1024 + 1]) {
    it(`refuses inlineResultBytes ${bad} at start, naming the option`, async () => {
      const started = await startTestApp({ adapter, bgrs: { inlineResultBytes: bad } }).catch((error: Error) => error);
      if (!(started instanceof Error)) {
        await started.close();
        assert.fail('the app started');
      }
      assert.match(started.message, /inlineResultBytes/);
    });
  }
}

for (const adapter of adapters) {
  describe(adapter.name, () => suite(adapter));
}
