/**
 * Issue 12, "a company admin can make the server connect anywhere and write lines there": allowed router
 * networks (on save and on every connect, after DNS), never our own Redis/database, printable router
 * credentials, TLS settings through the admin endpoints (validated, never echoed), and test-connection
 * limited per company and audited. Driven through HTTP; the "services" are local TCP listeners that record
 * what reaches them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { eq } from 'drizzle-orm';
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { asAdmin } from './helpers.js';
import { routers } from '../../src/infra/db/schema.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';

/** A TCP listener standing for a service (Redis, SSH…): records every byte it gets. */
async function recorder() {
  const chunks: Buffer[] = [];
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    text: () => Buffer.concat(chunks).toString('latin1'),
    get connections() {
      return connections;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('allowed router networks: the default', () => {
  let t: TestApp;
  let sa: ReturnType<typeof asAdmin>;
  let empresaId: string;
  let token: string;
  let routerId: string;

  before(async () => {
    // Empty: the default (every unicast address except loopback, link-local, metadata…).
    t = await startTestApp({ env: { ROUTER_ALLOWED_NETWORKS: '' } });
    sa = asAdmin(t, await t.superAdminToken());
    empresaId = (await createEmpresa(t.ctx)).id;
    routerId = (await createRouter(t.ctx, empresaId, { host: '10.0.0.1' })).id;
    const admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId });
    token = await t.login(admin.email, admin.password);
  });
  after(async () => t.close());

  const put = (body: object) => t.request({ method: 'PUT', url: `/api/v1/admin/mi-empresa/routers/${routerId}`, headers: bearer(token), payload: body });

  for (const host of ['127.0.0.1', '127.1.2.3', '169.254.169.254', '0.0.0.0', 'fe80::1', '::1', '::ffff:127.0.0.1', '224.0.0.1', '255.255.255.255', 'localhost']) {
    it(`refuses ${host} on save (company admin and super admin): 422 with a clear message`, async () => {
      const res = await put({ host });
      assert.equal(res.statusCode, 422, res.body);
      assert.match(JSON.stringify(res.data.detail), /no permitido/);
      const created = await sa.post(`/admin/empresas/${empresaId}/routers`, { nombre: 'X', host, usuario: 'admin', password: 'x' });
      assert.equal(created.statusCode, 422, created.body);
    });
  }

  it('accepts a private or public unicast address', async () => {
    for (const host of ['10.20.30.40', '192.168.88.1', '203.0.113.9', '2001:db8::1']) assert.equal((await put({ host })).statusCode, 200, host);
  });
});

