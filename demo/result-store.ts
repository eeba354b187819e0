import { S3ResultStore, type BgrsModuleOptions } from 'nestjs-bgrs';

/** Where the demo keeps its results: `resultStore` for `BgrsModule.forRoot()`, and a line for the log. */
export interface DemoResults {
  options: Pick<BgrsModuleOptions, 'resultStore'>;
  description: string;
}

const S3_VARIABLES = ['S3_ENDPOINT', 'S3_REGION', 'S3_PREFIX', 'S3_FORCE_PATH_STYLE'] as const;

function flag(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') {
    return fallback;
  }
  if (/^(true|1|yes)$/i.test(value)) {
    return true;
  }
  if (/^(false|0|no)$/i.test(value)) {
    return false;
  }
  throw new Error(`${name} must be true or false, not ${JSON.stringify(value)}`);
}

/**
 * Files in `media/` unless `S3_BUCKET` is set; then an `S3ResultStore` on that bucket (README, the demo's
 * environment):
 * - `S3_BUCKET` the bucket (it must exist); setting it is what turns S3 on;
 * - `S3_ENDPOINT` an S3-compatible server (`http://127.0.0.1:9000` for MinIO or s3rver, R2's account URL); AWS when
 *   unset;
 * - `S3_REGION` (default `us-east-1`), `S3_PREFIX` (put before every key, e.g. `demo/`; default none);
 * - `S3_FORCE_PATH_STYLE` `true`/`false` (default `true` when `S3_ENDPOINT` is set, as MinIO and s3rver need);
 * - credentials the AWS SDK's usual way: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or a profile or role.
 *
 * Any other `S3_*` setting without `S3_BUCKET` is an error, not a silent fall back to files.
 */
export function demoResults(env: NodeJS.ProcessEnv = process.env): DemoResults {
  const bucket = env.S3_BUCKET;
  if (!bucket) {
    const stray = S3_VARIABLES.filter((name) => env[name]);
    if (stray.length > 0) {
      throw new Error(`${stray.join(', ')} set without S3_BUCKET: set S3_BUCKET to keep results in S3, or unset them`);
    }
    return { options: {}, description: 'results are files in media/' };
  }
  const endpoint = env.S3_ENDPOINT || undefined;
  const prefix = env.S3_PREFIX ?? '';
  const store = new S3ResultStore({
    bucket,
    prefix,
    client: {
      region: env.S3_REGION || 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: flag('S3_FORCE_PATH_STYLE', env.S3_FORCE_PATH_STYLE, endpoint !== undefined),
    },
  });
  return {
    options: { resultStore: store },
    description: `results are kept in s3://${bucket}/${prefix}${endpoint ? ` on ${endpoint}` : ''}`,
  };
}
