import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT } from 'jose';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createTenant, createUser } from '../helpers/fixtures.js';
import { empresas, routers, usuarios } from '../../src/infra/db/schema.js';

const ROUTER_ENDPOINT = '/api/v1/config/public';
const SUPER_ENDPOINT = '/admin/dashboard';
const CLIENTE_ENDPOINT = '/api/v1/admin/mi-empresa';

const enc = (s: string) => new TextEncoder().encode(s);

async function routerJwt(secret: string, claims: Record<string, unknown>, alg = 'HS256') {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(enc(secret));
}

describe('credentials: the token-confusion matrix', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof createTenant>>;
  before(async () => {
    t = await startTestApp();
    tenant = await createTenant(t);
  });
  after(async () => t.close());

  const get = (url: string, headers: Record<string, string> = {}) => t.request({ method: 'GET', url, headers });
  const expect401 = async (url: string, headers: Record<string, string>, detail: string) => {
    const res = await get(url, headers);
    assert.equal(res.statusCode, 401, `${url} ${JSON.stringify(headers).slice(0, 80)} → ${res.body}`);
    assert.equal(res.data.detail, detail);
    assert.equal(typeof res.data.code, 'string');
  };

  it('a router key works in Authorization: Bearer and in X-API-Key', async () => {
    assert.equal((await get(ROUTER_ENDPOINT, bearer(tenant.router.apiKey))).statusCode, 200);
    assert.equal((await get(ROUTER_ENDPOINT, { 'x-api-key': tenant.router.apiKey })).statusCode, 200);
  });

  it('missing or malformed credentials are 401 (the legacy answered 403)', async () => {
    for (const url of [ROUTER_ENDPOINT, SUPER_ENDPOINT, CLIENTE_ENDPOINT]) {
      await expect401(url, {}, 'Not authenticated');
      await expect401(url, { authorization: '' }, 'Not authenticated');
      await expect401(url, { authorization: 'Bearer' }, 'Not authenticated');
      await expect401(url, { authorization: 'Basic dXNlcjpwYXNz' }, 'Invalid authentication credentials');
    }
  });

  it('router endpoints refuse session tokens and bad keys with the legacy texts, never 500', async () => {
    const session = await t.superAdminToken();
    await expect401(ROUTER_ENDPOINT, bearer(session), 'Formato de API Key inválido');
    await expect401(ROUTER_ENDPOINT, bearer('jwt_' + session), 'API Key inválida');
    await expect401(ROUTER_ENDPOINT, bearer('jwt_garbage'), 'API Key inválida');
    await expect401(ROUTER_ENDPOINT, bearer('jwt_'), 'API Key inválida');
    const claims = { jti: tenant.router.keyId, iss: 'mikrotik-payment-api', sub: tenant.router.id, empresa: tenant.empresa.id, iat: Date.now() / 1000, exp: Date.now() / 1000 + 3600, type: 'router_api_key' };
    await expect401(ROUTER_ENDPOINT, bearer('jwt_' + new UnsecuredJWT(claims).encode()), 'API Key inválida');
    await expect401(ROUTER_ENDPOINT, bearer('jwt_' + (await routerJwt('wrong-secret-wrong-secret-wrong', claims))), 'API Key inválida');
    await expect401(ROUTER_ENDPOINT, bearer('jwt_' + (await routerJwt(t.config.jwtApikeySecret, claims, 'HS512'))), 'API Key inválida');
    // Right secret, but not a key we issued (not tracked): refused as revoked/unknown.
    await expect401(ROUTER_ENDPOINT, bearer('jwt_' + (await routerJwt(t.config.jwtApikeySecret, claims))), 'API Key no válida o revocada');
    // Right secret, wrong token type.
    await expect401(ROUTER_ENDPOINT, bearer('jwt_' + (await routerJwt(t.config.jwtApikeySecret, { ...claims, type: 'access_token' }))), 'API Key inválida');
    const expired = { ...claims, iat: Date.now() / 1000 - 7200, exp: Date.now() / 1000 - 3600 };
    await expect401(ROUTER_ENDPOINT, bearer('jwt_' + (await routerJwt(t.config.jwtApikeySecret, expired))), 'API Key expirada');
    // Tampered payload of a real key.
    const [h, p, s] = tenant.router.apiKey.slice(4).split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    payload.sub = 'RTR_00000000';
    await expect401(ROUTER_ENDPOINT, bearer(`jwt_${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`), 'API Key inválida');
  });

  it('session endpoints refuse router keys and bad tokens with the legacy texts', async () => {
    const sa = await t.login('superadmin@example.com', 'SuperAdmin123!');
    assert.equal((await get(SUPER_ENDPOINT, bearer(sa))).statusCode, 200);
    await expect401(SUPER_ENDPOINT, bearer(tenant.router.apiKey), 'Token inválido');
    await expect401(SUPER_ENDPOINT, bearer(tenant.router.apiKey.slice(4)), 'Token inválido');
    await expect401(SUPER_ENDPOINT, bearer('garbage'), 'Token inválido');
    const base = { sub: '1', email: 'superadmin@example.com', nombre: 'x', rol: 'super_admin', empresa_id: null, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600, type: 'access_token' };
    await expect401(SUPER_ENDPOINT, bearer(new UnsecuredJWT(base).encode()), 'Token inválido');
    await expect401(SUPER_ENDPOINT, bearer(await routerJwt('another-secret-another-secret-xx', base)), 'Token inválido');
    await expect401(SUPER_ENDPOINT, bearer(await routerJwt(t.config.jwtSessionSecret, { ...base, sub: 'abc' })), 'Token inválido');
    await expect401(SUPER_ENDPOINT, bearer(await routerJwt(t.config.jwtSessionSecret, { ...base, sub: undefined })), 'Token inválido');
    await expect401(SUPER_ENDPOINT, bearer(await routerJwt(t.config.jwtSessionSecret, { ...base, type: 'router_api_key' })), 'Token inválido');
    await expect401(SUPER_ENDPOINT, bearer(await routerJwt(t.config.jwtSessionSecret, { ...base, exp: base.iat - 10 })), 'Token expirado');
    await expect401(SUPER_ENDPOINT, bearer(await routerJwt(t.config.jwtSessionSecret, { ...base, sub: '999999' })), 'Usuario no activo');
  });

  it('roles are strict: 403 with the legacy texts', async () => {
    const cliente = await get(SUPER_ENDPOINT, bearer(tenant.token));
    assert.equal(cliente.statusCode, 403);
    assert.equal(cliente.data.detail, 'Se requiere rol SUPER_ADMIN');
    const sa = await get(CLIENTE_ENDPOINT, bearer(await t.superAdminToken()));
    assert.equal(sa.statusCode, 403);
    assert.equal(sa.data.detail, 'Se requiere rol CLIENTE_ADMIN');
  });

  it('an inactive user, router or company is refused at once', async () => {
    const other = await createTenant(t);
    assert.equal((await get(CLIENTE_ENDPOINT, bearer(other.token))).statusCode, 200);
    await t.ctx.db.orm.update(usuarios).set({ activo: false }).where(eq(usuarios.id, other.admin.id));
    await expect401(CLIENTE_ENDPOINT, bearer(other.token), 'Usuario no activo');

    const e = await createEmpresa(t.ctx);
    const r = await createRouter(t.ctx, e.id);
    const admin = await createUser(t.ctx, { empresaId: e.id });
    const adminToken = await t.login(admin.email, admin.password);
    assert.equal((await get(ROUTER_ENDPOINT, bearer(r.apiKey))).statusCode, 200);
    await t.ctx.db.orm.update(routers).set({ activo: false }).where(eq(routers.id, r.id));
    await t.ctx.bus.publish(`router:${r.id}`);
    await expect401(ROUTER_ENDPOINT, bearer(r.apiKey), 'Router no activo');
    await t.ctx.db.orm.update(routers).set({ activo: true }).where(eq(routers.id, r.id));
    await t.ctx.db.orm.update(empresas).set({ activa: false }).where(eq(empresas.id, e.id));
    await t.ctx.bus.publish(`empresa:${e.id}`);
    await expect401(ROUTER_ENDPOINT, bearer(r.apiKey), 'Empresa no activa');
    await expect401(CLIENTE_ENDPOINT, bearer(adminToken), 'Empresa no activa');
  });

  it('steady-state key checks hit the cache and usage is counted without losing updates', async () => {
    const e = await createEmpresa(t.ctx);
    const r = await createRouter(t.ctx, e.id);
    // prom-client hands out live objects: read the numbers at once.
    const hits = async () => (await t.ctx.metrics.routerKeyCache.get()).values.find((v) => v.labels.outcome === 'hit')?.value ?? 0;
    const hitsBefore = await hits();
    const results = await Promise.all(Array.from({ length: 50 }, () => get(ROUTER_ENDPOINT, bearer(r.apiKey))));
    assert.deepEqual([...new Set(results.map((x) => x.statusCode))], [200]);
    const later = await Promise.all(Array.from({ length: 30 }, () => get(ROUTER_ENDPOINT, { 'x-api-key': r.apiKey })));
    assert.deepEqual([...new Set(later.map((x) => x.statusCode))], [200]);
    assert.ok((await hits()) - hitsBefore >= 30, 'the second wave is served from the cache');
    await t.ctx.routerKeys.flushUsage();
    const rows = await t.ctx.db.query<{ use_count: number; last_used: string | null }>(`SELECT use_count, last_used FROM api_keys_tracking WHERE key_id = $1`, [r.keyId]);
    assert.equal(rows[0].use_count, 80);
    assert.ok(rows[0].last_used);
  });
});

