import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// The SDK's notice that its releases after January 2027 need Node 22 (README: the AWS SDK on Node 20) would be
// printed by every spec and instance that makes a client: passing runs stay quiet.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** s3rver's command line, from its package. */
const S3RVER_BIN = join(dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
/** How long s3rver may take to start (a deadline against hangs, not a speed requirement). */
const START_DEADLINE_MS = 30_000;

/**
 * A real s3rver (the S3 API on files) for one spec file: a child process on a free loopback port with a temporary
 * folder, and one bucket. A child process, because s3rver encrypts ListObjectsV2 continuation tokens with DES,
 * which Node 20's OpenSSL 3 has only with `--openssl-legacy-provider`; and stopping it is an outage for real.
 */
export class S3Server {
  static readonly BUCKET = 'bgrs-test';

  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    private readonly directory: string,
    readonly port: number,
  ) {}

  static async start(): Promise<S3Server> {
    const directory = await mkdtemp(join(tmpdir(), 'bgrs-s3rver-'));
    const child = spawn(
      process.execPath,
      [
        '--openssl-legacy-provider',
        S3RVER_BIN,
        ...['--directory', directory, '--address', '127.0.0.1', '--port', '0', '--silent'],
        ...['--configure-bucket', S3Server.BUCKET],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${output}`)), START_DEADLINE_MS);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
        if (listening) {
          clearTimeout(timer);
          resolve(Number(listening[1]));
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited: ${output}`));
      });
    }).catch(async (error: Error) => {
      child.kill('SIGKILL');
      await rm(directory, { recursive: true, force: true });
      throw error;
    });
    return new S3Server(child, exited, directory, port);
  }

  /** A client configuration for this server, or for `port` (a proxy in front of it). */
  clientConfig(port = this.port): S3ClientConfig {
    return {
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    };
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
    await rm(this.directory, { recursive: true, force: true });
  }
}
