import { Inject, Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { BGRS_OPTIONS, BGRS_RESULT_STORE } from '../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import type { BgrsResultStore, BgrsStoredResult } from './bgrs-result-store.interface.js';
import { inlineResultAt } from './inline/inline-result-location.js';
import { InliningResultWriter, StoredResultWriter, type RunResultWriter } from './inline/inlining-result-writer.js';

/**
 * The results of requests wherever they are: a small one in its request's row (`inlineResultBytes`), any other in
 * the result store. Runs write through it, `/result` reads through it, and what is given up or expires goes through
 * it; a result in a row goes with its row.
 */
@Injectable()
export class BgrsResults {
  constructor(
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    @Inject(BGRS_RESULT_STORE) private readonly store: BgrsResultStore,
  ) {}

  /** Starts the result of one run of `rid` (`attempt`, as `BgrsResultStore.create`). */
  create(rid: string, attempt = 1): RunResultWriter {
    const limit = this.options.inlineResultBytes;
    return limit > 0
      ? new InliningResultWriter(this.store, rid, attempt, limit)
      : new StoredResultWriter(this.store.create(rid, attempt));
  }

  /**
   * Opens the committed result at `location` (a `result` column); `rowBody` is its row's `result_body`, read with
   * it. Rejects when it is missing.
   */
  async open(location: string, rowBody: Buffer | null | undefined): Promise<BgrsStoredResult> {
    const inline = inlineResultAt(location);
    if (!inline) {
      return this.store.open(location);
    }
    if (!rowBody) {
      throw new Error(`${inline.rid}: no result in its row`);
    }
    return { body: Readable.from([rowBody], { objectMode: false }), size: rowBody.length, headers: {} };
  }

  /** Deletes a result from the store; one kept in its request's row goes when the row does. */
  async remove(location: string): Promise<void> {
    if (!inlineResultAt(location)) {
      await this.store.remove(location);
    }
  }
}
