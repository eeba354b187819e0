import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BgrsResultHeaders, BgrsResultStore, BgrsResultWriter } from '../bgrs-result-store.interface.js';
import { SpillingWriter, type WriteCallback } from '../spilling-writer.js';
import { inlineResultLocation } from './inline-result-location.js';

/** A committed result: where it is, and its bytes when it is kept in its request's row (null: in the store). */
export interface CommittedResult {
  location: string;
  body: Buffer | null;
}

/** A run's result being written, to its request's row or to the store; nothing of it is visible before the end. */
export interface RunResultWriter {
  readonly body: Writable;
  commit(contentType: string | null, headers: BgrsResultHeaders): Promise<CommittedResult>;
  discard(): Promise<void>;
}

/** A store's writer as a run's: every result goes to the store (`inlineResultBytes: 0`). */
export class StoredResultWriter implements RunResultWriter {
  constructor(private readonly writer: BgrsResultWriter) {}

  get body(): Writable {
    return this.writer.body;
  }

  async commit(contentType: string | null, headers: BgrsResultHeaders): Promise<CommittedResult> {
    return { location: await this.writer.commit(contentType, headers), body: null };
  }

  discard(): Promise<void> {
    return this.writer.discard();
  }
}

/** A `SpillingWriter` whose spill and keep are its owner's. */
class HoldingWriter extends SpillingWriter {
  constructor(
    limit: number,
    private readonly onSpill: () => Writable,
    private readonly onKeep: (body: Buffer) => void,
  ) {
    super(limit);
  }

  protected override spill(): Writable {
    return this.onSpill();
  }

  protected override keep(body: Buffer, callback: WriteCallback): void {
    this.onKeep(body);
    callback();
  }
}

/**
 * Holds a result in memory while it stays within `limit` bytes; it is then kept in its request's row, by the final
 * write. One that outgrows the limit goes on to a store writer opened only then, and so does one with headers beyond
 * its Content-Type, which the row has no place for.
 */
export class InliningResultWriter implements RunResultWriter {
  readonly body: Writable;
  private kept: Buffer | undefined;
  private stored: BgrsResultWriter | undefined;

  constructor(
    private readonly store: BgrsResultStore,
    private readonly rid: string,
    private readonly attempt: number,
    limit: number,
  ) {
    this.body = new HoldingWriter(
      limit,
      () => this.openStored().body,
      (body) => (this.kept = body),
    );
  }

  async commit(contentType: string | null, headers: BgrsResultHeaders): Promise<CommittedResult> {
    await finished(this.body);
    if (!this.stored) {
      if (Object.keys(headers).length === 0) {
        return { location: inlineResultLocation({ rid: this.rid, attempt: this.attempt }), body: this.kept! };
      }
      this.openStored().body.end(this.kept);
    }
    return { location: await this.stored!.commit(contentType, headers), body: null };
  }

  async discard(): Promise<void> {
    this.body.destroy();
    await this.stored?.discard();
  }

  private openStored(): BgrsResultWriter {
    this.stored = this.store.create(this.rid, this.attempt);
    return this.stored;
  }
}
