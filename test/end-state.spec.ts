/**
 * An end state is final (README, “Under failure”): two instances share one database; instance A reaches it
 * through a TCP proxy that the test cuts while A runs a request. A cut shorter than the lease changes nothing: the
 * request finishes with its result once the link is back. A cut longer than the lease lets instance B fail the
 * request ("lease expired"), and that end stands: A's late final write changes nothing and A gives its result up
 * (removed from its result folder, with a warning naming the rid); a handler that still runs when the link is back
 * is stopped by A's heartbeat, and its output is dropped.
 */
import 'reflect-metadata';
import { Controller, Get, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { BgrsInProcessRunner } from '../src/run/in-process/bgrs-in-process.runner.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { TestDatabase } from './support/database.js';
import { Gates } from './support/gate.js';
import { detailsOf, jsonOf, lookup, resultOf, submit, waitForStatus } from './support/http.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { eventually } from './support/wait.js';

const gates = new Gates();
/** Steps the handler reached, by request name. */
const reached = new Set<string>();
/** Why each handler's `ProgressReporter.signal` aborted, by request name. */
const aborts = new Map<string, string>();

@Controller('late')
class LateController {
  constructor(private readonly progress: ProgressReporter) {}

  @Get('held')
  @BackgroundCapable()
  async held(@Query('name') name: string) {
    const signal = this.progress.signal!;
    signal.addEventListener('abort', () => aborts.set(name, (signal.reason as Error).message), { once: true });
    await this.progress.report(10, `${name}: started`);
    reached.add(`${name}:started`);
    await gates.wait(name);
    reached.add(`${name}:returned`);
    return { name, squares: Array.from({ length: 50 }, (_, i) => i * i) };
  }
}

/** The two instances: A behind the proxy, B straight on the database; each with a result folder of its own. */
interface Pair {
  db: TestDatabase;
  proxy: TcpProxy;
  a: AppOnDatabase;
  b: AppOnDatabase;
  dirA: string;
  dirB: string;
  logA: KeepingLogger;
  close(): Promise<void>;
}

async function startPair(leaseMs: number): Promise<Pair> {
  const db = await TestDatabase.create();
  const dirA = await mkdtemp(join(tmpdir(), 'bgrs-end-a-'));
  const dirB = await mkdtemp(join(tmpdir(), 'bgrs-end-b-'));
  const proxy = await TcpProxy.start('127.0.0.1', 3306);
  const logA = new KeepingLogger(true);
  // Every result in A's folder, small ones too (by default those stay in their rows): the folders are watched.
  const common = { controllers: [LateController], bgrs: { leaseMs, inlineResultBytes: 0 } };
  // B first, so that A finds the migrations done.
  const b = await startAppOn({ ...common, url: db.url, resultDir: dirB, logger: new KeepingLogger(true) });
  const a = await startAppOn({
    ...common,
    url: db.url.replace(/:3306\//, `:${proxy.port}/`),
    resultDir: dirA,
    extra: { connectTimeout: 2000, connectionLimit: 5, maxIdle: 5, idleTimeout: 60_000 },
    logger: logA,
  });
  return {
    db,
    proxy,
    a,
    b,
    dirA,
    dirB,
    logA,
    close: async () => {
      gates.openAll();
      await proxy.restore();
      await Promise.allSettled([a.close(), b.close()]);
      await proxy.close();
      await db.drop();
      await Promise.all([dirA, dirB].map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

/** Files of `rid` in a result folder. */
async function filesOf(dir: string, rid: string): Promise<string[]> {
  return (await readdir(dir)).filter((file) => file.includes(rid));
}

/** Submits a held request to A and waits until its handler runs. */
async function startHeld(pair: Pair, name: string): Promise<string> {
  const rid = await submit(pair.a.http, { path: `/late/held?name=${name}` });
  await waitForStatus(pair.b.http, rid, 'processing');
  await eventually(`${name} to start`, async () => reached.has(`${name}:started`) || undefined);
  return rid;
}

/** Waits until A no longer holds `rid`: its run, final write included, is over. */
async function runOver(pair: Pair, rid: string): Promise<void> {
  const runner = pair.a.app.get(BgrsInProcessRunner);
  await eventually(`A to be done with ${rid}`, async () => !runner.rids.includes(rid) || undefined);
}

describe('end state: a cut shorter than the lease (leaseMs 60000)', () => {
  let pair: Pair;

  before(async () => {
    pair = await startPair(60_000);
  });

  after(async () => {
    await pair?.close();
  });

  it('the request finishes normally with its result once the link is back', async () => {
    const name = 'short';
    const rid = await startHeld(pair, name);
    await pair.proxy.cut();
    try {
      gates.open(name);
      await eventually(
        'the result to be stored in A’s folder',
        async () => (await filesOf(pair.dirA, rid)).some((file) => file.endsWith('.json')) || undefined,
      );
      await eventually(
        'A to try its final write during the cut',
        async () => pair.logA.problems(new RegExp(`${rid}: final state not written yet`)).length > 0 || undefined,
      );
    } finally {
      await pair.proxy.restore();
    }
    const record = await waitForStatus(pair.b.http, rid, 'finished');
    assert.equal(record.status, '200');
    assert.equal(record.result, join(pair.dirA, `keep1m.bgrs.${rid}.result.json`));
    const result = await resultOf(pair.a.http, rid);
    assert.equal(result.status, 200);
    assert.equal(jsonOf(result).name, name);
    assert.deepEqual(pair.logA.problems(/given up|stopped here/), []);
    const details = (await detailsOf(pair.b.http, rid)).map((detail) => detail.details);
    assert.ok(!details.some((text) => /lease expired/.test(text)), JSON.stringify(details));
  });
});

describe('end state: a cut longer than the lease (leaseMs 1500)', () => {
  let pair: Pair;

  before(async () => {
    pair = await startPair(1500);
  });

  after(async () => {
    await pair?.close();
  });

  /** Cuts A off until B has failed `rid`; returns the failed record as B shows it. */
  async function cutUntilFailed(rid: string, whileCut: () => Promise<void> = async () => undefined) {
    await pair.proxy.cut();
    try {
      const failed = await waitForStatus(pair.b.http, rid, 'failed');
      await whileCut();
      return failed;
    } finally {
      await pair.proxy.restore();
    }
  }

  /** The record is the failed one B wrote, on both instances, and its result is a 409 `failed`. */
  async function assertStillFailed(rid: string, failed: Awaited<ReturnType<typeof cutUntilFailed>>): Promise<void> {
    for (const app of [pair.a, pair.b]) {
      assert.deepEqual(await lookup(app.http, rid), failed, 'status, result and finished time never change');
      const result = await resultOf(app.http, rid);
      assert.equal(result.status, 409);
      assert.equal(jsonOf(result).status_name, 'failed');
    }
    const details = (await detailsOf(pair.b.http, rid)).map((detail) => detail.details);
    assert.ok(
      details.some((text) => /lease expired/.test(text)),
      JSON.stringify(details),
    );
  }

  it('a handler that finishes while A is cut off: the request stays failed, and A gives its late result up', async () => {
    const name = 'finished-while-cut';
    const rid = await startHeld(pair, name);
    const failed = await cutUntilFailed(rid, async () => {
      gates.open(name);
      await eventually(
        'the late result to be stored in A’s folder',
        async () => (await filesOf(pair.dirA, rid)).some((file) => file.endsWith('.json')) || undefined,
      );
    });
    assert.equal(failed.result, null);
    assert.notEqual(failed.finished_dt, null);

    await runOver(pair, rid);
    await assertStillFailed(rid, failed);
    assert.deepEqual(await filesOf(pair.dirA, rid), [], 'the given-up result is removed from A’s folder');
    assert.equal(
      pair.logA.problems(new RegExp(`${rid}: result given up: the request had ended elsewhere`)).length,
      1,
      `A says why: ${JSON.stringify(pair.logA.problems(new RegExp(rid)))}`,
    );
  });

  it('a handler still running when the link is back: A stops it, drops its output, and it stays failed', async () => {
    const name = 'running-after-cut';
    const rid = await startHeld(pair, name);
    const failed = await cutUntilFailed(rid);

    await eventually('A to abort the handler’s signal', async () => aborts.get(name));
    assert.match(aborts.get(name)!, /ended elsewhere/);
    await runOver(pair, rid);
    assert.equal(
      pair.logA.problems(new RegExp(`${rid}: stopped here: the request was failed elsewhere`)).length,
      1,
      `A says why: ${JSON.stringify(pair.logA.problems(new RegExp(rid)))}`,
    );
    // The handler going on after all changes nothing: it was unsubscribed.
    gates.open(name);
    await eventually('the handler to return', async () => reached.has(`${name}:returned`) || undefined);
    await assertStillFailed(rid, failed);
    assert.deepEqual(await filesOf(pair.dirA, rid), [], 'no result, partial or whole, is left in A’s folder');
  });
});
