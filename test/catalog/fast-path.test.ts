/**
 * The portal's fast path (src/modules/catalog/fast-path.ts) answers over real HTTP exactly what the Fastify
 * route answers (compared with app.inject, which never goes through the server's listener), and leaves every
 * other case to Fastify: revoked keys, missing or bad credentials, query strings, uncached bodies.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createTenant } from '../helpers/fixtures.js';
import { revokeKey } from '../../src/modules/tenants/router-service.js';

// Headers the HTTP server itself adds (light-my-request adds its own), or different on every response.
const PER_CONNECTION = new Set(['date', 'connection', 'keep-alive', 'x-request-id', 'transfer-encoding']);

const headersOf = (h: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(h)
      .filter(([k]) => !PER_CONNECTION.has(k.toLowerCase()))
      .map(([k, v]) => [k.toLowerCase(), String(v)])
      .sort(([a], [b]) => a.localeCompare(b)),
  );

describe('portal fast path: catalog and public config from the caches, same answer as the route', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let base: string;
  const answered = async () => (await t.ctx.metrics.portalFastPath.get()).values[0]?.value ?? 0;

  before(async () => {
    t = await startTestApp();
    a = await createTenant(t);
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/admin/products',
      headers: bearer(a.token),
      payload: { router_id: a.router.id, perfil_mikrotik_id: '*2', perfil_mikrotik_nombre: '1_Hora', nombre_venta: 'Ficha 1 hora', precio: 10.5, detalles: [{ texto: 'Conexión inmediata' }] },
    });
    assert.equal(res.statusCode, 201, res.body);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => t.close());

  for (const path of ['/api/v1/catalogo_perfiles_venta', '/api/v1/config/public']) {
    it(`${path}: 200 and 304 byte for byte as Fastify answers them, with Bearer or X-API-Key, any Origin`, async () => {
      const headers = { ...bearer(a.router.apiKey), origin: 'http://10.5.50.1' };
      // Through Fastify (inject never reaches the server's listener): this also fills the key and body caches.
      const viaRoute = await t.request({ method: 'GET', url: path, headers });
      assert.equal(viaRoute.statusCode, 200, viaRoute.body);
      const before = await answered();
      const viaFast = await fetch(base + path, { headers: { ...headers, 'x-request-id': 'portal-abc.1' } });
      assert.equal(await answered(), before + 1, 'answered by the fast path');
      assert.equal(viaFast.status, 200);
      assert.equal(await viaFast.text(), viaRoute.body);
      assert.deepEqual(headersOf(Object.fromEntries(viaFast.headers)), headersOf(viaRoute.headers));
      assert.equal(viaFast.headers.get('x-request-id'), 'portal-abc.1');
      assert.equal(viaFast.headers.get('access-control-allow-origin'), 'http://10.5.50.1');

      const etag = viaRoute.headers.etag as string;
      const routeNotModified = await t.request({ method: 'GET', url: path, headers: { ...headers, 'if-none-match': etag } });
      assert.equal(routeNotModified.statusCode, 304);
      const fastNotModified = await fetch(base + path, { headers: { ...headers, 'if-none-match': `W/"x", ${etag}` } });
      assert.equal(fastNotModified.status, 304);
      assert.equal(await fastNotModified.text(), '');
      assert.deepEqual(headersOf(Object.fromEntries(fastNotModified.headers)), headersOf(routeNotModified.headers));
      assert.equal(await answered(), before + 2);

      const viaHeader = await fetch(base + path, { headers: { 'x-api-key': a.router.apiKey } });
      assert.equal(viaHeader.status, 200);
      assert.equal(await viaHeader.text(), viaRoute.body);
      assert.equal(viaHeader.headers.get('access-control-allow-origin'), null);
      assert.equal(await answered(), before + 3);
    });
  }

  it('header names in any case are read; a repeated header the answer depends on goes to Fastify, which answers the same', async () => {
    const path = '/api/v1/catalogo_perfiles_venta';
    const viaRoute = await t.request({ method: 'GET', url: path, headers: bearer(a.router.apiKey) });
    // Raw header lists (rawHeaders' format), so names keep their case and repeats stay repeats.
    const get = (raw: string[]) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        // With a raw list the client adds no Host, which Node's server requires.
        const req = http.request(base + path, { headers: ['Host', new URL(base).host, ...raw] }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const before = await answered();
    const upper = await get(['AUTHORIZATION', `Bearer ${a.router.apiKey}`, 'Origin', 'http://10.5.50.1', 'X-Request-ID', 'portal-upper']);
    assert.equal(upper.status, 200);
    assert.equal(upper.body, viaRoute.body);
    assert.equal(upper.headers['x-request-id'], 'portal-upper');
    assert.equal(upper.headers['access-control-allow-origin'], 'http://10.5.50.1');
    assert.equal(await answered(), before + 1, 'answered by the fast path');

    for (const raw of [
      ['authorization', `Bearer ${a.router.apiKey}`, 'x-request-id', 'one', 'X-Request-Id', 'two'],
      ['authorization', `Bearer ${a.router.apiKey}`, 'origin', 'http://a.example', 'origin', 'http://b.example'],
      ['authorization', `Bearer ${a.router.apiKey}`, 'Authorization', 'Bearer jwt_other'],
    ]) {
      const r = await get(raw);
      assert.equal(r.status, 200, `${JSON.stringify(raw.filter((_, i) => i % 2 === 0))}: ${r.body}`);
      assert.equal(r.body, viaRoute.body);
    }
    assert.equal(await answered(), before + 1, 'the repeats were answered by Fastify');
  });

  it('everything else is Fastify: no key, a bad key, another scheme, a query string, POST; a revoked key is refused at once', async () => {
    const path = '/api/v1/catalogo_perfiles_venta';
    await t.request({ method: 'GET', url: path, headers: bearer(a.router.apiKey) });
    const before = await answered();
    const none = await fetch(base + path);
    assert.equal(none.status, 401);
    assert.equal((await none.json()).code, 'not_authenticated');
    const bad = await fetch(base + path, { headers: bearer('jwt_nope') });
    assert.equal(bad.status, 401);
    const scheme = await fetch(base + path, { headers: { authorization: `Basic ${a.router.apiKey}` } });
    assert.equal(scheme.status, 401);
    const query = await fetch(`${base}${path}?t=1`, { headers: bearer(a.router.apiKey) });
    assert.equal(query.status, 200);
    const post = await fetch(base + path, { method: 'POST', headers: bearer(a.router.apiKey) });
    assert.equal(post.status, 405);
    assert.equal(await answered(), before, 'none of those by the fast path');

    await revokeKey(t.ctx, { usuarioId: null, email: null, rol: null, ip: null }, a.empresa.id, a.router.id, a.router.keyId);
    const revoked = await fetch(base + path, { headers: bearer(a.router.apiKey) });
    assert.equal(revoked.status, 401);
    assert.equal((await revoked.json()).code, 'api_key_revoked');
    assert.equal(await answered(), before);
  });
});
