import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BgrsModuleOptions } from '../../src/index.js';
import type { TestAdapter } from './adapters.js';
import { REPO_ROOT } from './processes.js';

/** The compiled fixture (`test/fixtures/queue-worker-app.ts`). */
const QUEUE_WORKER_APP = fileURLToPath(new URL('../fixtures/queue-worker-app.js', import.meta.url));
/** How long a worker may take to start (a deadline against hangs, not a speed requirement). */
const START_DEADLINE_MS = Number(process.env.BGRS_TEST_START_DEADLINE_MS ?? 60_000);
const MAX_OUTPUT_CHARS = 20_000;

export interface QueueWorkerOptions {
  /** The host app it boots: `same-bytes` or `guarded` (see the fixture). */
  app: 'same-bytes' | 'guarded';
  /** The accepting app's database. */
  dbUrl: string;
  resultDir: string;
  /** `BgrsModule.forRoot()` options (JSON-serialisable), with `queue`; `queue.worker` is made true. */
  bgrs: Omit<BgrsModuleOptions, 'userId' | 'guards' | 'resultStore'>;
  /** `BGRS_TEST_STORE`, as for `instance-app` (`database`, …). */
  store?: string;
  adapter: TestAdapter;
}

/** A queue worker in a process of its own: the host app booted with `app.init()`, not listening. */
export class QueueWorkerProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly output: { text: string },
    private readonly exited: Promise<void>,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  /** Its stdout and stderr so far (the tail), for failure messages. */
  get log(): string {
    return this.output.text;
  }

  /** Kills it (SIGKILL) and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  /** Starts a worker and resolves once its app is set up (its BullMQ worker takes jobs). */
  static start(options: QueueWorkerOptions): Promise<QueueWorkerProcess> {
    const child = spawn(process.execPath, [QUEUE_WORKER_APP], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        BGRS_TEST_APP: options.app,
        BGRS_TEST_DB_URL: options.dbUrl,
        BGRS_TEST_RESULT_DIR: options.resultDir,
        BGRS_TEST_OPTIONS: JSON.stringify(options.bgrs),
        BGRS_TEST_ADAPTER: options.adapter.platform,
        ...(options.store ? { BGRS_TEST_STORE: options.store } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output = { text: '' };
    const keep = (chunk: Buffer) => {
      output.text = (output.text + chunk.toString('utf8')).slice(-MAX_OUTPUT_CHARS);
      if (process.env.BGRS_TEST_LOG) {
        process.stderr.write(`[worker ${child.pid}] ${chunk.toString('utf8')}`);
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.stdin!.on('error', () => undefined);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const worker = new QueueWorkerProcess(child, output, exited);

    return new Promise<QueueWorkerProcess>((resolve, reject) => {
      let settled = false;
      const fail = (message: string) => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`queue worker: ${message}\n--- its output ---\n${output.text}`));
      };
      const timer = setTimeout(() => fail(`not ready after ${START_DEADLINE_MS} ms`), START_DEADLINE_MS);
      const ready = () => {
        if (!settled && output.text.includes(`{"ready":${child.pid}}`)) {
          settled = true;
          clearTimeout(timer);
          child.stdout!.off('data', ready);
          resolve(worker);
        }
      };
      child.stdout!.on('data', ready);
      void exited.then(() => fail(`exited before it was ready (${child.exitCode ?? child.signalCode})`));
      child.once('error', (error) => fail(`could not be spawned: ${error.message}`));
    });
  }
}
