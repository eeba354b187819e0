import type { Readable, Writable } from 'node:stream';
import type { ResponseRecorder, ResponseSnapshot } from './response-recorder.js';

/**
 * What the module needs from the HTTP platform to answer early and record the real outcome. Express and Fastify
 * keep their response state differently, so each has its own implementation.
 */
export interface BgrsPlatform {
  /** Runs `hook` on every request before routing, with the request object that guards and handlers get. */
  beforeRouting(app: unknown, hook: (request: any) => void): void;
  /** The status and the route's own headers (`@HttpCode`, `@Header`), already on the response at intercept time. */
  snapshot(response: unknown, routeHeaders: readonly string[]): ResponseSnapshot;
  /** Turns the response into the early answer: status 202, the route's headers removed, `headers` added. */
  prepareEarlyAnswer(response: unknown, routeHeaders: readonly string[], headers: Record<string, string>): void;
  /** Resolves once the early answer has gone out (or the client has gone away). */
  whenSent(response: unknown): Promise<void>;
  /**
   * From now on, whatever writes to `response` (the handler, Nest, exception filters) writes into the returned
   * recorder, starting from `snapshot`, with the body going to `body`.
   */
  record(response: unknown, snapshot: ResponseSnapshot, body: Writable): ResponseRecorder;
  /**
   * Sends a stored result exactly as recorded: no charset or default Content-Type added, so a result that had
   * none gets none. Resolves once the body is sent.
   */
  replay(
    response: unknown,
    statusCode: number,
    headers: Record<string, string | string[]>,
    body: Readable,
  ): Promise<void>;
}
