/**
 * Our CORS hook answers exactly as @fastify/cors with the delegator it replaced: a differential test over
 * paths (portal / admin), origins (none, allowed, foreign) and request kinds (simple, preflights).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import fastifyCors from '@fastify/cors';
import { registerCors, type CorsPolicy } from '../../src/infra/http/cors.js';
import { PORTAL_CORS, isPortalApiPath } from '../../src/modules/portal/cors.js';
import type { App } from '../../src/infra/http/types.js';

const CONFIGS: Array<{ name: string; configured: CorsPolicy }> = [
  { name: 'origin list', configured: { origin: ['https://panel.example.com'], credentials: true, methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] } },
  { name: 'no origins', configured: { origin: false, credentials: true, methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] } },
  { name: 'any origin', configured: { origin: true, credentials: false, methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] } },
];

async function build(kind: 'ours' | 'plugin', configured: CorsPolicy) {
  const app = Fastify();
  if (kind === 'ours') registerCors(app as unknown as App, (url) => (isPortalApiPath(url) ? PORTAL_CORS : configured));
  else {
    const portal = { ...PORTAL_CORS, methods: [...PORTAL_CORS.methods] };
    const admin = { origin: configured.origin as boolean | string[], credentials: configured.credentials, methods: [...configured.methods] };
    await app.register(fastifyCors, { delegator: (req, cb) => cb(null, isPortalApiPath(req.url ?? '') ? portal : admin) });
  }
  app.get('/api/v1/catalogo_perfiles_venta', async () => ({ ok: true }));
  app.post('/api/v1/auth/login', async () => ({ ok: true }));
  await app.ready();
  return app;
}

const pick = (h: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('access-control-') || k === 'vary' || k === 'content-length' || k === 'content-type'));

describe('CORS hook', () => {
  for (const { name, configured } of CONFIGS) {
    it(`matches @fastify/cors (${name})`, async () => {
      const ours = await build('ours', configured);
      const plugin = await build('plugin', configured);
      let compared = 0;
      for (const url of ['/api/v1/catalogo_perfiles_venta', '/api/v1/auth/login', '/no/such/path']) {
        for (const origin of [undefined, 'https://panel.example.com', 'http://10.5.50.1']) {
          for (const [method, extra] of [
            ['GET', {}],
            ['POST', {}],
            ['OPTIONS', { 'access-control-request-method': 'POST' }],
            ['OPTIONS', { 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,idempotency-key' }],
            ['OPTIONS', {}],
          ] as const) {
            const req = { method, url, headers: { ...(origin ? { origin } : {}), ...extra } } as const;
            const [a, b] = await Promise.all([ours.inject(req), plugin.inject(req)]);
            const where = `${method} ${url} origin=${origin} ${JSON.stringify(extra)}`;
            assert.equal(a.statusCode, b.statusCode, where);
            assert.deepEqual(pick(a.headers), pick(b.headers), where);
            assert.equal(a.body, b.body, where);
            compared++;
          }
        }
      }
      assert.equal(compared, 45);
      await ours.close();
      await plugin.close();
    });
  }
});
