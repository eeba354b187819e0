import { Writable } from 'node:stream';
import { requireRid } from '../../util/rid.js';
import type { BgrsResultHeaders } from '../bgrs-result-store.interface.js';
import { StagedResultWriter } from '../staged-result-writer.js';
import type { WriteCallback } from '../spilling-writer.js';
import { databaseResultLocation, type DatabaseResultKey } from './database-result-location.js';
import type { DatabaseResultRepository } from './database-result.repository.js';

/** The bytes of a row of `bgrs_result_chunks` (see `DatabaseResultStore`). */
export const DATABASE_RESULT_CHUNK_BYTES = 1024 * 1024;

/**
 * Cuts a body into chunks of `DATABASE_RESULT_CHUNK_BYTES` and inserts each, the next write waiting for the insert:
 * at most one chunk is held. The result's row is inserted before the first chunk (which references it).
 */
class ChunkedBody extends Writable {
  /** Bytes taken so far. */
  size = 0;
  /** The result's row is in, once this resolves. */
  begun: Promise<void> | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private seq = 0;

  constructor(
    private readonly rows: DatabaseResultRepository,
    private readonly key: DatabaseResultKey,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.size += chunk.length;
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes < DATABASE_RESULT_CHUNK_BYTES) {
      callback();
      return;
    }
    this.insertFullChunks().then(() => callback(), callback);
  }

  override _final(callback: WriteCallback): void {
    const rest = Buffer.concat(this.held);
    this.held = [];
    (rest.length > 0 ? this.insert(rest) : this.begin()).then(() => callback(), callback);
  }

  private async insertFullChunks(): Promise<void> {
    const all = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held);
    let offset = 0;
    for (; all.length - offset >= DATABASE_RESULT_CHUNK_BYTES; offset += DATABASE_RESULT_CHUNK_BYTES) {
      await this.insert(all.subarray(offset, offset + DATABASE_RESULT_CHUNK_BYTES));
    }
    this.held = offset < all.length ? [all.subarray(offset)] : [];
    this.heldBytes = all.length - offset;
  }

  private async insert(data: Buffer): Promise<void> {
    await this.begin();
    await this.rows.insertChunk(this.key, this.seq++, data);
  }

  private begin(): Promise<void> {
    this.begun ??= this.rows.begin(this.key);
    return this.begun;
  }
}

/** Writes a result into the database: its row and chunks first, made visible by commit in one UPDATE. */
export class DatabaseResultWriter extends StagedResultWriter {
  readonly body: ChunkedBody;
  private readonly key: DatabaseResultKey;

  constructor(
    private readonly rows: DatabaseResultRepository,
    rid: string,
    attempt: number,
  ) {
    super();
    this.key = { rid: requireRid(rid), attempt };
    // Named now, which checks the attempt, before anything is written.
    databaseResultLocation(this.key);
    this.body = new ChunkedBody(rows, this.key);
  }

  protected override async publish(_contentType: string | null, headers: BgrsResultHeaders): Promise<string> {
    if (!(await this.rows.commit(this.key, this.body.size, headers))) {
      throw new Error(`The result of ${this.key.rid} was abandoned while it was written`);
    }
    return databaseResultLocation(this.key);
  }

  /** A writer that wrote nothing leaves the rows alone; one that began deletes its row, even if the insert seemed to fail. */
  protected override async cleanUp(): Promise<void> {
    if (this.body.begun) {
      await this.body.begun.catch(() => undefined);
      await this.rows.abandon(this.key.rid, this.key.attempt);
    }
  }
}
