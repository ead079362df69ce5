/** Helmet's headers, precomputed once, are on every kind of response. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { helmetHeaders } from '../../src/infra/http/security-headers.js';

const EXPECTED = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'cross-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

describe('security headers', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t?.close());

  it('are what helmet sets for our options, without a Content-Security-Policy', () => {
    const h = Object.fromEntries(Object.entries(helmetHeaders({ contentSecurityPolicy: false, crossOriginResourcePolicy: { policy: 'cross-origin' } })).map(([k, v]) => [k.toLowerCase(), v]));
    assert.deepEqual(h, EXPECTED);
  });

  for (const [what, url] of [
    ['a success', '/health'],
    ['a 404', '/no-such-path'],
    ['a 401', '/api/v1/catalogo_perfiles_venta'],
  ] as const) {
    it(`are on ${what}`, async () => {
      const res = await t.request({ method: 'GET', url });
      for (const [name, value] of Object.entries(EXPECTED)) assert.equal(res.headers[name], value, `${url}: ${name}`);
      assert.equal(res.headers['content-security-policy'], undefined);
    });
  }
});
