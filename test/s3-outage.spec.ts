/**
 * Object storage under failure, at the level of the runner and over HTTP (README, “Under failure”: the result
 * cannot be stored): an app keeps its results with `S3ResultStore` on s3rver, through a TCP proxy that the test
 * cuts for real.
 * - S3 away when a handler ends: the request is `failed` with a details row saying why, never `finished` with a
 *   result that is not there; once S3 is back, the next request finishes normally.
 * - The link cut in the middle of a large `StreamableFile` upload: `failed` likewise, and nothing of it is visible
 *   (`list()`, the bucket); the next large result, S3 back, is stored whole.
 * - Hostile rids (`/bgrs/../result`, `%2e%2e`, key-shaped ones) answer 400 and never reach S3: not one request.
 */
import 'reflect-metadata';
import { Controller, Get, Param, StreamableFile } from '@nestjs/common';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BackgroundCapable, S3_CLIENT_DEFAULTS, S3ResultStore } from '../src/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { patternChunk, patternDigest } from './support/byte-pattern.js';
import { Gates } from './support/gate.js';
import { detailsOf, jsonOf, lookup, resultOf, submit, waitForStatus } from './support/http.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { hashedRequest, jsonAnswer, rawRequest } from './support/raw-http.js';
import { entriesOf } from './support/result-store-contract.js';
import { S3Server } from './support/s3-server.js';
import { recordS3Requests, type S3Request } from './support/s3-requests.js';
import { TcpProxy } from './support/tcp-proxy.js';

const MiB = 1024 * 1024;
const BIG_MIB = 64;
const PREFIX = 'outage/';
const NOT_STORED = /^No result could be stored: /;
/** How the SDK reports a connection to S3 refused or broken. */
const S3_AWAY = /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/;

const gates = new Gates();

@Controller('s3')
class OutageController {
  /** Answers once the gate `name` opens. */
  @Get('held/:name')
  @BackgroundCapable()
  async held(@Param('name') name: string) {
    await gates.wait(name);
    return { name, stored: 'in S3' };
  }

  @Get('quick/:name')
  @BackgroundCapable()
  quick(@Param('name') name: string) {
    return { name, stored: 'in S3' };
  }

  /** `BIG_MIB` MiB of pattern bytes, a MiB a turn, so that a cut lands in the middle of the upload. */
  @Get('big/:name')
  @BackgroundCapable()
  big(): StreamableFile {
    async function* produce() {
      for (let index = 0; index < BIG_MIB; index++) {
        yield patternChunk(index);
        await nextTurn();
      }
    }
    return new StreamableFile(Readable.from(produce(), { objectMode: false }), {
      type: 'application/octet-stream',
      length: BIG_MIB * MiB,
    });
  }
}

