import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis server the queue tests run against (no persistence: never stopped or flushed by a test). */
export const REDIS = {
  host: process.env.BGRS_TEST_REDIS_HOST ?? '127.0.0.1',
  port: Number(process.env.BGRS_TEST_REDIS_PORT ?? 6379),
};

/** A queue name of its own for one suite, so that suites sharing Redis never see each other's jobs. */
export function testQueueName(label: string): string {
  return `bgrs-test-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** The keys of a test queue, a batch at a time. */
async function* queueKeys(redis: Redis, name: string, prefix: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:${name}:*`, 'COUNT', 1000);
    if (keys.length > 0) {
      yield keys;
    }
    cursor = next;
  } while (cursor !== '0');
}

/** Deletes every key of a test queue (BullMQ's default prefix `bull`). */
export async function deleteQueueKeys(name: string, prefix = 'bull'): Promise<void> {
  const redis = new Redis(REDIS);
  try {
    for await (const keys of queueKeys(redis, name, prefix)) {
      await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

/** What one key holds, as text, whatever its type (BullMQ keeps hashes, lists, sorted sets, streams, strings). */
async function contentOf(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  switch (type) {
    case 'string':
      return (await redis.get(key)) ?? '';
    case 'hash':
      return JSON.stringify(await redis.hgetall(key));
    case 'list':
      return JSON.stringify(await redis.lrange(key, 0, -1));
    case 'set':
      return JSON.stringify(await redis.smembers(key));
    case 'zset':
      return JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'));
    case 'stream':
      return JSON.stringify(await redis.xrange(key, '-', '+'));
    default:
      return `(${type})`;
  }
}

/** Everything a test queue holds in Redis: each of its keys with what it holds, as text. */
export async function queueContents(name: string, prefix = 'bull'): Promise<Map<string, string>> {
  const redis = new Redis(REDIS);
  try {
    const contents = new Map<string, string>();
    for await (const keys of queueKeys(redis, name, prefix)) {
      for (const key of keys) {
        contents.set(key, await contentOf(redis, key));
      }
    }
    return contents;
  } finally {
    redis.disconnect();
  }
}
