import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createRouter, createTenant } from '../helpers/fixtures.js';
import { auditoria, productos } from '../../src/infra/db/schema.js';

describe('admin products (/api/v1/admin/products)', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let b: Awaited<ReturnType<typeof createTenant>>;
  const req = (token: string, method: string, url: string, payload?: unknown) =>
    t.request({ method: method as 'GET', url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });

  before(async () => {
    t = await startTestApp();
    a = await createTenant(t);
    b = await createTenant(t);
  });
  after(async () => t.close());

  const base = () => ({ router_id: a.router.id, perfil_mikrotik_id: '*2', perfil_mikrotik_nombre: '1_Hora', nombre_venta: 'Ficha 1 hora', precio: 10.5 });

  it('creates a product: 201 with the legacy shape, detalles as texts, plus the new fields', async () => {
    const res = await req(a.token, 'POST', '/api/v1/admin/products', {
      ...base(),
      descripcion: 'Internet por 1 hora',
      moneda: 'MXN',
      detalles: [{ texto: 'Velocidad 10 Mbps' }, { texto: '1 dispositivo' }],
      orden_visual: 1,
      destacado: true,
      duracion_minutos: 60,
      tipo_usuario_default: 'pin',
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(Object.keys(res.data), [
      'id', 'router_id', 'perfil_mikrotik_id', 'perfil_mikrotik_nombre', 'nombre_venta', 'descripcion', 'imagen_url', 'precio', 'moneda',
      'detalles', 'activo', 'orden_visual', 'destacado', 'creado_en', 'duracion_minutos', 'tipo_usuario_default', 'vigencia_minutos', 'vigencia_desde', 'limite_bytes',
    ]);
    assert.equal(res.data.precio, 10.5);
    assert.deepEqual(res.data.detalles, ['Velocidad 10 Mbps', '1 dispositivo']);
    assert.equal(res.data.activo, true);
    assert.equal(res.data.duracion_minutos, 60);
    assert.equal(res.data.tipo_usuario_default, 'pin');
    assert.match(res.data.creado_en, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    const [row] = await t.ctx.db.orm.select().from(productos).where(eq(productos.id, res.data.id));
    assert.deepEqual(row.detalles, [{ texto: 'Velocidad 10 Mbps' }, { texto: '1 dispositivo' }]);
    assert.equal(row.precio, '10.50');
    const audit = await t.ctx.db.orm.select().from(auditoria).where(eq(auditoria.accion, 'producto.crear'));
    assert.equal(audit.length, 1);
  });

  it('defaults: moneda MXN, detalles [], activo true, orden 0, not featured', async () => {
    const res = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*3', perfil_mikrotik_nombre: '1_Dia', nombre_venta: 'Ficha 1 dia', precio: 50, orden_visual: 2 });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.data.precio, 50);
    assert.equal(res.data.moneda, 'MXN');
    assert.deepEqual(res.data.detalles, []);
    assert.equal(res.data.destacado, false);
    assert.equal(res.data.duracion_minutos, null);
  });

  it('duplicate active profile → 409 with the legacy message', async () => {
    const res = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), nombre_venta: 'Dup', precio: 1 });
    assert.equal(res.statusCode, 409);
    assert.equal(res.data.detail, `Ya existe un producto con el perfil '*2' para este router (${a.router.id})`);
  });

  it('foreign or unknown router → 404 with the legacy message', async () => {
    for (const routerId of ['RTR_NOPE', b.router.id]) {
      const res = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), router_id: routerId, perfil_mikrotik_id: '*9' });
      assert.equal(res.statusCode, 404);
      assert.equal(res.data.detail, 'Router no encontrado o no pertenece a esta empresa');
    }
  });

  it('precio must be a number (legacy 422 shape), positive, with at most two decimals', async () => {
    const bad = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*9', precio: 'abc' });
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.data.detail[0].type, 'float_parsing');
    assert.deepEqual(bad.data.detail[0].loc, ['body', 'precio']);
    for (const precio of [0, -5, 10.555]) {
      const res = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*9', precio });
      assert.equal(res.statusCode, 422, `precio ${precio}`);
      assert.deepEqual(res.data.detail[0].loc, ['body', 'precio']);
    }
    const rows = await t.ctx.db.orm.select().from(productos).where(eq(productos.perfilMikrotikId, '*9'));
    assert.equal(rows.length, 0);
    const ok = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*9', precio: 19.99 });
    assert.equal(ok.statusCode, 201);
    assert.equal(ok.data.precio, 19.99);
    const [row] = await t.ctx.db.orm.select().from(productos).where(eq(productos.id, ok.data.id));
    assert.equal(row.precio, '19.99');
  });

  it('moneda is validated on create too (legacy message), case-insensitively', async () => {
    const res = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*10', moneda: 'ARS' });
    assert.equal(res.statusCode, 422);
    assert.equal(res.data.detail, 'Moneda no válida. Valores permitidos: MXN, USD, EUR');
    const ok = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*10', moneda: 'usd' });
    assert.equal(ok.statusCode, 201);
    assert.equal(ok.data.moneda, 'USD');
  });

  it('detalles: plain strings are accepted as {texto}; a non-string texto is coerced, never a 500', async () => {
    const res = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*11', detalles: ['uno', { texto: 2 }] });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.data.detalles, ['uno', '2']);
    const list = await req(a.token, 'GET', '/api/v1/admin/products');
    assert.equal(list.statusCode, 200);
  });

  it('rejects invalid new fields and explicit nulls of required fields with 422', async () => {
    for (const extra of [{ duracion_minutos: 0 }, { duracion_minutos: 1.5 }, { tipo_usuario_default: 'otro' }, { activo: null }, { nombre_venta: '   ' }, { nombre_venta: 'x'.repeat(101) }]) {
      const res = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*12', ...extra });
      assert.equal(res.statusCode, 422, JSON.stringify(extra));
      assert.equal(res.data.code, 'validation_error');
    }
  });

  it('lists my products (active and inactive) ordered by orden_visual, filters by router', async () => {
    const all = await req(a.token, 'GET', '/api/v1/admin/products');
    assert.equal(all.statusCode, 200);
    const ordenes = all.data.map((p: { orden_visual: number }) => p.orden_visual);
    assert.deepEqual(ordenes, [...ordenes].sort((x, y) => x - y));
    assert.ok(all.data.every((p: { router_id: string }) => p.router_id === a.router.id));
    const byRouter = await req(a.token, 'GET', `/api/v1/admin/products?router_id=${a.router.id}`);
    assert.equal(byRouter.data.length, all.data.length);
    const other = await createRouter(t.ctx, a.empresa.id);
    const empty = await req(a.token, 'GET', `/api/v1/admin/products?router_id=${other.id}`);
    assert.deepEqual(empty.data, []);
    const foreign = await req(a.token, 'GET', `/api/v1/admin/products?router_id=${b.router.id}`);
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.data.detail, 'Router no encontrado');
  });

  it('get one: 404 legacy message, 422 for a non-integer id', async () => {
    const list = await req(a.token, 'GET', '/api/v1/admin/products');
    const one = await req(a.token, 'GET', `/api/v1/admin/products/${list.data[0].id}`);
    assert.equal(one.statusCode, 200);
    assert.deepEqual(one.data, list.data[0]);
    const missing = await req(a.token, 'GET', '/api/v1/admin/products/999999');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.data.detail, 'Producto no encontrado');
    const bad = await req(a.token, 'GET', '/api/v1/admin/products/abc');
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.data.detail[0].type, 'int_parsing');
    assert.deepEqual(bad.data.detail[0].loc, ['path', 'producto_id']);
    const huge = await req(a.token, 'GET', '/api/v1/admin/products/99999999999');
    assert.equal(huge.statusCode, 422);
  });

  it('update: only sent fields; legacy string 422 for a bad moneda (null included); nulls of required fields 422', async () => {
    const created = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*20', precio: 50, orden_visual: 2 });
    const id = created.data.id;
    const res = await req(a.token, 'PUT', `/api/v1/admin/products/${id}`, { precio: 45.99, descripcion: 'Internet por 24 horas', detalles: [{ texto: '24h' }], router_id: b.router.id, perfil_mikrotik_id: '*99' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.precio, 45.99);
    assert.equal(res.data.descripcion, 'Internet por 24 horas');
    assert.deepEqual(res.data.detalles, ['24h']);
    assert.equal(res.data.router_id, a.router.id);
    assert.equal(res.data.perfil_mikrotik_id, '*20');
    assert.equal(res.data.orden_visual, 2);
    for (const moneda of ['ARS', null]) {
      const bad = await req(a.token, 'PUT', `/api/v1/admin/products/${id}`, { moneda, precio: 1 });
      assert.equal(bad.statusCode, 422);
      assert.equal(bad.data.detail, 'Moneda no válida. Valores permitidos: MXN, USD, EUR');
    }
    for (const body of [{ nombre_venta: null }, { precio: null }, { activo: null }, { orden_visual: null }, { destacado: null }, { precio: 0 }]) {
      const bad = await req(a.token, 'PUT', `/api/v1/admin/products/${id}`, body);
      assert.equal(bad.statusCode, 422, JSON.stringify(body));
    }
    const after = await req(a.token, 'GET', `/api/v1/admin/products/${id}`);
    assert.equal(after.data.precio, 45.99);
    assert.equal(after.data.moneda, 'MXN');
    assert.equal(after.data.activo, true);
    const cleared = await req(a.token, 'PUT', `/api/v1/admin/products/${id}`, { detalles: null, duracion_minutos: 120, tipo_usuario_default: 'usuario_contrasena' });
    assert.deepEqual(cleared.data.detalles, []);
    assert.equal(cleared.data.duracion_minutos, 120);
    assert.equal(cleared.data.tipo_usuario_default, 'usuario_contrasena');
    const missing = await req(a.token, 'PUT', '/api/v1/admin/products/999999', { precio: 1 });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.data.detail, 'Producto no encontrado o no pertenece a esta empresa');
  });

  it('delete is a soft delete with the legacy answer, idempotent', async () => {
    const created = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*30' });
    const del = await req(a.token, 'DELETE', `/api/v1/admin/products/${created.data.id}`);
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.data, { message: 'Producto desactivado', producto_id: created.data.id, activo: false });
    const again = await req(a.token, 'DELETE', `/api/v1/admin/products/${created.data.id}`);
    assert.equal(again.statusCode, 200);
    const get = await req(a.token, 'GET', `/api/v1/admin/products/${created.data.id}`);
    assert.equal(get.data.activo, false);
    const missing = await req(a.token, 'DELETE', '/api/v1/admin/products/999999');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.data.detail, 'Producto no encontrado');
  });

  it('re-creating a soft-deleted profile reactivates it with the new values (201, same id) instead of a 409 dead end', async () => {
    const created = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*40', nombre_venta: 'Viejo', precio: 5 });
    await req(a.token, 'DELETE', `/api/v1/admin/products/${created.data.id}`);
    const again = await req(a.token, 'POST', '/api/v1/admin/products', { ...base(), perfil_mikrotik_id: '*40', nombre_venta: 'Nuevo', precio: 7.25 });
    assert.equal(again.statusCode, 201, again.body);
    assert.equal(again.data.id, created.data.id);
    assert.equal(again.data.activo, true);
    assert.equal(again.data.nombre_venta, 'Nuevo');
    assert.equal(again.data.precio, 7.25);
    const rows = await t.ctx.db.orm.select().from(productos).where(eq(productos.perfilMikrotikId, '*40'));
    assert.equal(rows.length, 1);
  });

  it("tenant isolation: company B's admin cannot read, change or delete company A's products (404)", async () => {
    const list = await req(a.token, 'GET', '/api/v1/admin/products');
    const id = list.data[0].id;
    assert.deepEqual((await req(b.token, 'GET', '/api/v1/admin/products')).data, []);
    assert.equal((await req(b.token, 'GET', `/api/v1/admin/products/${id}`)).statusCode, 404);
    assert.equal((await req(b.token, 'PUT', `/api/v1/admin/products/${id}`, { precio: 1 })).statusCode, 404);
    assert.equal((await req(b.token, 'DELETE', `/api/v1/admin/products/${id}`)).statusCode, 404);
    const still = await req(a.token, 'GET', `/api/v1/admin/products/${id}`);
    assert.deepEqual(still.data, list.data[0]);
  });

  it('requires a company admin session', async () => {
    assert.equal((await t.request({ method: 'GET', url: '/api/v1/admin/products' })).statusCode, 401);
    const sa = await t.superAdminToken();
    assert.equal((await req(sa, 'GET', '/api/v1/admin/products')).statusCode, 403);
    const key = await t.request({ method: 'GET', url: '/api/v1/admin/products', headers: bearer(a.router.apiKey) });
    assert.equal(key.statusCode, 401);
  });
});
