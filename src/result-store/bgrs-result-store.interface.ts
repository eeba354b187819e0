import type { Readable, Writable } from 'node:stream';

/** Response headers kept with a result, beyond its Content-Type (e.g. Content-Disposition, custom headers). */
export type BgrsResultHeaders = Record<string, string | string[]>;

/** A result being written. Nothing of it is visible until `commit()` resolves. */
export interface BgrsResultWriter {
  /** Takes the body bytes; end it before committing. */
  readonly body: Writable;
  /** Puts the whole result in place atomically; resolves to its location (the `result` column). */
  commit(contentType: string | null, headers: BgrsResultHeaders): Promise<string>;
  /** Drops what was written; once `commit()` has been called it changes nothing. */
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
  /** Where it is in the store's own form: what `commit()` returned, for a committed result. */
  location: string;
  /** When it was last written to. */
  modifiedAt: Date;
  /** False for a partial result: being written, or left behind by a writer that died (`abandon(rid)` removes it). */
  committed: boolean;
}

/**
 * Where results are kept. The default stores files in `resultDir`; provide `BGRS_RESULT_STORE` to keep them
 * elsewhere (object storage, a shared volume).
 */
export interface BgrsResultStore {
  /**
   * Starts the result of a request; `rid` is validated before it names anything (a bad one throws). `attempt` is
   * the run that writes it (1 unless a queue worker runs the request again): the results of two runs of one request
   * never share a location, nor overwrite each other.
   */
  create(rid: string, attempt?: number): BgrsResultWriter;
  /** Opens a committed result for streaming; `location` is what `commit()` returned. Rejects when it is missing. */
  open(location: string): Promise<BgrsStoredResult>;
  /** Deletes a result; one that is already gone is no error. */
  remove(location: string): Promise<void>;
  /** Deletes what writers that died (with their process) left of the results of `rid`, of any attempt, if anything. */
  abandon(rid: string): Promise<void>;
  /** Everything the store holds of results, committed and partial, for sweeps of what no record asks for. */
  list(): AsyncIterable<BgrsStoredEntry>;
}
