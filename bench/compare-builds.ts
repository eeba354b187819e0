/**
 * Compares two builds of the module on one route, in the same run: the bench app of this checkout ("new") and that
 * of another built checkout ("base", e.g. a `git worktree` of an earlier commit, built with `npm run build`), side by
 * side on one MariaDB database, alternating rounds (base, new, new, base, …), medians. For changes below what the
 * pairs of `npm run bench` can resolve on this machine: both builds see the same load and the same noise.
 *
 *   git worktree add ../base <commit> && (cd ../base && ln -s "$PWD/../main/node_modules" && npm run build)
 *   node build/bench/compare-builds.js --base ../base [--path '/quick?bgrs=yes'] [--seconds 5] [--rounds 6]
 *
 * A `:rid` in the path (`--path /bgrs/:rid`) is the rid of a request of `/quick` that the base app ran first.
 *
 * Per round and as medians: answers/s, server CPU ms and MariaDB CPU ms per answer (background work included, read
 * from /proc), SQL statements per answer and the p99 latency, at 50 connections.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchDatabase } from './database.js';
import { cpuMs, databaseServerPid, load, median, submit, untilFinished } from './measure.js';
import { ServerProcess } from './server-process.js';
import { ENV } from './servers/ipc.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');

interface RoundFigures {
  rps: number;
  cpuMs: number;
  databaseCpuMs: number;
  sql: number;
  p99: number;
}

const FIGURES: Array<keyof RoundFigures> = ['rps', 'cpuMs', 'databaseCpuMs', 'sql', 'p99'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      path: { type: 'string', default: '/quick?bgrs=yes' },
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '6' },
    },
  });
  if (!values.base) {
    throw new Error('--base <checkout>: the built checkout to compare with');
  }
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const database = await BenchDatabase.create();
  const resultDir = join(REPO_ROOT, '.bench', database.name);
  const servers: ServerProcess[] = [];
  try {
    const start = async (name: string, root: string) => {
      await mkdir(join(resultDir, name), { recursive: true });
      const script = pathToFileURL(join(root, 'build/bench/servers/nest-app.js'));
      const server = await ServerProcess.start(name, script, {
        [ENV.database]: database.name,
        [ENV.resultDir]: join(resultDir, name),
        [ENV.withBgrs]: '1',
      });
      servers.push(server);
      return server;
    };
    // The first runs the migrations.
    const apps = { base: await start('base', resolve(values.base)), new: await start('new', REPO_ROOT) };
    const databasePid = await databaseServerPid();
    if (databasePid === undefined) {
      throw new Error('no MariaDB server process found on this machine, whose CPU is measured');
    }
    let path = values.path;
    if (path.includes(':rid')) {
      const rid = await submit(apps.base.url, '/quick');
      await untilFinished(apps.base.url, rid, 20, 10_000);
      path = path.replace(':rid', rid);
    }
    const figures: Record<keyof typeof apps, RoundFigures[]> = { base: [], new: [] };
    const measure = async (key: keyof typeof apps) => {
      const app = apps[key];
      await database.settle(30_000);
      const sample = async () => ({
        queries: (await app.stats()).queries,
        cpu: await cpuMs(app.pid),
        db: await cpuMs(databasePid),
      });
      const before = await sample();
      const answered = await load(app.url + path, seconds);
      await database.settle(30_000);
      const after = await sample();
      const per = (value: number) => value / answered.count;
      const round: RoundFigures = {
        rps: answered.rps,
        cpuMs: per(after.cpu - before.cpu),
        databaseCpuMs: per(after.db - before.db),
        sql: per(after.queries - before.queries),
        p99: answered.p99,
      };
      figures[key].push(round);
      console.log(`${key.padEnd(4)}  ${FIGURES.map((name) => `${name} ${round[name].toFixed(3)}`).join('  ')}`);
    };
    for (const app of Object.values(apps)) {
      await load(app.url + path, 2);
    }
    for (let round = 0; round < rounds; round++) {
      for (const key of round % 2 === 0 ? (['base', 'new'] as const) : (['new', 'base'] as const)) {
        await measure(key);
      }
    }
    for (const name of FIGURES) {
      const base = median(figures.base.map((round) => round[name]));
      const next = median(figures.new.map((round) => round[name]));
      console.log(
        `median ${name}: base ${base.toFixed(3)}, new ${next.toFixed(3)}, new/base ${(next / base).toFixed(3)}`,
      );
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await database.drop();
    await rm(resultDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
