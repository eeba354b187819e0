import { Injectable, type MessageEvent } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { RouterResponseController } from '@nestjs/core/router/router-response-controller.js';
import type { Observable } from 'rxjs';

/**
 * Sends the answers of the lookup routes itself, as a `@Res()` handler does: the host's global interceptors still
 * run around the lookups (logging, timeouts), but what they return is not sent, so a response-shaping one (a
 * `{ data }` wrapper, `ClassSerializerInterceptor`) cannot change the format the README's “Lookup endpoints” promises. The platform's own
 * `reply()` and Nest's own event-stream writer produce the bytes and headers that Nest would have sent.
 */
@Injectable()
export class BgrsLookupResponder {
  private streams: RouterResponseController | undefined;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** A JSON answer, with the status and headers Nest has already set for the route (its 200, its `@Header`s). */
  json(response: unknown, body: unknown): void {
    this.adapterHost.httpAdapter.reply(response, body);
  }

  /**
   * Server-Sent Events, written by the code of Nest's `@Sse()` routes (`RouterResponseController.sse()`), so that
   * framing, headers, keep-alive and disconnects are exactly theirs. Settles once the stream has ended.
   */
  events(request: any, response: any, events: Observable<MessageEvent>): Promise<void> {
    const raw = response.raw ?? response;
    this.streams ??= new RouterResponseController(this.adapterHost.httpAdapter);
    // What the router passes for an `@Sse()` route: the platform response's own headers and status go out too.
    return this.streams.sse(events, raw, request.raw ?? request, {
      additionalHeaders: () => response.getHeaders?.(),
      statusCode: () => response.statusCode ?? raw.statusCode,
    });
  }
}
