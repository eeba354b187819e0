import { Injectable } from '@nestjs/common';
import { backgroundRunStorage } from '../accept/background-run.js';

/** One settled promise for every no-op call: handlers may call `report()` in very tight loops. */
const DONE = Promise.resolve();

/**
 * Lets a handler tell its client how far it got. It reads the background request from the async context, so it
 * is a plain singleton; outside a background request every method is a cheap no-op and handlers need no `if`.
 */
@Injectable()
export class ProgressReporter {
  /** The id of the background request the caller runs in. */
  get rid(): string | undefined {
    return backgroundRunStorage.getStore()?.rid;
  }

  /**
   * Which run of the background request this is: 1, or more in queue mode when a worker runs it again after the
   * one running it stopped. With the rid, a key for making a handler's side effects idempotent.
   */
  get attempt(): number | undefined {
    return backgroundRunStorage.getStore()?.attempt;
  }

  /** Aborts when the background request is cancelled or the app shuts down; pass it on to long I/O. */
  get signal(): AbortSignal | undefined {
    return backgroundRunStorage.getStore()?.signal;
  }

  /**
   * Sets the progress in percent (clamped to 0…100, never decreasing; `NaN` is ignored) and adds a details row
   * when `details` is given. Writes are coalesced: call it as often as is convenient.
   */
  report(percent: number, details?: string): Promise<void> {
    const run = backgroundRunStorage.getStore();
    if (run === undefined) {
      return DONE;
    }
    run.progress.report(percent);
    return details === undefined ? DONE : run.progress.detail(details);
  }

  /** Adds a details row (a progress message) to the background request. */
  detail(text: string): Promise<void> {
    return backgroundRunStorage.getStore()?.progress.detail(text) ?? DONE;
  }
}
