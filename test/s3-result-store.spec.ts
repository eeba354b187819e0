/**
 * `S3ResultStore` against a real s3rver, through the store contract, and what is its own: where the
 * headers go, paging, locations of other buckets and prefixes, multipart uploads left behind, and its options.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { S3ResultStore, type S3ResultStoreOptions } from '../src/index.js';
import { createRid } from '../src/util/rid.js';
import { describeResultStoreContract, entriesOf, storeResult, writeAndWait } from './support/result-store-contract.js';
import { S3Server } from './support/s3-server.js';
import { recordS3Requests, type S3Answer } from './support/s3-requests.js';

const MiB = 1024 * 1024;
/** The smallest part S3 takes: a 64 MiB result is 13 parts, two at a time. */
const PARTS = { partSize: 5 * MiB, queueSize: 2 };

describeResultStoreContract('S3ResultStore (s3rver)', async () => {
  const server = await S3Server.start();
  const client = new S3Client(server.clientConfig());
  return {
    store: new S3ResultStore({ bucket: S3Server.BUCKET, prefix: 'contract/', client, ...PARTS }),
    newRid: async () => createRid(),
    close: async () => {
      client.destroy();
      await server.stop();
    },
  };
});

describe('S3ResultStore', () => {
  let server: S3Server;
  let client: S3Client;
  const clients: S3Client[] = [];

  before(async () => {
    server = await S3Server.start();
    client = newClient();
  });

  after(async () => {
    for (const each of clients) {
      each.destroy();
    }
    await server?.stop();
  });

  function newClient(): S3Client {
    const made = new S3Client(server.clientConfig());
    clients.push(made);
    return made;
  }

  /** A client of its own whose requests are recorded (and some answered by the test). */
  function recordingClient(answer?: S3Answer) {
    const recorded = newClient();
    return { client: recorded, requests: recordS3Requests(recorded, answer) };
  }

  function storeWith(options: Partial<S3ResultStoreOptions> = {}): S3ResultStore {
    return new S3ResultStore({ bucket: S3Server.BUCKET, client, ...PARTS, ...options });
  }

  it('keys results as <prefix>keep1m.bgrs.<rid>.result.<ext>, with the Content-Type and small headers on the object', async () => {
    const rid = createRid();
    const location = await storeResult(storeWith({ prefix: 'keys/' }), rid, Buffer.from('a;b'), 'text/csv', {
      'content-disposition': 'attachment; filename="a  b.csv"',
    });
    const key = `keys/keep1m.bgrs.${rid}.result.csv`;
    assert.equal(location, `s3://${S3Server.BUCKET}/${key}`);
    const head = await client.send(new HeadObjectCommand({ Bucket: S3Server.BUCKET, Key: key }));
    assert.equal(head.ContentType, 'text/csv');
    assert.deepEqual(JSON.parse(decodeURIComponent(head.Metadata!['bgrs-headers'])), {
      'content-disposition': 'attachment; filename="a  b.csv"',
    });
  });

  it('keeps headers too many for S3 metadata in an object of their own, removed with the result', async () => {
    const store = storeWith({ prefix: 'big-headers/' });
    const rid = createRid();
    const headers = { 'x-long': 'v'.repeat(4000) };
    const location = await storeResult(store, rid, Buffer.from('{}'), 'application/json', headers);
    const headersKey = `big-headers/keep1m.bgrs.${rid}.result.headers.json`;
    const object = await client.send(new GetObjectCommand({ Bucket: S3Server.BUCKET, Key: headersKey }));
    assert.deepEqual(JSON.parse(await object.Body!.transformToString()), headers);
    assert.deepEqual((await store.open(location)).headers, headers);

    await store.remove(location);
    await assert.rejects(client.send(new HeadObjectCommand({ Bucket: S3Server.BUCKET, Key: headersKey })));
  });

  it('a body beyond one part is uploaded to the partial object in parts and copied into place at commit', async () => {
    const { client: recorded, requests } = recordingClient();
    const rid = createRid();
    await storeResult(
      storeWith({ prefix: 'multipart/', client: recorded }),
      rid,
      Buffer.alloc(12 * MiB, 3),
      'text/plain',
    );
    const partial = `multipart/keep1m.bgrs.${rid}.result.partial`;
    const ofRid = requests.filter((request) => request.key?.includes(rid));
    assert.deepEqual(
      [...new Set(ofRid.map((request) => `${request.command} ${request.key}`))],
      [
        `CreateMultipartUploadCommand ${partial}`,
        `UploadPartCommand ${partial}`,
        `CompleteMultipartUploadCommand ${partial}`,
        `CopyObjectCommand multipart/keep1m.bgrs.${rid}.result.txt`,
        `DeleteObjectCommand ${partial}`,
      ],
    );
    assert.equal(ofRid.filter((request) => request.command === 'UploadPartCommand').length, 3);
  });

  it('a small body is one PutObject at commit, and nothing before', async () => {
    const { client: recorded, requests } = recordingClient();
    const rid = createRid();
    const writer = storeWith({ client: recorded }).create(rid);
    await writeAndWait(writer.body, Buffer.alloc(MiB, 1));
    writer.body.end();
    assert.deepEqual(
      requests.filter((request) => request.key?.includes(rid)),
      [],
    );
    await writer.commit('application/json', {});
    assert.deepEqual(
      requests.filter((request) => request.key?.includes(rid)).map((request) => request.command),
      ['PutObjectCommand'],
    );
  });

  it('list() pages through ListObjectsV2 and reports partial objects as partial', async () => {
    const store = storeWith({ prefix: 'paging/' });
    const rids = [createRid(), createRid(), createRid(), createRid(), createRid()];
    for (const rid of rids) {
      await storeResult(store, rid, Buffer.from(rid), 'text/plain');
    }
    // A partial object, as a writer that died after its upload completed and before its commit leaves one.
    const partialRid = createRid();
    await client.send(
      new PutObjectCommand({
        Bucket: S3Server.BUCKET,
        Key: `paging/keep1m.bgrs.${partialRid}.result.partial`,
        Body: 'x',
      }),
    );
    const { client: paged, requests } = recordingClient((request, input) => {
      if (request.command === 'ListObjectsV2Command') {
        input.MaxKeys = 2;
      }
      return undefined;
    });
    const listed = [];
    for await (const entry of storeWith({ prefix: 'paging/', client: paged }).list()) {
      listed.push(entry);
    }
    assert.deepEqual(listed.map((entry) => entry.rid).sort(), [...rids, partialRid].sort());
    assert.deepEqual(
      listed.filter((entry) => !entry.committed).map((entry) => entry.location),
      [`s3://${S3Server.BUCKET}/paging/keep1m.bgrs.${partialRid}.result.partial`],
    );
    assert.equal(requests.filter((request) => request.command === 'ListObjectsV2Command').length, 3);
  });

  it('only results of its own bucket and prefix are opened or removed', async () => {
    const rid = createRid();
    const location = await storeResult(storeWith({ prefix: 'mine/' }), rid, Buffer.from('mine'), 'text/plain');
    const other = storeWith({ prefix: 'theirs/' });
    await assert.rejects(other.open(location), /Not a result location of this S3ResultStore/);
    await other.remove(location);
    await other.remove('media/keep1m.bgrs.00000000000000000000000000000000.result.json');
    assert.equal((await entriesOf(storeWith({ prefix: 'mine/' }), rid)).length, 1);
    for (const foreign of [
      `s3://another-bucket/mine/keep1m.bgrs.${rid}.result.txt`,
      `s3://${S3Server.BUCKET}/mine/keep1m.bgrs.${rid}.result.partial`,
      `s3://${S3Server.BUCKET}/mine/../mine/keep1m.bgrs.${rid}.result.txt`,
    ]) {
      await assert.rejects(storeWith({ prefix: 'mine/' }).open(foreign), /Not a result location/, foreign);
    }
  });

  it('abandon() aborts the multipart uploads left to the partial object of its rid, and only those', async () => {
    const rid = createRid();
    const partial = `left/keep1m.bgrs.${rid}.result.partial`;
    // s3rver has no ListMultipartUploads: the test answers it (two pages) and AbortMultipartUpload.
    const { client: recorded, requests } = recordingClient((request, input) => {
      if (request.command === 'ListMultipartUploadsCommand') {
        return input.KeyMarker
          ? { Uploads: [{ Key: partial, UploadId: 'u2' }], IsTruncated: false }
          : {
              Uploads: [
                { Key: partial, UploadId: 'u1' },
                { Key: `${partial}.other`, UploadId: 'x' },
              ],
              IsTruncated: true,
              NextKeyMarker: partial,
              NextUploadIdMarker: 'u1',
            };
      }
      return request.command === 'AbortMultipartUploadCommand' ? {} : undefined;
    });
    await storeWith({ prefix: 'left/', client: recorded }).abandon(rid);
    assert.deepEqual(
      requests.filter((request) => request.command.includes('Multipart')),
      [
        { command: 'ListMultipartUploadsCommand', prefix: partial },
        { command: 'AbortMultipartUploadCommand', key: partial },
        { command: 'ListMultipartUploadsCommand', prefix: partial },
        { command: 'AbortMultipartUploadCommand', key: partial },
      ],
    );
  });

  it('malformed and hostile rids never reach a request', async () => {
    const { client: recorded, requests } = recordingClient();
    const store = storeWith({ client: recorded });
    for (const rid of ['../../etc/passwd0000000000000000', `..%2f${'a'.repeat(27)}`, 'A'.repeat(32)]) {
      assert.throws(() => store.create(rid), /Not a request id/);
      await assert.rejects(store.abandon(rid), /Not a request id/);
    }
    assert.deepEqual(requests, []);
  });

  it('refuses options it cannot work with, naming the option', () => {
    const bucket = S3Server.BUCKET;
    for (const [options, message] of [
      [{ bucket: '', client }, /bucket must be a bucket name/],
      [{ bucket: 'a/b', client }, /bucket must be a bucket name/],
      [{ bucket, client, prefix: 7 }, /prefix must be a string/],
      [{ bucket }, /client must be an S3Client or an S3ClientConfig/],
      [{ bucket, client, partSize: MiB }, /partSize must be .* at least 5242880/],
      [{ bucket, client, queueSize: 0 }, /queueSize must be/],
      [{ bucket, client, prefix: 'p/'.repeat(100) }, /bucket and prefix are too long: .* 255 characters/],
    ] as const) {
      assert.throws(() => new S3ResultStore(options as unknown as S3ResultStoreOptions), message);
    }
    // The longest prefix that fits: every location is at most 255 characters.
    const longest = 255 - `s3://${bucket}/keep1m.bgrs.${'0'.repeat(32)}.result.9999.html`.length;
    assert.ok(new S3ResultStore({ bucket, client, prefix: 'p'.repeat(longest) }));
    assert.throws(() => new S3ResultStore({ bucket, client, prefix: 'p'.repeat(longest + 1) }), /too long/);
  });

  it('makes its own client from an S3ClientConfig, and destroys it on shutdown', async () => {
    const store = new S3ResultStore({ bucket: S3Server.BUCKET, client: server.clientConfig() });
    const location = await storeResult(store, createRid(), Buffer.from('own client'), 'text/plain');
    assert.equal((await store.open(location)).size, 'own client'.length);
    store.onApplicationShutdown();
  });
});
