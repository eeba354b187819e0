import type { OnModuleInit } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { mkdir, opendir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BGRS_RESULT_MAX_LENGTH } from '../bgrs.constants.js';
import type {
  BgrsResultHeaders,
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredEntry,
  BgrsStoredResult,
} from './bgrs-result-store.interface.js';
import { FileResultWriter, headersFile, removePartialFiles } from './file-result-writer.js';
import { LONGEST_RESULT_NAME, parseResultName } from './result-names.js';

/**
 * Keeps results as files in one folder: `keep1m.bgrs.<rid>.result.<ext>`. A result is written under a temporary
 * name and renamed into place, so a reader never sees half of one.
 */
export class FileResultStore implements BgrsResultStore, OnModuleInit {
  constructor(private readonly directory: string) {}

  async onModuleInit(): Promise<void> {
    if (join(this.directory, LONGEST_RESULT_NAME).length > BGRS_RESULT_MAX_LENGTH) {
      throw new Error(
        `resultDir is too long: result paths must fit the ${BGRS_RESULT_MAX_LENGTH} characters of the result column`,
      );
    }
    await mkdir(this.directory, { recursive: true });
  }

  create(rid: string): BgrsResultWriter {
    return new FileResultWriter(this.directory, rid);
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
    await rm(headersFile(location), { force: true });
    await rm(location, { force: true });
  }

  abandon(rid: string): Promise<void> {
    return removePartialFiles(this.directory, rid);
  }

  /** The results and partial results of this folder, by their names; other files (headers, anything else) are not. */
  async *list(): AsyncIterable<BgrsStoredEntry> {
    const directory = await opendir(this.directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        return undefined;
      }
      throw error;
    });
    for await (const file of directory ?? []) {
      const name = file.isFile() ? parseResultName(file.name) : undefined;
      if (!name) {
        continue;
      }
      const location = join(this.directory, file.name);
      // Gone meanwhile: committed (renamed), removed, or abandoned.
      const stats = await stat(location).catch(() => undefined);
      if (stats) {
        yield { rid: name.rid, location, modifiedAt: stats.mtime, committed: name.committed };
      }
    }
  }
}
