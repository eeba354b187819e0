import { getMetadataArgsStorage } from 'typeorm';

/**
 * The module's entities describe the MySQL schema of the README's “Tables”, and four of their column types do not exist in
 * TypeORM's SQLite driver: `char`, `varbinary` and `mediumblob` (rejected when the metadata is built) and a `bigint`
 * auto-increment key (SQLite only auto-increments an `INTEGER PRIMARY KEY`). For the demo's embedded SQLite file
 * only, the entities' column options are rewritten to SQLite equivalents (`varchar`, `blob`, `integer`) before
 * TypeORM reads them. This changes the metadata of the whole process, so it is only ever called when SQLite is chosen;
 * with MySQL/MariaDB the entities are used as they are.
 */
export function adaptEntitiesToSqlite(): void {
  const storage = getMetadataArgsStorage();
  for (const column of storage.columns) {
    if (column.options.type === 'char') {
      column.options.type = 'varchar';
    }
    if (column.options.type === 'varbinary' || column.options.type === 'mediumblob') {
      column.options.type = 'blob';
    }
    const autoIncrement = storage.generations.some(
      (generation) =>
        generation.target === column.target &&
        generation.propertyName === column.propertyName &&
        generation.strategy === 'increment',
    );
    if (autoIncrement && column.options.type === 'bigint') {
      column.options.type = 'integer';
    }
  }
}
