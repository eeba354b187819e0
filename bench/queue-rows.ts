/**
 * Rows q1–q3: queue mode against in-process runs. Each setup is an accepting instance (`queue.worker: false`) and
 * `n` worker processes (`queue.worker: true`), all the bench's Nest app, on a queue of its own (so that the idle
 * setup takes no job of the measured one); the in-process side is the app of the other rows. Their results are
 * files in the shared result dir, as every instance runs on this machine.
 */
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { deleteQueueKeys } from '../test/support/redis.js';
import { completions, cpuMs, load, processPid } from './measure.js';
import { SETTLE_TIMEOUT_MS, type BenchContext, type PairSpec, type Settings } from './pairs.js';
import type { ServerProcess } from './server-process.js';
import { ENV, queueEnv, REDIS } from './servers/ipc.js';

/** An accepting instance and the workers that run what it queues. */
export interface QueueSetup {
  api: ServerProcess;
  workers: ServerProcess[];
  /** Its queue, as seen from the bench: q1 pauses it so that the workers take no job while acceptances are timed. */
  queue: Queue;
}

/** Starts the bench's Nest app with extra environment (`role` names its CPU profile). */
type StartApp = (name: string, role: string, env: Record<string, string>) => Promise<ServerProcess>;

/**
 * `BenchContext.queue`: the setup with `workers` worker processes, started when first asked for. Its queue's keys
 * are deleted at the end, after its servers have stopped (`onCleanup` steps run last first).
 */
