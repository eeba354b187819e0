import { requireRid } from '../util/rid.js';
import { RESULT_EXTENSIONS, resultExtension } from './result-extension.js';

/**
 * How every store names what it keeps of a result (README, “How results are stored”): `keep1m.bgrs.<rid>.result.<ext>`
 * once committed, `keep1m.bgrs.<rid>.result.partial` while it is written. `keep1m` says that results are purged. A
 * queue worker that runs a request again (its attempt 2, 3, …) names its result `keep1m.bgrs.<rid>.result.<attempt>.…`:
 * two runs that overlap (a stalled worker and the one that took its job over) never write the same object, so the
 * stale one cannot overwrite the result that counts.
 */

/** The highest attempt a result is named for. */
export const MAX_ATTEMPT = 9999;

/** `attempt`, once it is known to be one: nothing is named from it before. */
export function requireAttempt(attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > MAX_ATTEMPT) {
    throw new Error(`Not an attempt of a request: ${JSON.stringify(attempt)}`);
  }
  return attempt;
}

function attemptPart(attempt: number): string {
  return requireAttempt(attempt) === 1 ? '' : `.${attempt}`;
}

/** `keep1m.bgrs.<rid>.result[.<attempt>]`. Nothing is named from a rid before it is known to be one. */
export function resultBaseName(rid: string, attempt = 1): string {
  return `keep1m.bgrs.${requireRid(rid)}.result${attemptPart(attempt)}`;
}

/** The name of a committed result: its extension from the Content-Type. */
export function resultName(rid: string, contentType: string | null, attempt = 1): string {
  return `${resultBaseName(rid, attempt)}.${resultExtension(contentType)}`;
}

/** The name of a result while it is written. */
export function partialResultName(rid: string, attempt = 1): string {
  return `${resultBaseName(rid, attempt)}.partial`;
}

/** The longest name a committed result can have, for checking that locations fit the `result` column. */
export const LONGEST_RESULT_NAME = `keep1m.bgrs.${'0'.repeat(32)}.result.${MAX_ATTEMPT}.${RESULT_EXTENSIONS.reduce(
  (a, b) => (b.length > a.length ? b : a),
)}`;

const RESULT_NAME = new RegExp(
  `^keep1m\\.bgrs\\.([0-9a-f]{32})\\.result(?:\\.([2-9]|[1-9][0-9]{1,3}))?\\.(partial|${RESULT_EXTENSIONS.join('|')})$`,
);

/** What a name says of a result or partial result: its rid, its attempt, and which of the two it is. */
export interface ParsedResultName {
  rid: string;
  attempt: number;
  committed: boolean;
}

/** The result or partial result named so; anything else is no result. */
export function parseResultName(name: string): ParsedResultName | undefined {
  const match = RESULT_NAME.exec(name);
  return match
    ? { rid: match[1], attempt: match[2] ? Number(match[2]) : 1, committed: match[3] !== 'partial' }
    : undefined;
}
