import type { OnModuleInit } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { BGRS_RESULT_MAX_LENGTH } from '../bgrs.constants.js';
import { isRid } from '../rid.js';
import type {
  BgrsResultHeaders,
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredResult,
} from './bgrs-result-store.interface.js';
import { resultExtension } from './result-extension.js';
import { SpillingFileWriter } from './spilling-file-writer.js';

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
    await rm(headersFile(location), { force: true });
    await rm(location, { force: true });
  }

  async abandon(rid: string): Promise<void> {
    const temporary = `${this.baseOf(rid)}.partial`;
    await rm(`${temporary}.headers`, { force: true });
    await rm(temporary, { force: true });
  }

  /** Result files are named from the rid only once it is known to be one. */
  private baseOf(rid: string): string {
    if (!isRid(rid)) {
      throw new Error(`Not a request id: ${JSON.stringify(rid)}`);
    }
    return join(this.directory, `keep1m.bgrs.${rid}.result`);
  }
}
