import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { BGRS_DATA_SOURCE } from '../../bgrs.constants.js';
import { requireRid } from '../../util/rid.js';
import type {
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredEntry,
  BgrsStoredResult,
} from '../bgrs-result-store.interface.js';
import { databaseResultAt, databaseResultLocation } from './database-result-location.js';
import { DatabaseResultRepository } from './database-result.repository.js';
import { DATABASE_RESULT_CHUNK_BYTES, DatabaseResultWriter } from './database-result-writer.js';

/**
 * The largest packet between the store and the server, either way: a chunk's INSERT (a prepared statement, so the
 * chunk goes as its bytes) or a chunk read, with room to spare for the rest. Well below MariaDB's default
 * `max_allowed_packet` (16 MiB; MySQL 8: 64 MiB; MySQL 5.7: 4 MiB); a larger packet would be refused and the
 * connection reset.
 */
export const DATABASE_RESULT_MAX_PACKET = DATABASE_RESULT_CHUNK_BYTES + 64 * 1024;

const SUPPORTED_DATABASES = ['mysql', 'mariadb'];

/**
 * Keeps results in the module's own database, for deployments without object storage, so that any instance
 * serves any result: a row in `bgrs_results` and the body in 1 MiB rows of `bgrs_result_chunks` (migration
 * `CreateBgrsResults1764320000003`), location `db:<rid>` (`db:<rid>.<attempt>` for a queue worker's run again). Give `resultStore: DatabaseResultStore`; it uses the
 * module's data source. MySQL and MariaDB only.
 *
 * - Streamed both ways in constant memory: a writer holds at most one chunk and inserts it before taking more; a
 *   reader fetches one chunk per query, when the response wants more.
 * - Atomic: the chunks are written under a row without `committed_dt`, which commit sets in one UPDATE; readers
 *   look for committed rows only. A writer that died leaves an uncommitted row, which `abandon()` deletes, and so
 *   does retention: the rows go with their request (ON DELETE CASCADE).
 * - Sizes: every byte goes through InnoDB, the redo log, the binlog (so the replicas) and every backup, and
 *   results are deleted only by retention. Fine for results up to some tens of MiB and a few GiB in all; beyond
 *   that, object storage (`S3ResultStore`) is the place. Measured (`bench/result-stores.ts`, MariaDB 10.11 on
 *   loopback, a busy 2-core machine): a 256 MiB result written at 50–105 MiB/s and read at 60–125 MiB/s, with a few
 *   MiB more RSS.
 */
@Injectable()
export class DatabaseResultStore implements BgrsResultStore, OnModuleInit {
  private readonly rows: DatabaseResultRepository;

  constructor(@Inject(BGRS_DATA_SOURCE) private readonly dataSource: DataSource) {
    const type = dataSource.options.type;
    if (!SUPPORTED_DATABASES.includes(type)) {
      throw new Error(
        `resultStore: DatabaseResultStore keeps results in MySQL or MariaDB, and the module's data source is ` +
          `${type}: use FileResultStore or S3ResultStore`,
      );
    }
    this.rows = new DatabaseResultRepository(dataSource);
  }

  /** A server that would refuse a chunk is found at start-up, not by the first large result. */
  async onModuleInit(): Promise<void> {
    const maxAllowedPacket = await this.rows.maxAllowedPacket();
    if (maxAllowedPacket < DATABASE_RESULT_MAX_PACKET) {
      throw new Error(
        `resultStore: DatabaseResultStore sends packets of up to ${DATABASE_RESULT_MAX_PACKET} bytes, and the ` +
          `server's max_allowed_packet is ${maxAllowedPacket}: raise it (MariaDB's default is 16 MiB)`,
      );
    }
  }

  create(rid: string, attempt = 1): BgrsResultWriter {
    return new DatabaseResultWriter(this.rows, rid, attempt);
  }

  async open(location: string): Promise<BgrsStoredResult> {
    const key = databaseResultAt(location);
    const stored = key ? await this.rows.findCommitted(key) : undefined;
    if (!stored) {
      throw new Error(`No result stored at ${JSON.stringify(location)}`);
    }
    // Bytes, not objects: the stream pulls one chunk at a time (an object-mode stream would read 16 ahead).
    const body = Readable.from(this.rows.chunks(key!, stored.size), { objectMode: false });
    return { body, size: stored.size, headers: stored.headers };
  }

  /** A location of another store is left alone. */
  async remove(location: string): Promise<void> {
    const key = databaseResultAt(location);
    if (key) {
      await this.rows.removeCommitted(key);
    }
  }

  async abandon(rid: string): Promise<void> {
    await this.rows.abandon(requireRid(rid));
  }

  async *list(): AsyncIterable<BgrsStoredEntry> {
    for await (const row of this.rows.list()) {
      yield {
        rid: row.rid,
        location: databaseResultLocation(row),
        modifiedAt: row.committedDt ?? row.createdDt,
        committed: row.committedDt !== null,
      };
    }
  }
}
