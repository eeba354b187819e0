/**
 * The grouped writes of `BgrsRequestRepository` on a real MariaDB: acceptances, starts and finishes that arrive
 * together are written by one statement each, so each row must still get its own values; an end state is final, so
 * a finish lands only on a request still running and says which did not; and the leases of ended requests are
 * released in bulk, never those of requests that still run.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { BgrsStatusId } from '../src/bgrs.constants.js';
import { BgrsLeaseRepository } from '../src/persistence/bgrs-lease.repository.js';
import { BgrsRequestRepository, type BgrsOutcomeRecord } from '../src/persistence/bgrs-request.repository.js';
import { bgrsEntities, bgrsMigrations } from '../src/index.js';
import { createRid } from '../src/util/rid.js';
import { QueryLog } from './support/app.js';
import { TestDatabase } from './support/database.js';

const INSTANCE = createRid();
const DEAD_INSTANCE = createRid();

describe('BgrsRequestRepository (grouped writes, real MariaDB)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let repository: BgrsRequestRepository;
  let leases: BgrsLeaseRepository;
  const queryLog = new QueryLog();

  /** Accepts `count` requests at once (they share one transaction), as `statusId`, leased by `instanceId`. */
  async function accept(
    count: number,
    statusId: BgrsStatusId.Processing | BgrsStatusId.Queued,
    instanceId = INSTANCE,
  ): Promise<string[]> {
    const rids = Array.from({ length: count }, () => createRid());
    await Promise.all(
      rids.map((rid, i) =>
        repository.insert({ rid, userId: i, name: `/work?i=${i}`, statusId, createdAt: new Date(), instanceId }),
      ),
    );
    return rids;
  }

  const rowOf = async (rid: string) => (await db.query('SELECT * FROM bgrs_requests WHERE rid = ?', [rid]))[0];
  const leased = (rids: string[]) => db.count('bgrs_leases', 'rid IN (?)', [rids]);

  before(async () => {
    db = await TestDatabase.create();
    dataSource = new DataSource({
      type: 'mariadb',
      url: db.url,
      entities: bgrsEntities,
      migrations: bgrsMigrations,
      migrationsRun: true,
      logger: queryLog,
      logging: true,
    });
    await dataSource.initialize();
    repository = new BgrsRequestRepository(dataSource);
    leases = new BgrsLeaseRepository(dataSource);
  });

  after(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('records requests accepted together, each with its own values and its lease', async () => {
    const rids = await accept(5, BgrsStatusId.Queued);
    for (const [i, rid] of rids.entries()) {
      const row = await rowOf(rid);
      assert.equal(row.user_id, i);
      assert.equal(row.name, `/work?i=${i}`);
      assert.equal(row.status_id, BgrsStatusId.Queued);
      assert.equal(row.progress, '0.00');
    }
    assert.equal(await leased(rids), 5);
  });

  it('an acceptance whose lease cannot be written leaves no request, and its connection goes back to the pool', async () => {
    // More failed transactions than the pool has connections (10): a connection kept by one would stall the rest.
    const failed = Array.from({ length: 15 }, () => createRid());
    for (const rid of failed) {
      await assert.rejects(
        repository.insert({
          rid,
          userId: 1,
          name: '/work',
          statusId: BgrsStatusId.Processing,
          createdAt: new Date(),
          // Longer than `instance_id` (CHAR(32)): the request's INSERT lands, the lease's fails.
          instanceId: 'x'.repeat(40),
        }),
        /instance_id/,
      );
    }
    assert.equal(await db.count('bgrs_requests', 'rid IN (?)', [failed]), 0, 'every transaction was rolled back');
    assert.ok(
      queryLog.queries.filter(({ query }) => query === 'ROLLBACK').length >= failed.length,
      'each failed transaction is rolled back',
    );
    const [rid] = await accept(1, BgrsStatusId.Processing);
    assert.equal((await rowOf(rid)).status_id, BgrsStatusId.Processing, 'the pool still takes acceptances');
  });

  it('starts queued requests together, and only those still queued', async () => {
    const rids = await accept(4, BgrsStatusId.Queued);
    await repository.cancel(rids[3], 'cancelled while queued');
    await Promise.all(rids.map((rid) => repository.markProcessing(rid)));
    const statuses = await Promise.all(rids.map(async (rid) => (await rowOf(rid)).status_id));
    assert.deepEqual(statuses, [
      BgrsStatusId.Processing,
      BgrsStatusId.Processing,
      BgrsStatusId.Processing,
      BgrsStatusId.Cancelled,
    ]);
  });

  it('finishes requests together, each with its own outcome, and leaves a cancellation standing', async () => {
    const rids = await accept(4, BgrsStatusId.Processing);
    await repository.cancel(rids[3], 'cancelled by its owner');
    const outcomes: BgrsOutcomeRecord[] = [
      { rid: rids[0], httpStatus: 200, contentType: 'application/json; charset=utf-8', result: 'media/a.json' },
      {
        rid: rids[1],
        httpStatus: 201,
        contentType: 'text/csv',
        result: `inline:${rids[1]}`,
        body: Buffer.from('a,b\n'),
      },
      { rid: rids[2], httpStatus: 204, contentType: null, result: 'media/c.bin' },
      { rid: rids[3], httpStatus: 200, contentType: 'text/plain', result: 'media/d.txt' },
    ].map((outcome, i) => ({
      body: null,
      ...outcome,
      finishedAt: new Date(Date.UTC(2026, 0, 1 + i, 12, 30, 15, 999)),
    }));
    // The first goes out alone; the others arrive while it is under way and share the next statement.
    assert.deepEqual(await Promise.all(outcomes.map((outcome) => repository.finish(outcome))), [
      true,
      true,
      true,
      false,
    ]);

    for (const [i, outcome] of outcomes.slice(0, 3).entries()) {
      const row = await rowOf(outcome.rid);
      assert.equal(row.status_id, BgrsStatusId.Finished);
      assert.equal(row.progress, '100.00');
      assert.equal(row.status, outcome.httpStatus);
      assert.equal(row.content_type, outcome.contentType);
      assert.equal(row.result, outcome.result);
      assert.deepEqual((await repository.findOne(outcome.rid, { withResultBody: true }))?.resultBody, outcome.body);
      assert.equal((await repository.findOne(outcome.rid))?.resultBody, undefined, 'a poll does not read the body');
      // DATETIME keeps whole seconds, the milliseconds dropped.
      assert.equal((row.finished_dt as Date).getTime(), Date.UTC(2026, 0, 1 + i, 12, 30, 15));
    }
    const cancelled = await rowOf(rids[3]);
    assert.equal(cancelled.status_id, BgrsStatusId.Cancelled);
    assert.equal(cancelled.result, null);
  });

  const outcomeOf = (rid: string, result = `media/${rid}.json`): BgrsOutcomeRecord => ({
    rid,
    httpStatus: 200,
    contentType: 'application/json',
    result,
    body: null,
    finishedAt: new Date(),
  });

  it('an end state is final: a finish lands only on a request still running, and says which did not', async () => {
    const rids = await accept(5, BgrsStatusId.Processing);
    await repository.fail(rids[1], 'failed: the instance running it stopped (its lease expired)');
    await repository.cancel(rids[2], 'cancelled by the client');
    assert.equal(await repository.deleteRequests([rids[3]]), 1, 'a delete answers how many rows it deleted');
    assert.equal(await repository.deleteRequests([rids[3]]), 0, 'a row deleted already is not counted again');
    const before = await Promise.all(rids.slice(1, 3).map(rowOf));

    const landed = await Promise.all(rids.map((rid) => repository.finish(outcomeOf(rid))));
    assert.deepEqual(landed, [true, false, false, false, true]);
    for (const rid of [rids[0], rids[4]]) {
      const row = await rowOf(rid);
      assert.equal(row.status_id, BgrsStatusId.Finished);
      assert.equal(row.result, `media/${rid}.json`);
    }
    // Status, result and finished time of the ended ones are what their end made them.
    assert.deepEqual(await Promise.all(rids.slice(1, 3).map(rowOf)), before);
    assert.equal((await rowOf(rids[1])).status_id, BgrsStatusId.Failed);
    assert.equal((await rowOf(rids[1])).result, null);
    assert.equal(await rowOf(rids[3]), undefined, 'a finish does not bring a deleted request back');
  });

  it('a retried finish whose first try landed finds its own outcome; another outcome for it does not land', async () => {
    const [rid] = await accept(1, BgrsStatusId.Processing);
    assert.equal(await repository.finish(outcomeOf(rid)), true);
    assert.equal(await repository.finish(outcomeOf(rid)), true, 'the same outcome again: it is there');
    assert.equal(await repository.finish(outcomeOf(rid, 'media/other.json')), false);
    assert.equal((await rowOf(rid)).result, `media/${rid}.json`);
  });

  it('finishes that all land cost one statement per batch, with no read-back', async () => {
    const rids = await accept(6, BgrsStatusId.Processing);
    const from = queryLog.queries.length;
    assert.deepEqual(
      await Promise.all(rids.map((rid) => repository.finish(outcomeOf(rid)))),
      rids.map(() => true),
    );
    const statements = queryLog.queries.slice(from).map(({ query }) => query.trim().split(/\s+/)[0].toUpperCase());
    assert.ok(statements.length <= 2, `one UPDATE for the first, one for the rest: ${statements.join(', ')}`);
    assert.deepEqual(new Set(statements), new Set(['UPDATE']));
  });

  it('releases the leases of ended requests, its own and a dead instance’s, but never of a running one', async () => {
    const [running, finished] = await accept(2, BgrsStatusId.Processing);
    const [failed] = await accept(1, BgrsStatusId.Processing);
    const [othersRunning, othersFinished] = await accept(2, BgrsStatusId.Processing, DEAD_INSTANCE);
    const now = Date.now();
    await leases.heartbeat(INSTANCE, now + 30_000);
    const finish = (rid: string) =>
      repository.finish({
        rid,
        httpStatus: 200,
        contentType: null,
        result: 'media/x.bin',
        body: null,
        finishedAt: new Date(),
      });
    await finish(finished);
    await finish(othersFinished);
    await dataSource.query('UPDATE bgrs_requests SET status_id = ? WHERE rid = ?', [BgrsStatusId.Failed, failed]);
    assert.equal(await leased([finished, othersFinished, failed]), 3, 'a finish leaves its lease for later');

    // Only the dead instance's request that still runs is for the reaper to fail.
    assert.deepEqual(await leases.findAbandoned(INSTANCE, now), [othersRunning]);
    await leases.releaseEndedLeases(INSTANCE, now);
    assert.equal(await leased([finished, othersFinished, failed]), 0, 'ended requests hold no lease');
    assert.equal(await leased([running, othersRunning]), 2, 'running requests keep theirs');
  });
});
