/**
 * `npm run bench [-- --quick] [-- --rows 2,5b] [-- --profile]`: creates a MariaDB database of its own, starts the
 * three servers in child processes on 127.0.0.1 (and, for rows 5b and 5c, an app keeping its results in S3, with
 * s3rver, or in the database; for rows q1–q3, apps in queue mode on the local Redis: accepting instances and
 * workers), measures the pairs of BENCHMARKS.md side by side, prints the table, and (full run of every row only)
 * writes it into BENCHMARKS.md. Servers, database and result files are removed at the end,
 * whatever happens.
 *
 * --quick    a few seconds per pair, results of 64 MiB; asserts only that every row was measured (exit 1 otherwise).
 * --rows     only these rows (comma separated: 1, 2, 3, 4, 5, 5b, 5c, 6, 7, q1, q2, q3).
 * --completions N  background requests per completions run (rows 3, q2, q3) instead of 3000, for a loaded
 *            machine where 3000 take minutes; such a run prints only.
 * --profile  runs every server under `node --cpu-prof`; the profiles land in .bench/profiles as
 *            bgrs-app, no-bgrs-app, peer-app and plain-mysql .cpuprofile, and for the queue rows queue-api-1w,
 *            queue-worker-1w-1, queue-api-2w, queue-worker-2w-{1,2} (overwritten by the next profiled run);
 *            summarise one with `node build/bench/profile-top.js <file>`. Figures are slower meanwhile.
 *
 * BENCH_LOG_SQL=1 makes the Nest apps print every SQL statement on stderr.
 */
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchDatabase } from './database.js';
import { databaseServerPid } from './measure.js';
import {
  PAIRS as CLASSIC_PAIRS,
  type BenchContext,
  type PairSpec,
  type Settings,
  type StoreKind,
  type StoreServer,
} from './pairs.js';
import { collectEnvironment, measured, renderReport, writeReport, type PairOutcome } from './report.js';
import { QUEUE_PAIRS, queueSetups } from './queue-rows.js';
import { ServerProcess } from './server-process.js';
import { ENV, s3StoreEnv } from './servers/ipc.js';
import { S3Server } from '../test/support/s3-server.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROFILE_DIR = join(REPO_ROOT, '.bench', 'profiles');

const FULL: Settings = {
  rounds: 5,
  loadSeconds: 5,
  connections: 50,
  completions: 3000,
  loopIterations: 1_000_000,
  bigMiB: 1024,
  storeMiB: 256,
};
/** The warm-up round before a pair's measured rounds: short, and small. */
function warmUp(settings: Settings): Settings {
  return {
    ...settings,
    loadSeconds: 1,
    completions: Math.min(settings.completions, 200),
    bigMiB: Math.min(settings.bigMiB, 64),
    storeMiB: Math.min(settings.storeMiB, 64),
  };
}
/** `--quick`: two rounds the size of a warm-up. */
const QUICK: Settings = { ...warmUp(FULL), rounds: 2 };

/**
 * Rows in the order they run: the RSS row while the app is fresh (its idle baseline is taken before any load; 5b
 * and 5c have apps of their own), the rows that leave big background backlogs last, then the queue rows (apps of
 * their own; q3 reads q2's rounds, so it follows q2).
 */
const RUN_ORDER = ['5', '5b', '5c', '4', '1', '6', '3', '2', '7', 'q1', 'q2', 'q3'];
const PAIRS = [...CLASSIC_PAIRS, ...QUEUE_PAIRS];
/** The prefix of the S3 app's keys in s3rver's bucket. */
const S3_PREFIX = 'bench/';

/** Ends a run that hangs, after cleaning up. */
const WATCHDOG_MS = { full: 50 * 60_000, quick: 10 * 60_000 };

const cleanups: Array<() => Promise<unknown>> = [];
let cleaning: Promise<void> | undefined;

/** Undoes what was set up, last first; once, and every step even if one fails. */
function cleanUp(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const step of cleanups.reverse()) {
      await step().catch((error: Error) => console.error(`cleanup: ${error.message}`));
    }
  })());
}

function abort(reason: string, code: number): void {
  console.error(`\nbench: ${reason}; cleaning up`);
  void cleanUp().finally(() => process.exit(code));
}

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

