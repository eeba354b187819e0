/** The pairs of BENCHMARKS.md: what each side measures, and the goal the pair is judged by. */
import { rm } from 'node:fs/promises';
import type { BenchDatabase } from './database.js';
import {
  completions,
  cpuMs,
  get,
  getJson,
  idleRssMiB,
  load,
  peakRssDuring,
  submit,
  untilFinished,
  type BgrsRecord,
} from './measure.js';
import type { QueueSetup } from './queue-rows.js';
import type { ServerProcess } from './server-process.js';

export interface Settings {
  /** Rounds of A and B, alternating AB, BA, AB, … */
  rounds: number;
  /** Seconds of each autocannon run. */
  loadSeconds: number;
  /** Concurrent clients of the load runs, and of row 3 (each submits, then polls until finished). */
  connections: number;
  /** Background requests per completions run (row 3). */
  completions: number;
  /** Iterations of the progress loop (row 4). */
  loopIterations: number;
  /** Size of the StreamableFile result (row 5), MiB. */
  bigMiB: number;
  /** Size of the StreamableFile result kept in S3 or in the database (rows 5b, 5c), MiB. */
  storeMiB: number;
}

/** The result stores of rows 5b and 5c, each in an app of its own. */
export type StoreKind = 's3' | 'database';

/** An app with BgrsModule whose results go to a store other than files. */
export interface StoreServer {
  server: ServerProcess;
  /** Deletes a big result of a round (its object, or its request and so its rows). */
  remove(rid: string, record: BgrsRecord): Promise<void>;
}

export interface Servers {
  /** The app with BgrsModule. */
  bgrs: ServerProcess;
  /** The same app without it. */
  noBgrs: ServerProcess;
  /** The same app without it, with one empty global interceptor and an AsyncLocalStorage in use. */
  peer: ServerProcess;
  /** node:http + mysql2. */
  plain: ServerProcess;
}

export interface BenchContext {
  servers: Servers;
  database: BenchDatabase;
  /** The local MariaDB server process, for its CPU time. */
  databasePid: number | undefined;
  /** `make()` once per run, for a figure or fixture that several rounds share. */
  once<T>(key: string, make: () => Promise<T>): Promise<T>;
  /** The app keeping its results in `kind`, started (with s3rver for S3) when a row first asks for it. */
  storeServer(kind: StoreKind): Promise<StoreServer>;
  /**
   * An accepting instance in queue mode and `workers` worker processes on a queue of their own, started when
   * first asked for (rows q1–q3).
   */
  queue(workers: number): Promise<QueueSetup>;
}

export interface RoundResult {
  a: number;
  b: number;
  /** The pair's limit, where it has one (`PairSpec.limit`). */
  c?: number;
  /** Further figures of the round, by name (e.g. progress writes, non-2xx answers). */
  extra?: Record<string, number>;
}

export interface Goal {
  op: '>=' | '<=';
  value: number;
}

export interface PairSpec {
  /** `1`…`7`, and `5b`, `5c` beside row 5. */
  row: string;
  /** What side A is (with the run's settings, for what they size). */
  measured: string | ((settings: Settings) => string);
  /** What side B is. */
  against: string;
  /** What the limit column (C, measured in the same rounds) is: no Nest route can beat it. */
  limit?: string;
  /** Unit of A and B. */
  unit: string;
  /** How the pair is judged: A/B of the medians, or the median of the per-round differences A − B. */
  compare: 'ratio' | 'difference';
  /** None: the row reports figures, not judged (its "met" cell is empty). */
  goal?: Goal;
  /** Further goals on the worst (largest) value of an extra figure across rounds. */
  extraGoals?: Array<{ key: string; label: string } & Goal>;
  /** Further measurements of A's kind (extra figures), shown in the result beside A, with their ratio to B. */
  alsoMeasured?: Array<{ key: string; label: string }>;
  /** How the row measures, for the report's method paragraph, if the general one does not say it. */
  method?: string | ((settings: Settings) => string);
  /** Whether a discarded, shorter round runs first. Default true. */
  warmUp?: boolean;
  /** One round; `index` tells the order of A and B (see `alternate`). A warm-up round has index -1. */
  round(context: BenchContext, settings: Settings, index: number): Promise<RoundResult>;
}

/** Time for background backlogs to drain between measurements. */
export const SETTLE_TIMEOUT_MS = 180_000;

/** Runs the sides in their order in even rounds, in reverse in odd ones, letting background work drain after each. */
async function inTurn<T>(context: BenchContext, index: number, sides: Array<() => Promise<T>>): Promise<T[]> {
  const values: T[] = new Array(sides.length);
  const order = sides.map((_, at) => at);
  for (const at of index % 2 === 0 ? order : order.reverse()) {
    values[at] = await sides[at]();
    await context.database.settle(SETTLE_TIMEOUT_MS);
  }
  return values;
}

