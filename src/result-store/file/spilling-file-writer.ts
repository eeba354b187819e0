import { createWriteStream, writeFile } from 'node:fs';
import type { Writable } from 'node:stream';
import { SpillingWriter, type WriteCallback } from '../spilling-writer.js';

/** Bodies up to this size are kept in memory and written with one call. */
const IN_MEMORY_LIMIT = 64 * 1024;

/** Writes a body to `path`: a small one with one call, a large one through a file stream. */
export class SpillingFileWriter extends SpillingWriter {
  constructor(private readonly path: string) {
    super(IN_MEMORY_LIMIT);
  }

  protected override spill(): Writable {
    return createWriteStream(this.path);
  }

  protected override keep(body: Buffer, callback: WriteCallback): void {
    // The callback API: `fs/promises` opens a FileHandle per file, several times dearer for a small one.
    writeFile(this.path, body, callback);
  }
}
