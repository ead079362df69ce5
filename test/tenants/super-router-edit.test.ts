import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createTenant } from '../helpers/fixtures.js';
import { routers } from '../../src/infra/db/schema.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';

describe('super admin: edit and test any company router', () => {
  let t: TestApp;
  let sim: RouterSimulator;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let b: Awaited<ReturnType<typeof createTenant>>;
  let sa: string;

  before(async () => {
    sim = await startRouterSimulator({ version: '7', identity: 'Lobby', profiles: [{ name: '1_Hora' }] });
    t = await startTestApp();
    a = await createTenant(t);
    b = await createTenant(t);
    sa = await t.superAdminToken();
  });
  after(async () => {
    await t?.close();
    await sim?.close();
  });

  const put = (token: string, empresa: string, router: string, payload: object) =>
    t.request({ method: 'PUT', url: `/admin/empresas/${empresa}/routers/${router}`, headers: bearer(token), payload });
  const test = (token: string, empresa: string, router: string) => t.request({ method: 'GET', url: `/api/v1/admin/empresas/${empresa}/routers/${router}/test-connection`, headers: bearer(token) });

  it('points a router at its device (address, credentials), audited without secrets; the test then reaches it', async () => {
    const before = await test(sa, a.empresa.id, a.router.id);
    assert.equal(before.statusCode, 200);
    assert.equal(before.data.success, false, 'the fixture router points nowhere yet');

    const res = await put(sa, a.empresa.id, a.router.id, { nombre: 'Lobby', host: sim.host, puerto: sim.port, usuario: sim.credentials.username, password_encrypted: sim.credentials.password });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.router.nombre, 'Lobby');
    assert.equal(res.data.router.puerto, sim.port);
    assert.doesNotMatch(res.body, new RegExp(sim.credentials.password));
    const [row] = await t.ctx.db.orm.select().from(routers).where(eq(routers.id, a.router.id));
    assert.equal(t.ctx.secrets.general.decrypt(row.passwordEncrypted), sim.credentials.password);

    const ok = await test(sa, a.empresa.id, a.router.id);
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.data.success, true, ok.body);
    assert.equal(ok.data.router_name, 'Lobby');
    assert.equal(ok.data.perfiles_encontrados, 2, 'default and 1_Hora');

    const audit = await t.request({ method: 'GET', url: `/admin/auditoria?empresa_id=${a.empresa.id}&accion=router.conexion_actualizada`, headers: bearer(sa) });
    const changes = audit.data.filter((r: { accion: string }) => r.accion === 'router.conexion_actualizada');
    assert.equal(changes.length, 1, JSON.stringify(audit.data.map((r: { accion: string }) => r.accion)));
    assert.equal(changes[0].usuario_email, 'superadmin@example.com');
    assert.doesNotMatch(JSON.stringify(audit.data), new RegExp(sim.credentials.password));
  });

  it("the router must belong to the company in the path; company admins cannot use these routes; bad input is a 422", async () => {
    assert.equal((await put(sa, b.empresa.id, a.router.id, { nombre: 'x' })).statusCode, 404);
    assert.equal((await test(sa, b.empresa.id, a.router.id)).statusCode, 404);
    assert.equal((await put(a.token, a.empresa.id, a.router.id, { nombre: 'x' })).statusCode, 403);
    assert.equal((await test(a.token, a.empresa.id, a.router.id)).statusCode, 403);
    assert.equal((await put(sa, a.empresa.id, a.router.id, { host: 'http://x:1/' })).statusCode, 422);
    assert.equal((await put(sa, a.empresa.id, a.router.id, { puerto: 70000 })).statusCode, 422);
    assert.equal((await put(sa, a.empresa.id, a.router.id, { nombre: null })).statusCode, 422);
    const [row] = await t.ctx.db.orm.select().from(routers).where(eq(routers.id, a.router.id));
    assert.equal(row.nombre, 'Lobby', 'nothing written by the refused requests');
  });
});
