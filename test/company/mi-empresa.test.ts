import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createRouter, createTenant } from '../helpers/fixtures.js';
import { auditoria, empresas, routers, transacciones } from '../../src/infra/db/schema.js';
import { transactionsHaveEstado } from '../../src/modules/company/transactions.js';

describe('company self-service: mi-empresa, dashboard, routers', () => {
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

  it('GET /api/v1/admin/mi-empresa: legacy keys and order', async () => {
    const res = await req(a.token, 'GET', '/api/v1/admin/mi-empresa');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(Object.keys(res.data), [
      'id', 'nombre', 'contacto_email', 'contacto_telefono', 'logo_url', 'conekta_mode', 'conekta_public_key', 'mercado_pago_mode', 'mercado_pago_public_key', 'activa', 'creada_en', 'telegram_bot_token', 'telegram_chat_id', 'notificaciones_telegram', 'zona_horaria', 'aviso_privacidad',
    ]);
    assert.equal(res.data.id, a.empresa.id);
    assert.equal(res.data.conekta_mode, 'test');
    assert.equal(res.data.telegram_bot_token, null);
    assert.equal(res.data.notificaciones_telegram, false);
    assert.equal(res.data.activa, true);
  });

  it('a legacy row with NULLs in required response fields no longer crashes the GET', async () => {
    await t.ctx.db.orm.update(empresas).set({ contactoEmail: null, notificacionesTelegram: null, conektaMode: null }).where(eq(empresas.id, b.empresa.id));
    const res = await req(b.token, 'GET', '/api/v1/admin/mi-empresa');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.contacto_email, null);
    assert.equal(res.data.notificaciones_telegram, false);
    assert.equal(res.data.conekta_mode, 'test');
  });

  it('PUT applies only the sent fields, masks the Telegram token and stores it encrypted', async () => {
    const res = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', { contacto_telefono: '5550000000', notificaciones_telegram: true, telegram_bot_token: '123456:ABC-secret', telegram_chat_id: '-100200' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data, {
      message: 'Información de la empresa actualizada correctamente',
      empresa: { nombre: a.empresa.nombre, contacto_email: 'contacto@example.com', contacto_telefono: '5550000000', telegram_bot_token: '********', telegram_chat_id: '-100200', notificaciones_telegram: true, zona_horaria: 'America/Mexico_City', aviso_privacidad: null },
    });
    const [row] = await t.ctx.db.orm.select().from(empresas).where(eq(empresas.id, a.empresa.id));
    assert.ok(row.telegramBotToken && !row.telegramBotToken.includes('ABC-secret'));
    assert.equal(t.ctx.secrets.general.decrypt(row.telegramBotToken), '123456:ABC-secret');
    const get = await req(a.token, 'GET', '/api/v1/admin/mi-empresa');
    assert.equal(get.data.telegram_bot_token, '********');
    assert.doesNotMatch(get.body, /ABC-secret/);
    const creds = await t.ctx.companies.getGatewayCredentials(a.empresa.id);
    assert.deepEqual(creds?.telegram, { botToken: '123456:ABC-secret', chatId: '-100200', enabled: true });
  });

  it('PUT: the mask sent back leaves the token unchanged; "" clears an optional value', async () => {
    await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', { telegram_bot_token: '********', nombre: 'Nuevo Nombre' });
    let creds = await t.ctx.companies.getGatewayCredentials(a.empresa.id);
    assert.equal(creds?.telegram.botToken, '123456:ABC-secret');
    assert.equal(creds?.nombre, 'Nuevo Nombre');
    const res = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', { telegram_bot_token: '', contacto_telefono: '' });
    assert.equal(res.data.empresa.telegram_bot_token, null);
    assert.equal(res.data.empresa.contacto_telefono, null);
    creds = await t.ctx.companies.getGatewayCredentials(a.empresa.id);
    assert.equal(creds?.telegram.botToken, null);
    const audit = await t.ctx.db.orm.select().from(auditoria).where(eq(auditoria.accion, 'empresa.actualizar'));
    assert.ok(audit.length >= 2);
    assert.doesNotMatch(JSON.stringify(audit), /ABC-secret/);
  });

  it('PUT: explicit null of a required field, a blank name or a bad email → 422, nothing written', async () => {
    for (const body of [{ nombre: null }, { contacto_email: null }, { notificaciones_telegram: null }, { nombre: '  ' }, { contacto_email: 'no-es-correo' }, { nombre: 'x'.repeat(101) }, { contacto_telefono: '1'.repeat(21) }]) {
      const res = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', body);
      assert.equal(res.statusCode, 422, JSON.stringify(body));
      assert.equal(res.data.code, 'validation_error');
    }
    const get = await req(a.token, 'GET', '/api/v1/admin/mi-empresa');
    assert.equal(get.data.nombre, 'Nuevo Nombre');
    assert.equal(get.data.contacto_email, 'contacto@example.com');
  });

  it('zona_horaria: an IANA name is stored (default America/Mexico_City); anything else → 422, nothing written', async () => {
    const before = await req(a.token, 'GET', '/api/v1/admin/mi-empresa');
    assert.equal(before.data.zona_horaria, 'America/Mexico_City');
    for (const zona_horaria of ['Mars/Olympus', 'America/Mexico_City; DROP', '', '../../etc/passwd', 'x'.repeat(65)]) {
      const res = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', { zona_horaria });
      assert.equal(res.statusCode, 422, zona_horaria);
      assert.equal(res.data.code, 'validation_error');
    }
    const ok = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', { zona_horaria: 'America/Tijuana' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.data.empresa.zona_horaria, 'America/Tijuana');
    assert.equal((await req(a.token, 'GET', '/api/v1/admin/mi-empresa')).data.zona_horaria, 'America/Tijuana');
    // An IANA alias that ICU lists under another canonical name (Asia/Calcutta) is still a zone.
    const alias = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', { zona_horaria: 'Asia/Kolkata' });
    assert.equal(alias.statusCode, 200, alias.body);
    assert.equal(alias.data.empresa.zona_horaria, 'Asia/Kolkata');
    await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', { zona_horaria: 'America/Mexico_City' });
  });

  it('PUT changes the public config (cache invalidated)', async () => {
    const before = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    await req(a.token, 'PUT', '/api/v1/admin/mi-empresa', { nombre: 'Nombre Público' });
    const after = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    assert.notEqual(before.data.empresa.nombre, 'Nombre Público');
    assert.equal(after.data.empresa.nombre, 'Nombre Público');
  });

  it('dashboard: money counts only approved/paid transactions of both gateways (a partial refund for what it kept)', async () => {
    const base = { empresaId: a.empresa.id, routerId: a.router.id, moneda: 'MXN' };
    await t.ctx.db.orm.insert(transacciones).values([
      { ...base, transaccionId: 'ord_1', monto: '10.50', estadoPago: 'paid' },
      { ...base, transaccionId: 'mp_1', monto: '20.25', estadoPago: 'approved' },
      { ...base, transaccionId: 'mp_2', monto: '100.00', estadoPago: 'rejected' },
      { ...base, transaccionId: 'mp_3', monto: '30.00', estadoPago: 'pending' },
      { ...base, transaccionId: 'ord_2', monto: '5.00', estadoPago: 'failed' },
      { empresaId: b.empresa.id, routerId: b.router.id, transaccionId: 'b_1', monto: '999.00', estadoPago: 'paid' },
    ]);
    // With the payments state machine, an approved charge later refunded is not money received.
    if (await transactionsHaveEstado(t.ctx)) {
      await t.ctx.db.query(`INSERT INTO transacciones (empresa_id, router_id, transaccion_id, monto, estado_pago, estado) VALUES ($1, $2, 'mp_ref', 77.00, 'approved', 'reembolsada')`, [a.empresa.id, a.router.id]);
      // A partial refund keeps the sale: it counts as paid, for what was not given back (40.00 − 10.00).
      await t.ctx.db.query(
        `INSERT INTO transacciones (empresa_id, router_id, transaccion_id, monto, estado_pago, estado, reembolsado_centavos) VALUES ($1, $2, 'ord_parcial', 40.00, 'partially_refunded', 'reembolso_parcial', 1000)`,
        [a.empresa.id, a.router.id],
      );
    }
    const modern = await transactionsHaveEstado(t.ctx);
    const res = await req(a.token, 'GET', '/api/v1/admin/mi-empresa/dashboard');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data.empresa, { nombre: 'Nombre Público', activa: true });
    assert.deepEqual(res.data.estadisticas, {
      total_transacciones: modern ? 7 : 5,
      ingresos_totales: modern ? 60.75 : 30.75,
      transacciones_pagadas: modern ? 3 : 2,
      transacciones_pendientes: 1,
      total_routers: 1,
    });
    assert.equal(res.data.transacciones_recientes.length, 5);
    assert.deepEqual(Object.keys(res.data.transacciones_recientes[0]), ['id', 'transaccion_id', 'monto', 'estado', 'fecha']);
    assert.ok(res.data.transacciones_recientes.every((r: { transaccion_id: string }) => r.transaccion_id !== 'b_1'));
    const resB = await req(b.token, 'GET', '/api/v1/admin/mi-empresa/dashboard');
    assert.equal(resB.data.estadisticas.ingresos_totales, 999);
    assert.equal(resB.data.estadisticas.total_transacciones, 1);
  });

  it('GET routers: legacy shape, no port, user, password or key; only mine', async () => {
    const res = await req(a.token, 'GET', '/api/v1/admin/mi-empresa/routers');
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.empresa_id, a.empresa.id);
    assert.equal(res.data.total, 1);
    assert.deepEqual(Object.keys(res.data.routers[0]), ['id', 'nombre', 'host', 'ubicacion', 'activo', 'creado_en', 'dns_name']);
    assert.equal(res.data.routers[0].id, a.router.id);
  });

  it('PUT router: only sent fields (the port is no longer reset), legacy answer, password encrypted', async () => {
    await t.ctx.db.orm.update(routers).set({ puerto: 8729 }).where(eq(routers.id, a.router.id));
    const res = await req(a.token, 'PUT', `/api/v1/admin/mi-empresa/routers/${a.router.id}`, { ubicacion: 'Lobby norte' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data, {
      message: 'Router actualizado correctamente',
      router: {
        id: a.router.id,
        nombre: `Router ${a.router.id}`,
        host: '127.0.0.1',
        puerto: 8729,
        usuario: 'admin',
        ubicacion: 'Lobby norte',
        activo: true,
        // Added (issue 12): TLS settings as "set or not", never their values; 8729 means TLS (legacy rule).
        tls: true,
        tls_ca_configurada: false,
        tls_fingerprint: null,
        // Added (issue 15): the hotspot's login address for the batch QR codes (null: read from the router).
        dns_name: null,
      },
    });
    const pw = await req(a.token, 'PUT', `/api/v1/admin/mi-empresa/routers/${a.router.id}`, { password_encrypted: 'nueva-clave' });
    assert.equal(pw.statusCode, 200);
    assert.doesNotMatch(pw.body, /nueva-clave/);
    const [row] = await t.ctx.db.orm.select().from(routers).where(eq(routers.id, a.router.id));
    assert.notEqual(row.passwordEncrypted, 'nueva-clave');
    assert.equal(t.ctx.secrets.general.decrypt(row.passwordEncrypted), 'nueva-clave');
    const masked = await req(a.token, 'PUT', `/api/v1/admin/mi-empresa/routers/${a.router.id}`, { password_encrypted: '********' });
    assert.equal(masked.statusCode, 200);
    const [same] = await t.ctx.db.orm.select().from(routers).where(eq(routers.id, a.router.id));
    assert.equal(t.ctx.secrets.general.decrypt(same.passwordEncrypted), 'nueva-clave');
  });

  it('PUT router: a host/port change is audited with old and new values', async () => {
    const res = await req(a.token, 'PUT', `/api/v1/admin/mi-empresa/routers/${a.router.id}`, { host: 'router1.example.net', puerto: 8728 });
    assert.equal(res.statusCode, 200, res.body);
    const audit = await t.ctx.db.orm.select().from(auditoria).where(eq(auditoria.accion, 'router.conexion_actualizada'));
    assert.equal(audit.length, 1);
    assert.equal(audit[0].recursoId, a.router.id);
    assert.equal(audit[0].empresaId, a.empresa.id);
    assert.deepEqual(
      { ...(audit[0].detalles as Record<string, unknown>), campos: undefined },
      { campos: undefined, host_anterior: '127.0.0.1', host_nuevo: 'router1.example.net', puerto_anterior: 8729, puerto_nuevo: 8728 },
    );
    const plain = await t.ctx.db.orm.select().from(auditoria).where(eq(auditoria.accion, 'router.actualizar'));
    assert.ok(plain.length >= 1);
    assert.doesNotMatch(JSON.stringify(plain), /nueva-clave/);
  });

  it('PUT router: invalid host/port and nulls of required fields → 422; unknown router → legacy 404', async () => {
    for (const body of [{ host: 'http://evil' }, { host: '10.0.0.1:8728' }, { host: 'a b' }, { host: '300.1.1.1' }, { puerto: 0 }, { puerto: 70000 }, { puerto: null }, { host: null }, { nombre: null }, { usuario: '' }]) {
      const res = await req(a.token, 'PUT', `/api/v1/admin/mi-empresa/routers/${a.router.id}`, body);
      assert.equal(res.statusCode, 422, JSON.stringify(body));
    }
    const missing = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa/routers/RTR_NOPE', { ubicacion: 'x' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.data.detail, 'Router no encontrado o no pertenece a tu empresa');
  });

  it('PUT router changes the public config at once (router cache invalidated)', async () => {
    await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    await req(a.token, 'PUT', `/api/v1/admin/mi-empresa/routers/${a.router.id}`, { nombre: 'Router Lobby', ubicacion: 'Lobby sur' });
    const cfg = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    assert.deepEqual(cfg.data.router, { id: a.router.id, nombre: 'Router Lobby', ubicacion: 'Lobby sur' });
  });

  it("tenant isolation: company B's admin sees only B and cannot change A's routers (404)", async () => {
    const info = await req(b.token, 'GET', '/api/v1/admin/mi-empresa');
    assert.equal(info.data.id, b.empresa.id);
    const rts = await req(b.token, 'GET', '/api/v1/admin/mi-empresa/routers');
    assert.deepEqual(rts.data.routers.map((r: { id: string }) => r.id), [b.router.id]);
    const put = await req(b.token, 'PUT', `/api/v1/admin/mi-empresa/routers/${a.router.id}`, { host: '10.9.9.9' });
    assert.equal(put.statusCode, 404);
    const [row] = await t.ctx.db.orm.select().from(routers).where(eq(routers.id, a.router.id));
    assert.equal(row.host, 'router1.example.net');
    const extra = await createRouter(t.ctx, a.empresa.id);
    assert.equal((await req(b.token, 'PUT', `/api/v1/admin/mi-empresa/routers/${extra.id}`, { nombre: 'x' })).statusCode, 404);
    const [name] = await t.ctx.db.orm.select().from(empresas).where(eq(empresas.id, a.empresa.id));
    await req(b.token, 'PUT', '/api/v1/admin/mi-empresa', { nombre: 'B cambia' });
    const [nameAfter] = await t.ctx.db.orm.select().from(empresas).where(eq(empresas.id, a.empresa.id));
    assert.equal(nameAfter.nombre, name.nombre);
  });

  it('company endpoints require a company admin (super admin → 403, none → 401)', async () => {
    const sa = await t.superAdminToken();
    for (const url of ['/api/v1/admin/mi-empresa', '/api/v1/admin/mi-empresa/dashboard', '/api/v1/admin/mi-empresa/routers', '/api/v1/admin/mi-empresa/transacciones']) {
      assert.equal((await req(sa, 'GET', url)).statusCode, 403, url);
      assert.equal((await t.request({ method: 'GET', url })).statusCode, 401, url);
    }
  });
});
