import type { BgrsQueueOptions } from 'nestjs-bgrs';

/**
 * Queue mode for the demo, from `REDIS_URL` (`redis://[:password@]host[:port][/db]`, or `rediss://` for TLS): the
 * web server hands its background requests to the queue, and `npm run worker` runs them. Without it, undefined:
 * requests run in the web server's process.
 */
export function demoQueueOptions(role: 'web' | 'worker'): BgrsQueueOptions | undefined {
  const url = process.env.REDIS_URL;
  if (!url) {
    if (role === 'worker') {
      throw new Error('npm run worker needs REDIS_URL (redis://host:6379): a worker takes its requests from the queue');
    }
    return undefined;
  }
  const redis = new URL(url);
  if (redis.protocol !== 'redis:' && redis.protocol !== 'rediss:') {
    throw new Error('REDIS_URL must start with redis:// or rediss://');
  }
  return {
    connection: {
      host: redis.hostname,
      port: Number(redis.port || 6379),
      ...(redis.username ? { username: decodeURIComponent(redis.username) } : {}),
      ...(redis.password ? { password: decodeURIComponent(redis.password) } : {}),
      ...(redis.pathname.length > 1 ? { db: Number(redis.pathname.slice(1)) } : {}),
      ...(redis.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    name: process.env.DEMO_QUEUE ?? 'bgrs-demo',
    // The web server only accepts; workers run.
    worker: role === 'worker',
  };
}
