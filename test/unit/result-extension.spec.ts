import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resultExtension } from '../../src/result-store/result-extension.js';

describe('resultExtension', () => {
  const cases: Array<[string | null, string]> = [
    ['application/json; charset=utf-8', 'json'],
    ['APPLICATION/JSON', 'json'],
    ['application/problem+json', 'json'],
    ['application/vnd.api+json; charset=utf-8', 'json'],
    ['text/csv; charset=utf-8', 'csv'],
    ['text/plain', 'txt'],
    ['text/html; charset=utf-8', 'html'],
    ['application/xml', 'xml'],
    ['text/xml', 'xml'],
    ['application/atom+xml', 'xml'],
    ['application/pdf', 'pdf'],
    ['application/octet-stream', 'bin'],
    ['image/png', 'bin'],
    ['', 'bin'],
    [null, 'bin'],
    ['  text/csv  ;  header=present', 'csv'],
  ];
  for (const [contentType, extension] of cases) {
    it(`${JSON.stringify(contentType)} → ${extension}`, () => {
      assert.equal(resultExtension(contentType), extension);
    });
  }
});
