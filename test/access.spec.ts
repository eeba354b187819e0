/**
 * Who may look a request up (README, “Lookup endpoints”): the lookup routes honour the host's global guards (no credentials →
 * the host's own 401), the `guards` option adds guards of the module's own (a rejection → 403), `ownerOnly`
 * answers 404 to other users so that existence does not leak, rids are 32 lowercase hex from a CSPRNG and
 * distinct, and a result path is never built from an unvalidated rid (the HTTP side of that is the rid table in
 * bad-input.spec.ts, which also proves no file outside resultDir is ever served).
 */
import 'reflect-metadata';
import {
  Controller,
  Get,
  Injectable,
  Query,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, FileResultStore, ProgressReporter } from '../src/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { Gates } from './support/gate.js';
import { RID_PATTERN, type HttpClient, type HttpResponse } from './support/http.js';
import { eventually } from './support/wait.js';

const HOST_401 = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'host auth: send "Authorization: Bearer user-<id>"',
};

/** The host app's own authentication, as a global guard: `Bearer user-<id>` makes you user `<id>`. */
@Injectable()
class HostAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const match = /^Bearer user-([1-9][0-9]{0,8})$/.exec(request.headers.authorization ?? '');
    if (!match) {
      throw new UnauthorizedException(HOST_401);
    }
    request.user = { id: Number(match[1]) };
    return true;
  }
}

/** A guard of the `guards` option (a class): user 13 may not look anything up. */
@Injectable()
class BannedUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest().user?.id !== 13;
  }
}

/** A guard of the `guards` option (an instance): requests marked `X-Blocked: 1` are refused. */
const blockedHeaderGuard: CanActivate = {
  canActivate: (context) => context.switchToHttp().getRequest().headers['x-blocked'] !== '1',
};

const gates = new Gates();

@Controller('reports')
class ReportsController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('quick')
  @BackgroundCapable()
  async quick(@Query('n') n: string) {
    await this.progress.detail(`report ${n}`);
    return { report: n };
  }

  @Get('held')
  @BackgroundCapable()
  async held(@Query('name') name: string) {
    await gates.wait(name);
    return { held: name };
  }
}

function as(user: number | undefined): Record<string, string> {
  return user === undefined ? {} : { Authorization: `Bearer user-${user}` };
}

async function call(
  http: HttpClient,
  method: 'get' | 'delete',
  path: string,
  user?: number,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  let request = http[method](path);
  for (const [name, value] of Object.entries({ ...as(user), ...headers })) {
    request = request.set(name, value);
  }
  return request;
}

async function submitAs(http: HttpClient, user: number, path: string): Promise<string> {
  const answer = await call(http, 'get', path, user);
  assert.equal(answer.status, 202, `${path} as user ${user}: ${answer.status} ${answer.text}`);
  assert.match(answer.body.request, RID_PATTERN);
  return answer.body.request;
}

/** The lookup routes of a rid. */
function lookups(rid: string): Array<{ method: 'get' | 'delete'; path: string }> {
  return [
    { method: 'get', path: `/bgrs/${rid}` },
    { method: 'get', path: `/bgrs/${rid}/details` },
    { method: 'get', path: `/bgrs/${rid}/result` },
    { method: 'delete', path: `/bgrs/${rid}` },
  ];
}

/** GET /bgrs/<rid> read as `user`, polled until `status`. */
async function waitAs(http: HttpClient, user: number, rid: string, status: string): Promise<void> {
  await eventually(`${rid} to be ${status}`, async () => {
    const answer = await call(http, 'get', `/bgrs/${rid}`, user);
    assert.equal(answer.status, 200, answer.text);
    return answer.body[0].status_name === status || undefined;
  });
}

