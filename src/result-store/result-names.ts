import { requireRid } from '../util/rid.js';
import { RESULT_EXTENSIONS, resultExtension } from './result-extension.js';

/**
 * How every store names what it keeps of a result (README, “How results are stored”): `keep1m.bgrs.<rid>.result.<ext>` once committed,
 * `keep1m.bgrs.<rid>.result.partial` while it is written. `keep1m` says that results are purged.
 */

/** `keep1m.bgrs.<rid>.result`. Nothing is named from a rid before it is known to be one. */
export function resultBaseName(rid: string): string {
  return `keep1m.bgrs.${requireRid(rid)}.result`;
}

/** The name of a committed result: its extension from the Content-Type. */
export function resultName(rid: string, contentType: string | null): string {
  return `${resultBaseName(rid)}.${resultExtension(contentType)}`;
}

/** The name of a result while it is written. */
export function partialResultName(rid: string): string {
  return `${resultBaseName(rid)}.partial`;
}

/** The longest name a committed result can have, for checking that locations fit the `result` column. */
export const LONGEST_RESULT_NAME = `keep1m.bgrs.${'0'.repeat(32)}.result.${RESULT_EXTENSIONS.reduce((a, b) =>
  b.length > a.length ? b : a,
)}`;

const RESULT_NAME = new RegExp(`^keep1m\\.bgrs\\.([0-9a-f]{32})\\.result\\.(partial|${RESULT_EXTENSIONS.join('|')})$`);

/** The rid of a result or partial result named so, and which of the two it is; anything else is no result. */
export function parseResultName(name: string): { rid: string; committed: boolean } | undefined {
  const match = RESULT_NAME.exec(name);
  return match ? { rid: match[1], committed: match[2] !== 'partial' } : undefined;
}
