/**
 * Throughput and memory of the result stores on this machine: one result of `BENCH_STORE_MIB` MiB (default 256),
 * made as it is written, is stored and read back by each store, and the process's RSS is sampled meanwhile.
 * `npm run build && node build/bench/result-stores.js` (MariaDB on 127.0.0.1:3306; s3rver is
 * started here).
 */
import 'reflect-metadata';
import { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import {
  bgrsEntities,
  bgrsMigrations,
  DatabaseResultStore,
  FileResultStore,
  S3ResultStore,
  type BgrsResultStore,
} from '../src/index.js';
import { createRid } from '../src/util/rid.js';
import { TestDatabase } from '../test/support/database.js';
import { digestOf, generatedBody, storeResult } from '../test/support/result-store-contract.js';
import { S3Server } from '../test/support/s3-server.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_STORE_MIB ?? 256) * MiB;

/** The highest RSS seen while `work` runs, above the RSS when it began. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ value: T; peakMiB: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    return { value: await work(), peakMiB: (peak - base) / MiB };
  } finally {
    clearInterval(timer);
  }
}

async function measure(name: string, store: BgrsResultStore, rid: string): Promise<void> {
  const { stream, digest } = generatedBody(SIZE);
  let started = performance.now();
  const written = await withPeakRss(() => storeResult(store, rid, stream, 'application/octet-stream'));
  const writeSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const read = await withPeakRss(async () => digestOf((await store.open(written.value)).body));
  const readSeconds = (performance.now() - started) / 1000;
  if (read.value.digest !== digest() || read.value.length !== SIZE) {
    throw new Error(`${name}: the result read back differs`);
  }
  const rate = (seconds: number) => (SIZE / MiB / seconds).toFixed(0);
  console.log(
    `${name.padEnd(22)} write ${rate(writeSeconds).padStart(4)} MiB/s (${writeSeconds.toFixed(2)} s, ` +
      `+${written.peakMiB.toFixed(0)} MiB RSS)   read ${rate(readSeconds).padStart(4)} MiB/s ` +
      `(${readSeconds.toFixed(2)} s, +${read.peakMiB.toFixed(0)} MiB RSS)`,
  );
  await store.remove(written.value);
}

async function main(): Promise<void> {
  console.log(`one result of ${SIZE / MiB} MiB per store, node ${process.version}`);
  const directory = await mkdtemp(join(tmpdir(), 'bgrs-bench-stores-'));
  const db = await TestDatabase.create();
  const server = await S3Server.start();
  const client = new S3Client(server.clientConfig());
  const dataSource = new DataSource({
    type: 'mariadb',
    url: db.url,
    entities: bgrsEntities,
    migrations: bgrsMigrations,
  });
  try {
    const files = new FileResultStore(directory);
    await files.onModuleInit();
    await measure('FileResultStore', files, createRid());

    await dataSource.initialize();
    await dataSource.runMigrations();
    const [{ version }] = await db.query<{ version: string }>('SELECT VERSION() AS version');
    const rid = createRid();
    await db.query(
      "INSERT INTO bgrs_requests (rid, user_id, name, created_dt, status_id, progress) VALUES (?, NULL, '/b', NOW(), 3, 0)",
      [rid],
    );
    await measure(`DatabaseResultStore (MariaDB ${version.split('-')[0]})`, new DatabaseResultStore(dataSource), rid);

    await measure('S3ResultStore (s3rver)', new S3ResultStore({ bucket: S3Server.BUCKET, client }), createRid());
  } finally {
    client.destroy();
    await server.stop();
    await dataSource.destroy().catch(() => undefined);
    await db.drop();
    await rm(directory, { recursive: true, force: true });
  }
}

await main();
