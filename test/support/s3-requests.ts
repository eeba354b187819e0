import type { S3Client } from '@aws-sdk/client-s3';

/** A request an S3 client sent: its command and the key or prefix it named. */
export interface S3Request {
  command: string;
  key?: string;
  prefix?: string;
}

/** Answers a request instead of the server (a middleware returning early), or undefined to send it. */
export type S3Answer = (request: S3Request, input: Record<string, unknown>) => object | undefined;

/**
 * Records every request `client` sends, from the SDK's own middleware stack, and lets a test answer some itself
 * (what s3rver does not implement). Nothing of the store under test is touched.
 */
export function recordS3Requests(client: S3Client, answer?: S3Answer): S3Request[] {
  const requests: S3Request[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const request: S3Request = {
        command: String(context.commandName),
        ...(typeof input.Key === 'string' ? { key: input.Key } : {}),
        ...(typeof input.Prefix === 'string' ? { prefix: input.Prefix } : {}),
      };
      requests.push(request);
      const output = answer?.(request, input);
      return output ? { output: { $metadata: {}, ...output } as never, response: {} } : next(args);
    },
    { step: 'initialize', name: 'recordS3Requests' },
  );
  return requests;
}
