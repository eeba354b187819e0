import { Logger } from '@nestjs/common';
import type { BgrsRequestRepository, NewBgrsDetail } from '../persistence/bgrs-request.repository.js';
import { clampPercent, fitDetails } from './progress-values.js';

const DONE = Promise.resolve();

/** Details a handler may queue before `detail()` makes it wait for the database. */
const MAX_PENDING_DETAILS = 1000;

/**
 * The progress of one running request. `report()` and `detail()` only touch memory; the buffer writes at most
 * once per interval (the latest percent, and the queued details in one INSERT), so a tight loop of reports costs
 * a handful of writes. A failed write is logged and dropped: progress is never worth failing a request for.
 * The start of a request that was recorded as `queued` is written the same way (`started()`).
 */
export class ProgressBuffer {
  private static readonly logger = new Logger('BgrsProgress');
  private percent = 0;
  private savedPercent = 0;
  private details: NewBgrsDetail[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  /** A start that `started()` announced and no write has carried yet. */
  private startPending = false;

  constructor(
    private readonly rid: string,
    private readonly repository: BgrsRequestRepository,
    private readonly intervalMs: number,
    /** What the record shows already: a run again never reports less (it keeps the value until it passes it). */
    reached = 0,
  ) {
    this.percent = reached;
    this.savedPercent = reached;
  }

  report(percent: number): void {
    // Never decreasing: the common case of a loop reporting the same value costs one comparison.
    if (percent <= this.percent || this.closed) {
      return;
    }
    const next = clampPercent(Number(percent), this.percent);
    if (next !== this.percent) {
      this.percent = next;
      this.schedule();
    }
  }

  /**
   * A queued request got its slot: `processing` is written with the next write, within the interval. A run that
   * ends before then never writes it: its final write takes it from `queued` to its end state, one statement less.
   */
  started(): void {
    if (!this.closed) {
      this.startPending = true;
      this.schedule();
    }
  }

  detail(text: string): Promise<void> {
    if (this.closed) {
      return DONE;
    }
    this.details.push({ rid: this.rid, at: new Date(), details: fitDetails(text) });
    if (this.details.length >= MAX_PENDING_DETAILS) {
      return this.flush();
    }
    this.schedule();
    return DONE;
  }

  /** Writes what is pending now; writes never overlap, so rows land in the order they were reported. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(() => this.write());
    return this.writing;
  }

  /**
   * Writes the rest and stops: later reports (from a handler that outlives its request) are ignored. A start not
   * written yet is dropped: the run is over, and its end state is what the record shows next.
   */
  close(): Promise<void> {
    this.startPending = false;
    if (this.details.length === 0 && this.percent === this.savedPercent) {
      // Nothing left to write, as for most runs: no write is queued for it.
      clearTimeout(this.timer);
      this.timer = undefined;
      this.closed = true;
      return this.writing;
    }
    return this.flush().then(() => {
      this.closed = true;
    });
  }

  private schedule(): void {
    if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  private async write(): Promise<void> {
    const details = this.details.splice(0);
    const percent = this.percent;
    const start = this.startPending;
    this.startPending = false;
    try {
      if (start) {
        await this.repository.markProcessing(this.rid);
      }
      await this.repository.addDetails(details);
      if (percent !== this.savedPercent) {
        await this.repository.saveProgress(this.rid, percent);
        this.savedPercent = percent;
      }
    } catch (error) {
      ProgressBuffer.logger.warn(`Progress of ${this.rid} not saved: ${(error as Error).message}`);
    }
  }
}