/** Runs A then B in even rounds, B then A in odd ones, letting background work drain after each. */
async function alternate<A, B>(
  context: BenchContext,
  index: number,
  a: () => Promise<A>,
  b: () => Promise<B>,
): Promise<[A, B]> {
  const [first, second] = await inTurn<A | B>(context, index, [a, b]);
  return [first as A, second as B];
}

/** What one request cost, on average over a run. */
export interface RequestCosts {
  /** SQL statements the server sent. */
  sql: number;
  /** CPU time of the server process, ms. */
  appCpuMs: number;
  /** CPU time of MariaDB, ms (NaN when it does not run on this machine). */
  dbCpuMs: number;
}

/**
 * Runs `work` against `server`, lets the background work it caused drain, and tells what each of its 2xx answers
 * (for row 3: each completion, its polls included) cost the server and the database.
 */
async function withCosts<T extends { count: number }>(
  context: BenchContext,
  server: ServerProcess,
  work: () => Promise<T>,
): Promise<T & { costs: RequestCosts }> {
  const dbCpu = () => (context.databasePid ? cpuMs(context.databasePid) : Promise.resolve(Number.NaN));
  const before = { stats: await server.stats(), app: await cpuMs(server.pid), db: await dbCpu() };
  const result = await work();
  await context.database.settle(SETTLE_TIMEOUT_MS);
  const after = { stats: await server.stats(), app: await cpuMs(server.pid), db: await dbCpu() };
  const per = (value: number) => value / result.count;
  return {
    ...result,
    costs: {
      sql: per(after.stats.queries - before.stats.queries),
      appCpuMs: per(after.app - before.app),
      dbCpuMs: per(after.db - before.db),
    },
  };
}

/** The costs of both sides as extra figures of a round. */
function costFigures(a: RequestCosts, b: RequestCosts): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const [side, costs] of [
    ['A', a],
    ['B', b],
  ] as const) {
    figures[`${side} SQL/req`] = costs.sql;
    figures[`${side} app CPU ms/req`] = costs.appCpuMs;
    figures[`${side} DB CPU ms/req`] = costs.dbCpuMs;
  }
  return figures;
}

interface Target {
  server: ServerProcess;
  path: string;
}

/**
 * The same autocannon load on a route of each side (and of the limit `c`, if any): req/s (or p99 latency), and
 * what a request cost.
 */
function loadRound(
  metric: 'rps' | 'p99',
  a: (s: Servers) => Target,
  b: (s: Servers) => Target,
  c?: (s: Servers) => Target,
): PairSpec['round'] {
  return async (context, settings, index) => {
    const run = ({ server, path }: Target) =>
      withCosts(context, server, () => load(`${server.url}${path}`, settings.loadSeconds, settings.connections));
    const sides = [a, b, ...(c ? [c] : [])].map((side) => () => run(side(context.servers)));
    const [resultA, resultB, resultC] = await inTurn(context, index, sides);
    return {
      a: resultA[metric],
      b: resultB[metric],
      ...(resultC ? { c: resultC[metric] } : {}),
      extra: {
        'A non-2xx': resultA.failures,
        'B non-2xx': resultB.failures,
        ...costFigures(resultA.costs, resultB.costs),
        ...(resultC ? { 'C app CPU ms/req': resultC.costs.appCpuMs } : {}),
      },
    };
  };
}

/** One finished background request, for the lookup rows. */
async function finishedRid(bgrs: ServerProcess): Promise<string> {
  const rid = await submit(bgrs.url, '/quick');
  await untilFinished(bgrs.url, rid, 20, 30_000);
  return rid;
}

/**
 * The RSS of the idle app, before any big result has passed through it (memory that a transfer leaves behind
 * counts against it): after a few small requests of each kind, so that it is not a cold process either.
 */
async function idleBaseline(bgrs: ServerProcess, readBack = false): Promise<number> {
  for (let i = 0; i < 20; i++) {
    await get(`${bgrs.url}/plain`);
  }
  const rid = await finishedRid(bgrs);
  if (readBack) {
    // The store's read path has run once too (S3: the first requests load the SDK's lazy parts).
    await getJson(`${bgrs.url}/bgrs/${rid}/result`);
  }
  return idleRssMiB(bgrs.pid, 1000);
}

