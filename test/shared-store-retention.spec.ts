/**
 * Retention of results kept in a shared store (README, “Under failure”: results older than `retentionDays`): two
 * app instances on one database and one store, S3 (a real s3rver) or the database, sweeping every 200 ms and
 * triggered at the same moment besides. Requests aged past `retentionDays` (by SQL, as in `retention.spec.ts`) go
 * with their stored results (the S3 objects, the `bgrs_results` and `bgrs_result_chunks` rows), small and larger
 * than one part or chunk; young ones stay and are served by both instances; an old request still running keeps its
 * record and what it has written, and finishes; objects the store does not own (another prefix, another name)
 * stay; S3 deletes name only the aged results' keys, each instance deleting a key once (both instances may, since
 * each reads the expired rows before the other deletes them: harmless, S3 answers 204 for a missing key); and no
 * sweep logs a problem.
 */
import 'reflect-metadata';
import { Controller, Get, Header, Param, StreamableFile } from '@nestjs/common';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  BackgroundCapable,
  DatabaseResultStore,
  S3_CLIENT_DEFAULTS,
  S3ResultStore,
  type BgrsModuleOptions,
} from '../src/index.js';
import { BgrsRetentionSweeper } from '../src/persistence/bgrs-retention-sweeper.service.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { patternChunk, patternDigest, patternStream } from './support/byte-pattern.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { Gates } from './support/gate.js';
import { resultOf, submit, waitForStatus } from './support/http.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { hashedRequest } from './support/raw-http.js';
import { S3Server } from './support/s3-server.js';
import { recordS3Requests, type S3Request } from './support/s3-requests.js';
import { eventually } from './support/wait.js';

const MiB = 1024 * 1024;
/** Larger than one S3 part (8 MiB) and several database chunks (1 MiB). */
const BIG_BYTES = 9 * MiB;
/** The running request's body stops here until the test lets it go on. */
const HELD_AFTER_MIB = 3;
const PREFIX = 'kept/';

const gates = new Gates();
/** Names of the held requests whose body has reached its gate. */
const reached = new Set<string>();

@Controller('kept')
class KeptController {
  @Get('small/:n')
  @BackgroundCapable()
  @Header('X-Kept', 'yes')
  small(@Param('n') n: string) {
    return { n };
  }

  @Get('big/:n')
  @BackgroundCapable()
  big(): StreamableFile {
    return new StreamableFile(patternStream(BIG_BYTES), { type: 'application/octet-stream', length: BIG_BYTES });
  }

  /** The big body, held after `HELD_AFTER_MIB` MiB until the gate `n` opens. */
  @Get('held/:n')
  @BackgroundCapable()
  held(@Param('n') n: string): StreamableFile {
    async function* produce() {
      for (let index = 0; index < BIG_BYTES / MiB; index++) {
        if (index === HELD_AFTER_MIB) {
          reached.add(n);
          await gates.wait(n);
        }
        yield patternChunk(index);
        await nextTurn();
      }
    }
    return new StreamableFile(Readable.from(produce(), { objectMode: false }), {
      type: 'application/octet-stream',
      length: BIG_BYTES,
    });
  }
}

/** How a case keeps results, and how the test looks into the store behind the module's back. */
interface StoreCase {
  label: string;
  /** Names this case's gate. */
  key: string;
  /** The `resultStore` option of one app. */
  option(): BgrsModuleOptions['resultStore'];
  /** What the store's backend holds of `rid` (S3 keys; rows of the database), each thing as one string. */
  stored(rid: string): Promise<string[]>;
  /** Everything the backend holds, in the same form, for "nothing else went". */
  everything(): Promise<string[]>;
  /** How many things a request held at its gate has written (S3: nothing yet, it is within one part). */
  heldThings: number;
  /** Puts things there that are no results of this store; returns what must stay. */
  addUnrelated(oldRid: string): Promise<string[]>;
  /** The requests each instance's store sent, when they are recorded (S3). */
  requestsByInstance?: () => S3Request[][];
  clearRequests?: () => void;
}

