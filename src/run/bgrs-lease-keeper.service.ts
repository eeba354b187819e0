import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { BGRS_OPTIONS, BGRS_RESULT_STORE } from '../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import { BgrsLeaseRepository } from '../persistence/bgrs-lease.repository.js';
import { BgrsRequestRepository } from '../persistence/bgrs-request.repository.js';
import { BgrsRunCompletion } from './bgrs-run-completion.service.js';
import { BgrsJobRepository } from '../persistence/bgrs-job.repository.js';
import { BgrsQueueService } from './queue/bgrs-queue.service.js';
import { BgrsQueueWorker } from './queue/bgrs-queue.worker.js';
import { BgrsInProcessRunner } from './in-process/bgrs-in-process.runner.js';
import type { BgrsResultStore } from '../result-store/bgrs-result-store.interface.js';
import { BGRS_MESSAGES } from '../bgrs.messages.js';

/**
 * This instance's heartbeat, every third of `leaseMs`: renews its lease, fails the in-process requests of instances
 * that stopped renewing theirs (also its own earlier life, after a crash), stops the runs here (in-process, or of
 * its queue worker) whose requests have ended elsewhere (cancelled on another instance, or failed by a peer while
 * this instance was cut off from the database for longer than its lease), and releases the leases and jobs of
 * requests that have ended. On shutdown it lets both runners drain, then gives its leases up.
 */
@Injectable()
export class BgrsLeaseKeeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Bgrs');
  private timer: NodeJS.Timeout | undefined;
  private beat: Promise<void> = Promise.resolve();

  constructor(
    private readonly repository: BgrsRequestRepository,
    private readonly leases: BgrsLeaseRepository,
    private readonly runner: BgrsInProcessRunner,
    private readonly worker: BgrsQueueWorker,
    private readonly jobs: BgrsJobRepository,
    private readonly queue: BgrsQueueService,
    private readonly completion: BgrsRunCompletion,
    @Inject(BGRS_RESULT_STORE) private readonly store: BgrsResultStore,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.heartbeat();
    this.timer = setInterval(
      () => {
        // A slow database must not pile up heartbeats.
        this.beat = this.beat.then(() => this.heartbeat());
      },
      Math.max(1, Math.floor(this.options.leaseMs / 3)),
    );
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.runner.drain(), this.worker.drain()]);
    this.completion.stopRetrying();
    clearInterval(this.timer);
    await this.beat;
    try {
      await this.leases.releaseEndedLeases(this.runner.instanceId, Date.now());
      await this.leases.removeInstance(this.runner.instanceId);
    } catch (error) {
      this.logger.warn(`Instance lease not removed: ${(error as Error).message}`);
    }
  }

  /** One heartbeat; every step is tried again on the next one when the database is away. */
  async heartbeat(): Promise<void> {
    const now = Date.now();
    try {
      await this.leases.heartbeat(this.runner.instanceId, now + this.options.leaseMs);
      for (const { rid, statusId } of await this.repository.findEnded([...this.runner.rids, ...this.worker.rids])) {
        this.runner.stopEnded(rid, statusId);
        this.worker.stopEnded(rid, statusId);
      }
      for (const rid of await this.leases.findAbandoned(this.runner.instanceId, now)) {
        if (await this.repository.fail(rid, BGRS_MESSAGES.instanceStopped)) {
          this.logger.warn(`${rid}: ${BGRS_MESSAGES.instanceStopped}`);
          await this.store.abandon(rid);
        }
      }
      await this.leases.releaseEndedLeases(this.runner.instanceId, now);
      await this.leases.removeDeadInstances(now);
      if (this.queue.enabled) {
        await this.jobs.releaseEnded();
      }
    } catch (error) {
      this.logger.warn(`Heartbeat failed: ${(error as Error).message}`);
    }
  }
}
