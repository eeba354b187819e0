import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3Sdk } from './s3-sdk.js';

/**
 * The timeouts of a client the store makes from an `S3ClientConfig`, so that an endpoint that is down, unreachable
 * or stalled fails a request instead of hanging a commit: a connection must be made within 5 s and a socket may
 * stay idle 30 s (a multipart part or a stalled download), each of 3 attempts (the SDK's standard retries, with
 * backoff). There is no limit on a whole request: a large part or download takes as long as its bytes do.
 */
export const S3_CLIENT_DEFAULTS = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 5_000, socketTimeout: 30_000 },
} as const;

/** Whether `requestHandler` is a handler already made (used as it is) rather than the options of one. */
function isHandler(requestHandler: unknown): boolean {
  return typeof (requestHandler as { handle?: unknown } | undefined)?.handle === 'function';
}

/** A ready client (the host's, used as it is) or a new one from a configuration, with the defaults above. */
export function s3ClientFrom(sdk: S3Sdk, client: S3Client | S3ClientConfig): { client: S3Client; owned: boolean } {
  if (typeof (client as S3Client).send === 'function') {
    return { client: client as S3Client, owned: false };
  }
  const config = client as S3ClientConfig;
  const requestHandler = isHandler(config.requestHandler)
    ? config.requestHandler
    : { ...S3_CLIENT_DEFAULTS.requestHandler, ...(config.requestHandler as object | undefined) };
  return {
    client: new sdk.s3.S3Client({ maxAttempts: S3_CLIENT_DEFAULTS.maxAttempts, ...config, requestHandler }),
    owned: true,
  };
}