describe('retention of stored results in a shared store (two instances, retentionDays 1, sweeps every 200 ms)', () => {
  let s3: S3Server;
  let direct: S3Client;
  let db: TestDatabase;
  const clients: S3Client[] = [];
  const recorded: S3Request[][] = [];

  before(async () => {
    s3 = await S3Server.start();
    direct = new S3Client(s3.clientConfig());
  });

  after(async () => {
    gates.openAll();
    for (const client of [direct, ...clients]) {
      client?.destroy();
    }
    await s3?.stop();
  });

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await direct.send(
        new ListObjectsV2Command({ Bucket: S3Server.BUCKET, Prefix: prefix, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /** Rows of `bgrs_results` and `bgrs_result_chunks` (of `rid`, or all), one string each. */
  async function resultRows(rid?: string): Promise<string[]> {
    const where = rid ? 'WHERE rid = ?' : '';
    const rows = await db.query<{ thing: string }>(
      `SELECT CONCAT(rid, ' result ', size, IF(committed_dt IS NULL, ' uncommitted', '')) AS thing FROM bgrs_results ${where}
      UNION ALL SELECT CONCAT(rid, ' chunk ', seq) AS thing FROM bgrs_result_chunks ${where}`,
      rid ? [rid, rid] : [],
    );
    return rows.map((row) => row.thing).sort();
  }

  const cases: StoreCase[] = [
    {
      label: 'S3ResultStore on s3rver',
      key: 's3',
      option: () => {
        // A client of the host's (its requests recorded), with the timeouts and retries the store gives its own.
        const client = new S3Client({ ...s3.clientConfig(), ...S3_CLIENT_DEFAULTS });
        clients.push(client);
        recorded.push(recordS3Requests(client));
        return new S3ResultStore({ bucket: S3Server.BUCKET, prefix: PREFIX, client });
      },
      stored: async (rid) => await keysUnder(`${PREFIX}keep1m.bgrs.${rid}.result`),
      everything: () => keysUnder(''),
      heldThings: 0,
      addUnrelated: async (oldRid) => {
        const unrelated = [
          `${PREFIX}notes.txt`,
          `${PREFIX}keep1m.bgrs.${oldRid}.notes`,
          `other/keep1m.bgrs.${oldRid}.result.json`,
        ];
        for (const key of unrelated) {
          await direct.send(new PutObjectCommand({ Bucket: S3Server.BUCKET, Key: key, Body: 'not a result here' }));
        }
        return unrelated;
      },
      requestsByInstance: () => recorded,
      clearRequests: () => recorded.forEach((requests) => requests.splice(0)),
    },
    {
      label: 'DatabaseResultStore',
      key: 'database',
      option: () => DatabaseResultStore,
      stored: (rid) => resultRows(rid),
      everything: () => resultRows(),
      // Its row and three chunks.
      heldThings: 1 + HELD_AFTER_MIB,
      addUnrelated: async () => [],
    },
  ];

  for (const store of cases) {
    describe(store.label, () => {
      const apps: AppOnDatabase[] = [];
      const logger = new KeepingLogger(true);
      const resultDirs: string[] = [];

      before(async () => {
        const scratch = await createScratch('bgrs-store-retention-');
        db = scratch.db;
        resultDirs.push(scratch.resultDir);
        for (let i = 0; i < 2; i++) {
          // One after the other, so that the second finds the migrations done.
          apps.push(
            await startAppOn({
              url: db.url,
              resultDir: scratch.resultDir,
              controllers: [KeptController],
              logger,
              bgrs: { retentionDays: 1, retentionSweepMs: 200, resultStore: store.option() },
            }),
          );
        }
      });

      after(async () => {
        gates.openAll();
        await Promise.allSettled(apps.map((app) => app.close()));
        await disposeScratch(db, resultDirs[0]);
      });

      /** `count` finished requests of `kind`, submitted alternately to both instances. */
      async function finished(kind: 'small' | 'big', prefix: string, count: number): Promise<string[]> {
        const rids: string[] = [];
        for (let i = 0; i < count; i++) {
          rids.push(await submit(apps[i % 2].http, { path: `/kept/${kind}/${prefix}-${i}` }));
        }
        for (const [i, rid] of rids.entries()) {
          await waitForStatus(apps[(i + 1) % 2].http, rid, 'finished');
        }
        return rids;
      }

      /** Moves requests into the past, as if they had been made `interval` ago (a MySQL INTERVAL). */
      async function age(rids: string[], interval: string): Promise<void> {
        await db.query(
          `UPDATE bgrs_requests SET created_dt = created_dt - INTERVAL ${interval}, ` +
            `finished_dt = finished_dt - INTERVAL ${interval} WHERE rid IN (?)`,
          [rids],
        );
      }

      async function snapshot(rids: string[]): Promise<Map<string, string[]>> {
        return new Map(await Promise.all(rids.map(async (rid) => [rid, await store.stored(rid)] as const)));
      }

      it('aged requests go with their stored results when both instances sweep at once, each deleting a result once; nothing else goes', async () => {
        const old = [...(await finished('small', 'old', 8)), ...(await finished('big', 'old-big', 2))];
        const young = [...(await finished('small', 'young', 4)), ...(await finished('big', 'young-big', 1))];
        // An old request still running, with part of its body written.
        const gate = `running-${store.key}`;
        const running = await submit(apps[0].http, { path: `/kept/held/${gate}` });
        await eventually('the running request to reach its gate', async () => reached.has(gate) || undefined);
        let held: string[] = [];
        await eventually(
          'the running request to have written what it holds',
          async () => ((held = await store.stored(running)).length === store.heldThings ? true : undefined),
          { describeLast: () => JSON.stringify(held) },
        );

        const before = await snapshot([...old, ...young]);
        for (const [rid, stored] of before) {
          assert.ok(stored.length > 0, `the store holds the result of ${rid}`);
        }
        const runningBefore = await store.stored(running);
        const unrelated = await store.addUnrelated(old[0]);
        const everythingBefore = await store.everything();
        const oldThings = new Set([...old].flatMap((rid) => before.get(rid)!));
        store.clearRequests?.();

        await age([...old, running], '2 DAY');
        // Both instances start a sweep of the same expired rows at once (their timers run as well).
        const sweepers = apps.map((app) => app.app.get(BgrsRetentionSweeper));
        const counts = await Promise.all([
          sweepers[0].sweep(),
          sweepers[1].sweep(),
          sweepers[0].sweep(),
          sweepers[1].sweep(),
        ]);
        assert.ok(
          counts.every((count) => Number.isInteger(count) && count >= 0),
          `sweeps resolve to counts: ${counts}`,
        );
        await eventually('the aged requests to be deleted', async () =>
          (await db.count('bgrs_requests', 'rid IN (?)', [old])) === 0 ? true : undefined,
        );

        // Their results went with them (a sweep removes the results before it deletes the records).
        for (const rid of old) {
          assert.deepEqual(await store.stored(rid), [], `nothing of ${rid} is left in the store`);
        }
        // Nothing else went: what is left is exactly what was there but the aged results.
        assert.deepEqual(
          await store.everything(),
          everythingBefore.filter((thing) => !oldThings.has(thing)),
        );
        assert.deepEqual(await snapshot(young), new Map(young.map((rid) => [rid, before.get(rid)!])));
        assert.deepEqual(await store.stored(running), runningBefore, 'what the running request wrote stays');
        for (const key of unrelated) {
          assert.ok((await store.everything()).includes(key), `${key} is not this store's result: it stays`);
        }
        if (store.requestsByInstance) {
          const deletesByInstance = store
            .requestsByInstance()
            .map((requests) => requests.filter((request) => request.command === 'DeleteObjectCommand'));
          const deletes = deletesByInstance.flat();
          const stray = deletes.filter(
            (request) => !old.some((rid) => request.key?.startsWith(`${PREFIX}keep1m.bgrs.${rid}.`)),
          );
          assert.deepEqual(stray, [], 'the sweeps deleted only keys of the aged results');
          for (const key of oldThings) {
            assert.ok(
              deletes.some((request) => request.key === key),
              `${key} was deleted by a sweep (deletes: ${deletes.length})`,
            );
          }
          // Each instance deletes a result once, however often it sweeps; both may (deleting twice is harmless).
          for (const [index, instanceDeletes] of deletesByInstance.entries()) {
            const keys = instanceDeletes.map((request) => request.key);
            assert.equal(new Set(keys).size, keys.length, `instance ${index} deleted a key twice: ${keys}`);
          }
        }

        // The old running request was no candidate: it finishes and is served whole.
        assert.equal(await db.count('bgrs_requests', 'rid = ? AND status_id = 3', [running]), 1);
        // Back to the present before it ends: an old request that has ended is swept at once.
        await age([running], '-2 DAY');
        gates.open(gate);
        await waitForStatus(apps[1].http, running, 'finished');
        for (const app of apps) {
          const answer = await hashedRequest(app.port, `/bgrs/${running}/result`);
          assert.equal(answer.status, 200, answer.text);
          assert.equal(answer.digest, patternDigest(BIG_BYTES));
        }
        // The young results are still served by both instances.
        for (const rid of young) {
          for (const app of apps) {
            const result = await resultOf(app.http, rid);
            assert.equal(result.status, 200, `${rid}: ${result.status} ${result.body}`);
          }
        }
        assert.deepEqual(
          logger
            .problems()
            .filter((problem) => /sweep|retention|deadlock|ER_/i.test(problem) || problem.startsWith('[error]')),
          [],
          'no sweep logged a problem',
        );
      });
    });
  }
});
