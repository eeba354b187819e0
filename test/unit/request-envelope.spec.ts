import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeEnvelope, encodeEnvelope, envelopeOf } from '../../src/run/queue/request-envelope.js';

function request(values: Record<string, unknown> = {}) {
  return {
    method: 'POST',
    url: '/imports?bgrs=yes&dry=1',
    headers: { 'content-type': 'application/json', 'content-length': '9', authorization: 'Bearer t' },
    body: { rows: [1] },
    ...values,
  };
}

describe('envelopeOf', () => {
  it('takes bgrs out of the URL (however it is spelled) and keeps the other parameters as sent', () => {
    const urls: Array<[string, string]> = [
      ['/r?bgrs=yes', '/r'],
      ['/r?a=1&bgrs=1&b=%20x', '/r?a=1&b=%20x'],
      ['/r?%62grs=true&a=1', '/r?a=1'],
      ['/r?bgrsx=1', '/r?bgrsx=1'],
      ['/r', '/r'],
    ];
    for (const [url, expected] of urls) {
      assert.equal(envelopeOf(request({ url, originalUrl: url }), [], 1024).url, expected, url);
    }
  });

  it('keeps the headers but those of the transfer, and the other preferences of Prefer', () => {
    const envelope = envelopeOf(
      request({ headers: { ...request().headers, prefer: 'respond-async, return=minimal', connection: 'close' } }),
      [],
      1024,
    );
    assert.deepEqual(envelope.headers, {
      'content-type': 'application/json',
      authorization: 'Bearer t',
      prefer: 'return=minimal',
    });
    assert.equal(envelopeOf(request({ headers: { prefer: 'respond-async' } }), [], 1024).headers.prefer, undefined);
  });

  it('takes the raw body when the app keeps it, else makes it again from the parsed one', () => {
    const raw = Buffer.from('{"rows": [1]}');
    assert.equal(envelopeOf(request({ rawBody: raw }), [], 1024).body, raw);
    assert.equal(envelopeOf(request(), [], 1024).body!.toString(), '{"rows":[1]}');
    const form = request({
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: { a: '1', b: 'x y' },
    });
    assert.equal(envelopeOf(form, [], 1024).body!.toString(), 'a=1&b=x%20y');
    assert.equal(envelopeOf(request({ method: 'GET', body: undefined }), [], 1024).body, undefined);
  });

  it('refuses a body beyond maxBodyBytes (413) and multipart uploads (415)', () => {
    assert.throws(
      () => envelopeOf(request({ rawBody: Buffer.alloc(11) }), [], 10),
      (error: Error & { getStatus(): number }) => error.getStatus() === 413 && /at most 10 bytes/.test(error.message),
    );
    const upload = request({ headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: { name: 'a' } });
    assert.throws(
      () => envelopeOf(upload, [], 1024),
      (error: Error & { getStatus(): number }) => error.getStatus() === 415 && /queue: false/.test(error.message),
    );
  });

  it('carries the named request properties as JSON, leaving out what JSON cannot carry', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const envelope = envelopeOf(
      request({ user: { id: 7, roles: ['a'], since: new Date('2026-01-01T00:00:00Z') }, tenant: cyclic, other: 1 }),
      ['user', 'tenant', 'missing'],
      1024,
    );
    assert.deepEqual(envelope.carried, { user: { id: 7, roles: ['a'], since: '2026-01-01T00:00:00.000Z' } });
  });
});

describe('encodeEnvelope / decodeEnvelope', () => {
  it('round-trip, binary bodies included', () => {
    const envelope = {
      method: 'PUT',
      url: '/x?y=1',
      headers: { 'x-a': ['1', '2'] },
      body: Buffer.from([0, 255, 10, 13]),
      carried: { user: { id: 'u' } },
      remoteAddress: '10.0.0.7',
    };
    assert.deepEqual(decodeEnvelope(encodeEnvelope(envelope)), envelope);
    const bodiless = { method: 'GET', url: '/', headers: {}, carried: {} };
    assert.deepEqual(decodeEnvelope(encodeEnvelope(bodiless)), { ...bodiless, body: undefined });
  });
});