describe('access (ownerOnly: true, guards option, a global host guard)', () => {
  let testApp: TestApp;
  let finishedRid: string;
  let runningRid: string;
  const OWNER = 7;
  const OTHER = 8;

  before(async () => {
    testApp = await startTestApp({
      controllers: [ReportsController],
      providers: [{ provide: APP_GUARD, useClass: HostAuthGuard }],
      bgrs: { ownerOnly: true, guards: [BannedUserGuard, blockedHeaderGuard] },
    });
    finishedRid = await submitAs(testApp.http, OWNER, '/reports/quick?n=1&bgrs=yes');
    runningRid = await submitAs(testApp.http, OWNER, '/reports/held?name=owner-running&bgrs=yes');
    await waitAs(testApp.http, OWNER, finishedRid, 'finished');
    await waitAs(testApp.http, OWNER, runningRid, 'processing');
  });

  after(async () => {
    gates.openAll();
    await testApp?.close();
  });

  it('without credentials every lookup gets the host guard’s own 401, whatever the rid', async () => {
    const unknown = randomBytes(16).toString('hex');
    for (const rid of [finishedRid, runningRid, unknown, 'not-a-rid']) {
      for (const { method, path } of lookups(rid)) {
        for (const headers of [
          {} as Record<string, string>,
          { Authorization: 'Bearer nobody' },
          { Authorization: `Basic ${Buffer.from(`user-${OWNER}:x`).toString('base64')}` },
        ]) {
          const answer = await call(testApp.http, method, path, undefined, headers);
          assert.equal(
            answer.status,
            401,
            `${method} ${path} ${JSON.stringify(headers)}: ${answer.status} ${answer.text}`,
          );
          assert.match(String(answer.headers['content-type']), /^application\/json/);
          assert.deepEqual(answer.body, HOST_401, 'the host’s own error body');
        }
      }
    }
    // No lookup without credentials changed anything.
    await waitAs(testApp.http, OWNER, runningRid, 'processing');
  });

  it('ownerOnly: another user gets 404 on GET, details, result and DELETE, the same 404 as an unknown rid', async () => {
    const unknown = randomBytes(16).toString('hex');
    for (const rid of [finishedRid, runningRid]) {
      for (const { method, path } of lookups(rid)) {
        const answer = await call(testApp.http, method, path, OTHER);
        const absent = await call(testApp.http, method, path.replace(rid, unknown), OTHER);
        assert.equal(answer.status, 404, `${method} ${path} as another user: ${answer.status} ${answer.text}`);
        assert.equal(absent.status, 404);
        assert.match(String(answer.headers['content-type']), /^application\/json/);
        assert.equal(
          JSON.stringify(answer.body).replaceAll(rid, '<rid>'),
          JSON.stringify(absent.body).replaceAll(unknown, '<rid>'),
          'someone else’s request answers exactly like a missing one',
        );
      }
    }
    // The other user's DELETE did not cancel it.
    await waitAs(testApp.http, OWNER, runningRid, 'processing');
    assert.equal(await testApp.db.count('bgrs_requests', 'rid = ? AND status_id = 3', [runningRid]), 1);
  });

  it('ownerOnly: the owner gets 200 on GET, details, result, and DELETE of a running request', async () => {
    const record = await call(testApp.http, 'get', `/bgrs/${finishedRid}`, OWNER);
    assert.equal(record.status, 200);
    assert.equal(record.body[0].rid, finishedRid);
    assert.equal(record.body[0].user_id, String(OWNER));
    const details = await call(testApp.http, 'get', `/bgrs/${finishedRid}/details`, OWNER);
    assert.equal(details.status, 200);
    assert.deepEqual(
      details.body.map((row: { details: string }) => row.details),
      ['report 1'],
    );
    const result = await call(testApp.http, 'get', `/bgrs/${finishedRid}/result`, OWNER);
    assert.equal(result.status, 200);
    assert.deepEqual(result.body, { report: '1' });

    const cancelled = await call(testApp.http, 'delete', `/bgrs/${runningRid}`, OWNER);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.body[0].status_name, 'cancelled');
    // Someone else still cannot tell it exists, cancelled or not.
    assert.equal((await call(testApp.http, 'get', `/bgrs/${runningRid}`, OTHER)).status, 404);
    // The owner's DELETE of an ended request is a 409, not a 404.
    assert.equal((await call(testApp.http, 'delete', `/bgrs/${finishedRid}`, OWNER)).status, 409);
  });

  it('guards option: a guard of the module that rejects → 403, after the host guard', async () => {
    const BANNED = 13;
    const own = await submitAs(testApp.http, BANNED, '/reports/quick?n=13&bgrs=yes');
    await eventually(
      'the banned user’s request to finish',
      async () => (await testApp.db.count('bgrs_requests', 'rid = ? AND status_id = 4', [own])) === 1 || undefined,
    );
    for (const rid of [own, finishedRid]) {
      for (const { method, path } of lookups(rid)) {
        const banned = await call(testApp.http, method, path, BANNED);
        assert.equal(banned.status, 403, `${method} ${path} as the banned user: ${banned.status} ${banned.text}`);
        assert.match(String(banned.headers['content-type']), /^application\/json/);
        assert.equal(banned.body.statusCode, 403);
        const blocked = await call(testApp.http, method, path, OWNER, { 'X-Blocked': '1' });
        assert.equal(blocked.status, 403, `${method} ${path} with X-Blocked: ${blocked.status} ${blocked.text}`);
        // The host's guard runs first: no credentials is still the host's 401, not a 403.
        const anonymous = await call(testApp.http, method, path, undefined, { 'X-Blocked': '1' });
        assert.equal(anonymous.status, 401);
      }
    }
    // Nothing the rejected calls did: the banned user's request is still there, finished.
    assert.equal(await testApp.db.count('bgrs_requests', 'rid = ? AND status_id = 4', [own]), 1);
    // The owner passes both guards.
    assert.equal((await call(testApp.http, 'get', `/bgrs/${finishedRid}`, OWNER)).status, 200);
  });
});

