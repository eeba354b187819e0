/**
 * TypeORM CLI data source for the module's own tables: `npm run migration:run` / `npm run migration:revert`
 * against `DATABASE_URL` (mysql://user:pass@host:3306/db, or mariadb://… for a MariaDB server).
 * It is compiled to build/ormconfig.js, which is what the scripts pass to `typeorm -d`.
 */
import 'reflect-metadata';
import { bgrsEntities, bgrsMigrations } from 'nestjs-bgrs';
import { DataSource } from 'typeorm';

const url = process.env.DATABASE_URL;
if (!url) {
  throw new Error(
    'DATABASE_URL is not set. Example: DATABASE_URL=mysql://root@127.0.0.1:3306/mydb npm run migration:run',
  );
}
const type = /^(mysql|mariadb):\/\//.exec(url)?.[1] as 'mysql' | 'mariadb' | undefined;
if (!type) {
  throw new Error(`DATABASE_URL must start with mysql:// or mariadb:// (the migration is MySQL/MariaDB SQL only)`);
}

export default new DataSource({
  type,
  url,
  entities: bgrsEntities,
  migrations: bgrsMigrations,
  migrationsTableName: 'migrations',
});
