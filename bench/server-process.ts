import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { OrchestratorMessage, ServerMessage, ServerStats } from './servers/ipc.js';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/** Every server started and not yet stopped, so that they can be killed whatever happens. */
const running = new Set<ServerProcess>();

process.on('exit', () => {
  for (const server of running) {
    server.child.kill('SIGKILL');
  }
});

/** A benchmark server in a child process of its own, listening on 127.0.0.1. */
export class ServerProcess {
  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  /** Forks `script` and waits until it announces its port. */
  static async start(
    name: string,
    script: URL,
    env: Record<string, string>,
    execArgv: string[] = [],
  ): Promise<ServerProcess> {
    const child = fork(script, [], {
      env: { ...process.env, ...env },
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited before it was ready (${signal ?? `code ${code}`})`));
      });
      child.on('message', (message: ServerMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve(message.port);
        }
      });
    });
    try {
      const server = new ServerProcess(name, child, await ready);
      running.add(server);
      return server;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The server's query counters. */
  async stats(): Promise<ServerStats> {
    const answer = new Promise<ServerStats>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not answer for its stats`)), 5000);
      const listener = (message: ServerMessage) => {
        if (message.type === 'stats') {
          clearTimeout(timer);
          this.child.off('message', listener);
          resolve({ queries: message.queries, progressWrites: message.progressWrites });
        }
      };
      this.child.on('message', listener);
    });
    this.child.send({ type: 'stats' } satisfies OrchestratorMessage);
    return answer;
  }

  /** SIGTERM (the server closes its app, writing a CPU profile if asked to), then SIGKILL if it takes too long. */
  async stop(): Promise<void> {
    running.delete(this);
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
