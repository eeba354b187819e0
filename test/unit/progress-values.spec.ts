import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BGRS_DETAILS_MAX_BYTES } from '../../src/bgrs.constants.js';
import { clampPercent, fitDetails } from '../../src/progress/progress-values.js';

describe('clampPercent', () => {
  const cases: Array<[number, number, number]> = [
    [12.345, 0, 12.35],
    [12.344, 0, 12.34],
    [-5, 0, 0],
    [150, 0, 100],
    [Number.POSITIVE_INFINITY, 0, 100],
    [Number.NEGATIVE_INFINITY, 30, 30],
    [10, 30, 30],
    [Number.NaN, 42.5, 42.5],
    [99.999, 0, 100],
  ];
  for (const [percent, current, expected] of cases) {
    it(`${percent} with ${current} reached → ${expected}`, () => {
      assert.equal(clampPercent(percent, current), expected);
    });
  }
});

describe('fitDetails', () => {
  const bytesOf = (text: string) => Buffer.byteLength(text, 'utf8');

  it('keeps text that fits as it is', () => {
    const text = 'é'.repeat(BGRS_DETAILS_MAX_BYTES / 2 - 1);
    assert.equal(fitDetails(text), text);
    assert.equal(fitDetails('month 3 done'), 'month 3 done');
  });

  it('cuts longer text to what the column holds', () => {
    const cut = fitDetails('x'.repeat(200_000));
    assert.ok(bytesOf(cut) <= BGRS_DETAILS_MAX_BYTES);
    assert.ok(bytesOf(cut) >= BGRS_DETAILS_MAX_BYTES - 3);
    assert.match(cut, /^x+$/);
  });

  for (const [name, character] of [
    ['2-byte', 'é'],
    ['3-byte', '€'],
    ['4-byte', '🚀'],
  ] as const) {
    it(`cuts ${name} characters on a character boundary, never leaving half of one`, () => {
      const text = `a${character.repeat(40_000)}`;
      const cut = fitDetails(text);
      assert.ok(bytesOf(cut) <= BGRS_DETAILS_MAX_BYTES, `${bytesOf(cut)} bytes`);
      assert.ok(text.startsWith(cut), 'a prefix of the text');
      assert.ok(!cut.includes('\uFFFD'), 'no replacement character');
      assert.equal(Buffer.from(cut, 'utf8').toString('utf8'), cut);
    });
  }

  it('turns what is not a string into its text', () => {
    assert.equal(fitDetails(42 as unknown as string), '42');
  });
});