describe('access (default: the rid is a capability for any valid credentials)', () => {
  let testApp: TestApp;

  before(async () => {
    testApp = await startTestApp({
      controllers: [ReportsController],
      providers: [{ provide: APP_GUARD, useClass: HostAuthGuard }],
    });
  });

  after(async () => {
    gates.openAll();
    await testApp?.close();
  });

  it('another authenticated user reads it; no credentials is the host’s 401', async () => {
    const rid = await submitAs(testApp.http, 21, '/reports/quick?n=21&bgrs=yes');
    await waitAs(testApp.http, 22, rid, 'finished');
    const result = await call(testApp.http, 'get', `/bgrs/${rid}/result`, 22);
    assert.equal(result.status, 200);
    assert.deepEqual(result.body, { report: '21' });
    for (const { method, path } of lookups(rid)) {
      const answer = await call(testApp.http, method, path);
      assert.equal(answer.status, 401);
      assert.deepEqual(answer.body, HOST_401);
    }
  });

  it('1000 submissions get 1000 distinct rids of 32 lowercase hex characters', async () => {
    const rids: string[] = [];
    const BATCH = 50;
    for (let start = 0; start < 1000; start += BATCH) {
      const answers = await Promise.all(
        Array.from({ length: BATCH }, (_, i) =>
          call(testApp.http, 'get', `/reports/quick?n=${start + i}&bgrs=yes`, 30),
        ),
      );
      for (const answer of answers) {
        assert.equal(answer.status, 202, answer.text);
        assert.deepEqual(Object.keys(answer.body), ['request']);
        assert.match(answer.body.request, RID_PATTERN);
        assert.equal(answer.headers.location, `/bgrs/${answer.body.request}`);
        rids.push(answer.body.request);
      }
    }
    assert.equal(rids.length, 1000);
    assert.equal(new Set(rids).size, 1000, 'all distinct');
    // Random in every position (a counter, a clock or a hash of the input would leave positions nearly constant).
    for (let position = 0; position < 32; position++) {
      const digits = new Set(rids.map((rid) => rid[position]));
      assert.equal(
        digits.size,
        16,
        `position ${position} takes every hex digit over 1000 rids: ${[...digits].join('')}`,
      );
    }
    await eventually(
      'the 1000 requests to finish',
      async () => (await testApp.db.count('bgrs_requests', 'user_id = 30 AND status_id = 4')) === 1000 || undefined,
      { deadlineMs: 60_000 },
    );
    const stored = await testApp.db.query<{ rid: string }>('SELECT rid FROM bgrs_requests WHERE user_id = 30');
    assert.deepEqual(stored.map((row) => row.rid).sort(), [...rids].sort(), 'each rid is the one recorded');
    // Spot-check: a rid leads to its own request's result.
    for (const index of [0, 499, 999]) {
      const result = await call(testApp.http, 'get', `/bgrs/${rids[index]}/result`, 31);
      assert.deepEqual(result.body, { report: String(index) });
    }
  });
});

