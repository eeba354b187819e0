import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import type { BgrsResultHeaders, BgrsResultStore, BgrsStoredEntry } from '../../src/index.js';
import { BGRS_RESULT_MAX_LENGTH } from '../../src/bgrs.constants.js';
import { patternChunk } from './byte-pattern.js';

/** A store as one spec file runs the contract on it. */
export interface ResultStoreUnderTest {
  store: BgrsResultStore;
  /** A new rid as the runner hands it to a store: its request is recorded (the database store needs the row). */
  newRid(): Promise<string>;
  /** Stops what `start` started (a server, a database, a folder). */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
/** More than every store holds in memory before it writes out (a file store's 64 KiB, one S3 part, one DB chunk). */
export const BEYOND_BUFFERS = 6 * MiB + 12_345;

/** A body of `size` bytes made a MiB at a time as it is read, and the SHA-256 of what was made. */
export function generatedBody(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  async function* produce() {
    for (let index = 0, offset = 0; offset < size; index++, offset += MiB) {
      const chunk = patternChunk(index, Math.min(MiB, size - offset));
      hash.update(chunk);
      yield chunk;
    }
  }
  return { stream: Readable.from(produce(), { objectMode: false }), digest: () => hash.digest('hex') };
}

/** The SHA-256 and length of a stream, read to its end without holding it. */
export async function digestOf(stream: Readable): Promise<{ digest: string; length: number }> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  return { digest: hash.digest('hex'), length };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Writes `body` through a new writer for `rid` and commits it; resolves to the location. */
export async function storeResult(
  store: BgrsResultStore,
  rid: string,
  body: Buffer | Readable,
  contentType: string | null = 'application/json',
  headers: BgrsResultHeaders = {},
  attempt = 1,
): Promise<string> {
  const writer = store.create(rid, attempt);
  await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, writer.body);
  return writer.commit(contentType, headers);
}

/** Writes `data` and waits until the writer has taken it (so the store has written out what it does not hold). */
export function writeAndWait(body: Writable, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => body.write(data, (error) => (error ? reject(error) : resolve())));
}

/** What `list()` reports of `rid`. */
export async function entriesOf(store: BgrsResultStore, rid: string): Promise<BgrsStoredEntry[]> {
  const entries: BgrsStoredEntry[] = [];
  for await (const entry of store.list()) {
    if (entry.rid === rid) {
      entries.push(entry);
    }
  }
  return entries;
}

async function listedCount(store: BgrsResultStore): Promise<number> {
  let count = 0;
  for await (const _entry of store.list()) {
    count++;
  }
  return count;
}

/** Headers of the kinds the recorder keeps: a Content-Disposition with doubled spaces and Latin-1, a repeated header. */
const HEADERS: BgrsResultHeaders = {
  'content-disposition': 'attachment; filename="sales  2024 é.csv"',
  'x-report-rows': '12',
  'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
};

/** Malformed and hostile rids: none may name a file, a key or a row. */
export const BAD_RIDS = [
  `../${'a'.repeat(29)}`,
  `..%2f${'a'.repeat(27)}`,
  `%2e%2e${'a'.repeat(26)}`,
  'A'.repeat(32),
  'a'.repeat(31),
  'a'.repeat(33),
  `${'a'.repeat(31)}/`,
  'g'.repeat(32),
  '',
];

/**
 * What every `BgrsResultStore` must do, run by one spec per store (after taskforcesh/bullmq's adapter conformance
 * tests). `start` makes the store on its backend; the suite's results use rids of its own, so a backend shared with
 * other suites is fine.
 */
