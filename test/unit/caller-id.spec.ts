import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toCallerId } from '../../src/options/caller-id.js';

describe('toCallerId', () => {
  const cases: Array<[unknown, number | string | null]> = [
    [7, 7],
    ['7', 7],
    [0, 0],
    [4294967295, 4294967295],
    ['4294967295', 4294967295],
    [4294967296, '4294967296'],
    ['07', '07'],
    [' 7', ' 7'],
    [-1, '-1'],
    [1.5, '1.5'],
    ['3f2504e0-4f89-11d3-9a0c-0305e82c3301', '3f2504e0-4f89-11d3-9a0c-0305e82c3301'],
    ['Alice', 'Alice'],
    ['x'.repeat(255), 'x'.repeat(255)],
    ['x'.repeat(256), null],
    ['é'.repeat(128), null],
    ['\uD800', null],
    ['', null],
    [null, null],
    [undefined, null],
    [Number.NaN, null],
    [Number.POSITIVE_INFINITY, null],
    [{ id: 7 }, null],
    [7n, null],
  ];
  for (const [id, expected] of cases) {
    it(`${typeof id === 'string' && id.length > 40 ? `${id.slice(0, 12)}… (${id.length})` : String(id)} → ${JSON.stringify(expected)?.slice(0, 40)}`, () => {
      assert.equal(toCallerId(id), expected);
    });
  }
});
