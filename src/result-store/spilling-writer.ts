import { Writable } from 'node:stream';

export type WriteCallback = (error?: Error | null) => void;

/**
 * Takes a body in memory until it outgrows `limit`; only then does it go on to the stream that `spill()` opens, with
 * backpressure, so a large body is never held in memory. Most results are small, and opening a stream for one costs
 * more than the result itself: a body that stays within the limit is handed whole to `keep()` when it ends.
 */
export abstract class SpillingWriter extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  private spilled: Writable | undefined;

  constructor(private readonly limit: number) {
    super();
  }

  /** Opens the stream that a body goes on to once it outgrows the limit. */
  protected abstract spill(): Writable;

  /** Ends a body that never outgrew the limit: `body` is all of it. */
  protected abstract keep(body: Buffer, callback: WriteCallback): void;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    if (this.spilled) {
      this.forward(chunk, callback);
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size <= this.limit) {
      callback();
      return;
    }
    this.spilled = this.spill();
    this.spilled.once('error', (error) => this.spillFailed(error));
    this.forward(Buffer.concat(this.chunks), callback);
    this.chunks = [];
  }

  /** The stream `spill()` opened failed: so does the body, with that error unless a subclass knows a better one. */
  protected spillFailed(error: Error): void {
    this.destroy(error);
  }

  override _final(callback: WriteCallback): void {
    if (this.spilled) {
      this.spilled.end(callback);
    } else {
      this.keep(Buffer.concat(this.chunks), callback);
      this.chunks = [];
    }
  }

  override _destroy(error: Error | null, callback: WriteCallback): void {
    this.spilled?.destroy();
    callback(error);
  }

  private forward(chunk: Buffer, callback: WriteCallback): void {
    if (this.spilled!.write(chunk)) {
      callback();
    } else {
      this.spilled!.once('drain', () => callback());
    }
  }
}
