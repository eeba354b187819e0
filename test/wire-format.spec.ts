import { Controller, Get, Injectable, Query, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { adapters, startTestApp, type TestAdapter, type TestApp } from './support/app.js';
import { Gates } from './support/gate.js';
import {
  DATE_PATTERN,
  detailsOf,
  jsonOf,
  lookup,
  RID_PATTERN,
  resultOf,
  sendRaw,
  submit,
  waitForStatus,
  withBgrs,
  RECORD_FIELDS,
} from './support/http.js';
import { eventually } from './support/wait.js';

const gates = new Gates();
/** Calls of the handlers, to tell whether a refused request ran them. */
const calls = { capable: 0, plain: 0 };

/** The host's auth: user 7, unless the request says it is anonymous. */
@Injectable()
class HostAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    if (request.headers['x-anonymous'] === undefined) {
      request.user = { id: 7 };
    }
    return true;
  }
}

@Controller('wire')
class WireController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('held')
  @BackgroundCapable()
  async held(@Query('gate') gate: string) {
    await this.progress.report(25, 'a quarter done');
    await gates.wait(gate);
    return { done: true };
  }

  @Get('capable')
  @BackgroundCapable()
  capable() {
    calls.capable++;
    return { ran: 'capable' };
  }

  @Get('plain')
  plain() {
    calls.plain++;
    return { ran: 'plain' };
  }
}

const DETAIL_KEYS = ['id', 'rid', 'dt', 'details'];

function assertStringsOrNull(row: object): void {
  for (const [key, value] of Object.entries(row)) {
    assert.ok(
      typeof value === 'string' || value === null,
      `${key} must be a string or null, got ${JSON.stringify(value)}`,
    );
  }
}

