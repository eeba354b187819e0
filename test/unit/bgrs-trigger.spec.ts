import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bgrsParameterOf, readBgrsTrigger, takeBgrsParameter } from '../../src/accept/bgrs-trigger.js';

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
      const explicit = background && query.bgrs !== undefined;
      assert.deepEqual(readBgrsTrigger(query, prefer), { background, preferAsync, explicit });
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

describe('takeBgrsParameter', () => {
  it('takes bgrs out of the query and keeps it aside, leaving the other parameters and the URL', () => {
    const request = { url: '/r?year=2024&bgrs=yes', query: { year: '2024', bgrs: 'yes' } };
    takeBgrsParameter(request);
    assert.deepEqual({ ...request.query }, { year: '2024' });
    assert.deepEqual(bgrsParameterOf(request), { bgrs: 'yes' });
    assert.equal(request.url, '/r?year=2024&bgrs=yes');
  });

  it('shadows a query getter that parses anew on each read (Express 5), keeping the parser prototype', () => {
    const request = Object.create({
      get query() {
        return Object.assign(Object.create(null), { bgrs: 'no', page: '2' });
      },
    });
    request.url = '/r?bgrs=no&page=2';
    takeBgrsParameter(request);
    assert.deepEqual({ ...request.query }, { page: '2' });
    assert.equal(Object.getPrototypeOf(request.query), null);
    assert.deepEqual(bgrsParameterOf(request), { bgrs: 'no' });
  });

  it('finds a percent-encoded name, and leaves requests without bgrs untouched', () => {
    const encoded = { url: '/r?%62grs=1', query: { bgrs: '1' } };
    takeBgrsParameter(encoded);
    assert.deepEqual(bgrsParameterOf(encoded), { bgrs: '1' });
    const plain = { url: '/r?year=2024', query: { year: '2024' } };
    takeBgrsParameter(plain);
    assert.equal(bgrsParameterOf(plain), undefined);
    assert.deepEqual(plain.query, { year: '2024' });
  });
});
