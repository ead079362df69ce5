/**
 * Issue 12, medium-low items and drop-in gaps, each through HTTP: session JWT without `exp`, METRICS_TOKEN,
 * a deeply nested `payer` with an Idempotency-Key, CSV cells starting with blanks then `=`, the legacy's
 * lax coercion (nothing into a string field; "yes" into a boolean one), `estado-pago` scoped to the asking
 * router without the referencia and with unknown ids limited, and deactivation by another writer of the
 * database refused within a second (NOTIFY triggers).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import pg from 'pg';
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { testDbKind } from '../helpers/db.js';
import { keyProbe, type KeyProbe } from '../tenants/helpers.js';
import { transacciones } from '../../src/infra/db/schema.js';
import { auth, mpBody, uniq, usePaymentsShop } from '../payments/helpers.js';

describe('sessions, metrics, body shape, CSV', () => {
  let t: TestApp;
  let adminToken: string;
  let empresaId: string;
  let admin: { id: number; email: string; password: string };

  before(async () => {
    t = await startTestApp({ env: { METRICS_TOKEN: 'metrics-secret-token' } });
    empresaId = (await createEmpresa(t.ctx)).id;
    admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId });
    adminToken = await t.login(admin.email, admin.password);
  });
  after(async () => t.close());

  it('a session JWT without exp is refused (401)', async () => {
    const noExp = await new SignJWT({ sub: String(admin.id), email: admin.email, nombre: 'x', rol: 'cliente_admin', empresa_id: empresaId, iat: Math.floor(Date.now() / 1000), type: 'access_token', sv: 0 })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(t.config.jwtSessionSecret));
    const res = await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa', headers: bearer(noExp) });
    assert.equal(res.statusCode, 401, res.body);
    assert.equal((await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa', headers: bearer(adminToken) })).statusCode, 200);
  });

  it('/metrics answers only to the METRICS_TOKEN bearer when it is set', async () => {
    assert.equal((await t.request({ method: 'GET', url: '/metrics' })).statusCode, 401);
    assert.equal((await t.request({ method: 'GET', url: '/metrics', headers: bearer('wrong') })).statusCode, 401);
    const ok = await t.request({ method: 'GET', url: '/metrics', headers: bearer('metrics-secret-token') });
    assert.equal(ok.statusCode, 200);
    assert.match(ok.body, /http_request_duration|# HELP/);
  });

  it('a number or boolean sent for a string field is a 422 string_type (the legacy does not coerce)', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: admin.email, password: 12345 } });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.data.detail[0].type, 'string_type');
    assert.deepEqual(res.data.detail[0].loc, ['body', 'password']);
    const sa = await t.superAdminToken();
    const empresa = await t.request({ method: 'POST', url: '/admin/empresas', headers: bearer(sa), payload: { nombre: 12345, contacto_email: 'a@example.com' } });
    assert.equal(empresa.statusCode, 422, empresa.body);
    assert.deepEqual(empresa.data.detail[0].loc, ['body', 'nombre']);
  });

  it('integer and boolean fields keep the legacy lax conversions ("yes" → true, "no" → false, "5" → 5)', async () => {
    const sa = await t.superAdminToken();
    const off = await t.request({ method: 'PUT', url: `/admin/empresas/${empresaId}`, headers: bearer(sa), payload: { activa: 'no' } });
    assert.equal(off.statusCode, 200, off.body);
    assert.equal(off.data.empresa.activa, false);
    const on = await t.request({ method: 'PUT', url: `/admin/empresas/${empresaId}`, headers: bearer(sa), payload: { activa: 'yes' } });
    assert.equal(on.statusCode, 200, on.body);
    assert.equal(on.data.empresa.activa, true);
  });

  it('CSV cells that start with blanks then = (or full-width ＝) are neutralised', async () => {
    const r = await createRouter(t.ctx, empresaId, { host: '10.0.0.1' });
    for (const nombre of [' =HYPERLINK("http://evil")', '\u00a0=1+1', '＝1+1'])
      await t.ctx.db.orm.insert(transacciones).values({ transaccionId: `tx_${uniq()}`, empresaId, routerId: r.id, monto: '10.00', clienteNombre: nombre, estadoPago: 'paid' });
    const token = await t.login(admin.email, admin.password);
    const csv = await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa/transacciones.csv', headers: bearer(token) });
    assert.equal(csv.statusCode, 200);
    assert.match(csv.body, /"' =HYPERLINK\(""http:\/\/evil""\)"/);
    assert.ok(csv.body.includes("'\u00a0=1+1"));
    assert.ok(csv.body.includes("'＝1+1"));
  });
});

describe('payments: nested payer, estado-pago, gateway failures', () => {
  const env = usePaymentsShop();

  it('a deeply nested payer with an Idempotency-Key is a 422, not a 500', async () => {
    // Serialised by hand: JSON.stringify itself would overflow on it.
    const depth = 20_000;
    const body = JSON.stringify(mpBody(env.shop.productId)).replace(/}$/, `,"payer":${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}}`);
    const res = await env.t.request({
      method: 'POST',
      url: '/api/v1/payments/pagar-mercado-pago',
      headers: { ...auth(env.shop.apiKey), 'idempotency-key': `deep-${uniq()}`, 'content-type': 'application/json' },
      payload: body,
    });
    assert.equal(res.statusCode, 422, res.body.slice(0, 300));
  });

  it('estado-pago answers only for the asking router, never with the referencia; unknown ids are limited', async () => {
    const res = await env.t.request({ method: 'POST', url: '/api/v1/payments/pagar-mercado-pago', headers: auth(env.shop.apiKey), payload: mpBody(env.shop.productId, `inproc_pending_review_manual~${uniq()}`) });
    assert.equal(res.statusCode, 202, res.body);
    const id = res.data.id_transaccion;
    const mine = await env.t.request({ method: 'GET', url: `/api/v1/payments/estado-pago/${id}`, headers: auth(env.shop.apiKey) });
    assert.equal(mine.statusCode, 200, mine.body);
    assert.equal(mine.data.referencia, undefined);
    assert.ok(!mine.body.includes(res.data.referencia));
    // Another router of the same company (its key is public: it is in that router's login.html).
    const other = await createRouter(env.t.ctx, env.shop.empresaId, { host: '10.0.0.1' });
    const theirs = await env.t.request({ method: 'GET', url: `/api/v1/payments/estado-pago/${id}`, headers: auth(other.apiKey) });
    assert.equal(theirs.statusCode, 404);
    // Walking ids: slowed down after a few unknown ones.
    const codes: number[] = [];
    for (let i = 0; i < 14; i++) codes.push((await env.t.request({ method: 'GET', url: `/api/v1/payments/estado-pago/${900_000 + i}`, headers: auth(other.apiKey) })).statusCode);
    assert.ok(codes.includes(429), `codes ${codes}`);
  });
});

describe('deactivation by another writer of the database', () => {
  let t: TestApp;
  let probe: KeyProbe;
  let writer: { query: (sql: string, params: unknown[]) => Promise<unknown>; close: () => Promise<void> };

  before(async () => {
    t = await startTestApp();
    probe = await keyProbe(t);
    if (testDbKind() === 'postgres') {
      // A separate connection: the legacy service, or an operator's psql.
      const c = new pg.Client({ connectionString: t.database.url });
      await c.connect();
      writer = { query: (s, p) => c.query(s, p), close: () => c.end() };
    } else {
      writer = { query: (s, p) => t.ctx.db.query(s, p), close: async () => undefined };
    }
  });
  after(async () => {
    await writer.close();
    await probe.close();
    await t.close();
  });

  /** Poll the key for a while (generous for a busy machine); the fix makes it flip within a second. */
  async function refusedSoon(apiKey: string): Promise<{ status: number; data: any }> {
    let last = await probe.check(apiKey);
    for (let i = 0; i < 50 && last.status === 200; i++) {
      await sleep(100);
      last = await probe.check(apiKey);
    }
    return last;
  }

  for (const [what, sql, code] of [
    ['router', 'UPDATE routers SET activo = false WHERE id = $1', 'router_inactive'],
    ['company', 'UPDATE empresas SET activa = false WHERE id = (SELECT empresa_id FROM routers WHERE id = $1)', 'empresa_inactive'],
    ['key', 'UPDATE api_keys_tracking SET revoked = true WHERE router_id = $1', 'api_key_revoked'],
  ] as const) {
    it(`a ${what} deactivated by plain SQL is refused at once (cached verification dropped)`, async () => {
      const empresaId = (await createEmpresa(t.ctx)).id;
      const r = await createRouter(t.ctx, empresaId, { host: '10.0.0.1' });
      assert.equal((await probe.check(r.apiKey)).status, 200);
      assert.equal((await probe.check(r.apiKey)).status, 200, 'cached');
      await writer.query(sql, [r.id]);
      const after = await refusedSoon(r.apiKey);
      assert.equal(after.status, 401);
      assert.equal(after.data.code, code);
    });
  }
});
