import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestDatabase } from './support/database.js';
import { cleanEnv, describeRun, runCommand, type CommandResult } from './support/package-tools.js';
import { REPO_ROOT } from './support/processes.js';

/**
 * `ormconfig.ts` with the TypeORM CLI, `npm run migration:run` and `migration:revert`
 * against `DATABASE_URL`, on a fresh MariaDB database.
 *
 * The scripts are `npm run build && typeorm migration:… -d build/ormconfig.js`. The build has run already
 * (`npm test` runs it, and this file is part of its output); rebuilding here would rewrite
 * `dist/` and `build/` while the other spec files run from them. So the test runs the scripts' last step, the
 * typeorm command itself as package.json spells it, through a shell with `node_modules/.bin` on the PATH, as
 * `npm run` does.
 */

const scripts = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;

const BGRS_TABLES = [
  'bgrs_details',
  'bgrs_instances',
  'bgrs_jobs',
  'bgrs_leases',
  'bgrs_owners',
  'bgrs_requests',
  'bgrs_result_chunks',
  'bgrs_results',
  'bgrs_statuses',
];
const STATUSES = [
  [1, 'created'],
  [2, 'queued'],
  [3, 'processing'],
  [4, 'finished'],
  [5, 'failed'],
  [6, 'cancelled'],
];
const MIGRATIONS = [
  'CreateBgrsTables1764320000000',
  'CreateBgrsLeases1764320000001',
  'CreateBgrsOwners1764320000002',
  'CreateBgrsResults1764320000003',
  'CreateBgrsJobs1764320000004',
  'AddBgrsInlineResults1764320000005',
];
const CLI_TIMEOUT_MS = 90_000;
/** Options of a test that runs the CLI once, or once per migration. */
const ONE_RUN = { timeout: CLI_TIMEOUT_MS + 10_000 };
const EACH_MIGRATION = { timeout: MIGRATIONS.length * CLI_TIMEOUT_MS + 10_000 };

/** The typeorm step of an npm script: what follows the builds. */
function typeormStep(script: 'migration:run' | 'migration:revert'): string {
  const command = scripts[script];
  assert.ok(command, `package.json has no "${script}" script`);
  const steps = command.split('&&').map((step) => step.trim());
  const last = steps.at(-1)!;
  assert.match(last, new RegExp(`^typeorm ${script} -d build/ormconfig\\.js$`), `the last step of "${script}"`);
  // Everything before it builds; nothing else may be needed to run it.
  for (const step of steps.slice(0, -1)) {
    assert.match(step, /^npm run build(:all)?$/, `"${script}" runs ${step} before typeorm`);
  }
  return last;
}

/** Runs the typeorm step of `script` as `npm run` would (shell, node_modules/.bin first on the PATH). */
function runScript(script: 'migration:run' | 'migration:revert', databaseUrl?: string): Promise<CommandResult> {
  const bin = join(REPO_ROOT, 'node_modules', '.bin');
  const env = cleanEnv({ PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, DATABASE_URL: databaseUrl });
  if (databaseUrl === undefined) {
    delete env.DATABASE_URL;
  }
  return runCommand(typeormStep(script), [], { cwd: REPO_ROOT, shell: true, env, timeoutMs: CLI_TIMEOUT_MS });
}

/** Sorted here: information_schema's collation puts `bgrs_results` before `bgrs_result_chunks`. */
async function tablesOf(db: TestDatabase): Promise<string[]> {
  const rows = await db.query<{ TABLE_NAME: string }>(
    'SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
    [db.name],
  );
  return rows.map((row) => row.TABLE_NAME).sort();
}

async function columnsOf(db: TestDatabase, table: string): Promise<string[]> {
  const rows = await db.query<{ COLUMN_NAME: string }>(
    'SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db.name, table],
  );
  return rows.map((row) => row.COLUMN_NAME).sort();
}

async function appliedMigrations(db: TestDatabase): Promise<string[]> {
  const rows = await db.query<{ name: string }>('SELECT `name` FROM `migrations` ORDER BY `id`');
  return rows.map((row) => row.name);
}

