import { Inject, Injectable, Logger } from '@nestjs/common';
import { BGRS_OPTIONS, BgrsStatusId } from '../../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../../options/bgrs-options.js';
import type { BgrsCallerId } from '../../options/caller-id.js';
import { BgrsRequestRepository } from '../../persistence/bgrs-request.repository.js';
import { BgrsQueueService } from './bgrs-queue.service.js';
import { encodeEnvelope, envelopeOf } from './request-envelope.js';

/** A request accepted to run through the queue. */
export interface QueuedRequest {
  rid: string;
  userId: BgrsCallerId | null;
  /** Its path and query as received (the record's `name`). */
  name: string;
  /** The platform's request, from which its envelope is taken. */
  request: any;
  /** A run cut by its worker's death may run again. */
  rerun: boolean;
}

/** Why a queued request was not accepted: the client gets a 503 with `Retry-After`. */
export class QueueUnavailableError extends Error {
  constructor(
    readonly what: 'record' | 'queue' | 'full',
    cause?: unknown,
  ) {
    super(
      what === 'full'
        ? 'The queue is full'
        : `The background request could not be ${what === 'record' ? 'recorded' : 'queued'}`,
      { cause },
    );
  }
}

/**
 * The accepting side of queue mode: records a request with its envelope (the request itself, for the worker, kept in
 * `bgrs_jobs`), then hands it to the queue. A request that cannot be handed over is deleted again, so no record is
 * left that could run later for a client that got a 503.
 */
@Injectable()
export class BgrsQueueRunner {
  private readonly logger = new Logger('Bgrs');

  constructor(
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    private readonly repository: BgrsRequestRepository,
    private readonly queue: BgrsQueueService,
  ) {}

  /** Queue mode is configured. */
  get enabled(): boolean {
    return this.queue.enabled;
  }

  /** Whether the queue has room for another request (`maxQueued`, all instances). */
  get hasRoom(): boolean {
    return this.queue.hasRoom;
  }

  /**
   * Records and queues a request. A body the queue cannot carry is refused with its HTTP error (413, 415); a full
   * queue, or a record or a queue that cannot be written, rejects with a `QueueUnavailableError`.
   */
  async submit(request: QueuedRequest): Promise<void> {
    const { carry, maxBodyBytes } = this.options.queue!;
    const envelope = encodeEnvelope(envelopeOf(request.request, carry, maxBodyBytes));
    if (!this.queue.reserve()) {
      // Others accepted at the same time took the last places since this one passed `hasRoom`.
      throw new QueueUnavailableError('full');
    }
    try {
      await this.recordAndQueue(request, envelope);
    } finally {
      this.queue.release();
    }
  }

  private async recordAndQueue({ rid, userId, name, rerun }: QueuedRequest, envelope: Buffer): Promise<void> {
    try {
      await this.repository.insert({
        rid,
        userId,
        name,
        statusId: BgrsStatusId.Queued,
        createdAt: new Date(),
        job: { rerun, envelope, queuedAt: Date.now() },
      });
    } catch (error) {
      throw new QueueUnavailableError('record', error);
    }
    try {
      await this.queue.enqueue(rid);
    } catch (error) {
      this.logger.error(`${rid}: not queued, so not accepted: ${(error as Error).message}`);
      await this.repository.deleteRequests([rid]).catch((cleanup: Error) => {
        // The reconciler queues it again, later: the client may then find its request run after all.
        this.logger.error(`${rid}: the record of a request that was not queued stays: ${cleanup.message}`);
      });
      throw new QueueUnavailableError('queue', error);
    }
  }
}
