import type { OnModuleInit } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, opendir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { BGRS_RESULT_MAX_LENGTH } from '../bgrs.constants.js';
import { isRid } from '../rid.js';
import type {
  BgrsResultHeaders,
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredEntry,
  BgrsStoredResult,
} from './bgrs-result-store.interface.js';
import { RESULT_EXTENSIONS, resultExtension } from './result-extension.js';
import { SpillingFileWriter } from './spilling-file-writer.js';

const EXTENSION = `(${RESULT_EXTENSIONS.join('|')})`;
/** A committed result: `keep1m.bgrs.<rid>.result.<ext>`. */
const RESULT_NAME = new RegExp(`^keep1m\\.bgrs\\.[0-9a-f]{32}\\.result\\.${EXTENSION}$`);
/** Every file the store writes: a result, the headers beside it, and the temporary names of both. */
const STORE_FILE_NAME = new RegExp(
  `^keep1m\\.bgrs\\.([0-9a-f]{32})\\.result\\.(?:${EXTENSION}(?:\\.headers\\.json)?|partial(?:\\.headers)?)$`,
);

/** Headers kept beside a result file, when there are any. */
function headersFile(location: string): string {
  return `${location}.headers.json`;
}

/**
 * Keeps results as files in one folder: `keep1m.bgrs.<rid>.result.<ext>`. A result is written under a temporary
 * name and renamed into place, so a reader never sees half of one.
 */
export class FileResultStore implements BgrsResultStore, OnModuleInit {
  constructor(private readonly directory: string) {}

  async onModuleInit(): Promise<void> {
    const longest = join(this.directory, `keep1m.bgrs.${'0'.repeat(32)}.result.html`);
    if (longest.length > BGRS_RESULT_MAX_LENGTH) {
      throw new Error(
        `resultDir is too long: result paths must fit the ${BGRS_RESULT_MAX_LENGTH} characters of the result column`,
      );
    }
    await mkdir(this.directory, { recursive: true });
  }

  create(rid: string): BgrsResultWriter {
    const base = this.baseOf(rid);
    const temporary = `${base}.partial`;
    const body = new SpillingFileWriter(temporary);
    return {
      body,
      commit: async (contentType, headers) => {
        await finished(body);
        const location = `${base}.${resultExtension(contentType)}`;
        if (Object.keys(headers).length > 0) {
          await writeFile(`${temporary}.headers`, JSON.stringify(headers));
          await rename(`${temporary}.headers`, headersFile(location));
        }
        await rename(temporary, location);
        return location;
      },
      discard: async () => {
        body.destroy();
        await finished(body).catch(() => undefined);
        await rm(temporary, { force: true });
      },
    };
  }

  async open(location: string): Promise<BgrsStoredResult> {
    const [{ size }, headers] = await Promise.all([
      stat(location),
      readFile(headersFile(location), 'utf8').then(
        (text) => JSON.parse(text) as BgrsResultHeaders,
        () => ({}),
      ),
    ]);
    return { body: createReadStream(location), size, headers };
  }

  async remove(location: string): Promise<void> {
    // The location comes from the database: only a result of this folder, by its own name, is ever deleted.
    if (!this.holds(location)) {
      return;
    }
    await rm(headersFile(location), { force: true });
    await rm(location, { force: true });
  }

  async abandon(rid: string): Promise<void> {
    const temporary = `${this.baseOf(rid)}.partial`;
    await rm(`${temporary}.headers`, { force: true });
    await rm(temporary, { force: true });
  }

  /**
   * The files of this folder that the store wrote, one entry per file (a result and its headers file are two).
   * Anything else is never reported, so never removed: other files, folders, and links, even by a result's name.
   */
  async *list(): AsyncIterable<BgrsStoredEntry> {
    for await (const file of await opendir(this.directory)) {
      const match = file.isFile() ? STORE_FILE_NAME.exec(file.name) : null;
      if (!match) {
        continue;
      }
      const [, rid, extension] = match;
      const stats = await lstat(join(this.directory, file.name)).catch(() => undefined);
      // Gone meanwhile: removed by its writer, or by another instance's sweep of a shared folder.
      if (stats) {
        const location = extension ? `${this.baseOf(rid)}.${extension}` : null;
        yield { rid, location, modifiedAt: stats.mtime };
      }
    }
  }

  /** Whether `location` is a committed result of this folder. */
  private holds(location: string): boolean {
    const name = basename(location);
    return RESULT_NAME.test(name) && join(this.directory, name) === location;
  }

  /** Result files are named from the rid only once it is known to be one. */
  private baseOf(rid: string): string {
    if (!isRid(rid)) {
      throw new Error(`Not a request id: ${JSON.stringify(rid)}`);
    }
    return join(this.directory, `keep1m.bgrs.${rid}.result`);
  }
}