describe('allowed router networks: a configured list, our own services, DNS', () => {
  let t: TestApp;
  let redis: Awaited<ReturnType<typeof recorder>>;
  let sim: RouterSimulator;
  let empresaId: string;
  let token: string;
  let routerId: string;

  before(async () => {
    redis = await recorder();
    sim = await startRouterSimulator({ version: '7' });
    // Loopback allowed (as in the demo), and our "Redis" is on loopback too: it must stay unreachable.
    t = await startTestApp({ env: { ROUTER_ALLOWED_NETWORKS: '127.0.0.1/32', REDIS_URL: `redis://127.0.0.1:${redis.port}`, ROUTER_TESTS_PER_MINUTE: '3' } });
    empresaId = (await createEmpresa(t.ctx)).id;
    routerId = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).id;
    const admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId });
    token = await t.login(admin.email, admin.password);
  });
  after(async () => {
    await t.close();
    await sim.close();
    await redis.close();
  });

  const put = (body: object) => t.request({ method: 'PUT', url: `/api/v1/admin/mi-empresa/routers/${routerId}`, headers: bearer(token), payload: body });
  const testConnection = (id = routerId) => t.request({ method: 'GET', url: `/api/v1/admin/routers/${id}/test-connection`, headers: bearer(token) });

  it('router user and password: printable only (CR/LF refused), on both admin endpoints', async () => {
    for (const body of [{ usuario: 'x\r\nSET pwned 1\r\nx' }, { password_encrypted: 'a\nb' }, { usuario: 'tab\there' }]) {
      const res = await put(body);
      assert.equal(res.statusCode, 422, JSON.stringify(body));
    }
    const sa = asAdmin(t, await t.superAdminToken());
    const res = await sa.post(`/admin/empresas/${empresaId}/routers`, { nombre: 'X', host: '127.0.0.1', usuario: 'x\r\nSET pwned 1\r\nx', password: 'x' });
    assert.equal(res.statusCode, 422, res.body);
  });

  it('never our own Redis: refused on save, and a row written behind our back is refused on connect (nothing written there)', async () => {
    const saved = await put({ host: '127.0.0.1', puerto: redis.port });
    assert.equal(saved.statusCode, 422, saved.body);
    assert.match(JSON.stringify(saved.data.detail), /servicio interno/);
    // Another writer (plain SQL) points a router at Redis with a CR/LF user: the connect refuses it.
    const evil = await createRouter(t.ctx, empresaId, { host: '127.0.0.1', puerto: redis.port, usuario: 'x\r\nSET pwned 1\r\nx', password: 'xyz' });
    const res = await testConnection(evil.id);
    assert.equal(res.data.success, false);
    assert.doesNotMatch(redis.text(), /SET pwned|\/login/);
    await t.ctx.db.orm.update(routers).set({ usuario: 'admin' }).where(eq(routers.id, evil.id));
    const again = await testConnection(evil.id);
    assert.equal(again.data.success, false);
    assert.match(again.data.error, /no permitido/);
    assert.doesNotMatch(redis.text(), /\/login/);
  });

  it('a name is checked after resolution, on save and again on every connect', async () => {
    const other = await startTestApp({ database: t.database, env: { ROUTER_ALLOWED_NETWORKS: '10.0.0.0/8' } });
    try {
      // localhost resolves to loopback, outside 10/8: refused on save…
      const admin = await createUser(other.ctx, { rol: 'cliente_admin', empresaId });
      const tok = await other.login(admin.email, admin.password);
      const r = await createRouter(other.ctx, empresaId, { host: '10.0.0.1', password: 'xyz' });
      const saved = await other.request({ method: 'PUT', url: `/api/v1/admin/mi-empresa/routers/${r.id}`, headers: bearer(tok), payload: { host: 'localhost', puerto: sim.port } });
      assert.equal(saved.statusCode, 422, saved.body);
      // …and a name stored when it resolved elsewhere is refused when it is dialled.
      await other.ctx.db.orm.update(routers).set({ host: 'localhost', puerto: sim.port }).where(eq(routers.id, r.id));
      const before = sim.connections.total;
      const res = await other.request({ method: 'GET', url: `/api/v1/admin/routers/${r.id}/test-connection`, headers: bearer(tok) });
      assert.equal(res.data.success, false);
      assert.match(res.data.error, /no permitido/);
      assert.equal(sim.connections.total, before, 'no connection was made');
    } finally {
      await other.close();
    }
  });

  it('TLS settings: editable, validated, never echoed back in full', async () => {
    assert.equal((await put({ tls_fingerprint: 'not-a-fingerprint' })).statusCode, 422);
    assert.equal((await put({ tls_ca: '-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----' })).statusCode, 422);
    const fp = 'AB:'.repeat(31) + 'CD';
    const res = await put({ tls: false, tls_fingerprint: fp });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.router.tls, false);
    assert.equal(res.data.router.tls_fingerprint, '…ABCD');
    assert.doesNotMatch(res.body, /AB:AB:AB/);
    const [row] = await t.ctx.db.orm.select().from(routers).where(eq(routers.id, routerId));
    assert.equal(row.tlsFingerprint, fp);
    assert.equal((await put({ tls: null, tls_fingerprint: null })).statusCode, 200);
  });

  it('test-connection is limited per company (429 with Retry-After) and every call is audited', async () => {
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await testConnection()).statusCode);
    // Earlier tests of this file used some of the company's 3 per minute.
    assert.ok(codes.includes(429), `codes ${codes}`);
    const limited = await testConnection();
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    const rows = await t.ctx.db.query<{ n: string }>(`SELECT count(*) AS n FROM auditoria WHERE accion = 'router.probar_conexion' AND empresa_id = $1`, [empresaId]);
    assert.ok(Number(rows[0].n) >= 5);
  });
});
