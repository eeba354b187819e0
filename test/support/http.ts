import assert from 'node:assert/strict';
import type supertest from 'supertest';
import type { BgrsDetailView, BgrsRequestView } from '../../src/index.js';
import { eventually } from './wait.js';

/** What `supertest(url)` gives: `.get(path)`, `.post(path)`, … */
export type HttpClient = ReturnType<typeof supertest>;
export type HttpResponse = supertest.Response;
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export const RID_PATTERN = /^[0-9a-f]{32}$/;
/** `YYYY-MM-DD HH:mm:ss`, as the lookup endpoints render dates. */
export const DATE_PATTERN = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
export const ENDED_STATUSES = ['finished', 'failed', 'cancelled'];

/** A superagent parser that keeps the raw body bytes, whatever the Content-Type: `res.body` is a Buffer. */
export function rawBytes(res: unknown, done: (error: Error | null, body: Buffer) => void): void {
  // In Node, superagent hands the parser the IncomingMessage.
  const stream = res as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer | string) => chunks.push(Buffer.from(chunk)));
  stream.on('error', (error: Error) => done(error, Buffer.alloc(0)));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

export interface RawRequest {
  method?: HttpMethod;
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Sends a request and keeps the answer's body as raw bytes (`res.body` is a Buffer). */
export function sendRaw(
  http: HttpClient,
  { method = 'get', path, body, headers = {} }: RawRequest,
): Promise<HttpResponse> {
  let test = http[method](path).buffer(true).parse(rawBytes);
  for (const [name, value] of Object.entries(headers)) {
    test = test.set(name, value);
  }
  return body === undefined ? test : test.send(body as object);
}

/** `path` with `bgrs=<value>` added to its query. */
export function withBgrs(path: string, value = 'yes'): string {
  return `${path}${path.includes('?') ? '&' : '?'}bgrs=${encodeURIComponent(value)}`;
}

/** The answer parsed as JSON, with a message that shows the bytes when they are not JSON. */
export function jsonOf(res: HttpResponse): any {
  const text = Buffer.isBuffer(res.body) ? res.body.toString('utf8') : res.text;
  try {
    return JSON.parse(text);
  } catch {
    assert.fail(`expected a JSON body, got ${res.status} ${res.headers['content-type']}: ${JSON.stringify(text)}`);
  }
}

/**
 * Submits a background request (`?bgrs=yes` added to the path unless `headers` ask with `Prefer`), checks that
 * it was accepted with `202 {"request": rid}`, and returns the rid.
 */
export async function submit(http: HttpClient, request: RawRequest & { bgrs?: string | null }): Promise<string> {
  const path = request.bgrs === null ? request.path : withBgrs(request.path, request.bgrs ?? 'yes');
  const res = await sendRaw(http, { ...request, path });
  assert.equal(res.status, 202, `expected 202 for ${request.method ?? 'get'} ${path}, got ${res.status}: ${res.body}`);
  const rid = jsonOf(res).request;
  assert.match(rid, RID_PATTERN);
  return rid;
}

/** `GET /bgrs/<rid>`: the one record. */
export async function lookup(http: HttpClient, rid: string, prefix = 'bgrs'): Promise<BgrsRequestView> {
  const res = await http.get(`/${prefix}/${rid}`);
  assert.equal(res.status, 200, `GET /${prefix}/${rid} answered ${res.status}: ${res.text}`);
  assert.ok(Array.isArray(res.body) && res.body.length === 1, `expected an array of one record, got ${res.text}`);
  return res.body[0];
}

/** `GET /bgrs/<rid>/details`. */
export async function detailsOf(http: HttpClient, rid: string, prefix = 'bgrs'): Promise<BgrsDetailView[]> {
  const res = await http.get(`/${prefix}/${rid}/details`);
  assert.equal(res.status, 200, `GET /${prefix}/${rid}/details answered ${res.status}: ${res.text}`);
  assert.ok(Array.isArray(res.body), `expected an array, got ${res.text}`);
  return res.body;
}

/**
 * Polls `GET /bgrs/<rid>` every 20 ms until its `status_name` is `status`, and returns the record. Fails at once
 * when the request ends in another status (with its details), and with a clear message at the deadline.
 */
export async function waitForStatus(
  http: HttpClient,
  rid: string,
  status: string,
  options: { deadlineMs?: number; prefix?: string } = {},
): Promise<BgrsRequestView> {
  let last: BgrsRequestView | undefined;
  return eventually(
    `background request ${rid} to be ${status}`,
    async () => {
      last = await lookup(http, rid, options.prefix);
      if (last.status_name === status) {
        return last;
      }
      if (ENDED_STATUSES.includes(last.status_name)) {
        const details = await detailsOf(http, rid, options.prefix);
        assert.fail(
          `background request ${rid} ended as ${last.status_name}, not ${status}: ` +
            `${JSON.stringify(last)} details ${JSON.stringify(details.map((detail) => detail.details))}`,
        );
      }
      return undefined;
    },
    { deadlineMs: options.deadlineMs, describeLast: () => JSON.stringify(last) },
  );
}

/** `GET /bgrs/<rid>/result` with the body as raw bytes. */
export function resultOf(http: HttpClient, rid: string, prefix = 'bgrs'): Promise<HttpResponse> {
  return sendRaw(http, { path: `/${prefix}/${rid}/result` });
}

/** The fields of a record (README, “Lookup endpoints”), in the order the API sends them. */
export const RECORD_FIELDS = [
  'id',
  'rid',
  'user_id',
  'name',
  'created_dt',
  'status_id',
  'status_name',
  'progress',
  'finished_dt',
  'status',
  'content_type',
  'result',
] as const;
