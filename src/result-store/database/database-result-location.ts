import { keyedLocations, type ResultKey } from '../keyed-location.js';

/** A result of `DatabaseResultStore`: a request's, written by one of its attempts. */
export type DatabaseResultKey = ResultKey;

const DATABASE_RESULTS = keyedLocations('db');

/** `db:<rid>`, or `db:<rid>.<attempt>` for a queue worker's run again: the `result` column of such a result. */
export function databaseResultLocation(key: DatabaseResultKey): string {
  return DATABASE_RESULTS.of(key);
}

/** The result at a location of `DatabaseResultStore`; undefined for a location of another store. */
export function databaseResultAt(location: string): DatabaseResultKey | undefined {
  return DATABASE_RESULTS.at(location);
}
