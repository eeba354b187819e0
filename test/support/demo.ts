import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import supertest from 'supertest';
import type { HttpClient } from './http.js';
import { REPO_ROOT, freePort } from './processes.js';
import { eventually } from './wait.js';

/** The demo as `npm start` runs it (`node build/demo/main.js`), in a folder of its own. */
export interface RunningDemo {
  child: ChildProcess;
  http: HttpClient;
  /** Its stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL if it takes more than 15 s; nothing when it has exited already. */
  stop(): Promise<void>;
}

/**
 * Starts the demo in `cwd` (its `data/` and `media/` are there) with `env` added to the test's environment (minus
 * `DATABASE_URL` and `S3_*`, so the embedded SQLite file and files, and with quick slow routes), and waits until it
 * answers.
 */
export async function startDemo(cwd: string, env: NodeJS.ProcessEnv = {}): Promise<RunningDemo> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    DEMO_REPORT_MONTH_MS: '1',
    DEMO_IMPORT_ROW_MS: '1',
    ...env,
  };
  // The embedded SQLite file and files in media/ unless told otherwise, whatever the test's own environment says.
  for (const name of Object.keys(childEnv)) {
    if ((name === 'DATABASE_URL' || name.startsWith('S3_')) && !(name in env)) {
      delete childEnv[name];
    }
  }
  const child = spawn(process.execPath, [join(REPO_ROOT, 'build/demo/main.js')], {
    cwd,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const http = supertest(`http://127.0.0.1:${port}`);
  const stop = () => stopChild(child);
  try {
    await eventually(
      'the demo to answer GET /v2.5/users/me',
      async () => {
        assert.equal(child.exitCode, null, `the demo exited with ${child.exitCode}:\n${output}`);
        const res = await http.get('/v2.5/users/me').catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      { describeLast: () => output.slice(-2000) },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, http, output: () => output, stop };
}

/** A queue worker of the demo as `npm run worker` runs it (`node build/demo/worker.js`), in a folder of its own. */
export interface RunningDemoWorker {
  child: ChildProcess;
  /** Its stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL if it takes more than 15 s; nothing when it has exited already. */
  stop(): Promise<void>;
}

/** Starts the demo's worker in `cwd` with `env` added to the test's environment, and waits until it says it is ready. */
export async function startDemoWorker(cwd: string, env: NodeJS.ProcessEnv): Promise<RunningDemoWorker> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'build/demo/worker.js')], {
    cwd,
    env: { ...process.env, DEMO_REPORT_MONTH_MS: '1', DEMO_IMPORT_ROW_MS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const stop = () => stopChild(child);
  try {
    await eventually(
      'the demo worker to be ready',
      async () => {
        assert.equal(child.exitCode, null, `the demo worker exited with ${child.exitCode}:\n${output}`);
        return output.includes('worker ready') ? true : undefined;
      },
      { describeLast: () => output.slice(-2000) },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, output: () => output, stop };
}

/** SIGTERM, then SIGKILL if the child takes more than 15 s; nothing when it has exited already. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}
