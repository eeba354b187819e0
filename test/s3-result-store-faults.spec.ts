/**
 * Store-level faults of `S3ResultStore`: a TCP proxy between the client and s3rver is cut for real. A
 * commit while S3 is away rejects (the runner then fails the request) instead of hanging, an upload cut in the
 * middle of a part is aborted, and in no case does an object become visible. A server that accepts and never
 * answers fails a commit within the client's socket timeout.
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { S3_CLIENT_DEFAULTS, S3ResultStore } from '../src/index.js';
import { createRid } from '../src/util/rid.js';
import { freePort } from './support/processes.js';
import { entriesOf, writeAndWait } from './support/result-store-contract.js';
import { S3Server } from './support/s3-server.js';
import { recordS3Requests, type S3Request } from './support/s3-requests.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { eventually } from './support/wait.js';

const MiB = 1024 * 1024;
const PREFIX = 'faults/';

describe('S3ResultStore when S3 goes away (TCP proxy cut between the client and s3rver)', () => {
  let server: S3Server;
  let proxy: TcpProxy;
  let direct: S3Client;
  let client: S3Client;
  let requests: S3Request[];
  let store: S3ResultStore;

  before(async () => {
    server = await S3Server.start();
    proxy = await TcpProxy.start('127.0.0.1', server.port);
    direct = new S3Client(server.clientConfig());
    // A client as the store makes one from a configuration (its timeouts and retries), with its requests recorded.
    client = new S3Client({ ...server.clientConfig(proxy.port), ...S3_CLIENT_DEFAULTS });
    requests = recordS3Requests(client);
    store = new S3ResultStore({ bucket: S3Server.BUCKET, prefix: PREFIX, client, partSize: 5 * MiB, queueSize: 2 });
  });

  beforeEach(async () => {
    await proxy.restore();
  });

  after(async () => {
    client?.destroy();
    direct?.destroy();
    await proxy?.close();
    await server?.stop();
  });

  /** Nothing of `rid` is in the bucket: neither its result (any extension) nor its partial object. */
  async function assertNothingVisible(rid: string): Promise<void> {
    await proxy.restore();
    assert.deepEqual(await entriesOf(store, rid), []);
    for (const name of ['json', 'bin', 'partial']) {
      const key = `${PREFIX}keep1m.bgrs.${rid}.result.${name}`;
      await assert.rejects(direct.send(new HeadObjectCommand({ Bucket: S3Server.BUCKET, Key: key })), key);
    }
  }

  it('a small result: commit while S3 is away rejects, and nothing is visible once S3 is back', async () => {
    const rid = createRid();
    const writer = store.create(rid);
    writer.body.end(Buffer.from('{"small":true}'));
    await proxy.cut();
    await assert.rejects(writer.commit('application/json', { 'x-a': '1' }));
    // As the runner does: S3 is still away, so the clean-up may fail too.
    await writer.discard().catch(() => undefined);
    await assertNothingVisible(rid);
  });

  it('a large result: commit while S3 is away rejects, the upload is aborted, and nothing is visible', async () => {
    const rid = createRid();
    const writer = store.create(rid);
    await writeAndWait(writer.body, Buffer.alloc(12 * MiB, 1));
    // The multipart upload exists (its first part is on its way): there is something to abort.
    await eventually(
      'a part being uploaded',
      async () =>
        requests.some((request) => request.command === 'UploadPartCommand' && request.key?.includes(rid)) || undefined,
    );
    await proxy.cut();
    writer.body.end(Buffer.alloc(MiB, 2));
    await assert.rejects(writer.commit('application/octet-stream', {}));
    // As the runner does: S3 is still away, so the clean-up may fail too.
    await writer.discard().catch(() => undefined);
    assert.ok(
      requests.some((request) => request.command === 'AbortMultipartUploadCommand' && request.key?.includes(rid)),
      'AbortMultipartUpload was not attempted',
    );
    await assertNothingVisible(rid);
  });

  it('an upload cut in the middle of a part fails the writer, is aborted, and leaves nothing visible', async () => {
    const rid = createRid();
    const writer = store.create(rid);
    // Half-way through the second part (5 MiB each): the link fails while a part's body is on the wire.
    const cut = proxy.cutAfter(7.5 * MiB);
    async function* produce() {
      for (let i = 0; i < 40; i++) {
        yield Buffer.alloc(MiB, i);
      }
    }
    // With the upload's own error (the link), not the bare AbortError the SDK's Upload gives its abandoned body.
    await assert.rejects(
      pipeline(Readable.from(produce(), { objectMode: false }), writer.body),
      /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/,
    );
    await cut;
    await assert.rejects(writer.commit('application/octet-stream', {}));
    // As the runner does: S3 is still away, so the clean-up may fail too.
    await writer.discard().catch(() => undefined);
    const ofRid = requests.filter((request) => request.key?.includes(rid)).map((request) => request.command);
    assert.ok(ofRid.includes('UploadPartCommand'), ofRid.join(', '));
    assert.ok(ofRid.includes('AbortMultipartUploadCommand'), `AbortMultipartUpload was not attempted: ${ofRid}`);
    assert.ok(!ofRid.includes('CompleteMultipartUploadCommand'), ofRid.join(', '));
    await assertNothingVisible(rid);
  });

  it('S3 away for good: abandon() and remove() reject, they do not hang', async () => {
    await proxy.cut();
    await assert.rejects(store.abandon(createRid()));
    await assert.rejects(store.remove(`s3://${S3Server.BUCKET}/${PREFIX}keep1m.bgrs.${createRid()}.result.json`));
  });
});

describe('S3ResultStore on a server that accepts and never answers', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let port: number;

  before(async () => {
    port = await freePort();
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const socket of sockets) {
      socket.destroy();
    }
    await new Promise((resolve) => silent.close(resolve));
  });

  it("fails a commit within the client's socket timeout (the store's defaults with the host's overrides)", async () => {
    const store = new S3ResultStore({
      bucket: 'silent',
      client: {
        endpoint: `http://127.0.0.1:${port}`,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        maxAttempts: 2,
        requestHandler: { socketTimeout: 300 },
      },
    });
    const writer = store.create(createRid());
    writer.body.end(Buffer.from('never stored'));
    await assert.rejects(writer.commit('text/plain', {}), /timed out|TimeoutError|socket/i);
    store.onApplicationShutdown();
  });
});
