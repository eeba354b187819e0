import { QueryFailedError, type DataSource } from 'typeorm';

/** The callback `query` of a mysql or mysql2 pool, as TypeORM's MySQL driver holds it. */
interface CallbackPool {
  query(sql: string, parameters: unknown[], callback: (error: Error | null, rows: unknown) => void): void;
}

/** Runs one statement outside any transaction and answers its rows. */
export type PoolQuery = (sql: string, parameters: unknown[]) => Promise<unknown>;

/**
 * `dataSource.query()`, for the hottest reads. On MySQL and MariaDB it goes straight to the driver's pool: TypeORM's
 * `query()` makes a query runner per call (connect, its subscribers' before/after events, release), which cost
 * ≈ 80 µs of CPU per statement here on top of ≈ 50 µs for the pool's own call (BENCHMARKS.md, finding 17). The
 * statement and its errors still go to TypeORM's logger, and an error is TypeORM's `QueryFailedError`, as with
 * `query()`. Other drivers, and a pool TypeORM does not expose as one (replication), go through `query()`.
 */
export function poolQueryOf(dataSource: DataSource): PoolQuery {
  const fallback: PoolQuery = (sql, parameters) => dataSource.query(sql, parameters);
  const { type } = dataSource.driver.options;
  if (type !== 'mysql' && type !== 'mariadb') {
    return fallback;
  }
  return (sql, parameters) => {
    // Created when the data source connects; read per call, as the data source may connect after this module starts.
    const pool = (dataSource.driver as unknown as { pool?: CallbackPool }).pool;
    if (typeof pool?.query !== 'function') {
      return fallback(sql, parameters);
    }
    const logger = dataSource.logger;
    logger.logQuery(sql, parameters);
    return new Promise((resolve, reject) => {
      pool.query(sql, parameters, (error, rows) => {
        if (error) {
          logger.logQueryError(error, sql, parameters);
          reject(new QueryFailedError(sql, parameters, error));
          return;
        }
        resolve(rows);
      });
    });
  };
}
