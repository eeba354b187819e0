/**
 * Results any instance can serve (README, “Results that any instance can serve”): two instances of a host app in
 * separate processes share one database and one result store, S3 (a real s3rver) or the database, each with a
 * result folder of its own. A request accepted and run on A has its `/result` served by B with the bytes, status,
 * Content-Type and Content-Disposition that A answers in the foreground: JSON, a CSV download, and a 256 MiB
 * `StreamableFile` made as it is streamed (compared by a SHA-256 taken as it streams, never held). Neither folder
 * gets a file. With the default file store and a folder per instance (two machines), B answers `410` for A's
 * result in A's folder: that is what the shared stores are for (a small result kept in its row, B serves).
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { patternDigest } from './support/byte-pattern.js';
import { TestDatabase } from './support/database.js';
import { jsonOf, resultOf, sendRaw, submit, waitForStatus } from './support/http.js';
import { killAllInstances, s3Store, startInstance, type Instance } from './support/instances.js';
import { hashedRequest } from './support/raw-http.js';
import { S3Server } from './support/s3-server.js';

const MiB = 1024 * 1024;
const BIG_MIB = 256;
const PREFIX = 'shared/';
/** A deadline against hangs while 256 MiB go through s3rver or MariaDB on a busy machine, not a speed requirement. */
const BIG_DEADLINE_MS = 300_000;

interface SharedStore {
  label: string;
  /** `BGRS_TEST_STORE` of both instances. */
  spec: () => string;
  /** The `result` column of a committed result of `rid` with extension `ext`. */
  location: (rid: string, ext: string) => string;
  /** Checks that the store holds `bytes` for `rid` at `location`. */
  holds: (db: TestDatabase, rid: string, location: string, bytes: number) => Promise<void>;
}

