import { QueryFailedError, type DataSource, type Logger } from 'typeorm';

type QueryCallback = (error: Error | null, rows: unknown) => void;

/** The callback API of a mysql or mysql2 pool, as TypeORM's MySQL driver holds it. */
interface CallbackPool {
  query(sql: string, parameters: unknown[], callback: QueryCallback): void;
  getConnection(callback: (error: Error | null, connection: CallbackConnection) => void): void;
}

interface CallbackConnection {
  query(sql: string, parameters: unknown[], callback: QueryCallback): void;
  release(): void;
}

/** One statement with its parameters. */
export interface PoolStatement {
  sql: string;
  parameters: unknown[];
}

/** Runs one statement outside any transaction and answers its rows. */
export type PoolQuery = (sql: string, parameters: unknown[]) => Promise<unknown>;

/** Runs one write outside any transaction and answers how many rows it changed. */
export type PoolChange = (sql: string, parameters: unknown[]) => Promise<number>;

/** Runs statements in order in one transaction: all land, or none. */
export type PoolTransaction = (statements: PoolStatement[]) => Promise<void>;

/*
 * The module's hottest statements go straight to the driver's pool on MySQL and MariaDB: TypeORM's `query()` makes
 * a query runner per call (connect, its subscribers' before/after events, release), which cost ≈ 80 µs of CPU per
 * statement here on top of ≈ 50 µs for the pool's own call (BENCHMARKS.md, finding 17), and its runner's promise
 * API captures a stack per query (finding 18). Statements and their errors still go to TypeORM's logger, and an
 * error is TypeORM's `QueryFailedError`, as with `query()`. Other drivers, and a pool TypeORM does not expose as one
 * (replication), go through TypeORM.
 */

/** `dataSource.query()` on the driver's pool. */
export function poolQueryOf(dataSource: DataSource): PoolQuery {
  return (sql, parameters) => {
    const pool = driverPoolOf(dataSource);
    return pool ? query(pool, dataSource.logger, sql, parameters) : dataSource.query(sql, parameters);
  };
}

/** A write's changed rows as TypeORM reports them (`affected`: the pool's `affectedRows` on MySQL and MariaDB). */
export function poolChangeOf(dataSource: DataSource): PoolChange {
  return async (sql, parameters) => {
    const pool = driverPoolOf(dataSource);
    if (pool) {
      const header = (await query(pool, dataSource.logger, sql, parameters)) as { affectedRows?: number };
      return header.affectedRows ?? 0;
    }
    const runner = dataSource.createQueryRunner();
    try {
      const { affected } = await runner.query(sql, parameters, true);
      return affected ?? 0;
    } finally {
      await runner.release();
    }
  };
}

/**
 * A transaction of a few statements: on MySQL and MariaDB one connection of the driver's pool, its `START
 * TRANSACTION`, statements and `COMMIT` (logged as TypeORM logs its own), rolled back at the first error; elsewhere
 * `dataSource.transaction()`.
 */
export function poolTransactionOf(dataSource: DataSource): PoolTransaction {
  return (statements) => {
    const pool = driverPoolOf(dataSource);
    if (pool) {
      return inTransaction(pool, dataSource.logger, statements);
    }
    return dataSource.transaction(async (manager) => {
      for (const { sql, parameters } of statements) {
        await manager.query(sql, parameters);
      }
    });
  };
}

/** Created when the data source connects: read per call, as the data source may connect after this module starts. */
function driverPoolOf(dataSource: DataSource): CallbackPool | undefined {
  const { type } = dataSource.driver.options;
  if (type !== 'mysql' && type !== 'mariadb') {
    return undefined;
  }
  const pool = (dataSource.driver as unknown as { pool?: CallbackPool }).pool;
  return typeof pool?.query === 'function' && typeof pool.getConnection === 'function' ? pool : undefined;
}

function query(on: Pick<CallbackPool, 'query'>, logger: Logger, sql: string, parameters: unknown[]): Promise<unknown> {
  logger.logQuery(sql, parameters);
  return new Promise((resolve, reject) => {
    on.query(sql, parameters, (error, rows) => {
      if (error) {
        logger.logQueryError(error, sql, parameters);
        reject(new QueryFailedError(sql, parameters, error));
        return;
      }
      resolve(rows);
    });
  });
}

async function inTransaction(pool: CallbackPool, logger: Logger, statements: PoolStatement[]): Promise<void> {
  const connection = await new Promise<CallbackConnection>((resolve, reject) => {
    pool.getConnection((error, connection) =>
      error ? reject(new QueryFailedError('START TRANSACTION', [], error)) : resolve(connection),
    );
  });
  try {
    for (const { sql, parameters } of [{ sql: 'START TRANSACTION', parameters: [] }, ...statements]) {
      await query(connection, logger, sql, parameters);
    }
    await query(connection, logger, 'COMMIT', []);
  } catch (error) {
    // Whatever ROLLBACK meets, the connection goes back: the pool drops one that broke.
    await query(connection, logger, 'ROLLBACK', []).catch(() => undefined);
    throw error;
  } finally {
    connection.release();
  }
}