describe('credentials when both JWT secrets are the same', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { JWT_APIKEY_SECRET: 'one-shared-secret-0123456789abcdef', JWT_SESSION_SECRET: 'one-shared-secret-0123456789abcdef' } });
  });
  after(async () => t.close());

  it('a session token is still not a router key, and a router key is still not a session', async () => {
    const tenant = await createTenant(t);
    const asKey = await t.request({ method: 'GET', url: ROUTER_ENDPOINT, headers: bearer('jwt_' + tenant.token) });
    assert.equal(asKey.statusCode, 401);
    assert.equal(asKey.data.detail, 'API Key inválida');
    const asSession = await t.request({ method: 'GET', url: CLIENTE_ENDPOINT, headers: bearer(tenant.router.apiKey.slice(4)) });
    assert.equal(asSession.statusCode, 401);
    assert.equal(asSession.data.detail, 'Token inválido');
  });
});

describe('revocation across instances', { skip: process.env.TEST_DB === 'pglite' }, () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    a = await startTestApp();
    b = await startTestApp({ database: a.database });
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  async function refusedWithin(app: TestApp, apiKey: string, ms: number): Promise<number> {
    const start = Date.now();
    for (;;) {
      const res = await app.request({ method: 'GET', url: ROUTER_ENDPOINT, headers: bearer(apiKey) });
      if (res.statusCode === 401) return Date.now() - start;
      assert.equal(res.statusCode, 200);
      if (Date.now() - start > ms) assert.fail(`still accepted after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('a key revoked through one instance is refused by the other within 1 s', async () => {
    const tenant = await createTenant(a);
    assert.equal((await a.request({ method: 'GET', url: ROUTER_ENDPOINT, headers: bearer(tenant.router.apiKey) })).statusCode, 200);
    const sa = await b.superAdminToken();
    const revoke = await b.request({
      method: 'POST',
      url: `/admin/empresas/${tenant.empresa.id}/routers/${tenant.router.id}/api-keys/${tenant.router.keyId}/revoke`,
      headers: bearer(sa),
    });
    assert.equal(revoke.statusCode, 200, revoke.body);
    await refusedWithin(a, tenant.router.apiKey, 1000);
  });

  it('a router deactivated through one instance is refused by the other within 1 s', async () => {
    const tenant = await createTenant(a);
    assert.equal((await a.request({ method: 'GET', url: ROUTER_ENDPOINT, headers: bearer(tenant.router.apiKey) })).statusCode, 200);
    const sa = await b.superAdminToken();
    const toggle = await b.request({ method: 'PUT', url: `/admin/empresas/${tenant.empresa.id}/routers/${tenant.router.id}/toggle-activo`, headers: bearer(sa) });
    assert.equal(toggle.statusCode, 200, toggle.body);
    assert.equal(toggle.data.activo, false);
    await refusedWithin(a, tenant.router.apiKey, 1000);
  });
});