/** Runs the progress loop of row 4 in the background; its own wall time and the progress UPDATEs it caused. */
async function progressLoop(bgrs: ServerProcess, mode: 'report' | 'none', iterations: number) {
  const before = await bgrs.stats();
  const rid = await submit(bgrs.url, `/loop?mode=${mode}&n=${iterations}`);
  await untilFinished(bgrs.url, rid, 20, 300_000);
  const { ms } = await getJson<{ ms: number }>(`${bgrs.url}/bgrs/${rid}/result`);
  const after = await bgrs.stats();
  return { ms, writes: after.progressWrites - before.progressWrites };
}

/** Deletes the result file of a record (row 5). */
async function removeFile(_rid: string, record: BgrsRecord): Promise<void> {
  if (record.result) {
    await rm(record.result, { force: true });
  }
}

/**
 * Stores a generated `mib` MiB result in the background, reads it back, and deletes it; how fast each way went
 * (MiB/s: submitted to seen `finished`, polled every 100 ms; the whole `/result` read).
 */
async function bigResult(
  bgrs: ServerProcess,
  mib: number,
  remove: (rid: string, record: BgrsRecord) => Promise<void> = removeFile,
): Promise<{ storedMiBs: number; readMiBs: number }> {
  let started = performance.now();
  const rid = await submit(bgrs.url, `/big?mib=${mib}`);
  const record = await untilFinished(bgrs.url, rid, 100, 600_000);
  const storedMiBs = (mib * 1000) / (performance.now() - started);
  started = performance.now();
  const { status, bytes } = await get(`${bgrs.url}/bgrs/${rid}/result`, true);
  const readMiBs = (mib * 1000) / (performance.now() - started);
  if (status !== 200 || bytes !== mib * 1024 * 1024) {
    throw new Error(`/bgrs/${rid}/result: ${status}, ${bytes} bytes (expected 200, ${mib} MiB)`);
  }
  await remove(rid, record);
  return { storedMiBs, readMiBs };
}

/** Rows 5b and 5c: row 5 on an app of its own that keeps its results in `kind`, against its own idle RSS. */
function storedRssRound(kind: StoreKind): PairSpec['round'] {
  return async (context, settings) => {
    const { server, remove } = await context.storeServer(kind);
    const idle = await context.once(`idle RSS ${kind}`, () => idleBaseline(server, true));
    let speeds = { storedMiBs: Number.NaN, readMiBs: Number.NaN };
    const peak = await peakRssDuring(server.pid, async () => {
      speeds = await bigResult(server, settings.storeMiB, remove);
    });
    await context.database.settle(SETTLE_TIMEOUT_MS);
    return {
      a: peak,
      b: idle,
      extra: { 'result MiB': settings.storeMiB, 'stored MiB/s': speeds.storedMiBs, 'read MiB/s': speeds.readMiBs },
    };
  };
}

