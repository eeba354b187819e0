import type { ServerResponse } from 'node:http';
import { finished, type Writable } from 'node:stream';
import type { ResponseCapture } from './response-capture.interface.js';
import { ResponseRecorder, type ResponseSnapshot } from './response-recorder.js';

/** The members of `ServerResponse` that Express's send logic and Nest's adapter use. */
const RECORDED_METHODS = ['getHeader', 'getHeaders', 'getHeaderNames', 'hasHeader', 'write'] as const;
/** Those that Node lets callers chain (`res.setHeader(…).setHeader(…)`). */
const CHAINED_METHODS = ['setHeader', 'appendHeader', 'removeHeader', 'writeHead', 'end'] as const;

/**
 * Express: the handler and Nest hold the very `res` of the request, so once the early answer is sent that object
 * is given own members that write into the recorder. Express's own `send` then runs unchanged (charset,
 * Content-Length, ETag, 204 handling) and produces exactly the foreground bytes.
 */
export class ExpressResponseCapture implements ResponseCapture {
  snapshot(response: ServerResponse, routeHeaders: string[]): ResponseSnapshot {
    const headers: ResponseSnapshot['headers'] = {};
    for (const name of routeHeaders) {
      const value = response.getHeader(name);
      if (value !== undefined) {
        headers[name] = value;
      }
    }
    return { statusCode: response.statusCode, headers };
  }

  prepareEarlyAnswer(response: ServerResponse, routeHeaders: string[], headers: Record<string, string>): void {
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
    const members: PropertyDescriptorMap = {
      statusCode: {
        configurable: true,
        get: () => recorder.statusCode,
        set: (code: number) => (recorder.statusCode = code),
      },
      headersSent: { configurable: true, get: () => recorder.headersSent },
      writableEnded: { configurable: true, get: () => recorder.ended },
      // Nest's adapter destroys a response whose result stream failed.
      destroy: { configurable: true, writable: true, value: () => recorder.end() },
    };
    for (const method of RECORDED_METHODS) {
      members[method] = { configurable: true, writable: true, value: recorder[method].bind(recorder) };
    }
    for (const method of CHAINED_METHODS) {
      const recorded = recorder[method].bind(recorder) as (...args: unknown[]) => void;
      members[method] = {
        configurable: true,
        writable: true,
        value: (...args: unknown[]) => {
          recorded(...args);
          return response;
        },
      };
    }
    Object.defineProperties(response, members);
    return recorder;
  }

  replay(response: ServerResponse, statusCode: number, headers: Record<string, string | string[]>): void {
    response.statusCode = statusCode;
    for (const [name, value] of Object.entries(headers)) {
      response.setHeader(name, value);
    }
  }
}
