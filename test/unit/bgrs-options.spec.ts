import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FileResultStore, type BgrsModuleOptions } from '../../src/index.js';
import { resolveBgrsOptions } from '../../src/options/bgrs-options.js';

describe('resolveBgrsOptions', () => {
  it('fills in every default', () => {
    const resolved = resolveBgrsOptions({});
    assert.equal(resolved.resultDir, 'media');
    assert.equal(resolved.resultStore, undefined);
    assert.equal(resolved.timezone, 'Z');
    assert.deepEqual(resolved.guards, []);
    assert.equal(resolved.progressIntervalMs, 500);
    assert.equal(resolved.leaseMs, 30_000);
    assert.equal(resolved.shutdownGraceMs, 30_000);
    assert.equal(resolved.maxConcurrent, 32);
    assert.equal(resolved.maxQueued, 1000);
    assert.equal(resolved.retentionDays, 30);
    assert.equal(resolved.retentionSweepMs, 3_600_000);
    assert.equal(resolved.ownerOnly, false);
    assert.equal(resolved.userId({ user: { id: 7 } }), 7);
    assert.equal(resolved.userId({}), null);
  });

  it('keeps what is given, and takes undefined for the default', () => {
    const resolved = resolveBgrsOptions({ maxConcurrent: 2, timezone: '+02:00', leaseMs: undefined });
    assert.equal(resolved.maxConcurrent, 2);
    assert.equal(resolved.timezone, '+02:00');
    assert.equal(resolved.leaseMs, 30_000);
  });

  it('takes a store instance or a store class', () => {
    const store = new FileResultStore('elsewhere');
    assert.equal(resolveBgrsOptions({ resultStore: store }).resultStore, store);
    assert.equal(resolveBgrsOptions({ resultStore: FileResultStore }).resultStore, FileResultStore);
  });

  const invalid: Array<[BgrsModuleOptions, RegExp]> = [
    [{ retentionSweepMs: 0 }, /option retentionSweepMs must be a whole number from 1 to 2147483647: got 0/],
    [{ retentionSweepMs: 2 ** 31 }, /option retentionSweepMs must be a whole number/],
    [{ maxQueued: -1 }, /option maxQueued must be a whole number from 0/],
    [{ maxConcurrent: 0 }, /option maxConcurrent must be a whole number from 1/],
    [{ maxConcurrent: 2.5 }, /option maxConcurrent/],
    [{ leaseMs: Number.NaN }, /option leaseMs must be a whole number from 3/],
    [{ progressIntervalMs: '500' as unknown as number }, /option progressIntervalMs .*got "500"/],
    [{ shutdownGraceMs: -1 }, /option shutdownGraceMs/],
    [{ retentionDays: 0 }, /option retentionDays must be a number of days above 0/],
    [{ timezone: 'Europe/Paris' }, /option timezone must be "Z" or an offset like "\+02:00": got "Europe\/Paris"/],
    [{ timezone: '+2' }, /option timezone/],
    [{ resultDir: '' }, /option resultDir must be a folder name/],
    [{ resultDir: `/${'d'.repeat(250)}` }, /resultDir is too long: result paths must fit the 255 characters/],
    [{ userId: 'user.id' as unknown as () => null }, /option userId must be a function of the request: got "user.id"/],
    [{ guards: {} as unknown as [] }, /option guards must be an array of guards/],
    [{ guards: [42 as never] }, /option guards must be an array of guards/],
    [{ ownerOnly: 'yes' as unknown as boolean }, /option ownerOnly must be true or false: got "yes"/],
    [{ resultStore: {} as never }, /option resultStore must be a BgrsResultStore or its class: Object has no create/],
  ];
  for (const [options, message] of invalid) {
    it(`refuses ${JSON.stringify(options, (_key, value) => (value === '' ? '""' : value)).slice(0, 60)}, naming the option`, () => {
      assert.throws(() => resolveBgrsOptions(options), message);
    });
  }
});
