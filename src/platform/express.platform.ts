import type { ServerResponse } from 'node:http';
import { finished, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { redirectServerResponse } from './redirect-server-response.js';
import type { BgrsPlatform } from './bgrs-platform.interface.js';
import { ResponseRecorder, takeSnapshot, type ResponseSnapshot } from './response-recorder.js';

/**
 * Express: once the early answer is sent, the request's `res` writes into the recorder, and Express's own `send`
 * runs unchanged (charset, Content-Length, ETag, 204 handling), producing exactly the foreground bytes.
 */
export class ExpressPlatform implements BgrsPlatform {
  beforeRouting(
    app: { use(handler: (req: unknown, res: unknown, next: () => void) => void): void },
    hook: (request: unknown) => void,
  ): void {
    app.use((req, _res, next) => {
      hook(req);
      next();
    });
  }

  snapshot(response: ServerResponse, routeHeaders: readonly string[]): ResponseSnapshot {
    return takeSnapshot(response.statusCode, routeHeaders, (name) => response.getHeader(name));
  }

  prepareEarlyAnswer(response: ServerResponse, routeHeaders: readonly string[], headers: Record<string, string>): void {
    response.statusCode = 202;
    for (const name of routeHeaders) {
      response.removeHeader(name);
    }
    for (const [name, value] of Object.entries(headers)) {
      response.setHeader(name, value);
    }
  }

  whenSent(response: ServerResponse): Promise<void> {
    return new Promise((resolve) => finished(response, () => resolve()));
  }

  record(response: ServerResponse, snapshot: ResponseSnapshot, body: Writable): ResponseRecorder {
    const recorder = new ResponseRecorder(body, snapshot, () => response.emit('drain'));
    redirectServerResponse(response, recorder);
    return recorder;
  }

  async replay(
    response: ServerResponse,
    statusCode: number,
    headers: Record<string, string | string[]>,
    body: Readable,
  ): Promise<void> {
    response.writeHead(statusCode, headers);
    await pipeline(body, response);
  }
}
