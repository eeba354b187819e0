import type { OnModuleInit } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, opendir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BGRS_RESULT_MAX_LENGTH } from '../../bgrs.constants.js';
import type {
  BgrsResultHeaders,
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredEntry,
  BgrsStoredResult,
} from '../bgrs-result-store.interface.js';
import { FileResultWriter, headersFile, removePartialFiles } from './file-result-writer.js';
import { LONGEST_RESULT_NAME, parseResultName } from '../result-names.js';

/** A file of the store's, by its name: the result (or partial result) it is, or belongs to as its headers. */
function keptFileOf(name: string): { rid: string; committed: boolean; result: string } | undefined {
  const result = name.replace(/\.headers(\.json)?$/, '');
  const parsed = parseResultName(result);
  // `.headers.json` beside a committed result, `.headers` beside a partial one.
  const headersOk =
    result === name || (parsed?.committed ? name.endsWith('.headers.json') : name.endsWith('.partial.headers'));
  return parsed && headersOk ? { ...parsed, result } : undefined;
}

/** The paths of results in `directory` fit the `result` column. */
export function assertResultDirFits(directory: string): void {
  if (join(directory, LONGEST_RESULT_NAME).length > BGRS_RESULT_MAX_LENGTH) {
    throw new Error(
      `resultDir is too long: result paths must fit the ${BGRS_RESULT_MAX_LENGTH} characters of the result column`,
    );
  }
}

/**
 * Keeps results as files in one folder: `keep1m.bgrs.<rid>.result.<ext>`. A result is written under a temporary
 * name and renamed into place, so a reader never sees half of one.
 */
export class FileResultStore implements BgrsResultStore, OnModuleInit {
  constructor(private readonly directory: string) {}

  async onModuleInit(): Promise<void> {
    assertResultDirFits(this.directory);
    await mkdir(this.directory, { recursive: true });
  }

  create(rid: string, attempt = 1): BgrsResultWriter {
    return new FileResultWriter(this.directory, rid, attempt);
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

  /** The partial files of every attempt's result of `rid`: the first attempt's by name, others found in the folder. */
  async abandon(rid: string): Promise<void> {
    await removePartialFiles(this.directory, rid, 1);
    const directory = await opendir(this.directory).catch(() => undefined);
    for await (const file of directory ?? []) {
      const kept = file.isFile() ? keptFileOf(file.name) : undefined;
      if (kept?.rid === rid && !kept.committed) {
        await rm(join(this.directory, file.name), { force: true });
      }
    }
  }

  /**
   * The results and partial results of this folder, by their names. A headers file is its result's, and is listed
   * on its own only when its result is missing (a crash between the two renames of a commit). Anything else is
   * never listed, so never removed: other files, folders, and links, even by a result's name.
   */
  async *list(): AsyncIterable<BgrsStoredEntry> {
    const directory = await opendir(this.directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        return undefined;
      }
      throw error;
    });
    for await (const file of directory ?? []) {
      const kept = file.isFile() ? keptFileOf(file.name) : undefined;
      if (!kept) {
        continue;
      }
      const location = join(this.directory, kept.result);
      const path = join(this.directory, file.name);
      // Gone meanwhile: committed (renamed), removed, or abandoned.
      const stats = await lstat(path).catch(() => undefined);
      if (stats && (path === location || !(await lstat(location).catch(() => undefined)))) {
        yield { rid: kept.rid, location, modifiedAt: stats.mtime, committed: kept.committed };
      }
    }
  }

  /** Whether `location` is a committed result of this folder. */
  private holds(location: string): boolean {
    const name = basename(location);
    return parseResultName(name)?.committed === true && join(this.directory, name) === location;
  }
}
