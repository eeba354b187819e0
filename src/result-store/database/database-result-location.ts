import { RID_PATTERN } from '../../util/rid.js';

const LOCATION = new RegExp(`^db:(${RID_PATTERN.source.slice(1, -1)})$`);

/** `db:<rid>`: where `DatabaseResultStore` keeps the result of `rid`, in its `result` column. */
export function databaseResultLocation(rid: string): string {
  return `db:${rid}`;
}

/** The rid of a location of `DatabaseResultStore`; undefined for a location of another store. */
export function ridOfDatabaseLocation(location: string): string | undefined {
  return LOCATION.exec(location)?.[1];
}
