import { PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import { stringify as formEncode, type ParsedUrlQueryInput } from 'node:querystring';
import { BGRS_MESSAGES } from '../../bgrs.messages.js';

/**
 * A request as a queue worker replays it: what the accepting instance received, minus `bgrs` (the worker runs it
 * in the foreground of its own app) and the headers of the transfer, plus what the guards put on the request.
 */
export interface RequestEnvelope {
  method: string;
  /** Path and query, without `bgrs`. */
  url: string;
  headers: Record<string, string | string[]>;
  /** The body's bytes, if it had one. */
  body?: Buffer;
  /** The request's properties that guards and middleware set (`queue.carry`), as JSON. */
  carried: Record<string, unknown>;
  /** The client's address, as the accepting instance saw it. */
  remoteAddress?: string;
}

/** A request as the platforms give it (Express's `req`, Fastify's `request`). */
interface IncomingRequest {
  method: string;
  url: string;
  originalUrl?: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  rawBody?: Buffer;
  socket?: { remoteAddress?: string };
  raw?: { socket?: { remoteAddress?: string } };
  [property: string]: unknown;
}

/** Headers of the transfer, not of the request: the replay sends its body with a length of its own. */
const TRANSFER_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'expect',
  'upgrade',
]);

/** Whether a query parameter is `bgrs` (its name percent-encoded or not). */
function isBgrsParameter(part: string): boolean {
  const name = part.split('=')[0];
  try {
    return decodeURIComponent(name.replace(/\+/g, ' ')) === 'bgrs';
  } catch {
    return false;
  }
}

/** `url` without its `bgrs` parameter, the others as they were sent. */
function withoutBgrs(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) {
    return url;
  }
  const kept = url
    .slice(at + 1)
    .split('&')
    .filter((part) => !isBgrsParameter(part));
  return kept.length > 0 ? `${url.slice(0, at)}?${kept.join('&')}` : url.slice(0, at);
}

/** The `Prefer` header without `respond-async`, which asked for the run the worker now makes. */
function withoutRespondAsync(prefer: string | string[]): string[] {
  return [prefer]
    .flat()
    .flatMap((value) => value.split(','))
    .filter((preference) => preference.split(';')[0].trim().toLowerCase() !== 'respond-async')
    .map((preference) => preference.trim());
}

/**
 * The body's bytes: as received when the app keeps them (Nest's `rawBody: true`), else made again from the parsed
 * body (JSON and forms; a form may come out in another order or spelling than it was sent). Multipart bodies are
 * consumed by the route's file interceptors at acceptance and cannot travel: such a route is `queue: false`.
 */
function bodyOf(request: IncomingRequest): Buffer | undefined {
  if (Buffer.isBuffer(request.rawBody)) {
    return request.rawBody;
  }
  const body = request.body;
  if (body === undefined || body === null) {
    return undefined;
  }
  if (Buffer.isBuffer(body)) {
    return body;
  }
  if (typeof body === 'string') {
    return Buffer.from(body, 'utf8');
  }
  const contentType = String(request.headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('multipart/')) {
    throw new UnsupportedMediaTypeException(BGRS_MESSAGES.multipartNotQueued);
  }
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    return Buffer.from(formEncode(body as ParsedUrlQueryInput), 'utf8');
  }
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** What the guards put on the request, as JSON; a property that JSON cannot carry is left out. */
function carriedOf(request: IncomingRequest, carry: string[]): Record<string, unknown> {
  const carried: Record<string, unknown> = {};
  for (const name of carry) {
    if (request[name] !== undefined) {
      try {
        carried[name] = JSON.parse(JSON.stringify(request[name]));
      } catch {
        // A BigInt or a cycle: the worker's handler does without it, as it would without a guard's extra.
      }
    }
  }
  return carried;
}

/** Takes the envelope of an accepted request. A body beyond `maxBodyBytes` (or multipart) is refused. */
export function envelopeOf(request: IncomingRequest, carry: string[], maxBodyBytes: number): RequestEnvelope {
  const body = bodyOf(request);
  if (body && body.length > maxBodyBytes) {
    throw new PayloadTooLargeException(BGRS_MESSAGES.bodyTooLargeToQueue(maxBodyBytes));
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !TRANSFER_HEADERS.has(name)) {
      headers[name] = value;
    }
  }
  if (headers.prefer !== undefined) {
    const prefer = withoutRespondAsync(headers.prefer);
    if (prefer.length > 0) {
      headers.prefer = prefer.join(', ');
    } else {
      delete headers.prefer;
    }
  }
  return {
    method: request.method,
    url: withoutBgrs(request.originalUrl ?? request.url),
    headers,
    body,
    carried: carriedOf(request, carry),
    remoteAddress: (request.raw ?? request).socket?.remoteAddress,
  };
}

/** Bytes of the length of the envelope's JSON part, which its body follows. */
const HEAD_LENGTH_BYTES = 4;

/** The envelope as `bgrs_jobs.envelope` keeps it: the length of a JSON part, the JSON, then the body's bytes. */
export function encodeEnvelope({ body, ...rest }: RequestEnvelope): Buffer {
  const head = Buffer.from(JSON.stringify(rest), 'utf8');
  const length = Buffer.alloc(HEAD_LENGTH_BYTES);
  length.writeUInt32BE(head.length);
  return Buffer.concat([length, head, body ?? Buffer.alloc(0)]);
}

export function decodeEnvelope(bytes: Buffer): RequestEnvelope {
  const length = bytes.readUInt32BE(0);
  const head = JSON.parse(bytes.subarray(HEAD_LENGTH_BYTES, HEAD_LENGTH_BYTES + length).toString('utf8'));
  const body = bytes.subarray(HEAD_LENGTH_BYTES + length);
  return { ...head, body: body.length > 0 ? body : undefined };
}
