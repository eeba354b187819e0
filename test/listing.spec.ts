/**
 * The listing (README, “Lookup endpoints”): `GET /bgrs?status=&limit=&before=` lists the caller's own background
 * requests, newest first. The caller is who the host app says (`req.user.id`, set here by a global guard from
 * `X-User`); others' requests and anonymous ones are never listed, and an anonymous caller gets `[]`. Pages are
 * keyset pages: `limit` (1–100, default 20) records, then `before=<id of the last one>` for the next, with no
 * overlap and no gap. `status` filters by status name. Anything else in those parameters is a JSON 400.
 */
import 'reflect-metadata';
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BgrsRequestView } from '../src/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { JobsController, jobGates as gates } from './support/jobs.controller.js';
import { DATE_PATTERN, RID_PATTERN, lookup, waitForStatus, type HttpResponse, RECORD_FIELDS } from './support/http.js';

const OWNER = 7;
const OTHER = 8;
const FINISHED = 25;

/** The host app's authentication: `X-User: <id>` makes you that user; without it you are anonymous. */
@Injectable()
class HostUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const user = request.headers['x-user'];
    if (typeof user === 'string' && /^[1-9][0-9]{0,8}$/.test(user)) {
      request.user = { id: Number(user) };
    }
    return true;
  }
}