describe('the migration scripts (TypeORM CLI with ormconfig.ts)', () => {
  before(() => {
    const compiled = join(REPO_ROOT, 'build', 'ormconfig.js');
    assert.ok(existsSync(compiled), 'build/ormconfig.js is missing: run npm run build');
    // ormconfig imports 'nestjs-bgrs', which resolves to this package's own dist/.
    assert.ok(existsSync(join(REPO_ROOT, 'dist', 'index.js')), 'dist/index.js is missing: run npm run build');
    typeormStep('migration:run');
    typeormStep('migration:revert');
  });

  // mysql:// as the scripts' documentation shows it, and mariadb://, which ormconfig also accepts.
  for (const scheme of ['mysql', 'mariadb']) {
    describe(`against DATABASE_URL=${scheme}://… on a fresh database`, () => {
      let db: TestDatabase;
      let url: string;

      before(async () => {
        db = await TestDatabase.create();
        url = db.url.replace(/^[a-z]+:\/\//, `${scheme}://`);
      });

      after(async () => {
        await db?.drop();
      });

      it('migration:run creates the nine tables and the six statuses', ONE_RUN, async () => {
        const run = await runScript('migration:run', url);
        assert.equal(run.code, 0, describeRun('migration:run', run));
        assert.deepEqual(await tablesOf(db), [...BGRS_TABLES, 'migrations'].sort());
        const statuses = await db.query<{ id: number; name: string }>('SELECT id, name FROM bgrs_statuses ORDER BY id');
        assert.deepEqual(
          statuses.map((row) => [Number(row.id), row.name]),
          STATUSES,
        );
        assert.deepEqual(await appliedMigrations(db), MIGRATIONS);
      });

      it('migration:run again finds nothing to do', ONE_RUN, async () => {
        const run = await runScript('migration:run', url);
        assert.equal(run.code, 0, describeRun('migration:run (again)', run));
        assert.match(run.stdout, /No migrations are pending/);
        assert.deepEqual(await appliedMigrations(db), MIGRATIONS);
      });

      it('migration:revert, once per migration, removes every table of the module', EACH_MIGRATION, async () => {
        // What is left after each revert, newest migration first.
        const tablesLeft = [
          // The newest adds a column only.
          [...BGRS_TABLES, 'migrations'],
          [
            'bgrs_details',
            'bgrs_instances',
            'bgrs_leases',
            'bgrs_owners',
            'bgrs_requests',
            'bgrs_result_chunks',
            'bgrs_results',
            'bgrs_statuses',
            'migrations',
          ],
          [
            'bgrs_details',
            'bgrs_instances',
            'bgrs_leases',
            'bgrs_owners',
            'bgrs_requests',
            'bgrs_statuses',
            'migrations',
          ],
          ['bgrs_details', 'bgrs_instances', 'bgrs_leases', 'bgrs_requests', 'bgrs_statuses', 'migrations'],
          ['bgrs_details', 'bgrs_requests', 'bgrs_statuses', 'migrations'],
          // Only TypeORM's own bookkeeping table is left, and it is empty.
          ['migrations'],
        ];
        const requestColumns = await columnsOf(db, 'bgrs_requests');
        assert.ok(requestColumns.includes('result_body'), 'the newest migration added result_body');
        for (const [step, tables] of tablesLeft.entries()) {
          const revert = await runScript('migration:revert', url);
          assert.equal(revert.code, 0, describeRun(`migration:revert (${step + 1})`, revert));
          assert.deepEqual(await tablesOf(db), tables);
          if (step === 0) {
            assert.deepEqual(
              await columnsOf(db, 'bgrs_requests'),
              requestColumns.filter((column) => column !== 'result_body'),
              'its revert dropped result_body, and only that column',
            );
          }
          assert.deepEqual(await appliedMigrations(db), MIGRATIONS.slice(0, MIGRATIONS.length - step - 1));
        }
      });
    });
  }

  it('without DATABASE_URL fails with a message that says how to set it', ONE_RUN, async () => {
    const run = await runScript('migration:run');
    assert.notEqual(run.code, 0, describeRun('migration:run without DATABASE_URL', run));
    assert.match(run.stdout + run.stderr, /DATABASE_URL is not set/);
  });

  it('with a DATABASE_URL other than mysql:// or mariadb:// fails with a message', ONE_RUN, async () => {
    const run = await runScript('migration:run', 'postgres://root@127.0.0.1:5432/bgrs');
    assert.notEqual(run.code, 0, describeRun('migration:run with postgres://', run));
    assert.match(run.stdout + run.stderr, /DATABASE_URL must start with mysql:\/\/ or mariadb:\/\//);
  });
});
