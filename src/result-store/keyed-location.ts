import { RID_PATTERN } from '../util/rid.js';
import { MAX_ATTEMPT, requireAttempt } from './result-names.js';

/** A result named by its request and the attempt that wrote it. */
export interface ResultKey {
  rid: string;
  attempt: number;
}

/** Locations of the form `<scheme>:<rid>`, or `<scheme>:<rid>.<attempt>` for a queue worker's run again. */
export interface KeyedLocations {
  /** The `result` column of a result. */
  of(key: ResultKey): string;
  /** The result at a location of this form; undefined for any other location. */
  at(location: string): ResultKey | undefined;
}

/** Results named `<scheme>:<rid>[.<attempt>]`: the attempt tells two runs' results apart, as files' names do. */
export function keyedLocations(scheme: string): KeyedLocations {
  const pattern = new RegExp(`^${scheme}:(${RID_PATTERN.source.slice(1, -1)})(?:\\.([2-9]|[1-9][0-9]{1,3}))?$`);
  return {
    of: ({ rid, attempt }) => (requireAttempt(attempt) === 1 ? `${scheme}:${rid}` : `${scheme}:${rid}.${attempt}`),
    at: (location) => {
      const match = pattern.exec(location);
      const attempt = match?.[2] ? Number(match[2]) : 1;
      return match && attempt <= MAX_ATTEMPT ? { rid: match[1], attempt } : undefined;
    },
  };
}