export function queueSetups(
  startApp: StartApp,
  once: BenchContext['once'],
  onCleanup: (step: () => Promise<unknown>) => void,
): BenchContext['queue'] {
  const base = `bgrs-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  return (workers) =>
    once(`queue setup ${workers}`, async () => {
      const name = `${base}-${workers}w`;
      onCleanup(() => deleteQueueKeys(name));
      const queue = new Queue(name, { connection: REDIS });
      onCleanup(() => queue.close());
      const env = (role: 'api' | 'worker') => ({ [ENV.withBgrs]: '1', [ENV.queue]: queueEnv(name, role) });
      const api = await startApp(`queue API (${workers} workers)`, `queue-api-${workers}w`, env('api'));
      const started: ServerProcess[] = [];
      // One after the other: each runs the (already applied) migrations at start.
      for (let i = 1; i <= workers; i++) {
        started.push(await startApp(`queue worker ${i}/${workers}`, `queue-worker-${workers}w-${i}`, env('worker')));
      }
      return { api, workers: started, queue };
    });
}

/** What a run cost, per 2xx answer (per completion for q2, q3), its background work included. */
interface Costs {
  /** SQL statements of all the side's servers. */
  sql: number;
  /** CPU ms of each of the side's servers (the accepting one first). */
  cpuMs: number[];
  dbCpuMs: number;
  redisCpuMs: number;
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/**
 * Runs `work`, waits until no background request is left running, and tells what each of its 2xx answers cost the
 * side's servers, MariaDB and Redis (CPU from /proc, as `withCosts` of the other rows).
 */
async function withCostsOf<T extends { count: number }>(
  context: BenchContext,
  servers: ServerProcess[],
  work: () => Promise<T>,
): Promise<T & { costs: Costs }> {
  const redisPid = await context.once('redis pid', () => processPid('redis-server'));
  const other = (pid: number | undefined) => (pid ? cpuMs(pid) : Promise.resolve(Number.NaN));
  const sample = async () => ({
    queries: sum(await Promise.all(servers.map(async (server) => (await server.stats()).queries))),
    cpu: await Promise.all(servers.map((server) => cpuMs(server.pid))),
    db: await other(context.databasePid),
    redis: await other(redisPid),
  });
  const before = await sample();
  const result = await work();
  await context.database.settle(SETTLE_TIMEOUT_MS);
  const after = await sample();
  const per = (value: number) => value / result.count;
  return {
    ...result,
    costs: {
      sql: per(after.queries - before.queries),
      cpuMs: after.cpu.map((value, i) => per(value - before.cpu[i])),
      dbCpuMs: per(after.db - before.db),
      redisCpuMs: per(after.redis - before.redis),
    },
  };
}

/** The costs of a side as extra figures: `app` is the sum of its servers; a queue side shows API and workers too. */
function costFigures(side: string, costs: Costs): Record<string, number> {
  const [first, ...workers] = costs.cpuMs;
  return {
    [`${side} SQL/req`]: costs.sql,
    [`${side} app CPU ms/req`]: sum(costs.cpuMs),
    ...(workers.length > 0 ? { [`${side} API CPU ms/req`]: first, [`${side} workers CPU ms/req`]: sum(workers) } : {}),
    [`${side} DB CPU ms/req`]: costs.dbCpuMs,
    [`${side} Redis CPU ms/req`]: costs.redisCpuMs,
  };
}

/**
 * Runs the sides in turn, in this order in even rounds and the other way round in odd ones (as `alternate` does
 * for two), letting the background work drain after each; answers their results in the given order.
 */
async function inTurn<T>(context: BenchContext, index: number, sides: Array<() => Promise<T>>): Promise<T[]> {
  const order = sides.map((_, i) => i);
  if (index % 2 !== 0) {
    order.reverse();
  }
  const results: T[] = [];
  for (const i of order) {
    results[i] = await sides[i]();
    await context.database.settle(SETTLE_TIMEOUT_MS);
  }
  return results;
}

/** The servers whose CPU a queue side's work costs: the accepting instance and its workers. */
function serversOf(setup: QueueSetup): ServerProcess[] {
  return [setup.api, ...setup.workers];
}

const COMPLETIONS_TIMEOUT_MS = 300_000;

/**
 * One round of end-to-end completions (as row 3) on the in-process app, the setup with one worker and the one with
 * two: shared by q2 (their rates) and q3 (their CPU), so that both rows are read off the same runs.
 */
function completionsRound(context: BenchContext, settings: Settings, index: number) {
  return context.once(`queue completions round ${index}`, async () => {
    const { bgrs } = context.servers;
    const setups = [await context.queue(1), await context.queue(2)];
    const run = (url: string, servers: ServerProcess[]) =>
      withCostsOf(context, servers, () =>
        completions(url, '/quick', settings.completions, settings.connections, COMPLETIONS_TIMEOUT_MS),
      );
    const [inProcess, oneWorker, twoWorkers] = await inTurn(context, index, [
      () => run(bgrs.url, [bgrs]),
      ...setups.map((setup) => () => run(setup.api.url, serversOf(setup))),
    ]);
    return { inProcess, oneWorker, twoWorkers };
  });
}

/** How the queue rows measure, for the report's method paragraph. */
function queueMethod(settings: Settings): string {
  return (
    'Rows q1–q3 run in queue mode (BullMQ on the local Redis, no persistence): an instance of the same app that ' +
    'only accepts (`queue: { worker: false }`) and one or two worker processes (`worker: true`, the defaults ' +
    'otherwise: 32 handlers at once), on a queue of their own per setup, against the in-process app of the other ' +
    'rows; their CPU is that of all the setup’s processes, read from /proc as for the other rows, background work ' +
    'included (Redis’s own CPU is shown beside it). q1 times the acceptances with the setup’s queue paused (its ' +
    'worker process takes no job, as if it ran on a machine of its own), then resumes it and waits, untimed, until ' +
    'the worker has run them (`maxQueued` is raised so that none is refused); the same instance with its worker ' +
    `running is measured beside it. q2 and q3 are read off the same rounds, ${settings.completions} ` +
    'completions per side and round as row 3: the three sides (in-process, one worker, two workers) in turn, ' +
    'reversed every other round.'
  );
}

export const QUEUE_PAIRS: PairSpec[] = [
  {
    row: 'q1',
    measured:
      'queue mode: `?bgrs=yes` acceptances/s (202s) of an instance with `queue: { worker: false }`, its worker ' +
      'process not running jobs while they are timed (the queue paused, then drained untimed)',
    against: 'in-process acceptances/s, the app of row 2 (its runs included)',
    unit: 'req/s',
    compare: 'ratio',
    goal: { op: '>=', value: 0.8 },
    alsoMeasured: [{ key: 'worker running req/s', label: 'with the worker running them on the same two cores' }],
    method: queueMethod,
    round: async (context, settings, index) => {
      const { bgrs } = context.servers;
      const setup = await context.queue(1);
      const accept = (server: ServerProcess) =>
        load(`${server.url}/quick?bgrs=yes`, settings.loadSeconds, settings.connections);
      const run = (servers: ServerProcess[], work: () => ReturnType<typeof accept>) =>
        withCostsOf(context, servers, work);
      // In production the workers run on machines of their own; here a running worker would take the accepting
      // instance's cores. Paused, the queue keeps the jobs (the instance has maxQueued room for them) until the
      // timed acceptances are over; the settle after resuming waits for the worker to have run them all.
      const paused = async () => {
        await setup.queue.pause();
        try {
          return await accept(setup.api);
        } finally {
          await setup.queue.resume();
        }
      };
      const [a, running, b] = await inTurn(context, index, [
        () => run(serversOf(setup), paused),
        () => run(serversOf(setup), () => accept(setup.api)),
        () => run([bgrs], () => accept(bgrs)),
      ]);
      return {
        a: a.rps,
        b: b.rps,
        extra: {
          'worker running req/s': running.rps,
          'A non-2xx': a.failures,
          'worker running non-2xx': running.failures,
          'B non-2xx': b.failures,
          ...costFigures('A', a.costs),
          ...costFigures('worker running', running.costs),
          ...costFigures('B', b.costs),
        },
      };
    },
  },
  {
    row: 'q2',
    measured:
      'queue mode: end-to-end completions/s (submit → polled `finished`, result stored, as row 3), one worker process',
    against: 'in-process completions/s (row 3’s A), same run',
    unit: '/s',
    compare: 'ratio',
    alsoMeasured: [{ key: '2 workers /s', label: 'two worker processes' }],
    method: queueMethod,
    round: async (context, settings, index) => {
      const { inProcess, oneWorker, twoWorkers } = await completionsRound(context, settings, index);
      return {
        a: oneWorker.rps,
        b: inProcess.rps,
        extra: {
          '2 workers /s': twoWorkers.rps,
          'A 503 retried': oneWorker.refused,
          'A polls/completion': oneWorker.pollsPerCompletion,
          'B polls/completion': inProcess.pollsPerCompletion,
          'A submit→finished seen ms': oneWorker.latencyMs,
          '2 workers submit→finished seen ms': twoWorkers.latencyMs,
          'B submit→finished seen ms': inProcess.latencyMs,
        },
      };
    },
  },
  {
    row: 'q3',
    measured: 'queue mode: server CPU per completion (q2’s runs): the accepting instance + its worker process',
    against: 'in-process: the app’s CPU per completion',
    unit: 'ms',
    compare: 'ratio',
    goal: { op: '<=', value: 1.5 },
    alsoMeasured: [{ key: '2 workers ms', label: 'with two worker processes' }],
    method: queueMethod,
    round: async (context, settings, index) => {
      const { inProcess, oneWorker, twoWorkers } = await completionsRound(context, settings, index);
      const cpu = (costs: Costs) => sum(costs.cpuMs);
      return {
        a: cpu(oneWorker.costs),
        b: cpu(inProcess.costs),
        extra: {
          '2 workers ms': cpu(twoWorkers.costs),
          ...costFigures('A', oneWorker.costs),
          ...costFigures('2 workers', twoWorkers.costs),
          ...costFigures('B', inProcess.costs),
        },
      };
    },
  },
];
