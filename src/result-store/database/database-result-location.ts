import { MAX_ATTEMPT, requireAttempt } from '../result-names.js';
import { RID_PATTERN } from '../../util/rid.js';

/** A result of `DatabaseResultStore`: a request's, written by one of its attempts. */
export interface DatabaseResultKey {
  rid: string;
  attempt: number;
}

const LOCATION = new RegExp(`^db:(${RID_PATTERN.source.slice(1, -1)})(?:\\.([2-9]|[1-9][0-9]{1,3}))?$`);

/** `db:<rid>`, or `db:<rid>.<attempt>` for a queue worker's run again: the `result` column of such a result. */
export function databaseResultLocation({ rid, attempt }: DatabaseResultKey): string {
  return requireAttempt(attempt) === 1 ? `db:${rid}` : `db:${rid}.${attempt}`;
}

/** The result at a location of `DatabaseResultStore`; undefined for a location of another store. */
export function databaseResultAt(location: string): DatabaseResultKey | undefined {
  const match = LOCATION.exec(location);
  const attempt = match?.[2] ? Number(match[2]) : 1;
  return match && attempt <= MAX_ATTEMPT ? { rid: match[1], attempt } : undefined;
}
