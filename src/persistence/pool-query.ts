import { QueryFailedError, type DataSource } from 'typeorm';

/** The callback `query` of a mysql or mysql2 pool, as TypeORM's MySQL driver holds it. */
interface CallbackPool {
  query(sql: string, parameters: unknown[], callback: (error: Error | null, rows: unknown) => void): void;
}

/** Runs one statement outside any transaction and answers its rows. */
export type PoolQuery = (sql: string, parameters: unknown[]) => Promise<unknown>;

/** Runs one write outside any transaction and answers how many rows it changed. */
export type PoolChange = (sql: string, parameters: unknown[]) => Promise<number>;

/**
 * `dataSource.query()`, for the hottest statements. On MySQL and MariaDB it goes straight to the driver's pool:
 * TypeORM's `query()` makes a query runner per call (connect, its subscribers' before/after events, release), which
 * cost ≈ 80 µs of CPU per statement here on top of ≈ 50 µs for the pool's own call (BENCHMARKS.md, finding 17). The
 * statement and its errors still go to TypeORM's logger, and an error is TypeORM's `QueryFailedError`, as with
 * `query()`. Other drivers, and a pool TypeORM does not expose as one (replication), go through `query()`.
 */
export function poolQueryOf(dataSource: DataSource): PoolQuery {
  return onDriverPool(dataSource, (sql, parameters) => dataSource.query(sql, parameters), (rows) => rows);
}

/**
 * A write's changed rows, as TypeORM reports them (`affected`), by the same road as `poolQueryOf`: on MySQL and
 * MariaDB the pool's own answer (`affectedRows`, which is what TypeORM reads there too), elsewhere a query runner.
 */
export function poolChangeOf(dataSource: DataSource): PoolChange {
  const fallback: PoolChange = async (sql, parameters) => {
    const runner = dataSource.createQueryRunner();
    try {
      const { affected } = await runner.query(sql, parameters, true);
      return affected ?? 0;
    } finally {
      await runner.release();
    }
  };
  return onDriverPool(dataSource, fallback, (header) => (header as { affectedRows?: number }).affectedRows ?? 0);
}

function onDriverPool<T>(
  dataSource: DataSource,
  fallback: (sql: string, parameters: unknown[]) => Promise<T>,
  answer: (rows: unknown) => T,
): (sql: string, parameters: unknown[]) => Promise<T> {
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
        resolve(answer(rows));
      });
    });
  };
}