describe('S3ResultStore under failure, over HTTP (a TCP proxy between the app and s3rver, cut for real)', () => {
  const logger = new KeepingLogger(true);
  let s3: S3Server;
  let proxy: TcpProxy;
  let direct: S3Client;
  let client: S3Client;
  let requests: S3Request[];
  let store: S3ResultStore;
  let testApp: TestApp;

  before(async () => {
    s3 = await S3Server.start();
    proxy = await TcpProxy.start('127.0.0.1', s3.port);
    direct = new S3Client(s3.clientConfig());
    // A client as the store makes one from a configuration (its timeouts and retries), its requests recorded.
    client = new S3Client({ ...s3.clientConfig(proxy.port), ...S3_CLIENT_DEFAULTS });
    requests = recordS3Requests(client);
    store = new S3ResultStore({ bucket: S3Server.BUCKET, prefix: PREFIX, client, partSize: 5 * MiB, queueSize: 2 });
    // Every result in S3, small ones too (by default those stay in their rows): the link to S3 is what is cut.
    testApp = await startTestApp({
      controllers: [OutageController],
      logger,
      bgrs: { resultStore: store, inlineResultBytes: 0 },
    });
  });

  beforeEach(async () => {
    await proxy.restore();
  });

  after(async () => {
    gates.openAll();
    await proxy?.restore();
    await testApp?.close();
    client?.destroy();
    direct?.destroy();
    await proxy?.close();
    await s3?.stop();
  });

  /** Nothing of `rid` is visible: `list()` names nothing of it, and no key of it is in the bucket. */
  async function assertNothingStored(rid: string): Promise<void> {
    assert.deepEqual(await entriesOf(store, rid), [], `list() names nothing of ${rid}`);
    for (const name of ['json', 'bin', 'partial', 'headers.json']) {
      const key = `${PREFIX}keep1m.bgrs.${rid}.result.${name}`;
      await assert.rejects(direct.send(new HeadObjectCommand({ Bucket: S3Server.BUCKET, Key: key })), key);
    }
  }

  /** The request failed for want of storage, and says why (S3's own error); it never became `finished`. */
  async function assertFailedNotStored(rid: string): Promise<void> {
    const record = await waitForStatus(testApp.http, rid, 'failed', { deadlineMs: 120_000 });
    assert.equal(record.result, null, 'a failed request names no result');
    assert.equal(record.status, null);
    assert.notEqual(record.finished_dt, null);
    const details = (await detailsOf(testApp.http, rid)).map((detail) => detail.details);
    const reason = details.find((text) => NOT_STORED.test(text));
    assert.ok(reason, `a details row says the result could not be stored: ${JSON.stringify(details)}`);
    // The link to S3 failing, not a consequence of it (the SDK's Upload gives up its body with a bare AbortError).
    assert.match(reason, S3_AWAY, 'the details row names the failure of the link to S3');
    const result = await resultOf(testApp.http, rid);
    assert.equal(result.status, 409);
    assert.equal(jsonOf(result).status_name, 'failed');
    assert.ok(
      logger.problems(new RegExp(`${rid}: No result could be stored`)).some((line) => line.startsWith('[error]')),
      `the failure is logged as an error: ${JSON.stringify(logger.problems())}`,
    );
    assert.equal(await testApp.db.count('bgrs_requests', 'rid = ? AND status_id = 4', [rid]), 0, 'never finished');
  }

  it('S3 away when the handler ends: failed with a details row; S3 back, the next request finishes', async () => {
    const rid = await submit(testApp.http, { path: '/s3/held/away' });
    await waitForStatus(testApp.http, rid, 'processing');
    await proxy.cut();
    gates.open('away');
    await assertFailedNotStored(rid);
    await proxy.restore();
    await assertNothingStored(rid);

    const next = await submit(testApp.http, { path: '/s3/quick/back' });
    const record = await waitForStatus(testApp.http, next, 'finished');
    assert.equal(record.result, `s3://${S3Server.BUCKET}/${PREFIX}keep1m.bgrs.${next}.result.json`);
    const result = await resultOf(testApp.http, next);
    assert.equal(result.status, 200);
    assert.deepEqual(jsonOf(result), { name: 'back', stored: 'in S3' });
  });

  it(`the link cut half-way through a ${BIG_MIB} MiB upload: failed, nothing visible; S3 back, the next is whole`, async () => {
    // In the third part (5 MiB each): parts are on the wire when the link fails.
    const cut = proxy.cutAfter(12 * MiB);
    const rid = await submit(testApp.http, { path: '/s3/big/cut' });
    await cut;
    await assertFailedNotStored(rid);
    const ofRid = requests.filter((request) => request.key?.includes(rid)).map((request) => request.command);
    assert.ok(ofRid.includes('UploadPartCommand'), `a multipart upload was under way: ${ofRid}`);
    assert.ok(!ofRid.includes('CompleteMultipartUploadCommand'), ofRid.join(', '));
    assert.ok(!ofRid.includes('CopyObjectCommand'), 'never committed');
    await proxy.restore();
    await assertNothingStored(rid);

    const next = await submit(testApp.http, { path: '/s3/big/whole' });
    const record = await waitForStatus(testApp.http, next, 'finished', { deadlineMs: 120_000 });
    assert.equal(record.result, `s3://${S3Server.BUCKET}/${PREFIX}keep1m.bgrs.${next}.result.bin`);
    const answer = await hashedRequest(testApp.port, `/bgrs/${next}/result`);
    assert.equal(answer.status, 200);
    assert.equal(answer.length, BIG_MIB * MiB);
    assert.equal(answer.digest, patternDigest(BIG_MIB * MiB));
  });

  it('hostile rids answer 400 and no request reaches S3', async () => {
    const rid = await submit(testApp.http, { path: '/s3/quick/target' });
    await waitForStatus(testApp.http, rid, 'finished');
    const key = `${PREFIX}keep1m.bgrs.${rid}.result.json`;
    const paths = [
      '/bgrs/../result',
      '/bgrs/%2e%2e/result',
      '/bgrs/%2E%2E/result',
      '/bgrs/%2e%2e',
      '/bgrs/%2e%2e/details',
      `/bgrs/%2e%2e%2f${rid}/result`,
      `/bgrs/..%2f..%2f${encodeURIComponent(key)}/result`,
      `/bgrs/${rid}%2f..%2f${rid}/result`,
      `/bgrs/${encodeURIComponent(`keep1m.bgrs.${rid}.result.json`)}/result`,
      `/bgrs/${encodeURIComponent(`s3://${S3Server.BUCKET}/${key}`)}/result`,
      `/bgrs/${rid.toUpperCase()}/result`,
      `/bgrs/${rid}%00/result`,
    ];
    const sent = requests.length;
    const forwarded = proxy.forwarded;
    const failures: string[] = [];
    for (const path of paths) {
      const answer = await rawRequest(testApp.port, 'GET', path);
      if (answer.status !== 400) {
        failures.push(`${path}: ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`);
        continue;
      }
      assert.equal(jsonAnswer(answer, path).statusCode, 400);
    }
    assert.deepEqual(failures, [], 'every hostile rid answers 400');
    assert.deepEqual(requests.slice(sent), [], 'the store sent no request to S3');
    assert.equal(proxy.forwarded, forwarded, 'not a byte went to S3');
    // The real rid is served as ever.
    assert.equal((await lookup(testApp.http, rid)).status_name, 'finished');
    assert.equal((await resultOf(testApp.http, rid)).status, 200);
  });
});
