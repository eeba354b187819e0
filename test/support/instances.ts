import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import supertest from 'supertest';
import type { BgrsModuleOptions } from '../../src/index.js';
import type { HttpClient } from './http.js';
import { REPO_ROOT } from './processes.js';
import { eventually } from './wait.js';

/** The compiled fixture app (`test/fixtures/instance-app.ts`). */
const INSTANCE_APP = fileURLToPath(new URL('../fixtures/instance-app.js', import.meta.url));
/** How long an instance may take to start (a deadline against hangs, not a speed requirement). */
const START_DEADLINE_MS = Number(process.env.BGRS_TEST_START_DEADLINE_MS ?? 60_000);
/** How much of an instance's output is kept for failure messages. */
const MAX_OUTPUT_CHARS = 20_000;

/** Every child started by this test process and not yet exited: killed in `after`, and at exit whatever happens. */
const living = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of living) {
    child.kill('SIGKILL');
  }
});

export interface InstanceOptions {
  /** A label, returned by the app in results and `/work/state`. */
  name: string;
  /** `mysql://…/<database>`; instances sharing it share their requests. */
  dbUrl: string;
  resultDir: string;
  /** `BgrsModule.forRoot()` options (JSON-serialisable ones only). */
  bgrs?: Omit<BgrsModuleOptions, 'userId' | 'guards'>;
  /** The result store (`BGRS_TEST_STORE`): `database`, or `s3Store(…)`; files in `resultDir` when unset. */
  store?: string;
  /** The working directory (a relative `resultDir` is in it); the repository root unless told. */
  cwd?: string;
  /** The HTTP platform (`BGRS_TEST_ADAPTER`); Express unless told. */
  adapter?: 'express' | 'fastify';
}

/** `BGRS_TEST_STORE` for an `S3ResultStore` on s3rver at `endpoint` (`http://127.0.0.1:<port>`). */
export function s3Store(endpoint: string, bucket: string, prefix = ''): string {
  return `s3:${endpoint}/${bucket}/${prefix}`;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What the fixture's `GET /work/state` answers. */
export interface InstanceState {
  instance: string;
  instanceId: string;
  /** False once the instance drains for a shutdown. */
  accepting: boolean;
  held: string[];
  /** `attempt`: the run's `ProgressReporter.attempt` (2 for a queued request run again after a worker died). */
  started: Array<{ name: string; rid: string | null; attempt: number }>;
  ended: Array<{ name: string; rid: string | null }>;
  aborted: Array<{ name: string; rid: string | null; reason: string }>;
  teardowns: Array<{ name: string; rid: string | null }>;
  /** The `/work/sleep` runs under way, with when each ends (epoch ms, this machine's clock). */
  sleeping: Array<{ name: string; rid: string | null; until: number }>;
}

/** A running `instance-app` child process. */
export class Instance {
  /** Resolves when the process has exited (by itself, by a signal, or killed). */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly port: number,
    /** The id it holds leases under. */
    readonly instanceId: string,
    private readonly output: { text: string },
    exited: Promise<ExitStatus>,
  ) {
    this.exited = exited.then((status) => (this.exitStatus = status));
  }

  get http(): HttpClient {
    return supertest(`http://127.0.0.1:${this.port}`);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitStatus === undefined;
  }

  /** Its stdout and stderr so far (the tail), for failure messages. */
  get log(): string {
    return this.output.text;
  }

  /** Sends `signal` and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitStatus> {
    if (this.alive) {
      this.child.kill(signal);
    }
    return this.exited;
  }

  /** `GET /work/state`. */
  async state(): Promise<InstanceState> {
    const res = await this.http.get('/work/state');
    if (res.status !== 200) {
      throw new Error(`${this.name}: GET /work/state answered ${res.status}: ${res.text}`);
    }
    return res.body;
  }

  /** Waits until the handler of `name` has started running on this instance. */
  waitForStarted(name: string): Promise<true> {
    return eventually(`handler ${name} to run on ${this.name}`, async () =>
      (await this.state()).started.some((seen) => seen.name === name) ? true : undefined,
    );
  }

  /** `POST /work/stall?ms=`: blocks the instance's event loop for `ms` (answers once it is over). */
  async stall(ms: number): Promise<void> {
    const res = await this.http.post(`/work/stall?ms=${ms}`);
    if (res.status !== 200) {
      throw new Error(`${this.name}: stall answered ${res.status}: ${res.text}`);
    }
  }

  /** `POST /work/release?name=`: lets the handler of that name end. */
  async release(name: string): Promise<void> {
    const res = await this.http.post(`/work/release?name=${encodeURIComponent(name)}`);
    if (res.status !== 200) {
      throw new Error(`${this.name}: release ${name} answered ${res.status}: ${res.text}`);
    }
  }
}

/** Starts an instance of the fixture app and resolves once it listens. */
export function startInstance(options: InstanceOptions): Promise<Instance> {
  const child = spawn(process.execPath, [INSTANCE_APP], {
    cwd: options.cwd ?? REPO_ROOT,
    env: {
      ...process.env,
      BGRS_TEST_DB_URL: options.dbUrl,
      BGRS_TEST_RESULT_DIR: options.resultDir,
      BGRS_TEST_INSTANCE: options.name,
      BGRS_TEST_OPTIONS: JSON.stringify(options.bgrs ?? {}),
      BGRS_TEST_PORT: '0',
      ...(options.store ? { BGRS_TEST_STORE: options.store } : {}),
      ...(options.adapter ? { BGRS_TEST_ADAPTER: options.adapter } : {}),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  living.add(child);
  const output = { text: '' };
  const keep = (chunk: Buffer) => {
    output.text = (output.text + chunk.toString('utf8')).slice(-MAX_OUTPUT_CHARS);
    if (process.env.BGRS_TEST_LOG) {
      process.stderr.write(`[${options.name}] ${chunk.toString('utf8')}`);
    }
  };
  child.stderr!.on('data', keep);
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      living.delete(child);
      resolve({ code, signal });
    });
  });

  return new Promise<Instance>((resolve, reject) => {
    let pending = '';
    let settled = false;
    const fail = (message: string) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`instance ${options.name}: ${message}\n--- its output ---\n${output.text}`));
      }
    };
    const timer = setTimeout(() => fail(`not listening after ${START_DEADLINE_MS} ms`), START_DEADLINE_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (settled) {
        return;
      }
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        let message: { listening?: number; instanceId?: string };
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        if (typeof message?.listening === 'number') {
          settled = true;
          clearTimeout(timer);
          resolve(new Instance(options.name, child, message.listening, String(message.instanceId), output, exited));
          return;
        }
      }
    });
    void exited.then((status) => fail(`exited before listening (${JSON.stringify(status)})`));
    child.once('error', (error) => fail(`could not be spawned: ${error.message}`));
  });
}

/** Kills (SIGKILL) every instance this test process started that is still running, and waits for them to exit. */
export async function killAllInstances(): Promise<void> {
  const children = [...living];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            living.delete(child);
            resolve();
            return;
          }
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
