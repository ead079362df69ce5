/**
 * Super admin: companies and dashboards (legacy-admin.md §3.2; legacy-transcript.md entries 9–14, 21, 30),
 * plus the new GET/PUT /admin/empresas/{id} and the deactivation fix.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { empresas } from '../../src/infra/db/schema.js';
import { MASK } from '../../src/infra/crypto/secrets.js';
import { NAIVE_ISO, asAdmin, keyProbe, type KeyProbe } from './helpers.js';

// Tests that start a second instance on the same database (PGlite in memory cannot be shared).
const SHARED_DB = { skip: process.env.TEST_DB === 'pglite' };
const EMPRESA_KEYS = ['id', 'nombre', 'contacto_email', 'contacto_telefono', 'conekta_mode', 'activa', 'creada_en'];
const DEFAULT_PRIVATE = 'key_env_default_private_123';
const DEFAULT_PUBLIC = 'key_env_default_public_456';

describe('super admin: empresas', () => {
  let t: TestApp;
  let sa: ReturnType<typeof asAdmin>;
  let probe: KeyProbe;
  before(async () => {
    t = await startTestApp({ env: { CONEKTA_DEFAULT_PRIVATE_KEY: DEFAULT_PRIVATE, CONEKTA_DEFAULT_PUBLIC_KEY: DEFAULT_PUBLIC } });
    sa = asAdmin(t, await t.superAdminToken());
    probe = await keyProbe(t);
  });
  after(async () => {
    await probe.close();
    await t.close();
  });

  const stored = async (id: string) => (await t.ctx.db.orm.select().from(empresas).where(eq(empresas.id, id)))[0];

  describe('credentials (entries 9, 10, 30)', () => {
    it('no Authorization header → 401 "Not authenticated" (legacy 403, fixed)', async () => {
      const res = await t.request({ method: 'GET', url: '/admin/empresas' });
      assert.equal(res.statusCode, 401);
      assert.equal(res.data.detail, 'Not authenticated');
    });

    it('garbage bearer → 401 "Token inválido"', async () => {
      const res = await t.request({ method: 'GET', url: '/admin/empresas', headers: bearer('garbage.token.here') });
      assert.equal(res.statusCode, 401);
      assert.equal(res.data.detail, 'Token inválido');
    });

    it('a cliente_admin → 403 "Se requiere rol SUPER_ADMIN"', async () => {
      const e = await createEmpresa(t.ctx);
      const u = await createUser(t.ctx, { empresaId: e.id });
      const token = await t.login(u.email, u.password);
      for (const [method, url] of [
        ['GET', '/admin/empresas'],
        ['POST', '/admin/empresas'],
        ['GET', '/admin/dashboard'],
        ['GET', '/admin/usuarios'],
        ['GET', '/admin/auditoria'],
      ] as const) {
        const res = await t.request({ method, url, headers: bearer(token), payload: method === 'POST' ? {} : undefined });
        assert.equal(res.statusCode, 403, `${method} ${url}`);
        assert.equal(res.data.detail, 'Se requiere rol SUPER_ADMIN');
      }
    });

    it('the super admin on a company-admin endpoint → 403 "Se requiere rol CLIENTE_ADMIN" (entry 31)', async () => {
      const res = await sa.get('/api/v1/admin/mi-empresa');
      assert.equal(res.statusCode, 403);
      assert.equal(res.data.detail, 'Se requiere rol CLIENTE_ADMIN');
    });

    it('a router API key is refused on admin endpoints', async () => {
      const e = await createEmpresa(t.ctx);
      const r = await createRouter(t.ctx, e.id);
      const res = await t.request({ method: 'GET', url: '/admin/empresas', headers: bearer(r.apiKey) });
      assert.equal(res.statusCode, 401);
      assert.equal(res.data.detail, 'Token inválido');
    });

    it('authentication is checked before the body is validated', async () => {
      const res = await t.request({ method: 'POST', url: '/admin/empresas', payload: { nombre: 'x'.repeat(500) } });
      assert.equal(res.statusCode, 401);
    });
  });

  describe('POST /admin/empresas (entries 11, 12)', () => {
    it('creates with the legacy response shape, no secrets, defaults from CONEKTA_DEFAULT_*', async () => {
      const res = await sa.post('/admin/empresas', { nombre: 'Hotspot Demo SA', contacto_email: 'contacto@demo.example.com', contacto_telefono: '5551234567' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(Object.keys(res.data), EMPRESA_KEYS);
      assert.match(res.data.id, /^EMP_[0-9A-F]{10}$/);
      assert.equal(res.data.nombre, 'Hotspot Demo SA');
      assert.equal(res.data.contacto_email, 'contacto@demo.example.com');
      assert.equal(res.data.contacto_telefono, '5551234567');
      assert.equal(res.data.conekta_mode, 'test');
      assert.equal(res.data.activa, true);
      assert.match(res.data.creada_en, NAIVE_ISO);

      const row = await stored(res.data.id);
      assert.notEqual(row.conektaPrivateKey, DEFAULT_PRIVATE, 'private key must be encrypted at rest');
      assert.equal(t.ctx.secrets.general.decrypt(row.conektaPrivateKey), DEFAULT_PRIVATE);
      assert.equal(row.conektaPublicKey, DEFAULT_PUBLIC);
      assert.equal(row.notificacionesTelegram, false);
    });

    it('stores given Conekta keys (private one encrypted) and never echoes them', async () => {
      const res = await sa.post('/admin/empresas', {
        nombre: 'Con llaves',
        contacto_email: 'a@example.com',
        conekta_private_key: 'key_PRIVATE_given_999',
        conekta_public_key: 'key_PUBLIC_given_999',
        conekta_mode: 'live',
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(!res.body.includes('key_PRIVATE_given_999') && !res.body.includes('key_PUBLIC_given_999'));
      assert.equal(res.data.conekta_mode, 'live');
      const row = await stored(res.data.id);
      assert.equal(t.ctx.secrets.general.decrypt(row.conektaPrivateKey), 'key_PRIVATE_given_999');
      assert.ok(!row.conektaPrivateKey.includes('key_PRIVATE_given_999'));
      assert.equal(row.conektaPublicKey, 'key_PUBLIC_given_999');
    });

    it('falls back to the legacy literal keys when CONEKTA_DEFAULT_* are empty', SHARED_DB, async () => {
      const other = await startTestApp({ database: t.database, env: { CONEKTA_DEFAULT_PRIVATE_KEY: '', CONEKTA_DEFAULT_PUBLIC_KEY: '' } });
      try {
        const res = await asAdmin(other, await other.superAdminToken()).post('/admin/empresas', { nombre: 'Sin env', contacto_email: 'x@example.com' });
        assert.equal(res.statusCode, 200, res.body);
        const row = await stored(res.data.id);
        assert.equal(t.ctx.secrets.general.decrypt(row.conektaPrivateKey), 'key_test_default');
        assert.equal(row.conektaPublicKey, 'key_test_default_pub');
      } finally {
        await other.close();
      }
    });

    it('missing nombre → 422 in the pydantic shape (entry 12)', async () => {
      const res = await sa.post('/admin/empresas', { contacto_email: 'x@example.com' });
      assert.equal(res.statusCode, 422);
      assert.equal(res.data.code, 'validation_error');
      assert.deepEqual(res.data.detail, [{ type: 'missing', loc: ['body', 'nombre'], msg: 'Field required' }]);
    });

    it('over-length fields → 422, never a database error', async () => {
      for (const [field, len] of [
        ['nombre', 101],
        ['contacto_email', 101],
        ['contacto_telefono', 21],
        ['conekta_mode', 11],
        ['conekta_private_key', 101],
        ['conekta_public_key', 101],
      ] as const) {
        const body: Record<string, string> = { nombre: 'N', contacto_email: 'c@example.com', [field]: 'x'.repeat(len) };
        const res = await sa.post('/admin/empresas', body);
        assert.equal(res.statusCode, 422, `${field}: ${res.body}`);
        assert.equal(res.data.detail[0].type, 'string_too_long');
        assert.deepEqual(res.data.detail[0].loc, ['body', field]);
      }
      const atLimit = await sa.post('/admin/empresas', { nombre: 'n'.repeat(100), contacto_email: 'c'.repeat(100), contacto_telefono: '1'.repeat(20) });
      assert.equal(atLimit.statusCode, 200, atLimit.body);
    });

    it('a NUL character → 422, never a database error', async () => {
      const res = await sa.post('/admin/empresas', { nombre: 'a\u0000b', contacto_email: 'c@example.com' });
      assert.equal(res.statusCode, 422);
      assert.deepEqual(res.data.detail[0].loc, ['body', 'nombre']);
    });
  });

  describe('GET /admin/empresas (entry 13) and paging', () => {
    it('answers the legacy array, with X-Total-Count, and pages', async () => {
      const all = await sa.get('/admin/empresas');
      assert.equal(all.statusCode, 200);
      assert.ok(Array.isArray(all.data));
      for (const e of all.data) assert.deepEqual(Object.keys(e), EMPRESA_KEYS);
      const total = Number(all.headers['x-total-count']);
      assert.equal(total, all.data.length);
      assert.ok(total >= 3);

      const page = await sa.get('/admin/empresas?limit=2&offset=1');
      assert.equal(page.statusCode, 200);
      assert.equal(page.data.length, 2);
      assert.deepEqual(page.data.map((e: { id: string }) => e.id), all.data.slice(1, 3).map((e: { id: string }) => e.id));
      assert.equal(Number(page.headers['x-total-count']), total);
    });

    it('limit/offset out of range → 422', async () => {
      for (const q of ['limit=0', 'limit=501', 'offset=-1', 'limit=abc', 'offset=99999999999']) {
        const res = await sa.get(`/admin/empresas?${q}`);
        assert.equal(res.statusCode, 422, q);
        assert.equal(res.data.detail[0].loc[0], 'query');
      }
    });

    it('rows with NULLs the legacy schema forbade in the response are listed, not a 500 (weakness 9.2-17)', async () => {
      const e = await createEmpresa(t.ctx, { contactoEmail: null, conektaMode: null, activa: null });
      const res = await sa.get('/admin/empresas?limit=500');
      assert.equal(res.statusCode, 200);
      const row = res.data.find((x: { id: string }) => x.id === e.id);
      assert.equal(row.contacto_email, null);
      assert.equal(row.activa, true);
    });
  });

  describe('GET /admin/dashboard (entry 14)', () => {
    it('counts companies, active companies and all admin users', async () => {
      const res = await sa.get('/admin/dashboard');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(Object.keys(res.data), ['estadisticas', 'timestamp']);
      assert.deepEqual(Object.keys(res.data.estadisticas), ['total_empresas', 'empresas_activas', 'total_usuarios']);
      const [{ n: totalEmpresas }] = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM empresas');
      const [{ n: activas }] = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM empresas WHERE activa = true');
      const [{ n: usuarios }] = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM usuarios');
      assert.deepEqual(res.data.estadisticas, { total_empresas: totalEmpresas, empresas_activas: activas, total_usuarios: usuarios });
      assert.match(res.data.timestamp, NAIVE_ISO);
      assert.ok(Math.abs(new Date(res.data.timestamp + 'Z').getTime() - Date.now()) < 60_000, 'timestamp is UTC');
    });
  });

  describe('GET /admin/empresas/{id}/stats (entry 21)', () => {
    it('answers the legacy shape and counts', async () => {
      const e = await createEmpresa(t.ctx);
      const r1 = await createRouter(t.ctx, e.id);
      await createRouter(t.ctx, e.id, { activo: false });
      await createUser(t.ctx, { empresaId: e.id });
      await sa.post(`/admin/empresas/${e.id}/routers/${r1.id}/regenerate-api-key`);
      const res = await sa.get(`/admin/empresas/${e.id}/stats`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(Object.keys(res.data), ['empresa', 'estadisticas']);
      assert.deepEqual(Object.keys(res.data.empresa), ['id', 'nombre', 'activa', 'creada_en', 'contacto_email']);
      assert.equal(res.data.empresa.id, e.id);
      assert.deepEqual(res.data.estadisticas, { total_routers: 2, routers_activos: 1, routers_inactivos: 1, total_usuarios_admin: 1, api_keys_activas: 2 });
    });

    it('unknown empresa → 404 "Empresa no encontrada"', async () => {
      const res = await sa.get('/admin/empresas/EMP_DOESNOTEXIST/stats');
      assert.equal(res.statusCode, 404);
      assert.deepEqual(res.data, { detail: 'Empresa no encontrada', code: 'empresa_not_found' });
    });
  });

  describe('GET/PUT /admin/empresas/{id} (new)', () => {
    it('GET shows every setting with secrets masked', async () => {
      const e = await createEmpresa(t.ctx, {
        telegramBotToken: t.ctx.secrets.general.encrypt('123:telegram-secret-token'),
        telegramChatId: '-100200',
        mercadoPagoAccessToken: t.ctx.secrets.mercadoPago.encrypt('APP_USR-mp-secret'),
      });
      const res = await sa.get(`/admin/empresas/${e.id}`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(Object.keys(res.data), [
        ...EMPRESA_KEYS,
        'logo_url',
        'conekta_public_key',
        'conekta_private_key',
        'mercado_pago_mode',
        'mercado_pago_public_key',
        'mercado_pago_access_token',
        'mercado_pago_webhook_secret',
        'telegram_chat_id',
        'telegram_bot_token',
        'notificaciones_telegram',
      ]);
      assert.equal(res.data.conekta_private_key, MASK);
      assert.equal(res.data.mercado_pago_access_token, MASK);
      assert.equal(res.data.mercado_pago_webhook_secret, null);
      assert.equal(res.data.telegram_bot_token, MASK);
      assert.equal(res.data.telegram_chat_id, '-100200');
      assert.ok(!res.body.includes('telegram-secret-token') && !res.body.includes('mp-secret') && !res.body.includes('key_test_private_fixture'));
    });

    it('GET/PUT unknown empresa → 404', async () => {
      assert.equal((await sa.get('/admin/empresas/EMP_NOPE')).statusCode, 404);
      const res = await sa.put('/admin/empresas/EMP_NOPE', { nombre: 'x' });
      assert.equal(res.statusCode, 404);
      assert.equal(res.data.detail, 'Empresa no encontrada');
    });

    it('PUT edits only the fields sent; a new private key is stored encrypted and masked', async () => {
      const e = await createEmpresa(t.ctx, { contactoTelefono: '555' });
      const res = await sa.put(`/admin/empresas/${e.id}`, { nombre: 'Renombrada', contacto_email: null, conekta_private_key: 'key_NEW_private_777', conekta_mode: 'live' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.data.message, 'Empresa actualizada correctamente');
      assert.equal(res.data.empresa.nombre, 'Renombrada');
      assert.equal(res.data.empresa.contacto_email, null);
      assert.equal(res.data.empresa.contacto_telefono, '555');
      assert.equal(res.data.empresa.conekta_mode, 'live');
      assert.equal(res.data.empresa.conekta_private_key, MASK);
      assert.ok(!res.body.includes('key_NEW_private_777'));
      const row = await stored(e.id);
      assert.equal(t.ctx.secrets.general.decrypt(row.conektaPrivateKey), 'key_NEW_private_777');
      assert.ok(!row.conektaPrivateKey.includes('key_NEW_private_777'));
    });

    it('PUT validates: null nombre, over-length, wrong types → 422', async () => {
      const e = await createEmpresa(t.ctx);
      for (const body of [{ nombre: null }, { nombre: '' }, { contacto_telefono: '1'.repeat(21) }, { activa: 'quizás' }, { conekta_private_key: '' }]) {
        const res = await sa.put(`/admin/empresas/${e.id}`, body);
        assert.equal(res.statusCode, 422, `${JSON.stringify(body)} → ${res.body}`);
      }
    });

    it('deactivating a company stops its router keys (401 "Empresa no activa") and its admins at once; reactivating restores them', async () => {
      const e = await createEmpresa(t.ctx);
      const r = await createRouter(t.ctx, e.id);
      const admin = await createUser(t.ctx, { empresaId: e.id });
      const token = await t.login(admin.email, admin.password);
      const who = () => t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) });
      // Warm the key cache: the deactivation must invalidate it.
      assert.equal((await probe.check(r.apiKey)).status, 200);

      const off = await sa.put(`/admin/empresas/${e.id}`, { activa: false });
      assert.equal(off.statusCode, 200, off.body);
      assert.equal(off.data.empresa.activa, false);

      const key = await probe.check(r.apiKey);
      assert.equal(key.status, 401);
      assert.equal(key.data.detail, 'Empresa no activa');
      const session = await who();
      assert.equal(session.statusCode, 401);
      assert.equal(session.data.detail, 'Empresa no activa');
      const login = await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: admin.email, password: admin.password } });
      assert.equal(login.statusCode, 401);

      const on = await sa.put(`/admin/empresas/${e.id}`, { activa: true });
      assert.equal(on.statusCode, 200);
      assert.equal((await probe.check(r.apiKey)).status, 200);
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: admin.email, password: admin.password } })).statusCode, 200);
    });

    it('deactivation reaches a second instance on the same database (change bus)', SHARED_DB, async () => {
      const other = await startTestApp({ database: t.database });
      const otherProbe = await keyProbe(other);
      try {
        const e = await createEmpresa(t.ctx);
        const r = await createRouter(t.ctx, e.id);
        assert.equal((await otherProbe.check(r.apiKey)).status, 200);
        await sa.put(`/admin/empresas/${e.id}`, { activa: false });
        let status = 200;
        for (let i = 0; i < 100 && status === 200; i++) {
          status = (await otherProbe.check(r.apiKey)).status;
          if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.equal(status, 401);
      } finally {
        await otherProbe.close();
        await other.close();
      }
    });

    it('every company write is audited without secrets', async () => {
      const created = await sa.post('/admin/empresas', { nombre: 'Auditada', contacto_email: 'a@example.com', conekta_private_key: 'key_AUDIT_secret_1' });
      await sa.put(`/admin/empresas/${created.data.id}`, { conekta_private_key: 'key_AUDIT_secret_2', activa: false });
      const res = await sa.get(`/admin/auditoria?empresa_id=${created.data.id}`);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.data.map((a: { accion: string }) => a.accion), ['empresa.desactivar', 'empresa.crear']);
      assert.ok(!res.body.includes('key_AUDIT_secret'));
      assert.deepEqual(res.data[0].detalles.campos, ['conekta_private_key', 'activa']);
    });
  });
});
