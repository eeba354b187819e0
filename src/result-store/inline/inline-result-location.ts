import { keyedLocations, type ResultKey } from '../keyed-location.js';

/**
 * The largest `inlineResultBytes`: a batch of final writes then stays within a few MiB (the write batcher weighs
 * them), below the `max_allowed_packet` of any MySQL or MariaDB default.
 */
export const MAX_INLINE_RESULT_BYTES = 16 * 1024;

/** Results kept in their request's row: `inline:<rid>`, or `inline:<rid>.<attempt>` for a run again. */
const INLINE_RESULTS = keyedLocations('inline');

export function inlineResultLocation(key: ResultKey): string {
  return INLINE_RESULTS.of(key);
}

/** The result kept in its request's row (and so in no store) that `location` names; undefined for any other. */
export function inlineResultAt(location: string): ResultKey | undefined {
  return INLINE_RESULTS.at(location);
}
