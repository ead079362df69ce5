import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { testDbKind } from '../helpers/db.js';
import { createEmpresa, createRouter, createTenant } from '../helpers/fixtures.js';
import { empresas, productos } from '../../src/infra/db/schema.js';

describe('captive portal reads: public config and catalog (router API key)', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let router2: Awaited<ReturnType<typeof createRouter>>;
  const ids: Record<string, number> = {};
  const key = (apiKey: string, url: string, headers: Record<string, string> = {}) => t.request({ method: 'GET', url, headers: { ...bearer(apiKey), ...headers } });

  before(async () => {
    t = await startTestApp({ env: { CONEKTA_DEFAULT_PUBLIC_KEY: 'key_default_pub', CONEKTA_DEFAULT_PRIVATE_KEY: 'key_default_priv' } });
    a = await createTenant(t);
    await t.ctx.db.orm.update(empresas).set({ nombre: 'Hotspot Demo SA' }).where(eq(empresas.id, a.empresa.id));
    router2 = await createRouter(t.ctx, a.empresa.id, { nombre: 'Router Terraza' });
    const create = async (body: Record<string, unknown>) => {
      const res = await t.request({ method: 'POST', url: '/api/v1/admin/products', headers: bearer(a.token), payload: { router_id: a.router.id, precio: 10, ...body } });
      assert.equal(res.statusCode, 201, res.body);
      return res.data.id as number;
    };
    ids.hora = await create({ perfil_mikrotik_id: '*2', perfil_mikrotik_nombre: '1_Hora', nombre_venta: 'Ficha 1 hora', descripcion: 'Internet por 1 hora', precio: 10.5, detalles: [{ texto: 'Velocidad 10 Mbps' }, { texto: '1 dispositivo' }], orden_visual: 1, destacado: false });
    ids.featured = await create({ perfil_mikrotik_id: '*4', perfil_mikrotik_nombre: '2_Horas', nombre_venta: 'Ficha 2 horas', orden_visual: 1, destacado: true, duracion_minutos: 120 });
    ids.dia = await create({ perfil_mikrotik_id: '*3', perfil_mikrotik_nombre: '1_Dia', nombre_venta: 'Ficha 1 dia', precio: 45.99, orden_visual: 0 });
    ids.inactive = await create({ perfil_mikrotik_id: '*5', perfil_mikrotik_nombre: 'Oculto', nombre_venta: 'Oculto', activo: false });
    // A product on router 2 only, and a legacy row whose detalles are plain strings.
    const [legacy] = await t.ctx.db.orm
      .insert(productos)
      .values({ empresaId: a.empresa.id, routerId: router2.id, perfilMikrotikId: '*7', perfilMikrotikNombre: 'Semana', nombreVenta: 'Semana', precio: '99.00', detalles: ['• Conexión inmediata', '7 días'] })
      .returning();
    ids.legacy = legacy.id;
  });
  after(async () => t.close());

  it('GET /api/v1/config/public: legacy shape (mercadopago_public_key spelling) plus logo_url; default Conekta key when the company has none', async () => {
    const res = await key(a.router.apiKey, '/api/v1/config/public');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data, {
      empresa: { id: a.empresa.id, nombre: 'Hotspot Demo SA', conekta_public_key: 'key_test_public_fixture', mercadopago_public_key: null, conekta_mode: 'test', logo_url: null },
      router: { id: a.router.id, nombre: `Router ${a.router.id}`, ubicacion: null },
    });
    const bare = await createEmpresa(t.ctx, { conektaPrivateKey: '', conektaPublicKey: '' });
    const r = await createRouter(t.ctx, bare.id);
    const res2 = await key(r.apiKey, '/api/v1/config/public');
    assert.equal(res2.data.empresa.conekta_public_key, 'key_default_pub');
  });

  it('GET /api/v1/catalogo_perfiles_venta: only active products of the key router, orden_visual then featured first, legacy shape', async () => {
    const res = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta');
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.headers['content-type'] as string, /^application\/json/);
    assert.deepEqual(res.data.map((p: { id: number }) => p.id), [ids.dia, ids.featured, ids.hora]);
    const hora = res.data[2];
    assert.deepEqual(Object.keys(hora), [
      'id', 'perfil_mikrotik_id', 'perfil_mikrotik_nombre', 'nombre_venta', 'descripcion', 'imagen_url', 'precio', 'moneda', 'detalles', 'destacado', 'creado_en', 'duracion_minutos', 'tipo_usuario_default', 'vigencia_minutos', 'vigencia_desde', 'limite_bytes',
    ]);
    assert.equal(hora.precio, 10.5);
    assert.deepEqual(hora.detalles, [{ texto: 'Velocidad 10 Mbps' }, { texto: '1 dispositivo' }]);
    assert.equal(res.data[1].duracion_minutos, 120);
  });

  it('legacy string detalles are read as {texto} (not {value})', async () => {
    const res = await key(router2.apiKey, '/api/v1/catalogo_perfiles_venta');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.data.map((p: { id: number }) => p.id), [ids.legacy]);
    assert.deepEqual(res.data[0].detalles, [{ texto: '• Conexión inmediata' }, { texto: '7 días' }]);
    const admin = await t.request({ method: 'GET', url: `/api/v1/admin/products/${ids.legacy}`, headers: bearer(a.token) });
    assert.deepEqual(admin.data.detalles, ['• Conexión inmediata', '7 días']);
  });

  it("router 2's key never sees router 1's catalog or products", async () => {
    const list = await key(router2.apiKey, '/api/v1/catalogo_perfiles_venta');
    assert.ok(list.data.every((p: { id: number }) => p.id === ids.legacy));
    const one = await key(router2.apiKey, `/api/v1/catalogo_perfiles_venta/${ids.hora}`);
    assert.equal(one.statusCode, 404);
    assert.equal(one.data.detail, 'Producto no encontrado o no disponible');
    const other = await createTenant(t);
    const foreign = await key(other.router.apiKey, '/api/v1/catalogo_perfiles_venta');
    assert.deepEqual(foreign.data, []);
    assert.equal((await key(other.router.apiKey, `/api/v1/catalogo_perfiles_venta/${ids.hora}`)).statusCode, 404);
    const config = await key(router2.apiKey, '/api/v1/config/public');
    assert.equal(config.data.router.id, router2.id);
  });

  it('GET /api/v1/catalogo_perfiles_venta/{id}: the product, 404 for inactive/unknown, 422 for a non-integer', async () => {
    const res = await key(a.router.apiKey, `/api/v1/catalogo_perfiles_venta/${ids.hora}`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.id, ids.hora);
    assert.deepEqual(res.data.detalles, [{ texto: 'Velocidad 10 Mbps' }, { texto: '1 dispositivo' }]);
    for (const id of [ids.inactive, 999999]) {
      const missing = await key(a.router.apiKey, `/api/v1/catalogo_perfiles_venta/${id}`);
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.data.detail, 'Producto no encontrado o no disponible');
    }
    const bad = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta/abc');
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.data.detail[0].loc, ['path', 'producto_id']);
  });

  it('the legacy /debug dump is gone (404), even with a valid key', async () => {
    const res = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta/debug');
    assert.equal(res.statusCode, 404);
    assert.equal(res.data.code, 'not_found');
    assert.doesNotMatch(res.body, /Oculto/);
  });

  it('requires a router API key: none → 401, a session token → 401, a bad key → 401; X-API-Key works', async () => {
    const none = await t.request({ method: 'GET', url: '/api/v1/catalogo_perfiles_venta' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.data.detail, 'Not authenticated');
    assert.equal((await key(a.token, '/api/v1/catalogo_perfiles_venta')).statusCode, 401);
    assert.equal((await key(a.router.apiKey.slice(0, -3) + 'abc', '/api/v1/config/public')).statusCode, 401);
    const x = await t.request({ method: 'GET', url: '/api/v1/catalogo_perfiles_venta', headers: { 'x-api-key': a.router.apiKey } });
    assert.equal(x.statusCode, 200);
  });

  it('ETag / If-None-Match → 304 without a body; a change gives a new ETag', async () => {
    const first = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta');
    const etag = first.headers.etag as string;
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    const again = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta', { 'if-none-match': etag });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers.etag, etag);
    const weak = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta', { 'if-none-match': `"x", W/${etag}` });
    assert.equal(weak.statusCode, 304);
    const cfg = await key(a.router.apiKey, '/api/v1/config/public');
    assert.equal((await key(a.router.apiKey, '/api/v1/config/public', { 'if-none-match': cfg.headers.etag as string })).statusCode, 304);
    const item = await key(a.router.apiKey, `/api/v1/catalogo_perfiles_venta/${ids.hora}`);
    assert.equal((await key(a.router.apiKey, `/api/v1/catalogo_perfiles_venta/${ids.hora}`, { 'if-none-match': item.headers.etag as string })).statusCode, 304);

    await t.request({ method: 'PUT', url: `/api/v1/admin/products/${ids.hora}`, headers: bearer(a.token), payload: { precio: 11 } });
    const changed = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta', { 'if-none-match': etag });
    assert.equal(changed.statusCode, 200);
    assert.notEqual(changed.headers.etag, etag);
    assert.equal(changed.data.find((p: { id: number }) => p.id === ids.hora).precio, 11);
  });

  it('is served from the cache (a silent database edit is not seen) until a change is announced', async () => {
    await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta');
    await t.ctx.db.orm.update(productos).set({ nombreVenta: 'Editado a mano' }).where(eq(productos.id, ids.dia));
    const stale = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta');
    assert.equal(stale.data[0].nombre_venta, 'Ficha 1 dia');
    await t.ctx.bus.publish(`catalog:${a.router.id}`);
    const fresh = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta');
    assert.equal(fresh.data[0].nombre_venta, 'Editado a mano');
  });

  it('deactivating a product removes it from the catalog at once', async () => {
    await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta');
    const del = await t.request({ method: 'DELETE', url: `/api/v1/admin/products/${ids.featured}`, headers: bearer(a.token) });
    assert.equal(del.statusCode, 200);
    const res = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta');
    assert.ok(!res.data.some((p: { id: number }) => p.id === ids.featured));
    assert.equal((await key(a.router.apiKey, `/api/v1/catalogo_perfiles_venta/${ids.featured}`)).statusCode, 404);
  });

  it('a change made through a second instance on the same database reaches this instance within 1 s', { skip: testDbKind() === 'pglite' && 'in-memory PGlite cannot be shared by two instances' }, async () => {
    const second = await startTestApp({ database: t.database });
    try {
      const before = await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta');
      assert.equal(before.statusCode, 200);
      const cfgBefore = await key(a.router.apiKey, '/api/v1/config/public');
      const token = await second.login(a.admin.email, a.admin.password);
      const put = await second.request({ method: 'PUT', url: `/api/v1/admin/products/${ids.hora}`, headers: bearer(token), payload: { nombre_venta: 'Cambiado en la instancia 2' } });
      assert.equal(put.statusCode, 200, put.body);
      const mp = await second.request({ method: 'POST', url: '/api/v1/admin/mi-empresa/configurar-credenciales', headers: bearer(token), payload: { public_key: 'TEST-pub-999' } });
      assert.equal(mp.statusCode, 200, mp.body);

      const deadline = Date.now() + 1000;
      let names: string[] = [];
      let mpKey: string | null = cfgBefore.data.empresa.mercadopago_public_key;
      while (Date.now() < deadline) {
        names = (await key(a.router.apiKey, '/api/v1/catalogo_perfiles_venta')).data.map((p: { nombre_venta: string }) => p.nombre_venta);
        mpKey = (await key(a.router.apiKey, '/api/v1/config/public')).data.empresa.mercadopago_public_key;
        if (names.includes('Cambiado en la instancia 2') && mpKey === 'TEST-pub-999') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(names.includes('Cambiado en la instancia 2'), `catalog still ${JSON.stringify(names)}`);
      assert.equal(mpKey, 'TEST-pub-999');
    } finally {
      await second.close();
    }
  });
});
