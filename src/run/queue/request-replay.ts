import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { BackgroundRun } from '../../accept/background-run.js';
import type { ProducedResponse } from '../bgrs-run-completion.service.js';
import { keptHeadersOf } from '../../platform/response-recorder.js';
import { BGRS_REPLAY, type Replay } from './replay-guards.js';
import type { RequestEnvelope } from './request-envelope.js';

type LightMyRequest = typeof import('light-my-request');

/** The members of a response that Express's `app.handle` would hide behind its own prototype. */
const RESPONSE_METHODS = [
  'write',
  'end',
  'writeHead',
  'setHeader',
  'getHeader',
  'getHeaders',
  'getHeaderNames',
  'hasHeader',
  'removeHeader',
  'flushHeaders',
] as const;

/** A replayed response, its body still to be read. */
export interface ReplayedResponse extends ProducedResponse {
  body: Readable;
}

function loadLightMyRequest(): LightMyRequest {
  try {
    return createRequire(import.meta.url)('light-my-request') as LightMyRequest;
  } catch (error) {
    throw new Error('BgrsModule queue workers need light-my-request: npm install light-my-request', { cause: error });
  }
}

/**
 * Replays a queued request through the worker's own app, in process: a request made by light-my-request is handed
 * to the app's HTTP server, so it takes the foreground path (middleware, pipes, interceptors, filters, the
 * platform's own send logic) and the response is exactly what the foreground would have sent. The body streams.
 */
@Injectable()
export class BgrsRequestReplayer {
  private lightMyRequest: LightMyRequest | undefined;
  private ready: Promise<unknown> | undefined;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  async replay(envelope: RequestEnvelope, run: BackgroundRun): Promise<ReplayedResponse> {
    const { httpAdapter } = this.adapterHost;
    const express = httpAdapter.getType() === 'express';
    // Fastify routes requests only once it is ready, which listening would have made it.
    this.ready ??= express ? Promise.resolve() : httpAdapter.getInstance().ready();
    await this.ready;
    this.lightMyRequest ??= loadLightMyRequest();
    const server = httpAdapter.getHttpServer();
    const replay: Replay = { run, carried: envelope.carried };
    const response = await this.lightMyRequest.inject(
      (request, response) => {
        (request as unknown as Record<symbol, Replay>)[BGRS_REPLAY] = replay;
        if (express) {
          // Express swaps the response's prototype for its own, which would hide light-my-request's members;
          // own properties stay in front, so each of them becomes one.
          const members = response as unknown as Record<string, unknown>;
          for (const method of RESPONSE_METHODS) {
            Object.defineProperty(members, method, { value: members[method], writable: true, configurable: true });
          }
        }
        server.emit('request', request, response);
      },
      {
        method: envelope.method as 'GET',
        url: envelope.url,
        headers: envelope.headers,
        payload: envelope.body,
        payloadAsStream: true,
        ...(envelope.remoteAddress ? { remoteAddress: envelope.remoteAddress } : {}),
      },
    );
    const contentType = response.headers['content-type'];
    return {
      statusCode: response.statusCode,
      contentType: contentType === undefined ? null : String(contentType),
      headers: keptHeadersOf(Object.entries(response.headers)),
      body: response.stream(),
    };
  }
}
