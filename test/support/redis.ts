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

/** Deletes every key of a test queue (BullMQ's default prefix `bull`). */
export async function deleteQueueKeys(name: string, prefix = 'bull'): Promise<void> {
  const redis = new Redis(REDIS);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:${name}:*`, 'COUNT', 1000);
      if (keys.length > 0) {
        await redis.del(...keys);
      }
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