export function describeResultStoreContract(name: string, start: () => Promise<ResultStoreUnderTest>): void {
  describe(`${name} keeps the result store contract`, () => {
    let subject: ResultStoreUnderTest;
    let store: BgrsResultStore;

    before(async () => {
      subject = await start();
      store = subject.store;
    });

    after(async () => {
      await subject?.close();
    });

    it('a committed result opens with the same bytes, size and headers, whatever its Content-Type', async () => {
      const body = Buffer.concat([Buffer.from('{"name":"é ✓"}\n'), Buffer.from([0, 255, 13, 10])]);
      for (const contentType of ['application/json; charset=utf-8', 'text/csv', 'application/x-unknown', null]) {
        const location = await storeResult(store, await subject.newRid(), body, contentType, HEADERS);
        assert.ok(location.length <= BGRS_RESULT_MAX_LENGTH, `${location} must fit the result column`);
        const stored = await store.open(location);
        assert.equal(stored.size, body.length, `${contentType}: size`);
        assert.deepEqual(stored.headers, HEADERS, `${contentType}: headers`);
        assert.deepEqual(await readAll(stored.body), body, `${contentType}: bytes`);
      }
    });

    it('a result without headers opens with none, and an empty body is a result of 0 bytes', async () => {
      const location = await storeResult(store, await subject.newRid(), Buffer.alloc(0), 'text/plain', {});
      const stored = await store.open(location);
      assert.equal(stored.size, 0);
      assert.deepEqual(stored.headers, {});
      assert.equal((await readAll(stored.body)).length, 0);
    });

    it('a large header set (about 16 KiB) round-trips', async () => {
      const headers: BgrsResultHeaders = {};
      for (let i = 0; i < 64; i++) {
        headers[`x-custom-${i}`] = `${i} ${'v'.repeat(240)}`;
      }
      const location = await storeResult(store, await subject.newRid(), Buffer.from('[]'), 'application/json', headers);
      const stored = await store.open(location);
      assert.deepEqual(stored.headers, headers);
      assert.equal((await readAll(stored.body)).toString(), '[]');
    });

    for (const [label, size] of [
      ['a small body', 100],
      ['a body beyond what the store holds in memory', BEYOND_BUFFERS],
    ] as const) {
      it(`nothing is visible before commit (${label}): open() of its location rejects, list() shows it partial or not at all`, async () => {
        const rid = await subject.newRid();
        // The location a commit of this rid and Content-Type gives, learnt from a first result that is then removed.
        const location = await storeResult(store, rid, Buffer.from('first'), 'text/csv');
        await store.remove(location);

        const writer = store.create(rid);
        const { stream, digest } = generatedBody(size);
        await pipeline(stream, writer.body);
        await assert.rejects(store.open(location), 'a result before its commit');
        for (const entry of await entriesOf(store, rid)) {
          assert.equal(entry.committed, false, `listed before its commit: ${JSON.stringify(entry)}`);
        }

        assert.equal(await writer.commit('text/csv', {}), location);
        const stored = await store.open(location);
        assert.deepEqual(await digestOf(stored.body), { digest: digest(), length: size });
      });
    }

    for (const [label, size] of [
      ['a small body', 100],
      ['a body beyond what the store holds in memory', BEYOND_BUFFERS],
    ] as const) {
      it(`discard() leaves nothing (${label}), and the rid can be written again`, async () => {
        const rid = await subject.newRid();
        const writer = store.create(rid);
        await writeAndWait(writer.body, Buffer.alloc(size, 1));
        await writer.discard();
        assert.deepEqual(await entriesOf(store, rid), []);

        const location = await storeResult(store, rid, Buffer.from('again'));
        assert.equal((await readAll((await store.open(location)).body)).toString(), 'again');
      });
    }

    it('discard() after a commit keeps the result', async () => {
      const rid = await subject.newRid();
      const writer = store.create(rid);
      await pipeline(Readable.from([Buffer.from('kept')]), writer.body);
      const location = await writer.commit('text/plain', { 'x-kept': 'yes' });
      await writer.discard();
      const stored = await store.open(location);
      assert.deepEqual(stored.headers, { 'x-kept': 'yes' });
      assert.equal((await readAll(stored.body)).toString(), 'kept');
    });

    it('remove() deletes a result, and removing it again is no error', async () => {
      const rid = await subject.newRid();
      const location = await storeResult(store, rid, Buffer.from('gone soon'), 'text/plain', HEADERS);
      await store.remove(location);
      await assert.rejects(store.open(location));
      assert.deepEqual(await entriesOf(store, rid), []);
      await store.remove(location);
    });

    it('a missing result rejects: removed, or never written', async () => {
      const rid = await subject.newRid();
      const location = await storeResult(store, rid, Buffer.from('x'));
      await store.remove(location);
      await assert.rejects(store.open(location));
      await assert.rejects(store.open(`not-a-location-${rid}`));
    });

    it('abandon() removes what a writer that died left, and the rid can be written again', async () => {
      const rid = await subject.newRid();
      // A writer that took more than any store holds in memory, then was dropped with its process: no end, no discard.
      const dead = store.create(rid);
      await writeAndWait(dead.body, Buffer.alloc(BEYOND_BUFFERS, 7));
      for (const entry of await entriesOf(store, rid)) {
        assert.equal(entry.committed, false, `a partial result is listed as committed: ${JSON.stringify(entry)}`);
      }

      await store.abandon(rid);
      assert.deepEqual(await entriesOf(store, rid), []);
      await store.abandon(rid);

      const location = await storeResult(store, rid, Buffer.from('second run'), 'text/plain');
      assert.equal((await readAll((await store.open(location)).body)).toString(), 'second run');
    });

    it('malformed and hostile rids are refused by create() and abandon(), before anything is named from them', async () => {
      const before = await listedCount(store);
      for (const rid of BAD_RIDS) {
        assert.throws(() => store.create(rid), /Not a request id/, `create(${JSON.stringify(rid)})`);
        await assert.rejects(store.abandon(rid), /Not a request id/, `abandon(${JSON.stringify(rid)})`);
      }
      assert.equal(await listedCount(store), before);
    });

    it('a large result (64 MiB, made as it is written) streams in and out whole', async () => {
      const size = 64 * MiB;
      const { stream, digest } = generatedBody(size);
      const location = await storeResult(store, await subject.newRid(), stream, 'application/octet-stream');
      const stored = await store.open(location);
      assert.equal(stored.size, size);
      assert.deepEqual(await digestOf(stored.body), { digest: digest(), length: size });
    });

    it('results of requests written at once do not mix', async () => {
      const rids = await Promise.all([1, 2, 3].map(() => subject.newRid()));
      const locations = await Promise.all(
        rids.map((rid, index) => storeResult(store, rid, Buffer.alloc(2 * MiB + index, index + 1), 'text/plain')),
      );
      for (const [index, location] of locations.entries()) {
        const body = await readAll((await store.open(location)).body);
        assert.deepEqual(body, Buffer.alloc(2 * MiB + index, index + 1));
      }
    });

    it('two attempts of one request keep results of their own: a stale run never overwrites the one that counts', async () => {
      const rid = await subject.newRid();
      const first = await storeResult(store, rid, Buffer.from('first run'), 'application/json');
      const second = await storeResult(store, rid, Buffer.from('second run'), 'application/json', {}, 2);
      assert.notEqual(second, first);
      // The stale first run commits again after the second: the second's result is untouched.
      const stale = store.create(rid, 3);
      await pipeline(Readable.from([Buffer.from('third, abandoned')]), stale.body);
      await store.remove(first);
      await store.abandon(rid);
      assert.equal((await readAll((await store.open(second)).body)).toString(), 'second run');
      await assert.rejects(store.open(first));
      assert.deepEqual(
        (await entriesOf(store, rid)).map((entry) => [entry.location, entry.committed]),
        [[second, true]],
        'abandon() removed the partial result of attempt 3, remove() the first one',
      );
      assert.throws(() => store.create(rid, 0), /Not an attempt/);
      assert.throws(() => store.create(rid, 1.5), /Not an attempt/);
    });

    it('list() shows committed results with their rid and location', async () => {
      const since = Date.now() - 24 * 3600_000;
      const rids = await Promise.all([1, 2, 3].map(() => subject.newRid()));
      const locations = await Promise.all(rids.map((rid) => storeResult(store, rid, Buffer.from(rid), 'text/csv')));
      for (const [index, rid] of rids.entries()) {
        const entries = await entriesOf(store, rid);
        assert.equal(entries.length, 1, `${rid}: ${JSON.stringify(entries)}`);
        const [entry] = entries;
        assert.equal(entry.committed, true);
        assert.equal(entry.location, locations[index]);
        assert.ok(entry.modifiedAt instanceof Date && entry.modifiedAt.getTime() > since, String(entry.modifiedAt));
      }
    });
  });
}
