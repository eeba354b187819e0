import type { ServerResponse } from 'node:http';
import type { ResponseRecorder } from './response-recorder.js';

/** The members of `ServerResponse` that the platforms' send logic and Nest's adapters use. */
const RECORDED_METHODS = ['getHeader', 'getHeaders', 'getHeaderNames', 'hasHeader', 'write'] as const;
/** Those that Node lets callers chain (`res.setHeader(…).setHeader(…)`). */
const CHAINED_METHODS = ['setHeader', 'appendHeader', 'removeHeader', 'writeHead', 'end'] as const;

/**
 * Gives a Node response, whose early answer is already sent, own members that write into `recorder`. The
 * handler and Nest hold this very object, and no supported hook swaps it for another.
 */
export function redirectServerResponse(response: ServerResponse, recorder: ResponseRecorder): void {
  const members: PropertyDescriptorMap = {
    statusCode: {
      configurable: true,
      get: () => recorder.statusCode,
      set: (code: number) => (recorder.statusCode = code),
    },
    headersSent: { configurable: true, get: () => recorder.headersSent },
    writableEnded: { configurable: true, get: () => recorder.ended },
    // Nest's adapters destroy a response whose result stream failed.
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
}
