import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TestDatabase } from './support/database.js';
import { cleanEnv, describeRun, runCommand, runOk } from './support/package-tools.js';
import { REPO_ROOT } from './support/processes.js';

/**
 * What `npm pack` puts in the tarball, and a fresh host project that installs that tarball
 * from a temp folder and runs one background request end to end, as CommonJS and as ESM.
 *
 * The tarball is packed from the `dist/` that `npm test` (or `npm run build`) has just built, with
 * `--ignore-scripts`: `prepare` would rebuild `dist/` under the feet of the other spec files that run at the
 * same time.
 */

const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

/** The host's dependencies besides the tarball: the peers, an HTTP platform and a driver. */
const HOST_DEPENDENCIES = [
  '@nestjs/common@^12',
  '@nestjs/core@^12',
  '@nestjs/platform-express@^12',
  '@nestjs/typeorm@^12',
  'typeorm@^1',
  'mysql2',
  'rxjs',
  'reflect-metadata',
];

const INSTALL_TIMEOUT_MS = 5 * 60_000;
const HOST_TIMEOUT_MS = 90_000;
const MARKER = 'BGRS_HOST_OUTCOME ';
const RID_PATTERN = /^[0-9a-f]{32}$/;

interface PackFile {
  path: string;
  size: number;
}

interface PackResult {
  filename: string;
  files: PackFile[];
}

