/**
 * The little protocol between the orchestrator (`bench/run.ts`) and a server process it forked: the server
 * announces its port once it listens, answers `stats` requests, and closes on SIGTERM (so that `--cpu-prof`
 * still writes its profile).
 */

/** Counters a server keeps about its own database traffic. */
export interface ServerStats {
  /** Every SQL statement sent. */
  queries: number;
  /** UPDATEs of `bgrs_requests` that write progress only (not a status change). */
  progressWrites: number;
}

export type ServerMessage = { type: 'ready'; port: number } | ({ type: 'stats' } & ServerStats);
export type OrchestratorMessage = { type: 'stats' };

/** Environment the orchestrator passes to the server processes. */
export const ENV = {
  database: 'BENCH_DATABASE',
  resultDir: 'BENCH_RESULT_DIR',
  withBgrs: 'BENCH_WITH_BGRS',
  /** Without BgrsModule: `1` adds one empty global interceptor and an AsyncLocalStorage in use (row 1's peer). */
  peer: 'BENCH_PEER',
  /** The app's result store: unset (files in the result dir), `database`, or `s3:<endpoint>/<bucket>/<prefix>`. */
  store: 'BENCH_STORE',
  /** Queue mode (rows q1–q3): unset (in-process runs), or `<queue name>:worker` / `<queue name>:api` (accepts only). */
  queue: 'BENCH_QUEUE',
} as const;

/** `BENCH_QUEUE` for an instance on queue `name` that runs queued requests (`worker`) or only accepts them (`api`). */
export function queueEnv(name: string, role: 'api' | 'worker'): string {
  return `${name}:${role}`;
}

/** `BENCH_STORE` for an `S3ResultStore` on the S3-compatible server at `endpoint` (`http://127.0.0.1:<port>`). */
export function s3StoreEnv(endpoint: string, bucket: string, prefix: string): string {
  return `s3:${endpoint}/${bucket}/${prefix}`;
}

/** The credentials of the s3rver the bench starts (s3rver's own defaults). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: server processes are started by bench/run.ts`);
  }
  return value;
}

/** Connection settings of the benchmark's MariaDB (loopback, root without password). */
export const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root', password: '' } as const;

/** The benchmark's Redis, for queue mode (loopback, no persistence). */
export const REDIS = { host: '127.0.0.1', port: 6379 } as const;

/** Called by a server process once it listens. */
export function announce(port: number, close: () => Promise<void>, stats: () => ServerStats): void {
  if (!process.send) {
    throw new Error('not started by bench/run.ts (no IPC channel)');
  }
  process.on('message', (message: OrchestratorMessage) => {
    if (message.type === 'stats') {
      process.send!({ type: 'stats', ...stats() } satisfies ServerMessage);
    }
  });
  let closing = false;
  process.on('SIGTERM', () => {
    if (closing) {
      return;
    }
    closing = true;
    // Bounded: a close that hangs must not keep the benchmark waiting (the orchestrator SIGKILLs later anyway).
    const forced = setTimeout(() => process.exit(1), 10_000);
    forced.unref();
    void close().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`close failed: ${error.message}`);
        process.exit(1);
      },
    );
  });
  // The orchestrator gone (crashed, killed): do not outlive it.
  process.on('disconnect', () => process.exit(1));
  process.send({ type: 'ready', port } satisfies ServerMessage);
}