describe('results any instance can serve (two instances in separate processes, one database)', () => {
  let s3: S3Server;
  let direct: S3Client;

  before(async () => {
    s3 = await S3Server.start();
    direct = new S3Client(s3.clientConfig());
  });

  after(async () => {
    await killAllInstances();
    direct?.destroy();
    await s3?.stop();
  });

  const stores: SharedStore[] = [
    {
      label: 'S3ResultStore on s3rver',
      spec: () => s3Store(`http://127.0.0.1:${s3.port}`, S3Server.BUCKET, PREFIX),
      location: (rid, ext) => `s3://${S3Server.BUCKET}/${PREFIX}keep1m.bgrs.${rid}.result.${ext}`,
      holds: async (_db, _rid, location, bytes) => {
        const key = location.slice(`s3://${S3Server.BUCKET}/`.length);
        const head = await direct.send(new HeadObjectCommand({ Bucket: S3Server.BUCKET, Key: key }));
        assert.equal(head.ContentLength, bytes, `the object ${key} holds the whole result`);
      },
    },
    {
      label: 'DatabaseResultStore',
      spec: () => 'database',
      location: (rid) => `db:${rid}`,
      holds: async (db, rid, _location, bytes) => {
        const [row] = await db.query<{ size: string; committed: number }>(
          'SELECT size, committed_dt IS NOT NULL AS committed FROM bgrs_results WHERE rid = ?',
          [rid],
        );
        assert.ok(row, `bgrs_results has a row for ${rid}`);
        assert.equal(Number(row.size), bytes);
        assert.equal(Number(row.committed), 1);
        const [chunks] = await db.query<{ n: number; bytes: string }>(
          'SELECT COUNT(*) AS n, SUM(LENGTH(data)) AS bytes FROM bgrs_result_chunks WHERE rid = ?',
          [rid],
        );
        assert.equal(Number(chunks.bytes), bytes, 'its chunks hold the whole result');
        assert.equal(Number(chunks.n), Math.ceil(bytes / MiB), 'in 1 MiB chunks');
      },
    },
  ];

  for (const store of stores) {
    describe(`${store.label}: run on A, served by B (a result folder each)`, () => {
      let db: TestDatabase;
      let folders: string[];
      let a: Instance;
      let b: Instance;

      before(async () => {
        db = await TestDatabase.create();
        folders = [await mkdtemp(join(tmpdir(), 'bgrs-shared-a-')), await mkdtemp(join(tmpdir(), 'bgrs-shared-b-'))];
        // One after the other, so that the second finds the migrations done.
        // Every result in the store, small ones too (by default those stay in their rows): the store is tested.
        const bgrs = { inlineResultBytes: 0 };
        a = await startInstance({ name: 'A', dbUrl: db.url, resultDir: folders[0], store: store.spec(), bgrs });
        b = await startInstance({ name: 'B', dbUrl: db.url, resultDir: folders[1], store: store.spec(), bgrs });
      });

      after(async () => {
        await Promise.all([a?.kill(), b?.kill()]);
        await db?.drop();
        await Promise.all((folders ?? []).map((folder) => rm(folder, { recursive: true, force: true })));
      });

      /** Neither instance wrote a file: the results are in the shared store only. */
      async function assertNoFiles(): Promise<void> {
        for (const folder of folders) {
          assert.deepEqual(await readdir(folder), [], `nothing in ${folder}`);
        }
      }

      for (const { kind, path, ext } of [
        { kind: 'JSON', path: '/results/json?name=report-1', ext: 'json' },
        { kind: 'a CSV download', path: '/results/csv?name=report-2', ext: 'csv' },
      ]) {
        it(`${kind}: B serves what A answers in the foreground, byte for byte`, async () => {
          const foreground = await sendRaw(a.http, { path });
          assert.equal(foreground.status, 200);
          const rid = await submit(a.http, { path });
          // Polled on B: it sees A's run through the shared database.
          const record = await waitForStatus(b.http, rid, 'finished');
          assert.equal(record.result, store.location(rid, ext));
          assert.equal(record.content_type, foreground.headers['content-type']);

          const result = await resultOf(b.http, rid);
          assert.equal(result.status, foreground.status);
          assert.equal(result.headers['content-type'], foreground.headers['content-type']);
          assert.equal(result.headers['content-disposition'], foreground.headers['content-disposition']);
          assert.ok(
            result.body.equals(foreground.body),
            `B's replay differs from A's foreground answer:\n${result.body}\n---\n${foreground.body}`,
          );
          if (ext === 'json') {
            assert.equal(jsonOf(result).instance, 'A', 'the handler ran on A');
          } else {
            assert.equal(result.headers['content-disposition'], 'attachment; filename="x.csv"');
            assert.match(String(result.headers['content-type']), /^text\/csv/);
            assert.match(result.body.toString('utf8'), /^name,instance,note\r\nreport-2,A,/);
          }
          await store.holds(db, rid, record.result!, foreground.body.length);
          await assertNoFiles();
        });
      }

      it(
        `a ${BIG_MIB} MiB StreamableFile: B streams what A streams in the foreground`,
        { timeout: 600_000 },
        async () => {
          const size = BIG_MIB * MiB;
          const path = `/results/big?mib=${BIG_MIB}`;
          const expected = patternDigest(size);
          const foreground = await hashedRequest(a.port, path);
          assert.equal(foreground.status, 200);
          assert.equal(foreground.length, size);
          assert.equal(foreground.digest, expected, 'the foreground answer is the generated pattern');

          const rid = await submit(a.http, { path });
          const record = await waitForStatus(b.http, rid, 'finished', { deadlineMs: BIG_DEADLINE_MS });
          assert.equal(record.result, store.location(rid, 'bin'));
          await store.holds(db, rid, record.result!, size);

          const result = await hashedRequest(b.port, `/bgrs/${rid}/result`);
          assert.equal(result.status, 200, result.text);
          assert.equal(result.length, size);
          assert.equal(result.digest, foreground.digest, "B's replay differs from A's foreground answer");
          assert.equal(result.headers['content-length'], String(size));
          assert.equal(result.headers['content-type'], foreground.headers['content-type']);
          assert.equal(result.headers['content-disposition'], foreground.headers['content-disposition']);
          assert.equal(result.headers['content-disposition'], 'attachment; filename="big.bin"');
          await assertNoFiles();
        },
      );
    });
  }

  describe('the default file store, a folder per instance (two machines): why the shared stores exist', () => {
    let db: TestDatabase;
    let machines: string[];

    before(async () => {
      db = await TestDatabase.create();
      // Each instance in a working directory of its own with `resultDir: 'media'`: a folder per machine.
      machines = [await mkdtemp(join(tmpdir(), 'bgrs-machine-a-')), await mkdtemp(join(tmpdir(), 'bgrs-machine-b-'))];
      await Promise.all(machines.map((machine) => mkdir(join(machine, 'media'))));
    });

    after(async () => {
      await killAllInstances();
      await db?.drop();
      await Promise.all((machines ?? []).map((machine) => rm(machine, { recursive: true, force: true })));
    });

    it('B answers 410 for the result that A keeps in its own folder; a small result in its row, B serves', async () => {
      const a = await startInstance({ name: 'A', dbUrl: db.url, resultDir: 'media', cwd: machines[0] });
      const b = await startInstance({ name: 'B', dbUrl: db.url, resultDir: 'media', cwd: machines[1] });
      // A download (its Content-Disposition is to be replayed) goes to the store, whatever its size.
      const filed = await submit(a.http, { path: '/results/csv?name=local' });
      const record = await waitForStatus(b.http, filed, 'finished');
      assert.equal(record.result, join('media', `keep1m.bgrs.${filed}.result.csv`));
      assert.equal((await resultOf(b.http, filed)).status, 410, 'B has no such file');
      assert.equal((await resultOf(a.http, filed)).status, 200, 'A has it');

      // A small JSON result is kept in its request's row (inlineResultBytes, 8192 by default): any instance has it.
      const path = '/results/json?name=local';
      const foreground = await sendRaw(a.http, { path });
      const inline = await submit(a.http, { path });
      assert.equal((await waitForStatus(b.http, inline, 'finished')).result, `inline:${inline}`);
      const served = await resultOf(b.http, inline);
      assert.equal(served.status, 200);
      assert.ok(served.body.equals(foreground.body), "B serves A's foreground bytes");
      assert.equal(served.headers['content-type'], foreground.headers['content-type']);
      const files = await readdir(join(machines[0], 'media'));
      assert.deepEqual(
        files.filter((file) => file.includes(inline)),
        [],
        'in its row, it has no file',
      );
    });
  });
});
