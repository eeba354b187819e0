/**
 * The demo with its results in S3 (README, the demo's environment): started as `npm start` runs it, with
 * `S3_BUCKET`, `S3_ENDPOINT`, `S3_PREFIX` and the SDK's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` pointing at a real
 * s3rver. The slow CSV report runs in the background end to end: its result is an object of the bucket, served
 * with the foreground's bytes and headers, and no result file is written. An `S3_*` setting without `S3_BUCKET` is
 * refused at start.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDemo, type RunningDemo } from './support/demo.js';
import { resultOf, sendRaw, submit, waitForStatus } from './support/http.js';
import { REPO_ROOT, runNode } from './support/processes.js';
import { S3Server } from './support/s3-server.js';

const PREFIX = 'demo/';

describe('the demo with S3_BUCKET set (s3rver)', () => {
  let s3: S3Server;
  let direct: S3Client;
  let cwd: string;
  let demo: RunningDemo;

  before(async () => {
    s3 = await S3Server.start();
    direct = new S3Client(s3.clientConfig());
    cwd = await mkdtemp(join(tmpdir(), 'bgrs-demo-s3-'));
    demo = await startDemo(cwd, {
      S3_BUCKET: S3Server.BUCKET,
      S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
      S3_PREFIX: PREFIX,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
  });

  after(async () => {
    await demo?.stop();
    direct?.destroy();
    await s3?.stop();
    if (cwd) {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('says where its results are', () => {
    assert.match(demo.output(), new RegExp(`results are kept in s3://${S3Server.BUCKET}/${PREFIX} on http://127`));
  });

  it('runs the slow CSV report in the background, its result an object of the bucket', async () => {
    const path = '/v2.5/reports/sales?year=2024&t=csv';
    const rid = await submit(demo.http, { path });
    const record = await waitForStatus(demo.http, rid, 'finished');
    const key = `${PREFIX}keep1m.bgrs.${rid}.result.csv`;
    assert.equal(record.result, `s3://${S3Server.BUCKET}/${key}`);

    const foreground = await sendRaw(demo.http, { path });
    const result = await resultOf(demo.http, rid);
    assert.equal(result.status, 200);
    assert.equal(result.headers['content-type'], foreground.headers['content-type']);
    assert.equal(result.headers['content-disposition'], 'attachment; filename="sales-2024.csv"');
    assert.ok(result.body.equals(foreground.body), 'the replayed CSV differs from the foreground');

    const object = await direct.send(new GetObjectCommand({ Bucket: S3Server.BUCKET, Key: key }));
    assert.ok(Buffer.from(await object.Body!.transformToByteArray()).equals(foreground.body), 'the object is the CSV');
    assert.equal(object.ContentType, foreground.headers['content-type']);
    assert.ok(!existsSync(join(cwd, 'media')), 'no result file was written');
  });

  it('refuses an S3 setting without S3_BUCKET at start, naming it', async () => {
    await assert.rejects(
      runNode([join(REPO_ROOT, 'build/demo/main.js')], {
        cwd,
        env: { ...process.env, PORT: '0', S3_ENDPOINT: `http://127.0.0.1:${s3.port}`, S3_BUCKET: '' },
      }),
      /S3_ENDPOINT set without S3_BUCKET/,
    );
  });
});
