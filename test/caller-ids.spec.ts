/**
 * Caller ids (README, “Caller ids”, “Lookup endpoints”): hosts whose users have UUIDs or names for ids.
 * `user_id` (INT UNSIGNED) keeps the numeric ids; any other id is kept, byte for byte, in the module's own table
 * `bgrs_owners`. Listing and `ownerOnly` work for every kind of id; numbers and their canonical decimal strings are
 * one user; an id longer than 255 bytes is no caller (refused with `ownerOnly`, listed for nobody otherwise).
 */
import 'reflect-metadata';
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BgrsRequestView } from '../src/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { JobsController, jobGates as gates } from './support/jobs.controller.js';
import { jsonOf, sendRaw, type HttpClient, type HttpMethod, type HttpResponse } from './support/http.js';
import { eventually } from './support/wait.js';

/** A caller: a text id (sent percent-encoded in `X-User`), a number (`X-User-Number`), or anonymous. */
type Caller = string | number | undefined;

/**
 * The host's authentication: `X-User: <percent-encoded id>` makes you the user with that string id,
 * `X-User-Number: <n>` the one with that number; neither, anonymous.
 */
@Injectable()
class HostUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const { 'x-user': text, 'x-user-number': number } = request.headers;
    if (typeof text === 'string') {
      request.user = { id: decodeURIComponent(text) };
    } else if (typeof number === 'string') {
      request.user = { id: Number(number) };
    }
    return true;
  }
}

function headersOf(caller: Caller): Record<string, string> {
  if (typeof caller === 'string') {
    return { 'X-User': encodeURIComponent(caller) };
  }
  return typeof caller === 'number' ? { 'X-User-Number': String(caller) } : {};
}

function call(http: HttpClient, caller: Caller, path: string, method: HttpMethod = 'get'): Promise<HttpResponse> {
  return sendRaw(http, { method, path, headers: headersOf(caller) });
}

async function submitAs(http: HttpClient, caller: Caller, path: string): Promise<string> {
  const answer = await call(http, caller, path);
  assert.equal(answer.status, 202, `${path} as ${JSON.stringify(caller)}: ${answer.status} ${answer.body}`);
  return jsonOf(answer).request;
}

async function listAs(http: HttpClient, caller: Caller): Promise<BgrsRequestView[]> {
  const answer = await call(http, caller, '/bgrs?limit=100');
  assert.equal(answer.status, 200, `GET /bgrs as ${JSON.stringify(caller)}: ${answer.status} ${answer.body}`);
  return jsonOf(answer);
}

async function waitFinished(testApp: TestApp, rids: string[]): Promise<void> {
  await eventually(
    `${rids.length} requests to finish`,
    async () =>
      (await testApp.db.count('bgrs_requests', 'rid IN (?) AND status_id = 4', [rids])) === rids.length || undefined,
  );
}

const UUID = '3f0c9a52-1d7e-4c57-9b1a-6f2d8e4b7c01';
const OTHER_UUID = '9a7e4c12-5b3d-4e8f-a1c6-0d2f7b9e3a58';
/** 255 bytes of UTF-8, the most `bgrs_owners.owner` holds: 4-byte characters, then ASCII. */
const LONGEST = `${'🦊'.repeat(60)}${'x'.repeat(15)}`;
const TOO_LONG = `${LONGEST}y`;

describe('caller ids that are not small numbers (no ownerOnly): listing', () => {
  let testApp: TestApp;
  /** Each caller's rids, in order of submission. */
  const made = new Map<Caller, string[]>();

  before(async () => {
    testApp = await startTestApp({
      controllers: [JobsController],
      providers: [{ provide: APP_GUARD, useClass: HostUserGuard }],
    });
    assert.equal(Buffer.byteLength(LONGEST), 255);
    const callers: Caller[] = [
      UUID,
      OTHER_UUID,
      UUID.toUpperCase(),
      'alice',
      'Alice',
      'alice ',
      7,
      '7',
      '07',
      '4294967296',
      LONGEST,
      TOO_LONG,
      undefined,
    ];
    for (const caller of callers) {
      const rids = [];
      for (let n = 0; n < 2; n++) {
        rids.push(await submitAs(testApp.http, caller, `/jobs/quick?n=${n}&bgrs=yes`));
      }
      made.set(caller, rids);
    }
    await waitFinished(testApp, [...made.values()].flat());
  });

  after(async () => {
    await testApp?.close();
  });

  it('every text id lists exactly its own requests, newest first, with user_id null', async () => {
    for (const caller of [
      UUID,
      OTHER_UUID,
      UUID.toUpperCase(),
      'alice',
      'Alice',
      'alice ',
      '07',
      '4294967296',
      LONGEST,
    ]) {
      const listed = await listAs(testApp.http, caller);
      assert.deepEqual(
        listed.map((record) => record.rid),
        [...made.get(caller)!].reverse(),
        `the listing of ${JSON.stringify(caller)}`,
      );
      assert.ok(
        listed.every((record) => record.user_id === null && record.status_name === 'finished'),
        JSON.stringify(listed),
      );
    }
  });

  it('a number and its canonical decimal string are one user, recorded in user_id', async () => {
    const expected = [...made.get(7)!, ...made.get('7')!].reverse();
    for (const caller of [7, '7']) {
      const listed = await listAs(testApp.http, caller);
      assert.deepEqual(
        listed.map((record) => record.rid),
        expected,
        `the listing of ${JSON.stringify(caller)}`,
      );
      assert.ok(listed.every((record) => record.user_id === '7'));
    }
    assert.equal(await testApp.db.count('bgrs_requests', 'user_id = 7'), 4);
  });

  it('keeps an owner row only for text ids; an id too long to keep is no owner, listed for nobody', async () => {
    const textCallers = [UUID, OTHER_UUID, UUID.toUpperCase(), 'alice', 'Alice', 'alice ', '07', '4294967296', LONGEST];
    const rows = await testApp.db.query<{ rid: string; owner: Buffer }>('SELECT rid, owner FROM bgrs_owners');
    assert.deepEqual(
      rows.map((row) => `${row.rid} ${row.owner.toString('utf8')}`).sort(),
      textCallers.flatMap((caller) => made.get(caller)!.map((rid) => `${rid} ${caller}`)).sort(),
    );
    assert.deepEqual(await listAs(testApp.http, TOO_LONG), []);
    assert.deepEqual(await listAs(testApp.http, undefined), []);
    const [tooLong] = await testApp.db.query<{ user_id: number | null }>(
      'SELECT user_id FROM bgrs_requests WHERE rid = ?',
      [made.get(TOO_LONG)![0]],
    );
    assert.equal(tooLong.user_id, null);
  });
});

