/**
 * Super admin: routers and API keys (legacy-admin.md §3.3, §2.6; legacy-transcript.md entries 15–20,
 * 58, 65–71), with the fixed defects: the api-keys list works with a persisted revoked_at, a targeted
 * revoke keeps routers.api_key_hash consistent, delete works and cascades the key history.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, type EmpresaFixture } from '../helpers/fixtures.js';
import { apiKeysTracking, productos, routers, transacciones } from '../../src/infra/db/schema.js';
import { hashApiKeyJwt } from '../../src/modules/auth/router-keys.js';
import { NAIVE_ISO, asAdmin, keyProbe, type KeyProbe } from './helpers.js';

// Tests that start a second instance on the same database (PGlite in memory cannot be shared).
const SHARED_DB = { skip: process.env.TEST_DB === 'pglite' };
const ROUTER_KEYS = ['id', 'empresa_id', 'nombre', 'host', 'puerto', 'ubicacion', 'activo', 'creado_en'];
const CREATED_KEYS = ['id', 'empresa_id', 'nombre', 'host', 'puerto', 'ubicacion', 'activo', 'api_key', 'api_key_info', 'creado_en'];
const STATUS_KEYS = ['router_id', 'has_active_key', 'key_id', 'issued_at', 'expires_at', 'expires_in_days', 'last_used', 'use_count', 'status', 'warning', 'recommendation'];
const KEY_ROW_KEYS = ['key_id', 'router_id', 'empresa_id', 'issued_at', 'expires_at', 'revoked', 'revoked_at', 'last_used', 'use_count'];
const REVOKED = { detail: 'API Key no válida o revocada', code: 'api_key_revoked' };

describe('super admin: routers and API keys', () => {
  let t: TestApp;
  let sa: ReturnType<typeof asAdmin>;
  let probe: KeyProbe;
  let empresa: EmpresaFixture;
  before(async () => {
    t = await startTestApp();
    sa = asAdmin(t, await t.superAdminToken());
    probe = await keyProbe(t);
    empresa = await createEmpresa(t.ctx);
  });
  after(async () => {
    await probe.close();
    await t.close();
  });

  const base = (e = empresa.id) => `/admin/empresas/${e}/routers`;
  const newRouter = async (extra: Record<string, unknown> = {}) => {
    const res = await sa.post(base(), { empresa_id: empresa.id, nombre: 'Router Lobby', host: '127.0.0.1', puerto: 18728, usuario: 'admin', password: 'routerpass', ubicacion: 'Lobby principal', ...extra });
    assert.equal(res.statusCode, 200, res.body);
    return res.data as { id: string; api_key: string; api_key_info: { key_id: string } };
  };
  const routerRow = async (id: string) => (await t.ctx.db.orm.select().from(routers).where(eq(routers.id, id)))[0];
  const keyRows = (routerId: string) => t.ctx.db.orm.select().from(apiKeysTracking).where(eq(apiKeysTracking.routerId, routerId));

  describe('POST .../routers (entries 15, 16)', () => {
    it('creates the router and its key with the legacy response; the RouterOS password is encrypted at rest', async () => {
      const res = await sa.post(base(), { empresa_id: empresa.id, nombre: 'Router Lobby', host: '127.0.0.1', puerto: 18728, usuario: 'admin', password: 'routerpass', ubicacion: 'Lobby principal' });
      assert.equal(res.statusCode, 200, res.body);
      const d = res.data;
      assert.deepEqual(Object.keys(d), CREATED_KEYS);
      assert.match(d.id, /^RTR_[0-9A-F]{8}$/);
      assert.equal(d.empresa_id, empresa.id);
      assert.deepEqual([d.nombre, d.host, d.puerto, d.ubicacion, d.activo], ['Router Lobby', '127.0.0.1', 18728, 'Lobby principal', true]);
      assert.match(d.creado_en, NAIVE_ISO);
      assert.deepEqual(Object.keys(d.api_key_info), ['key_id', 'issued_at', 'expires_at', 'type']);
      assert.match(d.api_key_info.key_id, /^key_[0-9a-f]{16}$/);
      assert.equal(d.api_key_info.type, 'router_api_key');
      assert.match(d.api_key_info.issued_at, NAIVE_ISO);
      assert.ok(!res.body.includes('routerpass'), 'the RouterOS password is never returned');
      assert.ok(!('usuario' in d));

      assert.match(d.api_key, /^jwt_/);
      const claims = decodeJwt(d.api_key.slice(4));
      assert.equal(claims.jti, d.api_key_info.key_id);
      assert.equal(claims.sub, d.id);
      assert.equal(claims.empresa, empresa.id);
      assert.equal(claims.iss, 'mikrotik-payment-api');
      assert.equal(claims.type, 'router_api_key');

      const row = await routerRow(d.id);
      assert.notEqual(row.passwordEncrypted, 'routerpass');
      assert.ok(!row.passwordEncrypted.includes('routerpass'));
      assert.equal(t.ctx.secrets.general.decrypt(row.passwordEncrypted), 'routerpass');
      assert.equal(row.apiKeyHash, hashApiKeyJwt(d.api_key.slice(4)));
      const keys = await keyRows(d.id);
      assert.equal(keys.length, 1);
      assert.equal(keys[0].keyHash, row.apiKeyHash);
      assert.equal(keys[0].revoked, false);

      const used = await probe.check(d.api_key);
      assert.equal(used.status, 200);
      assert.deepEqual(used.data, { router_id: d.id, empresa_id: empresa.id, key_id: d.api_key_info.key_id });
    });

    it('empresa_id in the body is optional and ignored (the path wins); puerto defaults to 8728', async () => {
      const other = await createEmpresa(t.ctx);
      const res = await sa.post(base(), { empresa_id: other.id, nombre: 'R', host: 'router.example.com', usuario: 'admin', password: '' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.data.empresa_id, empresa.id);
      assert.equal(res.data.puerto, 8728);
      const res2 = await sa.post(base(), { nombre: 'R2', host: '2001:db8::1', usuario: 'admin', password: 'x' });
      assert.equal(res2.statusCode, 200, res2.body);
    });

    it('unknown empresa → 404 "Empresa no encontrada" (entry 16)', async () => {
      const res = await sa.post(base('EMP_DOESNOTEXIST'), { empresa_id: 'EMP_DOESNOTEXIST', nombre: 'x', host: '127.0.0.1', usuario: 'a', password: 'b' });
      assert.equal(res.statusCode, 404);
      assert.equal(res.data.detail, 'Empresa no encontrada');
    });

    it('host must be an IPv4/IPv6 address or a host name of at most 50 chars; puerto 1–65535', async () => {
      for (const host of ['not a host', 'http://1.2.3.4', '999.1.1.1', '-bad.example.com', 'a'.repeat(51), 'x;/system reboot', '']) {
        const res = await sa.post(base(), { nombre: 'x', host, usuario: 'a', password: 'b' });
        assert.equal(res.statusCode, 422, `${host}: ${res.body}`);
        assert.deepEqual(res.data.detail[0].loc, ['body', 'host']);
      }
      for (const puerto of [0, 65536, -1, 'abc']) {
        const res = await sa.post(base(), { nombre: 'x', host: '10.0.0.1', puerto, usuario: 'a', password: 'b' });
        assert.equal(res.statusCode, 422, `${puerto}: ${res.body}`);
        assert.deepEqual(res.data.detail[0].loc, ['body', 'puerto']);
      }
    });

    it('missing or over-length fields → 422', async () => {
      const missing = await sa.post(base(), { host: '10.0.0.1' });
      assert.equal(missing.statusCode, 422);
      assert.deepEqual(
        missing.data.detail.map((d: { loc: string[] }) => d.loc[1]).sort(),
        ['nombre', 'password', 'usuario'],
      );
      for (const [field, len] of [['nombre', 101], ['usuario', 51], ['ubicacion', 201]] as const) {
        const res = await sa.post(base(), { nombre: 'x', host: '10.0.0.1', usuario: 'a', password: 'b', [field]: 'x'.repeat(len) });
        assert.equal(res.statusCode, 422, field);
        assert.equal(res.data.detail[0].type, 'string_too_long');
      }
    });
  });

  describe('GET .../routers and .../routers/{id} (entries 17, 18)', () => {
    it('lists the company routers in the legacy shape with X-Total-Count, and pages', async () => {
      const e = await createEmpresa(t.ctx);
      for (let i = 0; i < 3; i++) await createRouter(t.ctx, e.id);
      const res = await sa.get(base(e.id));
      assert.equal(res.statusCode, 200);
      assert.equal(res.data.length, 3);
      for (const r of res.data) assert.deepEqual(Object.keys(r), ROUTER_KEYS);
      assert.equal(res.headers['x-total-count'], '3');
      const page = await sa.get(`${base(e.id)}?limit=1&offset=2`);
      assert.deepEqual(page.data.map((r: { id: string }) => r.id), [res.data[2].id]);
      assert.equal((await sa.get(`${base(e.id)}?limit=600`)).statusCode, 422);
      assert.equal((await sa.get(base('EMP_NOPE'))).statusCode, 404);
    });

    it('gets one router; another company\'s router → 404 "Router no encontrado o no pertenece a la empresa"', async () => {
      const r = await newRouter();
      const res = await sa.get(`${base()}/${r.id}`);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(Object.keys(res.data), ROUTER_KEYS);
      assert.equal(res.data.id, r.id);
      const other = await createEmpresa(t.ctx);
      const foreign = await sa.get(`${base(other.id)}/${r.id}`);
      assert.equal(foreign.statusCode, 404);
      assert.deepEqual(foreign.data, { detail: 'Router no encontrado o no pertenece a la empresa', code: 'router_not_found' });
    });
  });

  describe('PUT .../toggle-activo (entries 70, 71)', () => {
    it('flips activo with the legacy messages; an inactive router\'s key is refused at once', async () => {
      const r = await newRouter();
      assert.equal((await probe.check(r.api_key)).status, 200);
      const off = await sa.put(`${base()}/${r.id}/toggle-activo`);
      assert.equal(off.statusCode, 200);
      assert.deepEqual(off.data, { message: 'Router desactivado correctamente', router_id: r.id, activo: false });
      assert.equal((await probe.check(r.api_key)).status, 401);
      const on = await sa.put(`${base()}/${r.id}/toggle-activo`);
      assert.deepEqual(on.data, { message: 'Router activado correctamente', router_id: r.id, activo: true });
      assert.equal((await probe.check(r.api_key)).status, 200);
      assert.equal((await sa.put(`${base()}/RTR_NOPE/toggle-activo`)).statusCode, 404);
    });
  });

  describe('request bodies', () => {
    it('body-less actions accept an empty JSON body (as the legacy ignored it); bad JSON is 422', async () => {
      const r = await newRouter();
      const headers = { authorization: `Bearer ${await t.superAdminToken()}`, 'content-type': 'application/json' };
      const toggle = await t.request({ method: 'PUT', url: `${base()}/${r.id}/toggle-activo`, headers, payload: '' });
      assert.equal(toggle.statusCode, 200, toggle.body);
      const toggleBack = await t.request({ method: 'PUT', url: `${base()}/${r.id}/toggle-activo`, headers, payload: '{}' });
      assert.equal(toggleBack.statusCode, 200, toggleBack.body);
      const regen = await t.request({ method: 'POST', url: `${base()}/${r.id}/regenerate-api-key`, headers, payload: '' });
      assert.equal(regen.statusCode, 200, regen.body);
      const broken = await t.request({ method: 'POST', url: base(), headers, payload: '{"nombre":' });
      assert.equal(broken.statusCode, 422);
      assert.equal(broken.data.detail[0].type, 'json_invalid');
      const empty = await t.request({ method: 'POST', url: base(), headers, payload: '' });
      assert.equal(empty.statusCode, 422);
      assert.deepEqual(empty.data.detail, [{ type: 'missing', loc: ['body'], msg: 'Field required' }]);
      const poisoned = await t.request({ method: 'POST', url: base(), headers, payload: '{"__proto__":{"x":1},"nombre":"x"}' });
      assert.ok(poisoned.statusCode >= 400 && poisoned.statusCode < 500, poisoned.body);
    });
  });

  describe('regenerate-api-key (entries 65–68)', () => {
    it('revokes the old key (refused at once), issues a new one, and the api-keys list works (fixed 500)', async () => {
      const r = await newRouter();
      assert.equal((await probe.check(r.api_key)).status, 200); // cached as valid
      const res = await sa.post(`${base()}/${r.id}/regenerate-api-key`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(Object.keys(res.data), ['message', 'router_id', 'new_api_key', 'api_key_info', 'previous_key_revoked']);
      assert.equal(res.data.message, 'API Key regenerada exitosamente');
      assert.equal(res.data.router_id, r.id);
      assert.equal(res.data.previous_key_revoked, true);
      assert.notEqual(res.data.api_key_info.key_id, r.api_key_info.key_id);

      const old = await probe.check(r.api_key);
      assert.equal(old.status, 401);
      assert.deepEqual(old.data, REVOKED);
      assert.equal((await probe.check(res.data.new_api_key)).status, 200);

      const row = await routerRow(r.id);
      assert.equal(row.apiKeyHash, hashApiKeyJwt(res.data.new_api_key.slice(4)));

      const list = await sa.get(`${base()}/${r.id}/api-keys`);
      assert.equal(list.statusCode, 200, list.body);
      assert.equal(list.headers['x-total-count'], '2');
      assert.equal(list.data.length, 2);
      for (const k of list.data) assert.deepEqual(Object.keys(k), KEY_ROW_KEYS);
      const [newest, previous] = list.data;
      assert.equal(newest.key_id, res.data.api_key_info.key_id);
      assert.equal(newest.revoked, false);
      assert.equal(newest.revoked_at, null);
      assert.equal(previous.key_id, r.api_key_info.key_id);
      assert.equal(previous.revoked, true);
      assert.match(previous.revoked_at, NAIVE_ISO);
      assert.ok(previous.use_count >= 0);
    });

    it('an inactive router → 400 "No se puede regenerar API key de un router inactivo"; unknown → 404', async () => {
      const r = await newRouter();
      await sa.put(`${base()}/${r.id}/toggle-activo`);
      const res = await sa.post(`${base()}/${r.id}/regenerate-api-key`);
      assert.equal(res.statusCode, 400);
      assert.equal(res.data.detail, 'No se puede regenerar API key de un router inactivo');
      assert.equal((await keyRows(r.id)).filter((k) => !k.revoked).length, 1, 'nothing changed');
      assert.equal((await sa.post(`${base()}/RTR_NOPE/regenerate-api-key`)).statusCode, 404);
    });
  });

  describe('revoke a key (entry 69) and routers.api_key_hash consistency', () => {
    it('already revoked → 400 "La API Key ya está revocada"; unknown/foreign key → 404 "API Key no encontrada"', async () => {
      const r = await newRouter();
      await sa.post(`${base()}/${r.id}/regenerate-api-key`);
      const again = await sa.post(`${base()}/${r.id}/api-keys/${r.api_key_info.key_id}/revoke`);
      assert.equal(again.statusCode, 400);
      assert.deepEqual(again.data, { detail: 'La API Key ya está revocada', code: 'api_key_already_revoked' });
      const unknown = await sa.post(`${base()}/${r.id}/api-keys/key_0000000000000000/revoke`);
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.data.detail, 'API Key no encontrada');
      const other = await newRouter();
      const foreign = await sa.post(`${base()}/${r.id}/api-keys/${other.api_key_info.key_id}/revoke`);
      assert.equal(foreign.statusCode, 404);
      assert.equal(foreign.data.detail, 'API Key no encontrada');
      assert.equal((await probe.check(other.api_key)).status, 200, 'the other router keeps its key');
    });

    it('revoking the current key: refused at once, revoked_at persisted, api_key_hash NULL, status no_key; regeneration restores', async () => {
      const r = await newRouter();
      assert.equal((await probe.check(r.api_key)).status, 200);
      const res = await sa.post(`${base()}/${r.id}/api-keys/${r.api_key_info.key_id}/revoke`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(Object.keys(res.data), ['message', 'key_id', 'router_id', 'revoked_at']);
      assert.equal(res.data.message, 'API Key revocada exitosamente');
      assert.equal(res.data.key_id, r.api_key_info.key_id);
      assert.match(res.data.revoked_at, NAIVE_ISO);

      assert.deepEqual((await probe.check(r.api_key)).data, REVOKED);
      assert.equal((await routerRow(r.id)).apiKeyHash, null, 'no stale hash of a revoked key');
      const list = await sa.get(`${base()}/${r.id}/api-keys`);
      assert.equal(list.data[0].revoked, true);
      assert.equal(list.data[0].revoked_at, res.data.revoked_at, 'revoked_at is persisted (legacy lost it)');

      const status = await sa.get(`${base()}/${r.id}/api-key-status`);
      assert.deepEqual(status.data, {
        router_id: r.id,
        has_active_key: false,
        key_id: null,
        issued_at: null,
        expires_at: null,
        expires_in_days: null,
        last_used: null,
        use_count: null,
        status: 'no_key',
        warning: null,
        recommendation: 'Generar una nueva API Key',
      });

      const regen = await sa.post(`${base()}/${r.id}/regenerate-api-key`);
      assert.equal(regen.data.previous_key_revoked, false);
      assert.equal((await routerRow(r.id)).apiKeyHash, hashApiKeyJwt(regen.data.new_api_key.slice(4)));
      assert.equal((await probe.check(regen.data.new_api_key)).status, 200);
    });

    it('the database itself refuses a second active key for one router', async () => {
      const r = await newRouter();
      const extra = await t.ctx.routerKeys.mint(r.id, empresa.id);
      await assert.rejects(t.ctx.routerKeys.track(t.ctx.db.orm, extra, r.id, empresa.id), (err: any) => (err.cause ?? err).code === '23505');
    });
  });

  describe('api-key-status (entries 19, 58)', () => {
    it('never used: the legacy warning; after use: counts, last_used, no warning', async () => {
      const r = await newRouter();
      const fresh = await sa.get(`${base()}/${r.id}/api-key-status`);
      assert.equal(fresh.statusCode, 200);
      assert.deepEqual(Object.keys(fresh.data), STATUS_KEYS);
      assert.equal(fresh.data.has_active_key, true);
      assert.equal(fresh.data.key_id, r.api_key_info.key_id);
      assert.equal(fresh.data.expires_in_days, 364);
      assert.equal(fresh.data.last_used, null);
      assert.equal(fresh.data.use_count, 0);
      assert.equal(fresh.data.status, 'active');
      assert.equal(fresh.data.warning, 'Esta API Key nunca ha sido usada');
      assert.equal(fresh.data.recommendation, 'Verificar que el cliente la esté usando correctamente');

      for (let i = 0; i < 5; i++) assert.equal((await probe.check(r.api_key)).status, 200);
      const used = await sa.get(`${base()}/${r.id}/api-key-status`);
      assert.equal(used.data.use_count, 5);
      assert.match(used.data.last_used, NAIVE_ISO);
      assert.equal(used.data.warning, null);
      assert.equal(used.data.recommendation, null);
    });

    it('warns when fewer than 30 days remain (used key)', SHARED_DB, async () => {
      const shortLived = await startTestApp({ database: t.database, env: { JWT_APIKEY_EXPIRE_DAYS: '10' } });
      try {
        const res = await asAdmin(shortLived, await shortLived.superAdminToken()).post(base(), { nombre: 'Corto', host: '10.0.0.9', usuario: 'a', password: 'b' });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal((await probe.check(res.data.api_key)).status, 200);
        const status = await sa.get(`${base()}/${res.data.id}/api-key-status`);
        assert.equal(status.data.expires_in_days, 9);
        assert.equal(status.data.warning, 'La API Key expira en 9 días');
        assert.equal(status.data.recommendation, 'Considerar regenerar la API Key pronto');
      } finally {
        await shortLived.close();
      }
    });

    it('foreign router → 404', async () => {
      const r = await newRouter();
      const other = await createEmpresa(t.ctx);
      assert.equal((await sa.get(`${base(other.id)}/${r.id}/api-key-status`)).statusCode, 404);
      assert.equal((await sa.get(`${base(other.id)}/${r.id}/api-keys`)).statusCode, 404);
    });
  });

  describe('DELETE .../routers/{id} (fixed: legacy always 500)', () => {
    it('deletes the router and its whole key history in one go; its keys are refused', async () => {
      const r = await newRouter();
      await sa.post(`${base()}/${r.id}/regenerate-api-key`);
      const res = await sa.del(`${base()}/${r.id}`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.data, { message: 'Router eliminado exitosamente', router_id: r.id, empresa_id: empresa.id });
      assert.equal(await routerRow(r.id), undefined);
      assert.equal((await keyRows(r.id)).length, 0);
      assert.deepEqual((await probe.check(r.api_key)).data, REVOKED);
      assert.equal((await sa.get(`${base()}/${r.id}`)).statusCode, 404);
      assert.equal((await sa.del(`${base()}/${r.id}`)).statusCode, 404);
    });

    it('refused with the legacy 400 text while products reference it (even soft-deleted ones)', async () => {
      const r = await newRouter();
      for (const [perfil, activo] of [['*1', true], ['*2', false]] as const) {
        await t.ctx.db.orm.insert(productos).values({ empresaId: empresa.id, routerId: r.id, perfilMikrotikId: perfil, perfilMikrotikNombre: 'p', nombreVenta: 'v', precio: '10.00', activo });
      }
      const res = await sa.del(`${base()}/${r.id}`);
      assert.equal(res.statusCode, 400);
      assert.equal(res.data.detail, 'No se puede eliminar el router porque tiene 2 producto(s) asociado(s)');
      assert.ok(await routerRow(r.id));
      assert.equal((await keyRows(r.id)).length, 1, 'nothing deleted');
      assert.equal((await probe.check(r.api_key)).status, 200);
    });

    it('refused with a clear 400 (not a 500) while transactions reference it', async () => {
      const r = await newRouter();
      await t.ctx.db.orm.insert(transacciones).values({ transaccionId: `tx_${r.id}`, empresaId: empresa.id, routerId: r.id, monto: '10.00' });
      const res = await sa.del(`${base()}/${r.id}`);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.data, { detail: 'No se puede eliminar el router porque tiene 1 transacción(es) asociada(s)', code: 'router_has_transactions' });
      assert.ok(await routerRow(r.id));
    });

    it('another company\'s router → 404', async () => {
      const r = await newRouter();
      const other = await createEmpresa(t.ctx);
      assert.equal((await sa.del(`${base(other.id)}/${r.id}`)).statusCode, 404);
      assert.ok(await routerRow(r.id));
    });
  });

  describe('audit', () => {
    it('router writes are audited with actor and IP, never with the password or key', async () => {
      const res = await t.request({
        method: 'POST',
        url: base(),
        headers: { authorization: `Bearer ${await t.superAdminToken()}` },
        remoteAddress: '203.0.113.7',
        payload: { nombre: 'Auditado', host: '10.1.1.1', usuario: 'admin', password: 'very-secret-routeros' },
      });
      assert.equal(res.statusCode, 200);
      const id = res.data.id;
      await sa.post(`${base()}/${id}/regenerate-api-key`);
      await sa.put(`${base()}/${id}/toggle-activo`);
      await sa.del(`${base()}/${id}`);
      const audit = await sa.get(`/admin/auditoria?empresa_id=${empresa.id}&limit=10`);
      const mine = audit.data.filter((a: { recurso_id: string }) => a.recurso_id === id);
      assert.deepEqual(mine.map((a: { accion: string }) => a.accion), ['router.eliminar', 'router.desactivar', 'router.regenerar_api_key', 'router.crear']);
      const created = mine[3];
      assert.equal(created.usuario_email, 'superadmin@example.com');
      assert.equal(created.rol, 'super_admin');
      assert.equal(created.ip, '203.0.113.7');
      assert.ok(!audit.body.includes('very-secret-routeros'));
      assert.ok(!audit.body.includes(res.data.api_key.slice(4, 40)));
    });
  });
});
