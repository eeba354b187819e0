import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  /** Default: `cleanEnv()`. */
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL, with its process group) when this passes. */
  timeoutMs: number;
  /** Run `command` through the shell (`args` then usually empty). */
  shell?: boolean;
}

/**
 * The environment for a child `npm` or host process: ours without the `npm_*` variables that `npm test` sets
 * (`npm_config_local_prefix`, `npm_package_*`, …), so that a nested npm works on the project it is run in and
 * not on this repository.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name)) {
      env[name] = value;
    }
  }
  return { ...env, NPM_CONFIG_UPDATE_NOTIFIER: 'false', ...extra };
}

/**
 * Runs `command args` to its end (no shell unless `shell`), and resolves with its exit code and output whatever
 * the code. It is killed (SIGKILL, with its process group) when `timeoutMs` passes.
 */
export function runCommand(command: string, args: string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? cleanEnv(),
      shell: options.shell ?? false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The command line and its output, for assertion messages. */
export function describeRun(what: string, result: CommandResult): string {
  const { code, signal, stdout, stderr } = result;
  return `${what} exited with ${code ?? signal}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
}

/** Runs the command and returns its stdout; fails with its output when it exits non-zero. */
export async function runOk(command: string, args: string[], options: RunOptions): Promise<string> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    throw new Error(describeRun(`${command} ${args.join(' ')}`, result));
  }
  return result.stdout;
}
