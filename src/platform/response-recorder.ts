import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BgrsResultHeaders } from '../result-store/bgrs-result-store.interface.js';

type HeaderValue = number | string | string[];

/**
 * Headers of the transfer rather than of the result (`/result` sends its own), the ETag Express derives, and
 * Express's `X-Powered-By` (the serving instance sends its own, or none; a worker's replay would keep it).
 */
const TRANSFER_HEADERS = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'date',
  'etag',
  'x-powered-by',
]);

/** The headers of a response that are kept with its result: all but the transfer's (and the Content-Type, apart). */
export function keptHeadersOf(headers: Iterable<[string, HeaderValue | undefined]>): BgrsResultHeaders {
  const kept: BgrsResultHeaders = {};
  for (const [name, value] of headers) {
    if (value !== undefined && !TRANSFER_HEADERS.has(name.toLowerCase())) {
      kept[name] = Array.isArray(value) ? value.map(String) : String(value);
    }
  }
  return kept;
}

/** What the route had set on the response before its handler ran (`@HttpCode`, `@Header`). */
export interface ResponseSnapshot {
  statusCode: number;
  headers: Record<string, HeaderValue>;
}

/** The snapshot of a response whose status is `statusCode`, with the route's headers read by `getHeader`. */
export function takeSnapshot(
  statusCode: number,
  routeHeaders: readonly string[],
  getHeader: (name: string) => HeaderValue | undefined,
): ResponseSnapshot {
  const headers: ResponseSnapshot['headers'] = {};
  for (const name of routeHeaders) {
    const value = getHeader(name);
    if (value !== undefined) {
      headers[name] = value;
    }
  }
  return { statusCode, headers };
}

/**
 * Stands in for the response of a background request: headers and status in memory, body bytes into the result
 * store. It implements what Node's `ServerResponse` offers to the frameworks' send logic, so that Express (or
 * Fastify) produces the very bytes the foreground would have sent.
 */
export class ResponseRecorder {
  statusCode: number;
  headersSent = false;
  ended = false;
  private closed = false;
  private readonly headers = new Map<string, { name: string; value: HeaderValue }>();
  private markEnded!: () => void;
  /** Resolves once the whole body has been handed to the store; rejects if the store fails. */
  readonly done: Promise<void>;

  constructor(
    private readonly body: Writable,
    snapshot: ResponseSnapshot,
    /** Told when the body can take more after `write()` returned false (Node's 'drain'). */
    onDrain: () => void,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.markEnded = resolve;
      body.once('error', reject);
    });
    // A stopped run no longer awaits it, and its failure is the run's, not the process's.
    this.done.catch(() => undefined);
    this.statusCode = snapshot.statusCode;
    for (const [name, value] of Object.entries(snapshot.headers)) {
      this.setHeader(name, value);
    }
    body.on('drain', onDrain);
  }

  get contentType(): string | null {
    const value = this.getHeader('content-type');
    return value === undefined ? null : String(value);
  }

  /** The headers kept with the result. */
  keptHeaders(): BgrsResultHeaders {
    return keptHeadersOf([...this.headers.values()].map(({ name, value }) => [name, value]));
  }

  setHeader(name: string, value: HeaderValue): void {
    this.headers.set(name.toLowerCase(), { name, value });
  }

  appendHeader(name: string, value: HeaderValue): void {
    const current = this.getHeader(name);
    const values = [current ?? [], value].flat().map(String);
    this.setHeader(name, values.length === 1 ? values[0] : values);
  }

  getHeader(name: string): HeaderValue | undefined {
    return this.headers.get(name.toLowerCase())?.value;
  }

  getHeaders(): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = Object.create(null);
    for (const [key, { value }] of this.headers) {
      headers[key] = value;
    }
    return headers;
  }

  getHeaderNames(): string[] {
    return [...this.headers.keys()];
  }

  hasHeader(name: string): boolean {
    return this.headers.has(name.toLowerCase());
  }

  removeHeader(name: string): void {
    this.headers.delete(name.toLowerCase());
  }

  writeHead(statusCode: number, ...rest: unknown[]): void {
    this.statusCode = statusCode;
    const headers = rest.find((arg) => typeof arg === 'object' && arg !== null);
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        this.setHeader(String(headers[i]), headers[i + 1]);
      }
    } else if (headers) {
      for (const [name, value] of Object.entries(headers)) {
        this.setHeader(name, value as HeaderValue);
      }
    }
    this.headersSent = true;
  }

  /**
   * Drops whatever is still written: the run was stopped and its store writer discarded, but the handler (or Nest)
   * may go on writing to the response it holds.
   */
  close(): void {
    this.closed = true;
    this.ended = true;
    this.markEnded();
  }

  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    this.headersSent = true;
    if (this.closed) {
      return true;
    }
    const done = typeof encoding === 'function' ? encoding : callback;
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : chunk;
    return this.body.write(bytes, done as (error?: Error | null) => void);
  }

  end(chunk?: unknown, encoding?: unknown, callback?: unknown): void {
    if (this.ended) {
      return;
    }
    const done = [chunk, encoding, callback].find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
      this.write(chunk, encoding);
    }
    this.headersSent = true;
    this.ended = true;
    this.body.end(() => {
      done?.();
      this.markEnded();
    });
  }

  /** Sends a stream as the body (a `StreamableFile`'s), with backpressure. */
  async pipeFrom(source: Readable): Promise<void> {
    this.headersSent = true;
    await pipeline(source, this.body);
    this.ended = true;
    this.markEnded();
  }
}
