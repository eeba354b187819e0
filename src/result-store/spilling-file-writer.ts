import { createWriteStream, writeFile, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';

/** Bodies up to this size are kept in memory and written with one call. */
const IN_MEMORY_LIMIT = 64 * 1024;

type Callback = (error?: Error | null) => void;

/**
 * Writes a body to `path`. Most results are small, and opening a write stream per result costs more than the
 * result itself, so a body stays in memory until it outgrows `IN_MEMORY_LIMIT`; only then does it go to a file
 * stream, with backpressure, so a large body is never held in memory.
 */
export class SpillingFileWriter extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  private file: WriteStream | undefined;

  constructor(private readonly path: string) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    if (this.file) {
      this.writeToFile(chunk, callback);
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size <= IN_MEMORY_LIMIT) {
      callback();
      return;
    }
    this.file = createWriteStream(this.path);
    this.file.once('error', (error) => this.destroy(error));
    this.writeToFile(Buffer.concat(this.chunks), callback);
    this.chunks = [];
  }

  override _final(callback: Callback): void {
    if (this.file) {
      this.file.end(callback);
    } else {
      // The callback API: `fs/promises` opens a FileHandle per file, several times dearer for a small one.
      writeFile(this.path, Buffer.concat(this.chunks), callback);
    }
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.file?.destroy();
    callback(error);
  }

  private writeToFile(chunk: Buffer, callback: Callback): void {
    if (this.file!.write(chunk)) {
      callback();
    } else {
      this.file!.once('drain', () => callback());
    }
  }
}