/** `src/**\/*.ts` without the extension, relative to `src/` with `/` separators: what the build compiles. */
function sourceModules(): string[] {
  return readdirSync(join(REPO_ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .map((file) => file.split('\\').join('/'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
    .sort();
}

/** `./dist/index.js` → `dist/index.js`. */
function packPath(target: string): string {
  return target.replace(/^\.\//, '');
}

/** Every file a package.json `exports` value points at (conditions and subpaths flattened). */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  if (value && typeof value === 'object') {
    return Object.values(value).flatMap(exportTargets);
  }
  return [];
}

describe('the npm package', () => {
  let work: string;
  let packed: PackResult;
  let paths: string[];

  before(
    async () => {
      assert.ok(
        existsSync(join(REPO_ROOT, 'dist', 'index.js')),
        'dist/index.js is missing: run npm run build (npm test does) before this spec',
      );
      work = await mkdtemp(join(tmpdir(), 'bgrs-package-'));
      const packDir = join(work, 'pack');
      await mkdir(packDir);
      const stdout = await runOk(
        'npm',
        ['pack', REPO_ROOT, '--pack-destination', packDir, '--json', '--ignore-scripts'],
        { cwd: REPO_ROOT, timeoutMs: 120_000 },
      );
      const results = JSON.parse(stdout) as PackResult[];
      assert.equal(results.length, 1, `npm pack --json listed ${results.length} packages`);
      packed = results[0];
      paths = packed.files.map((file) => file.path).sort();
      assert.ok(existsSync(join(packDir, packed.filename)), `the tarball ${packed.filename} was not written`);
    },
    { timeout: 150_000 },
  );

  after(async () => {
    if (work) {
      await rm(work, { recursive: true, force: true });
    }
  });

  describe('npm pack', () => {
    it('contains README.md, LICENSE and package.json', () => {
      for (const file of ['README.md', 'LICENSE', 'package.json']) {
        assert.ok(paths.includes(file), `${file} is not in the tarball: ${paths.join(', ')}`);
      }
    });

    it('contains the compiled JavaScript and the type declarations of every module of src/', () => {
      const missing = sourceModules()
        .flatMap((module) => [`dist/${module}.js`, `dist/${module}.d.ts`])
        .filter((file) => !paths.includes(file));
      assert.deepEqual(missing, [], 'built files missing from the tarball');
    });

    it('holds nothing but README.md, LICENSE, package.json and dist/ (JavaScript, declarations, source maps)', () => {
      const unexpected = paths.filter(
        (file) =>
          !['README.md', 'LICENSE', 'package.json'].includes(file) &&
          !/^dist\/.+\.(js|d\.ts|js\.map|d\.ts\.map)$/.test(file),
      );
      assert.deepEqual(unexpected, [], 'files that do not belong in the package');
    });

    it('has no tests, build/, bench/, demo/, src/, ormconfig, CI or TypeScript config', () => {
      const forbidden = paths.filter(
        (file) =>
          /^(test|build|bench|demo|src|\.ci|node_modules|media|data|coverage)\//.test(file) ||
          /(^|\/)ormconfig\./.test(file) ||
          /\.(spec|test)\.[cm]?[jt]s$/.test(file) ||
          /(^|\/)tsconfig[^/]*\.json$/.test(file) ||
          /(^|\/)package-lock\.json$/.test(file) ||
          /\.ts$/.test(file.replace(/\.d\.ts$/, '')),
      );
      assert.deepEqual(forbidden, [], 'files that must not be published');
    });

    it('has no stale build output: every dist/ module comes from a module of src/', () => {
      const sources = new Set(sourceModules());
      const stale = paths
        .filter((file) => /^dist\/.+\.js$/.test(file))
        .map((file) => file.slice('dist/'.length, -'.js'.length))
        .filter((module) => !sources.has(module));
      assert.deepEqual(
        stale,
        [],
        'dist/ holds modules whose source is gone (dist/ is not cleaned before a build): they would be published',
      );
    });

    it('contains what main, types and exports point at', () => {
      const targets = [manifest.main, manifest.types, ...exportTargets(manifest.exports)].map(packPath);
      assert.ok(targets.includes('dist/index.js'), `main/exports do not name dist/index.js: ${targets.join(', ')}`);
      for (const target of targets) {
        assert.ok(paths.includes(target), `${target} (from main/types/exports) is not in the tarball`);
      }
      assert.equal(packed.filename, `nestjs-bgrs-${manifest.version}.tgz`);
    });
  });

  describe('a fresh host project that installs the tarball', () => {
    let host: string;

    before(
      async () => {
        host = join(work, 'host');
        await mkdir(host);
        await writeFile(
          join(host, 'package.json'),
          `${JSON.stringify({ name: 'bgrs-host', version: '1.0.0', private: true }, null, 2)}\n`,
        );
        for (const file of ['main.cjs', 'main.mjs', 'drive-host.cjs']) {
          copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'host', file), join(host, file));
        }
        const tarball = join(work, 'pack', packed.filename);
        await runOk(
          'npm',
          ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...HOST_DEPENDENCIES],
          { cwd: host, timeoutMs: INSTALL_TIMEOUT_MS },
        );
      },
      { timeout: INSTALL_TIMEOUT_MS + 30_000 },
    );

    it('has the package and its peers installed, consistently (npm ls), and no @nestjs/swagger', async () => {
      const installed = JSON.parse(readFileSync(join(host, 'node_modules', 'nestjs-bgrs', 'package.json'), 'utf8'));
      assert.equal(installed.version, manifest.version);
      assert.ok(!existsSync(join(host, 'node_modules', 'nestjs-bgrs', 'src')), 'src/ was installed');
      assert.ok(!existsSync(join(host, 'node_modules', 'nestjs-bgrs', 'test')), 'test/ was installed');
      const ls = await runCommand('npm', ['ls', '--all'], { cwd: host, timeoutMs: 60_000 });
      assert.equal(ls.code, 0, describeRun('npm ls --all', ls));
      // The optional peer stays out: the hosts below check that nothing needs it.
      assert.ok(!existsSync(join(host, 'node_modules', '@nestjs', 'swagger')), '@nestjs/swagger was installed');
    });

    it('loads without the AWS SDK (an optional peer), and an S3ResultStore says which packages it needs', async () => {
      assert.ok(!existsSync(join(host, 'node_modules', '@aws-sdk')), 'the AWS SDK was installed');
      const script = `
        const { S3ResultStore, FileResultStore } = require('nestjs-bgrs');
        let refused = '';
        try {
          new S3ResultStore({ bucket: 'b', client: { region: 'us-east-1' } });
        } catch (error) {
          refused = error.message;
        }
        console.log(JSON.stringify({ file: typeof FileResultStore, refused }));
      `;
      const run = await runCommand(process.execPath, ['-e', script], { cwd: host, timeoutMs: 60_000 });
      assert.equal(run.code, 0, describeRun('node -e (require without the AWS SDK)', run));
      const { file, refused } = JSON.parse(run.stdout);
      assert.equal(file, 'function');
      assert.match(refused, /S3ResultStore needs the AWS SDK.*npm install @aws-sdk\/client-s3 @aws-sdk\/lib-storage/);
    });

    const hosts = [
      { kind: 'cjs', file: 'main.cjs', title: "CommonJS: require('nestjs-bgrs'), decorators through Reflect.decorate" },
      { kind: 'esm', file: 'main.mjs', title: "ESM: import from 'nestjs-bgrs', decorators called by hand" },
    ];

    for (const { kind, file, title } of hosts) {
      const name = `${title}: BgrsModule boots and one background request runs end to end over HTTP`;
      it(name, { timeout: HOST_TIMEOUT_MS + 30_000 }, async () => {
        const db = await TestDatabase.create();
        try {
          const resultDir = join(work, `results-${kind}`);
          const run = await runCommand(process.execPath, [file], {
            cwd: host,
            env: cleanEnv({ DATABASE_URL: db.url, BGRS_RESULT_DIR: resultDir, NODE_OPTIONS: '' }),
            timeoutMs: HOST_TIMEOUT_MS,
          });
          const line = run.stdout.split('\n').find((text) => text.startsWith(MARKER));
          assert.ok(line, describeRun(`node ${file} printed no outcome line;`, run));
          const outcome = JSON.parse(line.slice(MARKER.length));
          assert.equal(outcome.error, undefined, describeRun(`node ${file} failed: ${outcome.error}`, run));
          assert.equal(run.code, 0, describeRun(`node ${file}`, run));
          assert.equal(outcome.host, kind);

          // The package came from the host's node_modules, not from this repository.
          const resolved = String(outcome.resolved);
          assert.equal(
            realpathSync(resolved.startsWith('file:') ? fileURLToPath(resolved) : resolved),
            realpathSync(join(host, 'node_modules', 'nestjs-bgrs', 'dist', 'index.js')),
          );

          const { foreground, accepted, record, result } = outcome;
          assert.equal(foreground.status, 200);
          assert.match(foreground.contentType, /^application\/json/);
          assert.deepEqual(JSON.parse(foreground.body), { host: kind, n: 5, total: 15 });

          assert.equal(accepted.status, 202, `?bgrs=yes answered ${accepted.status}: ${accepted.body}`);
          const rid = JSON.parse(accepted.body).request;
          assert.match(rid, RID_PATTERN);
          assert.equal(accepted.body, `{"request":"${rid}"}`);
          assert.equal(accepted.location, `/bgrs/${rid}`);

          assert.equal(outcome.rid, rid);
          assert.equal(outcome.statuses.at(-1), 'finished', `the request went ${outcome.statuses.join(' → ')}`);
          assert.equal(record.rid, rid);
          assert.equal(record.status_name, 'finished');
          assert.equal(Number(record.progress), 100);
          assert.deepEqual(
            outcome.details,
            [1, 2, 3, 4, 5].map((step) => `step ${step} of 5`),
          );

          // The stored result is the foreground answer.
          assert.equal(result.status, foreground.status);
          assert.equal(result.contentType, foreground.contentType);
          assert.equal(result.body, foreground.body);
        } finally {
          await db.drop();
        }
      });
    }
  });
});
