import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import { BgrsStatusId } from 'nestjs-bgrs';
import { MARIADB } from './servers/ipc.js';

const UNFINISHED = [BgrsStatusId.Created, BgrsStatusId.Queued, BgrsStatusId.Processing];

/** A database of its own for one benchmark run on the loopback MariaDB, dropped at the end. */
export class BenchDatabase {
  private constructor(
    readonly name: string,
    private readonly connection: Connection,
  ) {}

  static async create(): Promise<BenchDatabase> {
    const connection = await mysql.createConnection({ ...MARIADB });
    const name = `bgrs_bench_${Date.now().toString(36)}_${process.pid}`;
    await connection.query(`CREATE DATABASE \`${name}\``);
    await connection.query(`USE \`${name}\``);
    return new BenchDatabase(name, connection);
  }

  async version(): Promise<string> {
    const [rows] = await this.connection.query<RowDataPacket[]>('SELECT VERSION() AS version');
    return String(rows[0].version);
  }

  /** Background requests that have not ended yet. */
  async unfinished(): Promise<number> {
    const [rows] = await this.connection.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM bgrs_requests WHERE status_id IN (${UNFINISHED.join(', ')})`,
    );
    return Number(rows[0].n);
  }

  /** Waits until no background request is left running, so that one measurement does not spill into the next. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let left = await this.unfinished();
    while (left > 0) {
      if (Date.now() > deadline) {
        throw new Error(`${left} background requests still running after ${timeoutMs} ms`);
      }
      await sleep(100);
      left = await this.unfinished();
    }
  }

  /** Deletes a request; its details, lease and stored result rows go with it (foreign keys cascade). */
  async deleteRequest(rid: string): Promise<void> {
    await this.connection.query('DELETE FROM bgrs_requests WHERE rid = ?', [rid]);
  }

  async drop(): Promise<void> {
    try {
      await this.connection.query(`DROP DATABASE IF EXISTS \`${this.name}\``);
    } finally {
      await this.connection.end();
    }
  }
}
