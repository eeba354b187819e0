import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type MessageEvent } from '@nestjs/common';
import { Observable, type Subscriber } from 'rxjs';
import { BGRS_ENDED_STATUSES, BGRS_OPTIONS } from '../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import { BgrsRecordPresenter } from './bgrs-record.presenter.js';
import { BgrsRequestRepository } from '../persistence/bgrs-request.repository.js';
import type { BgrsDetail } from '../persistence/entities/bgrs-detail.entity.js';
import type { BgrsRequest } from '../persistence/entities/bgrs-request.entity.js';

const ENDED = new Set(BGRS_ENDED_STATUSES);
/** Requests read in one query. */
const CHUNK = 500;

interface Watch {
  subscribers: Set<Subscriber<MessageEvent>>;
  /** The last state sent, to send only changes. */
  state: string;
  lastDetailId: string;
}

/**
 * Live progress for Server-Sent Events. The database is the source, so a request running on another instance is
 * followed too; one poll per interval reads every watched request at once (two queries), however many clients
 * watch, and no timer runs while nobody does.
 */
@Injectable()
export class BgrsEventsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Bgrs');
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly repository: BgrsRequestRepository,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    private readonly presenter: BgrsRecordPresenter,
  ) {}

  /**
   * Events of a request: `state` (its record) at once and on each change, `detail` for each new details row, and
   * `end` with the final record, after which the stream completes.
   */
  async watch(request: BgrsRequest): Promise<Observable<MessageEvent>> {
    if (ENDED.has(request.statusId)) {
      return new Observable<MessageEvent>((subscriber) => {
        subscriber.next({ type: 'end', data: this.presenter.request(request) });
        subscriber.complete();
      });
    }
    const lastDetailId = await this.repository.lastDetailId(request.rid);
    return new Observable<MessageEvent>((subscriber) => {
      const state = this.presenter.request(request);
      subscriber.next({ type: 'state', data: state });
      let watch = this.watches.get(request.rid);
      if (!watch) {
        watch = { subscribers: new Set(), state: JSON.stringify(state), lastDetailId };
        this.watches.set(request.rid, watch);
      }
      watch.subscribers.add(subscriber);
      this.timer ??= setInterval(() => void this.poll(), this.options.progressIntervalMs);
      return () => this.unwatch(request.rid, subscriber);
    });
  }

  /** Ends the streams before the HTTP server closes, which waits for open connections. */
  beforeApplicationShutdown(): void {
    for (const watch of this.watches.values()) {
      watch.subscribers.forEach((subscriber) => subscriber.complete());
    }
    this.watches.clear();
    this.stopIfIdle();
  }

  private unwatch(rid: string, subscriber: Subscriber<MessageEvent>): void {
    const watch = this.watches.get(rid);
    watch?.subscribers.delete(subscriber);
    if (watch?.subscribers.size === 0) {
      this.watches.delete(rid);
    }
    this.stopIfIdle();
  }

  private stopIfIdle(): void {
    if (this.watches.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) {
      return;
    }
    this.polling = true;
    try {
      const rids = [...this.watches.keys()];
      for (let start = 0; start < rids.length; start += CHUNK) {
        await this.pollChunk(rids.slice(start, start + CHUNK));
      }
    } catch (error) {
      this.logger.warn(`Progress events not read: ${(error as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  private async pollChunk(rids: string[]): Promise<void> {
    const after = rids
      .map((rid) => this.watches.get(rid)?.lastDetailId ?? '0')
      .reduce((a, b) => (BigInt(a) < BigInt(b) ? a : b));
    // States first: a request seen ended then has all its rows, which were written before or with its end.
    const requests = await this.repository.findMany(rids);
    const details = await this.repository.findDetailsAfter(rids, after);
    for (const detail of details) {
      this.sendDetail(detail);
    }
    for (const request of requests) {
      this.sendState(request);
    }
  }

  private sendDetail(detail: BgrsDetail): void {
    const watch = this.watches.get(detail.rid);
    if (watch && BigInt(detail.id) > BigInt(watch.lastDetailId)) {
      watch.lastDetailId = String(detail.id);
      const event = { type: 'detail', data: this.presenter.detail(detail) };
      watch.subscribers.forEach((subscriber) => subscriber.next(event));
    }
  }

  private sendState(request: BgrsRequest): void {
    const watch = this.watches.get(request.rid);
    if (!watch) {
      return;
    }
    const state = this.presenter.request(request);
    if (ENDED.has(request.statusId)) {
      this.watches.delete(request.rid);
      watch.subscribers.forEach((subscriber) => {
        subscriber.next({ type: 'end', data: state });
        subscriber.complete();
      });
      this.stopIfIdle();
      return;
    }
    const serialized = JSON.stringify(state);
    if (serialized !== watch.state) {
      watch.state = serialized;
      watch.subscribers.forEach((subscriber) => subscriber.next({ type: 'state', data: state }));
    }
  }
}