describe('caller ids that are not small numbers (ownerOnly: true)', () => {
  let testApp: TestApp;

  before(async () => {
    testApp = await startTestApp({
      controllers: [JobsController],
      providers: [{ provide: APP_GUARD, useClass: HostUserGuard }],
      bgrs: { ownerOnly: true },
    });
  });

  after(async () => {
    gates.openAll();
    await testApp?.close();
  });

  /** The lookup routes of a rid, DELETE last. */
  function lookups(rid: string): Array<{ method: HttpMethod; path: string }> {
    return [
      { method: 'get', path: `/bgrs/${rid}` },
      { method: 'get', path: `/bgrs/${rid}/details` },
      { method: 'get', path: `/bgrs/${rid}/result` },
      { method: 'delete', path: `/bgrs/${rid}` },
    ];
  }

  for (const { label, owner, others } of [
    { label: 'a UUID', owner: UUID, others: [OTHER_UUID, UUID.toUpperCase(), ` ${UUID}`, 7] },
    { label: 'a name', owner: 'alice', others: ['Alice', 'alice ', 'alic', LONGEST] },
    { label: 'the longest id kept', owner: LONGEST, others: [`${LONGEST.slice(0, -1)}y`, 'alice'] },
    { label: 'a number as a string', owner: '7', others: ['07', 8, '7 '] },
  ] as const) {
    it(`${label}: the owner reads and cancels its request; everyone else gets 404`, async () => {
      const finished = await submitAs(testApp.http, owner, '/jobs/quick?n=mine&bgrs=yes');
      await waitFinished(testApp, [finished]);
      const name = `held-${label}`;
      const running = await submitAs(testApp.http, owner, `/jobs/held?name=${encodeURIComponent(name)}&bgrs=yes`);
      for (const rid of [finished, running]) {
        for (const { method, path } of lookups(rid)) {
          for (const other of [...others, undefined]) {
            const answer = await call(testApp.http, other, path, method);
            assert.equal(answer.status, 404, `${method} ${path} as ${JSON.stringify(other)}: ${answer.status}`);
          }
        }
      }
      for (const { method, path } of lookups(finished).slice(0, 3)) {
        const answer = await call(testApp.http, owner, path, method);
        assert.equal(answer.status, 200, `${method} ${path} as the owner: ${answer.status} ${answer.body}`);
      }
      assert.deepEqual(jsonOf(await call(testApp.http, owner, `/bgrs/${finished}/result`)), { job: 'mine' });
      const cancelled = await call(testApp.http, owner, `/bgrs/${running}`, 'delete');
      assert.equal(cancelled.status, 200, String(cancelled.body));
      assert.equal(jsonOf(cancelled)[0].status_name, 'cancelled');
      gates.open(name);
      assert.deepEqual(
        (await listAs(testApp.http, owner)).map((record) => record.rid),
        [running, finished],
      );
    });
  }

  it('refuses a caller whose id is too long to keep, or who has none, with a clear 403 and no record', async () => {
    const before = await testApp.db.count('bgrs_requests');
    for (const caller of [TOO_LONG, '', undefined]) {
      const answer = await call(testApp.http, caller, '/jobs/quick?n=refused&bgrs=yes');
      assert.equal(answer.status, 403, `as ${JSON.stringify(caller)}: ${answer.status} ${answer.body}`);
      assert.match(jsonOf(answer).message, /signed-in user.*at most 255 bytes/);
    }
    assert.equal(await testApp.db.count('bgrs_requests'), before, 'a refused submission is not recorded');
  });
});
