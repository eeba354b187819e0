import type { ServerResponse } from 'node:http';
import { finished, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { redirectServerResponse } from './redirect-server-response.js';
import type { BgrsPlatform } from './bgrs-platform.interface.js';
import { ResponseRecorder, takeSnapshot, type ResponseSnapshot } from './response-recorder.js';

type HeaderValue = number | string | string[];

/** The parts of Fastify's reply that are used here. */
interface FastifyReplyLike {
  raw: ServerResponse;
  statusCode: number;
  code(statusCode: number): FastifyReplyLike;
  header(name: string, value: unknown): FastifyReplyLike;
  getHeader(name: string): HeaderValue | undefined;
  getHeaders(): Record<string, HeaderValue | undefined>;
  hasHeader(name: string): boolean;
  removeHeader(name: string): FastifyReplyLike;
  hijack(): FastifyReplyLike;
}

/**
 * Fastify keeps the headers of a reply in a map of its own and writes them with `writeHead` when it sends.
 * Once the early answer is out, that map is emptied and the reply's header methods, as well as its raw
 * response, write into the recorder, so `reply.send()` runs its own serialization and yields the foreground bytes.
 */
export class FastifyPlatform implements BgrsPlatform {
  /** An `onRequest` hook: Fastify has parsed the query into `request.query` by then, and routes see that object. */
  beforeRouting(
    app: { addHook(name: 'onRequest', hook: (request: unknown, reply: unknown, done: () => void) => void): void },
    hook: (request: unknown) => void,
  ): void {
    app.addHook('onRequest', (request, _reply, done) => {
      hook(request);
      done();
    });
  }

  snapshot(reply: FastifyReplyLike, routeHeaders: readonly string[]): ResponseSnapshot {
    return takeSnapshot(reply.statusCode, routeHeaders, (name) => reply.getHeader(name));
  }

  prepareEarlyAnswer(reply: FastifyReplyLike, routeHeaders: readonly string[], headers: Record<string, string>): void {
    reply.code(202);
    for (const name of routeHeaders) {
      reply.removeHeader(name);
    }
    for (const [name, value] of Object.entries(headers)) {
      reply.header(name, value);
    }
  }

  whenSent(reply: FastifyReplyLike): Promise<void> {
    return new Promise((resolve) => finished(reply.raw, () => resolve()));
  }

  record(reply: FastifyReplyLike, snapshot: ResponseSnapshot, body: Writable): ResponseRecorder {
    for (const name of Object.keys(reply.getHeaders())) {
      reply.removeHeader(name);
    }
    const recorder = new ResponseRecorder(body, snapshot, () => reply.raw.emit('drain'));
    redirectServerResponse(reply.raw, recorder);
    // Fastify's send() also writes its header map directly (Content-Type), then removes from it (204).
    const removeOwnHeader = reply.removeHeader.bind(reply);
    const chain = (write: () => void) => {
      write();
      return reply;
    };
    Object.defineProperties(reply, {
      header: {
        configurable: true,
        value: (name: string, value: HeaderValue) => chain(() => recorder.setHeader(name, value)),
      },
      headers: {
        configurable: true,
        value: (values: Record<string, HeaderValue>) =>
          chain(() => Object.entries(values).forEach(([name, value]) => recorder.setHeader(name, value))),
      },
      removeHeader: {
        configurable: true,
        value: (name: string) =>
          chain(() => {
            recorder.removeHeader(name);
            removeOwnHeader(name);
          }),
      },
      getHeader: { configurable: true, value: (name: string) => recorder.getHeader(name) },
      getHeaders: { configurable: true, value: () => ({ ...recorder.getHeaders() }) },
      hasHeader: { configurable: true, value: (name: string) => recorder.hasHeader(name) },
      // A reply is a thenable that settles once its response is over: Nest's route handler returns it, and Fastify
      // would send an empty answer in place of one a handler writes later (`@Res()`) if it settled at once.
      then: {
        configurable: true,
        value: (fulfilled: () => void, rejected?: (error: unknown) => void) => recorder.done.then(fulfilled, rejected),
      },
    });
    return recorder;
  }

  async replay(
    reply: FastifyReplyLike,
    statusCode: number,
    headers: Record<string, string | string[]>,
    body: Readable,
  ): Promise<void> {
    // Fastify's send would give a stream without a type `application/octet-stream`.
    reply.hijack();
    reply.raw.writeHead(statusCode, headers);
    await pipeline(body, reply.raw);
  }
}
