import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { BGRS_OPTIONS, BGRS_RESULT_STORE, BGRS_RUNNING_STATUSES } from '../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import { BgrsRequestRepository, type BgrsResultState } from './bgrs-request.repository.js';
import type { BgrsResultStore, BgrsStoredEntry } from '../result-store/bgrs-result-store.interface.js';
import { BgrsResults } from '../result-store/bgrs-results.service.js';
import { RepeatingTask } from '../util/repeating-task.js';

const BATCH = 500;
const DAY_MS = 86_400_000;
/** The least time a file is kept after it was last written, whatever the records say (see `sweepStore`). */
const MIN_GRACE_MS = 60_000;

/** `items` in arrays of `size` at most. */
async function* inBatches<T>(items: AsyncIterable<T>, size: number): AsyncIterable<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) {
    yield batch;
  }
}

/** Whether a record will still ask for something its store holds: while it runs, and while it names it. */
function isWanted(entry: BgrsStoredEntry, record: BgrsResultState | undefined): boolean {
  if (!record) {
    return false;
  }
  return BGRS_RUNNING_STATUSES.includes(record.statusId) || (entry.committed && record.result === entry.location);
}

/**
 * Deletes ended requests older than `retentionDays`, with their details and result files, every
 * `retentionSweepMs`, then removes what this instance's store holds that no record asks for any more. Safe when
 * several instances sweep at once: deleting twice is harmless, only ended requests past the retention period are
 * ever chosen, and whether a result is wanted depends on its record, not on who sweeps.
 */
@Injectable()
export class BgrsRetentionSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Bgrs');
  private readonly sweeps = new RepeatingTask(
    () => this.sweepBatches(),
    (error) => {
      this.logger.warn(`Retention sweep failed: ${error.message}`);
      return 0;
    },
  );

  constructor(
    private readonly repository: BgrsRequestRepository,
    @Inject(BGRS_RESULT_STORE) private readonly store: BgrsResultStore,
    private readonly results: BgrsResults,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.sweeps.start(this.options.retentionSweepMs);
  }

  /** Stops sweeping while the database is still there. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.sweeps.stop();
  }

  /** One sweep (or the one under way); resolves to the number of requests it deleted. */
  sweep(): Promise<number> {
    return this.sweeps.run();
  }

  private async sweepBatches(): Promise<number> {
    const before = new Date(Date.now() - this.options.retentionDays * DAY_MS);
    let deleted = 0;
    for (;;) {
      const expired = await this.repository.findExpired(before, BATCH);
      // Files first: a row without its file would answer 410, a file without its row is never found again.
      await Promise.all(expired.flatMap((request) => (request.result ? [this.results.remove(request.result)] : [])));
      deleted += await this.repository.deleteRequests(expired.map((request) => request.rid));
      if (expired.length < BATCH) {
        break;
      }
    }
    await this.sweepStore();
    return deleted;
  }

  /**
   * Removes the results and partial files of this instance's store that no record asks for: their record is gone
   * (deleted by any instance's sweep, which can remove only the results of its own store) or has ended without
   * naming them (a result given up by a writer that lost its lease, or a partial file left by a crash). A file is
   * kept while its record is running, since a partial may be being written and a committed result may wait for its
   * final write, and while its record names it. A file written less than a minute (or a lease, if that is longer)
   * ago is kept whatever its record says: a run that finds its request ended elsewhere, at its next heartbeat or
   * final write, removes its own files, which must not go from under it; and the clock of a shared folder may be
   * a little off ours. Records are read per batch of files, never per file.
   */
  private async sweepStore(): Promise<void> {
    const writtenBefore = Date.now() - Math.max(MIN_GRACE_MS, this.options.leaseMs);
    let removed = 0;
    for await (const batch of inBatches(this.store.list(), BATCH)) {
      const settled = batch.filter((entry) => entry.modifiedAt.getTime() < writtenBefore);
      const records = await this.repository.findResults([...new Set(settled.map((entry) => entry.rid))]);
      const byRid = new Map(records.map((record) => [record.rid, record]));
      const unwanted = settled.filter((entry) => !isWanted(entry, byRid.get(entry.rid)));
      await Promise.all(
        unwanted.map((entry) => (entry.committed ? this.store.remove(entry.location) : this.store.abandon(entry.rid))),
      );
      removed += unwanted.length;
    }
    if (removed > 0) {
      this.logger.log(`Retention sweep: removed ${removed} stored results or partial files that no record asks for`);
    }
  }
}
