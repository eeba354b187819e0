import assert from 'node:assert/strict';
import { Queue, type JobState } from 'bullmq';
import type { BgrsQueueOptions } from '../../src/index.js';
import type { HttpResponse } from './http.js';
import { REDIS } from './redis.js';
import type { TcpProxy } from './tcp-proxy.js';
import { eventually } from './wait.js';

/**
 * The test's own view of a queue in Redis (its own connection, never the app's): where a request's job is and how
 * many wait, to check what the apps did to the queue.
 */
export class QueueProbe {
  private readonly queue: Queue;

  constructor(name: string) {
    this.queue = new Queue(name, { connection: REDIS });
  }

  /** `unknown` when the queue has no job for the rid. */
  stateOf(rid: string): Promise<JobState | 'unknown'> {
    return this.queue.getJobState(rid);
  }

  /** Jobs no worker has taken yet: the depth `maxQueued` bounds. */
  waiting(): Promise<number> {
    return this.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed');
  }

  /** Jobs in any state. */
  async total(): Promise<number> {
    const counts = await this.queue.getJobCounts();
    return Object.values(counts).reduce((sum, count) => sum + count, 0);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

/** Queue options whose Redis connection goes through `proxy` (which the test can cut or hold). */
export function queueThrough(proxy: TcpProxy, options: Omit<BgrsQueueOptions, 'connection'>): BgrsQueueOptions {
  return { ...options, connection: { host: '127.0.0.1', port: proxy.port } };
}

/**
 * Waits until an app whose Redis link goes through `proxy` has sent Redis something twice since now: the first
 * command left after this call, and its answer has come back before the second one leaves. For an app that only
 * reads the queue's depth (past its start-up traffic), it has then read it again.
 */
export async function redisTrafficTwice(proxy: TcpProxy, description: string): Promise<void> {
  let seen = proxy.forwarded;
  for (const round of ['once', 'twice']) {
    const from = seen;
    seen = await eventually(`${description} (${round})`, async () =>
      proxy.forwarded > from ? proxy.forwarded : undefined,
    );
  }
}

/** A 503 refusal of a background request: `Retry-After`, a JSON error, and no rid anywhere (body, Location). */
export function assertRefusedWithoutRid(res: HttpResponse, what: string): void {
  const text = Buffer.isBuffer(res.body) ? res.body.toString('utf8') : res.text;
  assert.equal(res.status, 503, `${what}: expected 503, got ${res.status}: ${text}`);
  assert.ok(res.headers['retry-after'], `${what}: a 503 says when to come back`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, `${what}: a JSON error`);
  assert.equal(JSON.parse(text).request, undefined, `${what}: no rid in the body: ${text}`);
  assert.doesNotMatch(text, /[0-9a-f]{32}/, `${what}: no rid anywhere in the body`);
  assert.equal(res.headers.location, undefined, `${what}: no Location`);
}
