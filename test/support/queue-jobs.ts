import { Queue, type JobState } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS } from './redis.js';

/** What the test queue `name` says of the BullMQ job of a request. */
export interface QueueJob {
  /** `unknown` when the queue has no job of that id (removed). */
  state: JobState | 'unknown';
  /** How many times a worker has taken it from the queue (a job taken back after its lock expired: once more). */
  attemptsStarted: number;
}

/** Reads the BullMQ job of `rid` in the test queue `name`, as BullMQ's own client sees it. */
export async function queueJobOf(name: string, rid: string): Promise<QueueJob> {
  const queue = new Queue(name, { connection: REDIS });
  try {
    const [state, job] = await Promise.all([queue.getJobState(rid), queue.getJob(rid)]);
    return { state, attemptsStarted: job?.attemptsStarted ?? 0 };
  } finally {
    await queue.close();
  }
}

/** Whether a worker holds the lock of the job of `rid` in the test queue `name` (BullMQ's default prefix). */
export async function jobLocked(name: string, rid: string): Promise<boolean> {
  const redis = new Redis(REDIS);
  try {
    return (await redis.exists(`bull:${name}:${rid}:lock`)) === 1;
  } finally {
    redis.disconnect();
  }
}
