import { createRequire } from 'node:module';

export type Bullmq = typeof import('bullmq');

let loaded: Bullmq | undefined;

/** BullMQ is an optional peer: loaded only where queue mode is configured. */
export function loadBullmq(): Bullmq {
  if (!loaded) {
    try {
      loaded = createRequire(import.meta.url)('bullmq') as Bullmq;
    } catch (error) {
      throw new Error('BgrsModule queue mode needs BullMQ and ioredis: npm install bullmq ioredis light-my-request', {
        cause: error,
      });
    }
  }
  return loaded;
}
