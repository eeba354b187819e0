import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root, from the compiled `build/test/support/` folder. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const execFileAsync = promisify(execFile);

/** Runs `node <args>` to its end and returns its stdout (it fails with stderr when node exits non-zero). */
export async function runNode(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  try {
    const { stdout } = await execFileAsync(process.execPath, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeout: 60_000,
    });
    return stdout;
  } catch (error) {
    const failure = error as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `node ${args.join(' ')} failed: ${failure.message}\nstdout: ${failure.stdout}\nstderr: ${failure.stderr}`,
      {
        cause: error,
      },
    );
  }
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
