import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { BGRS_OPTIONS } from '../../bgrs.constants.js';
import { BGRS_MESSAGES } from '../../bgrs.messages.js';
import type { ResolvedBgrsOptions } from '../../options/bgrs-options.js';
import { BgrsJobRepository } from '../../persistence/bgrs-job.repository.js';
import { BgrsRequestRepository } from '../../persistence/bgrs-request.repository.js';
import { BgrsRunCompletion } from '../bgrs-run-completion.service.js';
import { RepeatingTask } from '../../util/repeating-task.js';
import { BgrsQueueService } from './bgrs-queue.service.js';

/** Records looked at in one pass. */
const BATCH = 100;

/**
 * Keeps the records of queue mode truthful when the queue lost track of them: Redis restarted without persistence
 * (its jobs are gone), or BullMQ gave a job up without a worker to say so. Every `leaseMs`, on every instance with
 * the queue, it looks at the requests handed to the queue a while ago that have not ended, and asks the queue
 * about each: a lost job is queued again; a failed one fails its request; one that completed without an outcome
 * too. Several instances may do it at once: queuing a job again under its rid makes no second job.
 */
@Injectable()
export class BgrsQueueReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Bgrs');
  private readonly passes = new RepeatingTask(
    () => this.pass(),
    (error) => this.logger.warn(`Queue reconciliation failed: ${error.message}`),
  );

  constructor(
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    private readonly queue: BgrsQueueService,
    private readonly jobs: BgrsJobRepository,
    private readonly repository: BgrsRequestRepository,
    private readonly completion: BgrsRunCompletion,
  ) {}

  onApplicationBootstrap(): void {
    if (this.queue.enabled) {
      this.passes.start(this.options.leaseMs);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.passes.stop();
  }

  /** One pass (or the one under way). */
  reconcile(): Promise<void> {
    return this.passes.run();
  }

  private async pass(): Promise<void> {
    // A request accepted just now may still be on its way to the queue.
    const before = Date.now() - Math.max(this.options.leaseMs, 2 * this.options.queue!.enqueueTimeoutMs);
    for (const rid of await this.jobs.findHandedBefore(before, BATCH)) {
      const state = await this.queue.stateOf(rid);
      if (state === 'unknown') {
        this.logger.warn(`${rid}: ${BGRS_MESSAGES.jobLost}`);
        await this.queue.enqueue(rid);
        await this.jobs.handedAgain(rid, Date.now());
        await this.repository.addDetails([{ rid, at: new Date(), details: BGRS_MESSAGES.jobLost }]);
      } else if (state === 'failed') {
        await this.completion.fail(rid, BGRS_MESSAGES.jobFailed(await this.queue.failedReasonOf(rid)));
      } else if (state === 'completed') {
        await this.completion.fail(rid, BGRS_MESSAGES.jobEndedWithoutOutcome);
      }
    }
  }
}
