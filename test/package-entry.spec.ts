import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { REPO_ROOT, runNode } from './support/processes.js';

/**
 * Prints what a host sees of the package entry as JSON. `load` is how the package is loaded: `require(…)` (CommonJS
 * host) or `await import(…)` (ESM host).
 */
function probe(load: string): string {
  return `
    const m = ${load};
    const kind = (value) => (Array.isArray(value) ? 'array' : typeof value);
    console.log(JSON.stringify({
      resolved: ${load.startsWith('require') ? "require.resolve('nestjs-bgrs')" : "import.meta.resolve('nestjs-bgrs')"},
      kinds: Object.fromEntries(
        ${JSON.stringify(Object.keys(EXPECTED_KINDS))}.map((name) => [name, kind(m[name])]),
      ),
      names: Object.keys(m).sort(),
      entities: m.bgrsEntities.map((entity) => entity.name),
      migrations: m.bgrsMigrations.length,
      forRoot: typeof m.BgrsModule.forRoot,
      forRootAsync: typeof m.BgrsModule.forRootAsync,
    }));
  `;
}

const EXPECTED_KINDS = {
  BgrsModule: 'function',
  BackgroundCapable: 'function',
  ProgressReporter: 'function',
  bgrsEntities: 'array',
  bgrsMigrations: 'array',
  BgrsRequest: 'function',
  BgrsDetail: 'function',
  BgrsStatus: 'function',
  BgrsInstance: 'function',
  BgrsJob: 'function',
  BgrsLease: 'function',
  BgrsOwner: 'function',
  BgrsResult: 'function',
  BgrsResultChunk: 'function',
  CreateBgrsTables1764320000000: 'function',
  CreateBgrsLeases1764320000001: 'function',
  CreateBgrsOwners1764320000002: 'function',
  CreateBgrsResults1764320000003: 'function',
  CreateBgrsJobs1764320000004: 'function',
  AddBgrsInlineResults1764320000005: 'function',
  BGRS_OPTIONS: 'symbol',
  BGRS_RESULT_STORE: 'symbol',
  BgrsStatusId: 'object',
  FileResultStore: 'function',
  S3ResultStore: 'function',
  S3_CLIENT_DEFAULTS: 'object',
  DatabaseResultStore: 'function',
};

describe('the package entry (after npm run build)', () => {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

  before(() => {
    assert.ok(existsSync(join(REPO_ROOT, manifest.main)), `${manifest.main} is missing: run npm run build first`);
  });

  it('is named nestjs-bgrs, and main/types point at files of the build', () => {
    assert.equal(manifest.name, 'nestjs-bgrs');
    assert.ok(existsSync(join(REPO_ROOT, manifest.types)), `types: ${manifest.types} is missing`);
    assert.match(manifest.main, /^(\.\/)?dist\//);
  });

  const hosts = [
    { name: "a CommonJS host: require('nestjs-bgrs')", args: ['-e', probe("require('nestjs-bgrs')")] },
    {
      name: "an ESM host: import('nestjs-bgrs')",
      args: ['--input-type=module', '-e', probe("await import('nestjs-bgrs')")],
    },
  ];

  for (const { name, args } of hosts) {
    it(`${name} gets the public names`, async () => {
      const output = JSON.parse(await runNode(args, { cwd: REPO_ROOT }));
      assert.deepEqual(output.kinds, EXPECTED_KINDS);
      assert.deepEqual(output.names, Object.keys(EXPECTED_KINDS).sort(), 'the public names and nothing else');
      assert.match(String(output.resolved), /dist[\\/]index\.js$/);
      for (const entity of [
        'BgrsRequest',
        'BgrsDetail',
        'BgrsStatus',
        'BgrsInstance',
        'BgrsLease',
        'BgrsOwner',
        'BgrsResult',
        'BgrsResultChunk',
        'BgrsJob',
      ]) {
        assert.ok(output.entities.includes(entity), `bgrsEntities lacks ${entity}: ${output.entities}`);
      }
      assert.equal(output.migrations, 6, 'bgrsMigrations has every migration');
      assert.equal(output.forRoot, 'function');
      assert.equal(output.forRootAsync, 'function');
    });
  }

  it('loads no AWS SDK until an S3ResultStore is made (an optional peer dependency)', async () => {
    const script = `
      const m = require('nestjs-bgrs');
      const loaded = () => Object.keys(require.cache).some((file) => file.includes('/@aws-sdk/'));
      const before = loaded();
      new m.S3ResultStore({ bucket: 'b', client: { region: 'us-east-1' } });
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    assert.deepEqual(JSON.parse(await runNode(['-e', script], { cwd: REPO_ROOT })), { before: false, after: true });
  });
});
