import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readBgrsTrigger } from '../src/bgrs-trigger.js';

describe('readBgrsTrigger', () => {
  const cases: Array<{
    query: Record<string, unknown>;
    prefer?: string | string[];
    background: boolean;
    preferAsync: boolean;
  }> = [
    { query: {}, background: false, preferAsync: false },
    { query: { bgrs: 'YES' }, background: true, preferAsync: false },
    { query: { bgrs: 'True' }, background: true, preferAsync: false },
    { query: { bgrs: '1' }, background: true, preferAsync: false },
    { query: { bgrs: '' }, background: false, preferAsync: false },
    { query: { bgrs: 'No' }, background: false, preferAsync: false },
    { query: {}, prefer: 'respond-async', background: true, preferAsync: true },
    { query: {}, prefer: 'return=minimal, Respond-Async; wait=10', background: true, preferAsync: true },
    { query: {}, prefer: ['handling=lenient', 'respond-async'], background: true, preferAsync: true },
    { query: {}, prefer: 'respond-asynchronously', background: false, preferAsync: false },
    // An explicit "no" wins over the header.
    { query: { bgrs: 'no' }, prefer: 'respond-async', background: false, preferAsync: false },
    { query: { bgrs: 'yes' }, prefer: 'respond-async', background: true, preferAsync: true },
  ];
  for (const { query, prefer, background, preferAsync } of cases) {
    it(`bgrs=${JSON.stringify(query.bgrs)} Prefer=${JSON.stringify(prefer)} → background ${background}`, () => {
      assert.deepEqual(readBgrsTrigger(query, prefer), { background, preferAsync });
    });
  }

  for (const bgrs of ['maybe', 'yes ', 'y', ['yes', 'no'], { a: '1' }, 'x'.repeat(10_000)]) {
    it(`rejects bgrs=${JSON.stringify(bgrs).slice(0, 40)} with a 400 naming the accepted values`, () => {
      assert.throws(
        () => readBgrsTrigger({ bgrs }, undefined),
        (error: Error & { getStatus?: () => number }) =>
          error.getStatus?.() === 400 && /yes, 1, true/.test(error.message) && error.message.length < 300,
      );
    });
  }
});
