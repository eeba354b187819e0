import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BgrsResultHeaders } from '../bgrs-result-store.interface.js';
import { partialResultName, resultName } from '../result-names.js';
import { SpillingFileWriter } from './spilling-file-writer.js';
import { StagedResultWriter } from '../staged-result-writer.js';

/** Headers kept beside a result file, when there are any. */
export function headersFile(location: string): string {
  return `${location}.headers.json`;
}

/** Removes the temporary files of one attempt's result of `rid`: a writer's own, or those of one that died. */
export async function removePartialFiles(directory: string, rid: string, attempt: number): Promise<void> {
  const temporary = join(directory, partialResultName(rid, attempt));
  await rm(`${temporary}.headers`, { force: true });
  await rm(temporary, { force: true });
}

/** Writes a result to `keep1m.bgrs.<rid>.result.partial` and renames it into place. */
export class FileResultWriter extends StagedResultWriter {
  readonly body: SpillingFileWriter;
  private readonly temporary: string;

  constructor(
    private readonly directory: string,
    private readonly rid: string,
    private readonly attempt: number,
  ) {
    super();
    this.temporary = join(directory, partialResultName(rid, attempt));
    this.body = new SpillingFileWriter(this.temporary);
  }

  protected override async publish(contentType: string | null, headers: BgrsResultHeaders): Promise<string> {
    const location = join(this.directory, resultName(this.rid, contentType, this.attempt));
    if (Object.keys(headers).length > 0) {
      await writeFile(`${this.temporary}.headers`, JSON.stringify(headers));
      await rename(`${this.temporary}.headers`, headersFile(location));
    }
    await rename(this.temporary, location);
    return location;
  }

  protected override cleanUp(): Promise<void> {
    return removePartialFiles(this.directory, this.rid, this.attempt);
  }
}
