import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { JobState, Queue } from 'bullmq';
import { BGRS_OPTIONS } from '../../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../../options/bgrs-options.js';
import { loadBullmq } from './bullmq.js';

/** How often the queue's depth is read again, for `maxQueued`. */
const DEPTH_REFRESH_MS = 500;
/** How long the queue keeps the jobs that ended (seconds): long enough for the reconciler to tell them from lost ones. */
const KEEP_COMPLETED_S = 3600;
const KEEP_FAILED_S = 86_400;

/** What the module puts in Redis for a request: its rid, nothing else (no credentials, no body). */
export interface BgrsJobData {
  rid: string;
}

/**
 * The producer side of queue mode: the BullMQ queue that requests are handed to, by any instance. A job's id is its
 * rid, so handing a request over twice makes one job. Inert unless the `queue` option is given.
 */
@Injectable()
export class BgrsQueueService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Bgrs');
  private queue: Queue<BgrsJobData> | undefined;
  private depth = 0;
  /** Places taken by acceptances of this instance under way, whose jobs are not in the depth yet. */
  private reserved = 0;
  private depthTimer: NodeJS.Timeout | undefined;

  constructor(@Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions) {}

  /** Queue mode is configured. */
  get enabled(): boolean {
    return this.options.queue !== undefined;
  }

  /**
   * Whether the queue's depth (all instances') is below `maxQueued`, as last read (every half second, and counting
   * this instance's own additions since, and those under way): cheap enough to ask before a route's pipes run.
   */
  get hasRoom(): boolean {
    return this.depth + this.reserved < this.options.maxQueued;
  }

  /**
   * Takes a place in the queue for an acceptance, false if there is no room: many acceptances at once all pass
   * `hasRoom` before their jobs are added, so each takes its place before it writes anything. `release()` gives it
   * back once its job is added (then counted in the depth) or was not.
   */
  reserve(): boolean {
    if (!this.hasRoom) {
      return false;
    }
    this.reserved++;
    return true;
  }

  release(): void {
    this.reserved--;
  }

  onModuleInit(): void {
    const queue = this.options.queue;
    if (!queue) {
      return;
    }
    const { Queue } = loadBullmq();
    this.queue = new Queue<BgrsJobData>(queue.name, {
      // Without an offline queue, an add while Redis is away fails at once instead of waiting to be delivered late.
      connection: { ...queue.connection, enableOfflineQueue: false },
      prefix: queue.prefix,
      defaultJobOptions: {
        attempts: 1,
        removeOnComplete: { age: KEEP_COMPLETED_S },
        removeOnFail: { age: KEEP_FAILED_S },
      },
    });
    this.queue.on('error', (error) => this.logger.warn(`Queue ${queue.name}: ${error.message}`));
    this.depthTimer = setInterval(() => void this.readDepth(), DEPTH_REFRESH_MS);
    this.depthTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.depthTimer);
    await this.queue?.close().catch(() => undefined);
  }

  /**
   * Hands a request to the queue, or rejects within `enqueueTimeoutMs`: with a connection that was never up, BullMQ
   * would wait for Redis for ever.
   */
  async enqueue(rid: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${this.options.queue!.enqueueTimeoutMs} ms`)),
        this.options.queue!.enqueueTimeoutMs,
      );
    });
    try {
      await Promise.race([this.queueOf().add('request', { rid }, { jobId: rid }), timeout]);
      this.depth++;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Removes a job that no worker runs yet; false if a worker holds it (it sees the end at its next heartbeat). */
  async remove(rid: string): Promise<boolean> {
    try {
      return (await this.queueOf().remove(rid)) === 1;
    } catch {
      return false;
    }
  }

  /** Where the job of a request is: `unknown` when the queue has no job for it (lost, or removed after its end). */
  stateOf(rid: string): Promise<JobState | 'unknown'> {
    return this.queueOf().getJobState(rid);
  }

  /** Why the queue gave the job of a request up, if it did. */
  async failedReasonOf(rid: string): Promise<string> {
    return (await this.queueOf().getJob(rid))?.failedReason ?? 'unknown';
  }

  private queueOf(): Queue<BgrsJobData> {
    if (!this.queue) {
      throw new Error('BgrsModule queue mode is not configured');
    }
    return this.queue;
  }

  private async readDepth(): Promise<void> {
    try {
      this.depth = await this.queueOf().getJobCountByTypes('waiting', 'prioritized', 'delayed');
    } catch {
      // Redis away: the last depth stands, and acceptances find out for themselves.
    }
  }
}