export const PAIRS: PairSpec[] = [
  {
    row: '1',
    measured: 'foreground req/s of a plain JSON route, app with BgrsModule, after background requests have run',
    against: 'the same app without BgrsModule, with one empty global interceptor and an AsyncLocalStorage in use',
    limit: 'the bare app (without BgrsModule, no interceptor)',
    unit: 'req/s',
    compare: 'ratio',
    goal: { op: '>=', value: 0.97 },
    round: async (context, settings, index) => {
      // A background request has run, so the module's AsyncLocalStorage is in use (as with --rows 1 alone).
      await context.once('lookup rid', () => finishedRid(context.servers.bgrs));
      return loadRound(
        'rps',
        (s) => ({ server: s.bgrs, path: '/plain' }),
        (s) => ({ server: s.peer, path: '/plain' }),
        (s) => ({ server: s.noBgrs, path: '/plain' }),
      )(context, settings, index);
    },
  },
  {
    row: '2',
    measured: '`?bgrs=yes` acceptances/s (202s), handler returns at once, its background run included',
    against: 'a route in the same Nest app: one INSERT with mysql2 into a table of the same shape, answers the id',
    limit: 'node:http + mysql2, the same INSERT',
    unit: 'req/s',
    compare: 'ratio',
    goal: { op: '>=', value: 1.0 },
    round: loadRound(
      'rps',
      (s) => ({ server: s.bgrs, path: '/quick?bgrs=yes' }),
      (s) => ({ server: s.bgrs, path: '/own/accept' }),
      (s) => ({ server: s.plain, path: '/accept' }),
    ),
  },
  {
    row: '3',
    measured: 'end-to-end background completions/s (submit → polled `finished`, result stored)',
    against: 'foreground req/s of the same route',
    unit: '/s',
    compare: 'ratio',
    goal: { op: '>=', value: 0.35 },
    round: async (context, settings, index) => {
      const { bgrs } = context.servers;
      const [a, b] = await alternate(
        context,
        index,
        () =>
          withCosts(context, bgrs, () =>
            completions(bgrs.url, '/quick', settings.completions, settings.connections, 300_000),
          ),
        () => withCosts(context, bgrs, () => load(`${bgrs.url}/quick`, settings.loadSeconds, settings.connections)),
      );
      return {
        a: a.rps,
        b: b.rps,
        extra: {
          'A 503 retried': a.refused,
          'A polls/completion': a.pollsPerCompletion,
          'A submit→finished seen ms': a.latencyMs,
          ...costFigures(a.costs, b.costs),
        },
      };
    },
  },
  {
    row: '4',
    measured: 'wall time of a handler calling `await report()` 1,000,000 times (in the background)',
    against: 'the same loop without `report()`',
    unit: 'ms',
    compare: 'ratio',
    goal: { op: '<=', value: 1.5 },
    extraGoals: [{ key: 'progress writes', label: 'database writes for progress', op: '<=', value: 20 }],
    round: async (context, settings, index) => {
      const { bgrs } = context.servers;
      const [a, b] = await alternate(
        context,
        index,
        () => progressLoop(bgrs, 'report', settings.loopIterations),
        () => progressLoop(bgrs, 'none', settings.loopIterations),
      );
      return { a: a.ms, b: b.ms, extra: { 'progress writes': a.writes } };
    },
  },
  {
    row: '5',
    measured: (settings) =>
      `peak RSS while a ${settings.bigMiB} MiB \`StreamableFile\` result is stored, then read back from \`/result\``,
    against: 'the idle app (before any big result)',
    unit: 'MiB',
    compare: 'difference',
    goal: { op: '<=', value: 64 },
    warmUp: false,
    round: async (context, settings) => {
      const { bgrs } = context.servers;
      const idle = await context.once('idle RSS', () => idleBaseline(bgrs));
      let speeds = { storedMiBs: Number.NaN, readMiBs: Number.NaN };
      const peak = await peakRssDuring(bgrs.pid, async () => {
        speeds = await bigResult(bgrs, settings.bigMiB);
      });
      await context.database.settle(SETTLE_TIMEOUT_MS);
      return {
        a: peak,
        b: idle,
        extra: { 'result MiB': settings.bigMiB, 'stored MiB/s': speeds.storedMiBs, 'read MiB/s': speeds.readMiBs },
      };
    },
  },
  {
    row: '5b',
    measured: (settings) =>
      `peak RSS while a ${settings.storeMiB} MiB \`StreamableFile\` result is stored into S3 (\`S3ResultStore\`, ` +
      'its defaults, on s3rver), then read back',
    against: 'the idle app with that store (before any big result)',
    unit: 'MiB',
    compare: 'difference',
    goal: { op: '<=', value: 64 },
    warmUp: false,
    round: storedRssRound('s3'),
  },
  {
    row: '5c',
    measured: (settings) =>
      `peak RSS while a ${settings.storeMiB} MiB \`StreamableFile\` result is stored into the database ` +
      '(`DatabaseResultStore`), then read back',
    against: 'the idle app with that store (before any big result)',
    unit: 'MiB',
    compare: 'difference',
    goal: { op: '<=', value: 64 },
    warmUp: false,
    round: storedRssRound('database'),
  },
  {
    row: '6',
    measured: '`GET /bgrs/:rid` req/s',
    against:
      'a route in the same Nest app: the same indexed SELECT (joined with the status name) with mysql2, the same JSON',
    limit: 'node:http + mysql2, the same SELECT',
    unit: 'req/s',
    compare: 'ratio',
    goal: { op: '>=', value: 0.95 },
    round: async (context, settings, index) => {
      const rid = await context.once('lookup rid', () => finishedRid(context.servers.bgrs));
      return loadRound(
        'rps',
        (s) => ({ server: s.bgrs, path: `/bgrs/${rid}` }),
        (s) => ({ server: s.bgrs, path: `/own/lookup/${rid}` }),
        (s) => ({ server: s.plain, path: `/lookup/${rid}` }),
      )(context, settings, index);
    },
  },
  {
    row: '7',
    measured: 'p99 latency of the early answer (202), 50 connections',
    against: 'p99 of a plain JSON route, same app',
    unit: 'ms',
    compare: 'ratio',
    goal: { op: '<=', value: 2 },
    round: loadRound(
      'p99',
      (s) => ({ server: s.bgrs, path: '/quick?bgrs=yes' }),
      (s) => ({ server: s.bgrs, path: '/plain' }),
    ),
  },
];
