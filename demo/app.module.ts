import {
  Injectable,
  Logger,
  Module,
  ValidationPipe,
  type DynamicModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BgrsModule, BgrsStatus, bgrsMigrations } from 'nestjs-bgrs';
import { DataSource } from 'typeorm';
import { DashboardController } from './dashboard.controller.js';
import { DemoAuthGuard } from './demo-auth.guard.js';
import { ImportsController } from './imports.controller.js';
import { ReportsController } from './reports.controller.js';
import { demoQueueOptions } from './queue-options.js';
import { demoResults } from './result-store.js';
import { adaptEntitiesToSqlite } from './sqlite-compat.js';
import { UsersController } from './users.controller.js';

const SQLITE_FILE = 'data/demo.sqlite';
/** Files in `media/`, or S3 with `S3_BUCKET` (see `demoResults`). */
export const DEMO_RESULTS = demoResults();

/**
 * `DATABASE_URL=mysql://user:pass@host:3306/db` (or `mariadb://…` for a MariaDB server): that database, its
 * schema made by the module's migrations. Otherwise an embedded SQLite file, its schema made by `synchronize`.
 */
function databaseOptions(): TypeOrmModuleOptions {
  const url = process.env.DATABASE_URL;
  if (url) {
    const scheme = /^(mysql|mariadb):\/\//.exec(url)?.[1] as 'mysql' | 'mariadb' | undefined;
    if (!scheme) {
      throw new Error('DATABASE_URL must start with mysql:// or mariadb:// (unset it to use the embedded SQLite file)');
    }
    return { type: scheme, url, autoLoadEntities: true, migrations: bgrsMigrations, migrationsRun: true };
  }
  mkdirSync(dirname(SQLITE_FILE), { recursive: true });
  adaptEntitiesToSqlite();
  // WAL: the web server and a queue worker may share the file.
  return { type: 'better-sqlite3', database: SQLITE_FILE, autoLoadEntities: true, synchronize: true, enableWAL: true };
}

/**
 * The MySQL migration seeds `bgrs_statuses`; on SQLite `synchronize` only creates the tables, so the six
 * status rows are added here when missing.
 */
@Injectable()
class SqliteStatusSeeder implements OnApplicationBootstrap {
  private readonly logger = new Logger('Database');

  constructor(private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.dataSource.options.type !== 'better-sqlite3') {
      this.logger.log(`using ${this.dataSource.options.type} (migrations run at start)`);
      return;
    }
    const names = ['created', 'queued', 'processing', 'finished', 'failed', 'cancelled'];
    const statuses = this.dataSource.getRepository(BgrsStatus);
    const present = new Set((await statuses.find()).map((status) => Number(status.id)));
    const missing = names.map((name, index) => ({ id: index + 1, name })).filter((status) => !present.has(status.id));
    if (missing.length > 0) {
      await statuses.insert(missing);
    }
    this.logger.log(`using SQLite file ${SQLITE_FILE}`);
  }
}

/**
 * The demo app, as the web server (`npm start`) or as a queue worker (`npm run worker`): the same routes either
 * way, since a worker replays its requests through them.
 */
@Module({
  controllers: [DashboardController, UsersController, ReportsController, ImportsController],
  providers: [
    SqliteStatusSeeder,
    { provide: APP_GUARD, useClass: DemoAuthGuard },
    { provide: APP_PIPE, useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }) },
  ],
})
export class AppModule {
  static forRole(role: 'web' | 'worker'): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(databaseOptions()),
        BgrsModule.forRoot({
          resultDir: 'media',
          progressIntervalMs: 500,
          ...DEMO_RESULTS.options,
          queue: demoQueueOptions(role),
        }),
      ],
    };
  }
}