describe('GET /bgrs: the caller’s own background requests', () => {
  let testApp: TestApp;
  /** The owner's rids, newest first. */
  let ownerRids: string[];
  let ownerFinished: string[];
  let ownerProcessing: string[];
  let otherRids: string[];
  let anonymousRids: string[];

  /** `GET <path>` as `user` (anonymous when undefined). */
  function get(path: string, user?: number): Promise<HttpResponse> {
    const request = testApp.http.get(path);
    return user === undefined ? request : request.set('X-User', String(user));
  }

  /** `GET /bgrs?<query>` as `user` (`null`: anonymous): a 200 JSON array. */
  async function list(query: string, user: number | null = OWNER): Promise<BgrsRequestView[]> {
    const answer = await get(`/bgrs${query ? `?${query}` : ''}`, user ?? undefined);
    assert.equal(answer.status, 200, `GET /bgrs?${query} as ${user}: ${answer.status} ${answer.text}`);
    assert.match(String(answer.headers['content-type']), /^application\/json/);
    assert.ok(Array.isArray(answer.body), answer.text);
    return answer.body;
  }

  async function submitAs(user: number | undefined, path: string): Promise<string> {
    const answer = await get(path, user);
    assert.equal(answer.status, 202, `${path} as ${user}: ${answer.status} ${answer.text}`);
    assert.match(answer.body.request, RID_PATTERN);
    return answer.body.request;
  }

  before(async () => {
    testApp = await startTestApp({
      controllers: [JobsController],
      providers: [{ provide: APP_GUARD, useClass: HostUserGuard }],
    });
    const created: string[] = [];
    otherRids = [];
    anonymousRids = [];
    // One after another, so that creation order is known; others' requests in between leave gaps in the ids.
    for (let n = 1; n <= FINISHED; n++) {
      created.push(await submitAs(OWNER, `/jobs/quick?n=${n}&bgrs=yes`));
      if (n % 5 === 0) {
        otherRids.unshift(await submitAs(OTHER, `/jobs/quick?n=other-${n}&bgrs=yes`));
      }
      if (n % 8 === 0) {
        anonymousRids.unshift(await submitAs(undefined, `/jobs/quick?n=anonymous-${n}&bgrs=yes`));
      }
    }
    for (const rid of [...created, ...otherRids, ...anonymousRids]) {
      await waitForStatus(testApp.http, rid, 'finished');
    }
    ownerFinished = [...created].reverse();
    ownerProcessing = [];
    for (const name of ['held-1', 'held-2']) {
      ownerProcessing.unshift(await submitAs(OWNER, `/jobs/held?name=${name}&bgrs=yes`));
    }
    for (const rid of ownerProcessing) {
      await waitForStatus(testApp.http, rid, 'processing');
    }
    ownerRids = [...ownerProcessing, ...ownerFinished];
  });

  after(async () => {
    gates.openAll();
    await testApp?.close();
  });

  it('lists the 20 newest of the caller’s own requests, newest first, in the record format', async () => {
    const answer = await get('/bgrs', OWNER);
    assert.equal(answer.status, 200, answer.text);
    assert.match(String(answer.headers['cache-control']), /no-store/);
    const page: BgrsRequestView[] = answer.body;
    assert.deepEqual(
      page.map((record) => record.rid),
      ownerRids.slice(0, 20),
    );
    const ids = page.map((record) => Number(record.id));
    assert.ok(
      ids.every((id, index) => index === 0 || id < ids[index - 1]),
      `ids must fall: ${JSON.stringify(ids)}`,
    );
    for (const record of page) {
      assert.deepEqual(Object.keys(record).sort(), [...RECORD_FIELDS].sort(), JSON.stringify(record));
      for (const [field, value] of Object.entries(record)) {
        assert.ok(value === null || typeof value === 'string', `${field} is ${JSON.stringify(value)}`);
      }
      assert.equal(record.user_id, String(OWNER));
      assert.match(record.id, /^[1-9][0-9]*$/);
      assert.match(record.created_dt, DATE_PATTERN);
      // The same record as the lookup of that one request.
      assert.deepEqual(record, await lookup(testApp.http, record.rid));
    }
    const [held2, held1, newestFinished] = page;
    assert.equal(held2.name, '/jobs/held?name=held-2&bgrs=yes');
    assert.equal(held1.status_name, 'processing');
    assert.equal(held2.status_id, '3');
    assert.equal(held2.finished_dt, null);
    assert.equal(held2.result, null);
    assert.equal(newestFinished.name, `/jobs/quick?n=${FINISHED}&bgrs=yes`);
    assert.equal(newestFinished.status_name, 'finished');
    assert.equal(newestFinished.status_id, '4');
    assert.equal(newestFinished.progress, '100.00');
    assert.equal(newestFinished.status, '200');
    assert.match(String(newestFinished.finished_dt), DATE_PATTERN);
    assert.match(String(newestFinished.content_type), /^application\/json/);
  });

  it('pages with limit and before=<id of the last one>: no overlap, no gap, then []', async () => {
    for (const limit of [1, 7, 10, 26, 27, 100]) {
      const seen: string[] = [];
      let query = `limit=${limit}`;
      for (let pages = 0; ; pages++) {
        assert.ok(pages <= ownerRids.length + 1, `limit ${limit}: too many pages`);
        const page = await list(query);
        assert.ok(page.length <= limit, `limit ${limit}: a page of ${page.length}`);
        if (page.length === 0) {
          break;
        }
        seen.push(...page.map((record) => record.rid));
        query = `limit=${limit}&before=${page.at(-1)!.id}`;
      }
      assert.deepEqual(seen, ownerRids, `limit ${limit}: every request once, newest first`);
    }
  });

  it('pages of the default size follow on from each other', async () => {
    const first = await list('');
    const second = await list(`before=${first.at(-1)!.id}`);
    assert.equal(first.length, 20);
    assert.deepEqual(
      [...first, ...second].map((record) => record.rid),
      ownerRids,
    );
    // `before` is exclusive, and any id works as a bound, not only one of the caller's.
    const middle = Number(first[9].id);
    assert.deepEqual(
      (await list(`before=${middle}&limit=3`)).map((record) => record.rid),
      ownerRids.slice(10, 13),
    );
    assert.deepEqual(await list(`before=${first.at(-1)!.id}&limit=100`), second);
  });

  it('filters by status', async () => {
    const finished = await list('status=finished&limit=100');
    assert.deepEqual(
      finished.map((record) => record.rid),
      ownerFinished,
    );
    assert.ok(finished.every((record) => record.status_name === 'finished'));

    const processing = await list('status=processing');
    assert.deepEqual(
      processing.map((record) => record.rid),
      ownerProcessing,
    );
    assert.ok(processing.every((record) => record.status_name === 'processing'));

    for (const status of ['created', 'queued', 'failed', 'cancelled']) {
      assert.deepEqual(await list(`status=${status}`), [], status);
    }

    // Filtered pages follow on too.
    const seen: string[] = [];
    let query = 'status=finished&limit=10';
    for (;;) {
      const page = await list(query);
      if (page.length === 0) {
        break;
      }
      seen.push(...page.map((record) => record.rid));
      query = `status=finished&limit=10&before=${page.at(-1)!.id}`;
    }
    assert.deepEqual(seen, ownerFinished);
  });

  it('lists only the caller’s own: another user sees theirs, an anonymous caller gets []', async () => {
    const other = await list('limit=100', OTHER);
    assert.deepEqual(
      other.map((record) => record.rid),
      otherRids,
    );
    assert.ok(other.every((record) => record.user_id === String(OTHER)));

    assert.deepEqual(await list('', null), []);
    assert.deepEqual(await list('limit=100&status=finished', null), []);
    // A user who made nothing.
    assert.deepEqual(await list('', 9), []);
    // Anonymous requests exist, and are nobody's to list.
    assert.equal(anonymousRids.length > 0, true);
    const everyone = [...(await list('limit=100')), ...other].map((record) => record.rid);
    assert.ok(anonymousRids.every((rid) => !everyone.includes(rid)));
  });

  it('answers a JSON 400 to an invalid limit, before or status', async () => {
    const invalid = [
      'limit=0',
      'limit=101',
      'limit=abc',
      'limit=-1',
      'limit=1.5',
      'limit=5&limit=6',
      'before=abc',
      'before=-1',
      'before=1.5',
      'status=nope',
      'status=FINISHED',
      'status=finished&limit=0',
    ];
    for (const query of invalid) {
      for (const user of [OWNER, undefined]) {
        const answer = await get(`/bgrs?${query}`, user);
        assert.equal(answer.status, 400, `?${query} as ${user}: ${answer.status} ${answer.text}`);
        assert.match(String(answer.headers['content-type']), /^application\/json/, query);
        assert.equal(answer.body.statusCode, 400, `?${query}: ${answer.text}`);
        assert.equal(typeof answer.body.message, 'string', `?${query}: ${answer.text}`);
      }
    }
    // The bounds themselves are fine.
    assert.equal((await list('limit=1')).length, 1);
    assert.equal((await list('limit=100')).length, ownerRids.length);
  });
});