async function measurePair(spec: PairSpec, context: BenchContext, settings: Settings): Promise<PairOutcome> {
  const outcome: PairOutcome = { spec, rounds: [] };
  try {
    if (spec.warmUp ?? true) {
      log(`row ${spec.row}: warm-up`);
      await spec.round(context, warmUp(settings), -1);
    }
    for (let index = 0; index < settings.rounds; index++) {
      const round = await spec.round(context, settings, index);
      outcome.rounds.push(round);
      log(
        `row ${spec.row} round ${index + 1}/${settings.rounds}: A ${round.a.toFixed(2)}, B ${round.b.toFixed(2)} ${spec.unit}`,
      );
    }
  } catch (error) {
    outcome.error = (error as Error).message;
    log(`row ${spec.row} not measured: ${outcome.error}`);
  }
  return outcome;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      rows: { type: 'string' },
      profile: { type: 'boolean' },
      completions: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const completions = values.completions === undefined ? undefined : Number(values.completions);
  if (completions !== undefined && !(Number.isInteger(completions) && completions > 0)) {
    throw new Error(`--completions ${values.completions}: a positive whole number`);
  }
  const settings = { ...(quick ? QUICK : FULL), ...(completions ? { completions } : {}) };
  const rows = values.rows ? values.rows.split(',').map((row) => row.trim()) : RUN_ORDER;
  const specs = RUN_ORDER.filter((row) => rows.includes(row)).map((row) => PAIRS.find((spec) => spec.row === row)!);
  if (specs.length === 0) {
    throw new Error(`--rows ${values.rows}: no such row (${RUN_ORDER.join(', ')})`);
  }
  setTimeout(() => abort('watchdog: the run took too long', 2), quick ? WATCHDOG_MS.quick : WATCHDOG_MS.full).unref();

  const database = await BenchDatabase.create();
  cleanups.push(() => database.drop());
  const resultDir = join(REPO_ROOT, '.bench', database.name);
  cleanups.push(() => rm(resultDir, { recursive: true, force: true }));
  log(`database ${database.name}, results in ${resultDir}`);
  const environment = await collectEnvironment(REPO_ROOT, await database.version());
  if (environment.loadAverage > 0.5) {
    log(`load average ${environment.loadAverage.toFixed(2)}: other work on this machine will skew the figures`);
  }

  const env = { [ENV.database]: database.name, [ENV.resultDir]: resultDir };
  const nestApp = new URL('./servers/nest-app.js', import.meta.url);
  const start = async (name: string, role: string, script: URL, extraEnv: Record<string, string>) => {
    const execArgv = values.profile
      ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${role}.cpuprofile`]
      : [];
    const server = await ServerProcess.start(name, script, { ...env, ...extraEnv }, execArgv);
    cleanups.push(() => server.stop());
    log(`${name}: pid ${server.pid}, ${server.url}`);
    return server;
  };
  if (values.profile) {
    await mkdir(PROFILE_DIR, { recursive: true });
  }
  // In this order: the first runs the migrations, the plain server copies the table they made.
  const bgrs = await start('app with BgrsModule', 'bgrs-app', nestApp, { [ENV.withBgrs]: '1' });
  const noBgrs = await start('app without BgrsModule', 'no-bgrs-app', nestApp, { [ENV.withBgrs]: '0' });
  const peer = await start('app with an empty interceptor and an AsyncLocalStorage', 'peer-app', nestApp, {
    [ENV.withBgrs]: '0',
    [ENV.peer]: '1',
  });
  const plain = await start(
    'node:http + mysql2',
    'plain-mysql',
    new URL('./servers/plain-mysql.js', import.meta.url),
    {},
  );
  const shared = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, make: () => Promise<T>) => {
    if (!shared.has(key)) {
      shared.set(key, make());
    }
    return shared.get(key) as Promise<T>;
  };
  /** The app of rows 5b (with s3rver, which the bench starts) and 5c, started when first asked for. */
  const storeServer = (kind: StoreKind): Promise<StoreServer> =>
    once(`store server ${kind}`, async () => {
      const withStore = (store: string) => ({ [ENV.withBgrs]: '1', [ENV.store]: store });
      if (kind === 'database') {
        const server = await start('app with DatabaseResultStore', 'bgrs-app-database', nestApp, withStore('database'));
        // Its result's rows go with the request (foreign keys cascade).
        return { server, remove: (rid) => database.deleteRequest(rid) };
      }
      const s3 = await S3Server.start();
      cleanups.push(() => s3.stop());
      log(`s3rver on port ${s3.port}`);
      const client = new S3Client(s3.clientConfig());
      cleanups.push(async () => client.destroy());
      const endpoint = `http://127.0.0.1:${s3.port}`;
      const server = await start(
        'app with S3ResultStore',
        'bgrs-app-s3',
        nestApp,
        withStore(s3StoreEnv(endpoint, S3Server.BUCKET, S3_PREFIX)),
      );
      return {
        server,
        remove: async (_rid, record) => {
          const key = record.result!.slice(`s3://${S3Server.BUCKET}/`.length);
          await client.send(new DeleteObjectCommand({ Bucket: S3Server.BUCKET, Key: key }));
        },
      };
    });
  const context: BenchContext = {
    servers: { bgrs, noBgrs, peer, plain },
    database,
    databasePid: await databaseServerPid(),
    once,
    storeServer,
    queue: queueSetups(
      (name, role, extraEnv) => start(name, role, nestApp, extraEnv),
      once,
      (step) => cleanups.push(step),
    ),
  };

  const outcomes: PairOutcome[] = [];
  for (const spec of specs) {
    outcomes.push(await measurePair(spec, context, settings));
  }
  await cleanUp();

  const report = renderReport(environment, settings, outcomes, quick);
  console.log(`\n${report}\n`);
  if (!quick && !values.profile && !completions && specs.length === PAIRS.length) {
    await writeReport(join(REPO_ROOT, 'BENCHMARKS.md'), report);
    log('table written to BENCHMARKS.md');
  }
  if (values.profile) {
    log(`CPU profiles (written as the servers exit) in ${PROFILE_DIR}: node build/bench/profile-top.js <file>`);
  }
  const missing = outcomes.filter((outcome) => !measured(outcome)).map((outcome) => outcome.spec.row);
  if (missing.length > 0) {
    log(`not measured: row ${missing.join(', ')}`);
    return 1;
  }
  return 0;
}

process.once('SIGINT', () => abort('interrupted', 130));
process.once('SIGTERM', () => abort('terminated', 143));

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error);
    void cleanUp().finally(() => process.exit(1));
  },
);
