import type { Readable, Writable } from 'node:stream';

/** Response headers kept with a result, beyond its Content-Type (e.g. Content-Disposition, custom headers). */
export type BgrsResultHeaders = Record<string, string | string[]>;

/** A result being written. Nothing of it is visible until `commit()` resolves. */
export interface BgrsResultWriter {
  /** Takes the body bytes; end it before committing. */
  readonly body: Writable;
  /** Puts the whole result in place atomically; resolves to its location (the `result` column). */
  commit(contentType: string | null, headers: BgrsResultHeaders): Promise<string>;
  /** Drops what was written. */
  discard(): Promise<void>;
}

export interface BgrsStoredResult {
  body: Readable;
  size: number;
  headers: BgrsResultHeaders;
}

/** Something a store holds, as `list()` reports it. */
export interface BgrsStoredEntry {
  rid: string;
  /** What `commit()` returned, for a committed result; null for a partial one (being written, or left behind). */
  location: string | null;
  /** When it was last written to. */
  modifiedAt: Date;
}

/**
 * Where results are kept. The default stores files in `resultDir`; the `resultStore` option keeps them
 * elsewhere (object storage, a shared volume).
 */
export interface BgrsResultStore {
  /** Starts the result of a request; `rid` is validated. */
  create(rid: string): BgrsResultWriter;
  /** Opens a committed result for streaming; `location` is what `commit()` returned. */
  open(location: string): Promise<BgrsStoredResult>;
  /**
   * Deletes a result; one that is already gone is no error. A location this store does not hold (another
   * instance's store) is left alone: its own store's sweep removes it once no record names it.
   */
  remove(location: string): Promise<void>;
  /** Deletes what a writer that died (with its process) left of the result of `rid`, if anything. */
  abandon(rid: string): Promise<void>;
  /**
   * Everything the store holds, committed and partial, so that the retention sweep can remove what no record will
   * ask for any more. Optional: without it, results are removed through their records only.
   */
  list?(): AsyncIterable<BgrsStoredEntry>;
}
