import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP request with the path sent exactly as given: unlike fetch or supertest (WHATWG URL), nothing
 * resolves `..` segments or re-encodes the path, so hostile paths reach the server as written.
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A request whose body is handed to `onChunk` as it arrives instead of being kept (for very large answers);
 * resolves with the status, headers and the number of body bytes.
 */
export function streamRequest(
  port: number,
  path: string,
  onChunk: (chunk: Buffer) => void,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; length: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path, headers, agent: false }, (res) => {
      let length = 0;
      const small: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length <= 65536) {
          small.push(chunk);
        }
        onChunk(chunk);
      });
      res.on('error', reject);
      // An answer cut short is an 'aborted' response: report it as such, never as a complete body.
      res.on('aborted', () => reject(new Error(`answer to ${path} was cut short after ${length} bytes`)));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          length,
          text: Buffer.concat(small).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** A GET whose body is hashed as it arrives, never held: its status, headers, length and SHA-256 (hex). */
export async function hashedRequest(
  port: number,
  path: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; length: number; digest: string; text: string }> {
  const hash = createHash('sha256');
  const answer = await streamRequest(port, path, (chunk) => hash.update(chunk));
  return { ...answer, digest: hash.digest('hex') };
}

/** The answer parsed as JSON: its Content-Type must say JSON, and its body must be JSON. */
export function jsonAnswer(answer: RawAnswer, what: string): any {
  assert.match(
    String(answer.headers['content-type'] ?? ''),
    /^application\/json\b/,
    `${what}: expected a JSON answer, got ${answer.status} ${answer.headers['content-type']}: ${answer.body.toString('utf8').slice(0, 300)}`,
  );
  try {
    return JSON.parse(answer.body.toString('utf8'));
  } catch {
    assert.fail(`${what}: the body is not JSON: ${answer.body.toString('utf8').slice(0, 300)}`);
  }
}
