import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { BGRS_OPTIONS, BGRS_RESULT_STORE } from './bgrs.constants.js';
import type { ResolvedBgrsOptions } from './bgrs-options.interface.js';
import { BgrsRequestRepository } from './bgrs-request.repository.js';
import type { BgrsResultStore } from './result-store/bgrs-result-store.interface.js';

const BATCH = 500;
const DAY_MS = 86_400_000;

/**
 * Deletes ended requests older than `retentionDays`, with their details and result files, every
 * `retentionSweepMs`. Safe when several instances sweep at once: deleting twice is harmless, and only ended
 * requests past the retention period are ever chosen.
 */
@Injectable()
export class RetentionSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Bgrs');
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly repository: BgrsRequestRepository,
    @Inject(BGRS_RESULT_STORE) private readonly store: BgrsResultStore,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.options.retentionSweepMs);
    this.timer.unref();
  }

  /** Stops sweeping while the database is still there. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** One sweep (or the one under way); resolves to the number of requests deleted. */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepBatches()
      .catch((error: Error) => {
        this.logger.warn(`Retention sweep failed: ${error.message}`);
        return 0;
      })
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepBatches(): Promise<number> {
    const before = new Date(Date.now() - this.options.retentionDays * DAY_MS);
    let deleted = 0;
    for (;;) {
      const expired = await this.repository.findExpired(before, BATCH);
      // Files first: a row without its file would answer 410, a file without its row is never found again.
      await Promise.all(expired.flatMap((request) => (request.result ? [this.store.remove(request.result)] : [])));
      await this.repository.deleteRequests(expired.map((request) => request.rid));
      deleted += expired.length;
      if (expired.length < BATCH) {
        return deleted;
      }
    }
  }
}