function wireFormatSuite(adapter: TestAdapter): void {
  describe('wire format', () => {
    let testApp: TestApp;

    before(async () => {
      testApp = await startTestApp({
        adapter,
        controllers: [WireController],
        providers: [{ provide: APP_GUARD, useClass: HostAuthGuard }],
      });
    });

    after(async () => {
      gates.openAll();
      await testApp?.close();
    });

    it('GET /bgrs/<rid> and /details during the run and after it', async () => {
      const { http } = testApp;
      const gate = `${adapter.platform}-w1`;
      const path = `/wire/held?gate=${gate}&bgrs=yes`;
      const rid = await submit(http, { path, bgrs: null });

      // During the run: the handler reported 25 % and waits on its closed gate.
      const running = await eventually('the progress of 25 % to land', async () => {
        const record = await lookup(http, rid);
        return record.progress === '25.00' ? record : undefined;
      });
      assert.deepEqual(Object.keys(running), RECORD_FIELDS);
      assertStringsOrNull(running);
      assert.match(running.id, /^[1-9]\d*$/);
      assert.equal(running.rid, rid);
      assert.equal(running.user_id, '7');
      assert.equal(running.name, path);
      assert.match(running.created_dt, DATE_PATTERN);
      assert.equal(running.status_id, '3');
      assert.equal(running.status_name, 'processing');
      assert.equal(running.finished_dt, null);
      assert.equal(running.status, null);
      assert.equal(running.content_type, null);
      assert.equal(running.result, null);

      const runningDetails = await eventually('the details row to land', async () => {
        const details = await detailsOf(http, rid);
        return details.length > 0 ? details : undefined;
      });
      assert.equal(runningDetails.length, 1);
      assert.deepEqual(Object.keys(runningDetails[0]), DETAIL_KEYS);
      assertStringsOrNull(runningDetails[0]);
      assert.match(runningDetails[0].id, /^[1-9]\d*$/);
      assert.equal(runningDetails[0].rid, rid);
      assert.match(runningDetails[0].dt, DATE_PATTERN);
      assert.equal(runningDetails[0].details, 'a quarter done');

      const early = await resultOf(http, rid);
      assert.equal(early.status, 409, 'the result before the end');
      assert.match(early.headers['content-type'] ?? '', /^application\/json/);
      const conflict = jsonOf(early);
      assert.equal(conflict.status_name, 'processing');
      assert.equal(conflict.progress, '25.00');

      gates.open(gate);
      const finished = await waitForStatus(http, rid, 'finished');
      assert.deepEqual(Object.keys(finished), RECORD_FIELDS);
      assertStringsOrNull(finished);
      assert.equal(finished.id, running.id);
      assert.equal(finished.user_id, '7');
      assert.equal(finished.name, path);
      assert.equal(finished.created_dt, running.created_dt);
      assert.equal(finished.status_id, '4');
      assert.equal(finished.status_name, 'finished');
      assert.equal(finished.progress, '100.00');
      assert.match(finished.finished_dt ?? '', DATE_PATTERN);
      assert.ok(finished.finished_dt! >= finished.created_dt, 'finished_dt is not before created_dt');
      assert.equal(finished.status, '200');
      assert.equal(finished.content_type, 'application/json; charset=utf-8');
      assert.equal(finished.result, `inline:${rid}`, 'a small result is kept in its row (inlineResultBytes)');

      const details = await detailsOf(http, rid);
      assert.deepEqual(details[0], runningDetails[0], 'details rows do not change');
    });

    it('user_id is null for an anonymous caller', async () => {
      const rid = await submit(testApp.http, { path: '/wire/capable', headers: { 'x-anonymous': '1' } });
      assert.equal((await waitForStatus(testApp.http, rid, 'finished')).user_id, null);
    });

    describe('the bgrs query parameter', () => {
      for (const value of ['yes', 'YES', 'Yes', '1', 'true', 'TRUE', 'True']) {
        it(`bgrs=${value} runs in the background`, async () => {
          const rid = await submit(testApp.http, { path: '/wire/capable', bgrs: value });
          await waitForStatus(testApp.http, rid, 'finished');
        });
      }

      for (const value of ['no', 'NO', '0', 'false', 'False', '']) {
        it(`bgrs=${JSON.stringify(value)} is an ordinary foreground request`, async () => {
          const recordsBefore = await testApp.db.count('bgrs_requests');
          const res = await sendRaw(testApp.http, { path: withBgrs('/wire/capable', value) });
          assert.equal(res.status, 200);
          assert.deepEqual(jsonOf(res), { ran: 'capable' });
          assert.equal(await testApp.db.count('bgrs_requests'), recordsBefore);
        });
      }

      for (const query of ['bgrs=maybe', 'bgrs=2', 'bgrs=yess', 'bgrs=on', 'bgrs=%20yes', 'bgrs=yes&bgrs=yes']) {
        it(`?${query} is a 400 naming the accepted values, and the handler does not run`, async () => {
          const recordsBefore = await testApp.db.count('bgrs_requests');
          const callsBefore = calls.capable;
          const res = await sendRaw(testApp.http, { path: `/wire/capable?${query}` });
          assert.equal(res.status, 400);
          assert.match(res.headers['content-type'] ?? '', /^application\/json/);
          const message = JSON.stringify(jsonOf(res));
          for (const accepted of ['yes', '1', 'true']) {
            assert.ok(message.includes(accepted), `the error should name "${accepted}": ${message}`);
          }
          assert.equal(calls.capable, callsBefore);
          assert.equal(await testApp.db.count('bgrs_requests'), recordsBefore);
        });
      }
    });

    it('bgrs=yes on a route that is not background-capable is a 400 JSON error, and nothing runs', async () => {
      const recordsBefore = await testApp.db.count('bgrs_requests');
      const callsBefore = calls.plain;
      const res = await sendRaw(testApp.http, { path: withBgrs('/wire/plain') });
      assert.equal(res.status, 400);
      assert.match(res.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(jsonOf(res).statusCode, 400);
      assert.equal(calls.plain, callsBefore);
      assert.equal(await testApp.db.count('bgrs_requests'), recordsBefore);
      const foreground = await sendRaw(testApp.http, { path: '/wire/plain?bgrs=no' });
      assert.equal(foreground.status, 200);
    });

    for (const prefer of ['respond-async', 'respond-async, wait=10', 'handling=lenient, Respond-Async']) {
      it(`Prefer: ${prefer} → 202 with Preference-Applied: respond-async`, async () => {
        const res = await sendRaw(testApp.http, { path: '/wire/capable', headers: { Prefer: prefer } });
        assert.equal(res.status, 202);
        assert.equal(res.headers['preference-applied'], 'respond-async');
        const rid = jsonOf(res).request;
        assert.equal(res.headers.location, `/bgrs/${rid}`);
        await waitForStatus(testApp.http, rid, 'finished');
      });
    }

    it('Prefer without respond-async stays in the foreground', async () => {
      const res = await sendRaw(testApp.http, { path: '/wire/capable', headers: { Prefer: 'return=minimal' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['preference-applied'], undefined);
    });

    describe('lookups of bad rids', () => {
      const malformed = [
        'abc',
        'A'.repeat(32),
        '0'.repeat(31),
        '0'.repeat(33),
        'g'.repeat(32),
        encodeURIComponent("' OR 1=1 -- aaaaaaaaaaaaaaaaaaaaaa"),
      ];
      const unknown = randomBytes(16).toString('hex');

      for (const suffix of ['', '/details', '/result']) {
        for (const rid of malformed) {
          it(`GET /bgrs/${rid}${suffix} → 400 JSON`, async () => {
            const res = await testApp.http.get(`/bgrs/${rid}${suffix}`);
            assert.equal(res.status, 400);
            assert.match(res.headers['content-type'] ?? '', /^application\/json/);
          });
        }

        it(`GET /bgrs/<unknown rid>${suffix} → 404 JSON`, async () => {
          assert.match(unknown, RID_PATTERN);
          const res = await testApp.http.get(`/bgrs/${unknown}${suffix}`);
          assert.equal(res.status, 404);
          assert.match(res.headers['content-type'] ?? '', /^application\/json/);
        });
      }
    });
  });
}

// One suite, run on each HTTP platform (as nestjs/throttler does with describe.each).
for (const adapter of adapters) {
  describe(adapter.name, () => wireFormatSuite(adapter));
}