/** A host whose users are not small integers: `Bearer uid-<anything>` makes you user `<anything>` (a string). */
@Injectable()
class StringIdAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const match = /^Bearer uid-([0-9a-zA-Z-]{1,64})$/.exec(request.headers.authorization ?? '');
    if (!match) {
      throw new UnauthorizedException(HOST_401);
    }
    request.user = { id: match[1] };
    return true;
  }
}

describe('access (ownerOnly: true, user ids that user_id cannot hold)', () => {
  let testApp: TestApp;

  before(async () => {
    testApp = await startTestApp({
      controllers: [ReportsController],
      providers: [{ provide: APP_GUARD, useClass: StringIdAuthGuard }],
      bgrs: { ownerOnly: true },
    });
  });

  after(async () => {
    await testApp?.close();
  });

  const CASES: Array<{ label: string; owner: string; other: string }> = [
    { label: 'UUIDs', owner: '3f0c9a52-1d7e-4c57-9b1a-6f2d8e4b7c01', other: '9a7e4c12-5b3d-4e8f-a1c6-0d2f7b9e3a58' },
    { label: 'ids beyond INT UNSIGNED', owner: '4294967301', other: '4294967302' },
    { label: 'non-numeric names', owner: 'alice', other: 'mallory' },
  ];

  for (const { label, owner, other } of CASES) {
    it(`${label}: another user still gets 404, never the owner's request`, async () => {
      const submitted = await call(testApp.http, 'get', '/reports/quick?n=private&bgrs=yes', undefined, {
        Authorization: `Bearer uid-${owner}`,
      });
      // Refusing such a request up front would keep the promise too; accepting it must not open it to everyone.
      if (submitted.status !== 202) {
        assert.ok(
          submitted.status >= 400 && submitted.status < 500,
          `a clear refusal: ${submitted.status} ${submitted.text}`,
        );
        return;
      }
      const rid = submitted.body.request as string;
      await eventually(
        `${rid} to finish`,
        async () => (await testApp.db.count('bgrs_requests', 'rid = ? AND status_id = 4', [rid])) === 1 || undefined,
      );
      for (const { method, path } of lookups(rid)) {
        const answer = await call(testApp.http, method, path, undefined, { Authorization: `Bearer uid-${other}` });
        assert.equal(
          answer.status,
          404,
          `${method} ${path} as ${other} (owner ${owner}): ${answer.status} ${answer.text.slice(0, 200)}`,
        );
      }
    });
  }
});

describe('the result store never builds a path from an unvalidated rid', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bgrs-store-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('FileResultStore.create refuses every malformed rid and creates no file', async () => {
    const store = new FileResultStore(join(dir, 'results'));
    await store.onModuleInit();
    const valid = randomBytes(16).toString('hex');
    const hostile = [
      '../secret',
      '../../etc/passwd',
      `../${valid}`,
      `${valid}/../../x`,
      valid.toUpperCase(),
      valid.slice(0, 31),
      `${valid}0`,
      `${valid}\n`,
      `${valid}\u0000`,
      '',
      '０'.repeat(32),
    ];
    for (const rid of hostile) {
      assert.throws(() => store.create(rid), `create(${JSON.stringify(rid)}) must throw`);
    }
    assert.throws(() => store.create(undefined as unknown as string));
    assert.throws(() => store.create(42 as unknown as string));
    assert.deepEqual(await readdir(join(dir, 'results')), [], 'no file was created');
    assert.deepEqual((await readdir(dir)).sort(), ['results'], 'nothing beside the result folder either');
  });
});
