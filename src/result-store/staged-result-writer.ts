import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BgrsResultHeaders, BgrsResultWriter } from './bgrs-result-store.interface.js';

/**
 * What every store's writer does around its own staging: the body is written somewhere no reader looks, `commit()`
 * waits for it to end and publishes it once, and `discard()` drops it, unless it was committed: the runner may give
 * a request up after its result is in place (its final write never landed), and a committed result stays.
 */
export abstract class StagedResultWriter implements BgrsResultWriter {
  abstract readonly body: Writable;
  private committing: Promise<string> | undefined;

  commit(contentType: string | null, headers: BgrsResultHeaders): Promise<string> {
    this.committing ??= finished(this.body).then(() => this.publish(contentType, headers));
    return this.committing;
  }

  async discard(): Promise<void> {
    const committed = await this.committing?.then(
      () => true,
      () => false,
    );
    if (committed) {
      return;
    }
    this.body.destroy();
    await finished(this.body).catch(() => undefined);
    await this.cleanUp();
  }

  /** Puts the whole body, written and ended, in place atomically; resolves to its location. */
  protected abstract publish(contentType: string | null, headers: BgrsResultHeaders): Promise<string>;

  /** Removes whatever was staged and not published (also after a `publish()` that failed half-way). */
  protected abstract cleanUp(): Promise<void>;
}
