import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createRouter, createTenant } from '../helpers/fixtures.js';
import { empresas, productos, transacciones } from '../../src/infra/db/schema.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';
import { startTelegramFake, type TelegramFake } from '../../sandbox/telegram.js';

/** A naive-UTC timestamp (as stored) for `minutes` after today's local midnight in Mexico City. */
async function localMidnightPlus(t: TestApp, minutes: number): Promise<string> {
  const [r] = await t.ctx.db.query<{ ts: string }>(
    `SELECT to_char(((date_trunc('day', now() AT TIME ZONE 'America/Mexico_City') + make_interval(mins => $1::int)) AT TIME ZONE 'America/Mexico_City') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS ts`,
    [minutes],
  );
  return r.ts;
}

describe('panel API: transaction detail, gateway filter, paging, sales, alerts, router status, sessions', () => {
  let t: TestApp;
  let sim: RouterSimulator;
  let telegram: TelegramFake;
  let closed: Server;
  let closedPort: number;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let b: Awaited<ReturnType<typeof createTenant>>;
  let simRouterId: string;
  let productoId: number;
  const ids: Record<string, number> = {};
  const get = (token: string, url: string) => t.request({ method: 'GET', url, headers: bearer(token) });

  before(async () => {
    telegram = await startTelegramFake();
    sim = await startRouterSimulator({ version: '7', profiles: [{ name: '1_Hora' }] });
    // A port that refuses nothing but answers nothing useful: a server we close at once (refused connections).
    closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    t = await startTestApp({ env: { TELEGRAM_API_BASE: telegram.url, ROUTEROS_BREAKER_THRESHOLD: '2', ROUTEROS_CONNECT_TIMEOUT_MS: '2000' } });
    a = await createTenant(t);
    b = await createTenant(t);
    const r = await createRouter(t.ctx, a.empresa.id, { host: sim.host, puerto: sim.port, usuario: sim.credentials.username, password: sim.credentials.password, nombre: 'Simulado' });
    simRouterId = r.id;
    const [p] = await t.ctx.db.orm
      .insert(productos)
      .values({ empresaId: a.empresa.id, routerId: a.router.id, perfilMikrotikId: '*1', perfilMikrotikNombre: '1_Hora', nombreVenta: 'Hora', precio: '10.00' })
      .returning();
    productoId = p.id;
    for (let i = 0; i < 3; i++) {
      await t.ctx.db.orm.insert(productos).values({ empresaId: a.empresa.id, routerId: a.router.id, perfilMikrotikId: `*${i + 5}`, perfilMikrotikNombre: `p${i}`, nombreVenta: `Plan ${i}`, precio: '5.00', ordenVisual: i + 2 });
    }
    const base = { empresaId: a.empresa.id, routerId: a.router.id, moneda: 'MXN', productoId };
    const earlyToday = await localMidnightPlus(t, 1);
    const lateYesterday = await localMidnightPlus(t, -1);
    const rows = await t.ctx.db.orm
      .insert(transacciones)
      .values([
        // Paid today (local), via Conekta: 10.00.
        { ...base, transaccionId: 'ord_1', monto: '10.00', estadoPago: 'paid', estado: 'entregada', pasarela: 'conekta', referencia: 'ref-1', creadaEn: earlyToday, pagadaEn: earlyToday },
        // Paid today, Mercado Pago, 4.00 of 20.00 given back: counts 16.00.
        { ...base, transaccionId: 'mp_2', monto: '20.00', estadoPago: 'partially_refunded', estado: 'reembolso_parcial', reembolsadoCentavos: 400, pasarela: 'mercado_pago', referencia: 'ref-2', creadaEn: earlyToday, pagadaEn: earlyToday },
        // A minute before local midnight: yesterday in Mexico City (already today in UTC for most of the year? no: 06:00 UTC).
        { ...base, transaccionId: 'ord_3', monto: '7.00', estadoPago: 'paid', estado: 'entregada', pasarela: 'conekta', referencia: 'ref-3', creadaEn: lateYesterday, pagadaEn: lateYesterday },
        // Refunded in full, waiting for review, pending: no money.
        { ...base, transaccionId: 'ord_4', monto: '50.00', estadoPago: 'refunded', estado: 'reembolsada', pasarela: 'conekta', referencia: 'ref-4', creadaEn: earlyToday, pagadaEn: earlyToday },
        { ...base, transaccionId: 'ord_5', monto: '30.00', estadoPago: 'paid', estado: 'en_revision', pasarela: 'conekta', referencia: 'ref-5', creadaEn: earlyToday },
      ])
      .returning({ id: transacciones.id, transaccionId: transacciones.transaccionId });
    for (const row of rows) ids[row.transaccionId!] = row.id;
    // Company B: a sale that must never show up in A's numbers.
    await t.ctx.db.orm.insert(transacciones).values({ empresaId: b.empresa.id, routerId: b.router.id, moneda: 'MXN', transaccionId: 'ord_b', monto: '999.00', estadoPago: 'paid', estado: 'entregada', pasarela: 'conekta', referencia: 'ref-b', creadaEn: earlyToday, pagadaEn: earlyToday });
  });
  after(async () => {
    await t?.close();
    await sim?.close();
    await telegram?.close();
  });

  it('transaction detail: its fields and its history of state changes, gateway statuses and jobs', async () => {
    const id = ids.ord_1;
    await t.ctx.db.orm.update(transacciones).set({ estadoPago: 'refunded' }).where(eq(transacciones.id, id));
    await t.ctx.db.orm.update(transacciones).set({ estado: 'reembolsada', estadoDetalle: 'reembolso del administrador' }).where(eq(transacciones.id, id));
    await t.ctx.db.query(`INSERT INTO outbox (kind, payload) VALUES ('pagos.quitar_ficha', jsonb_build_object('transaccionId', $1::int))`, [id]);
    const res = await get(a.token, `/api/v1/admin/mi-empresa/transacciones/${id}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.transaccion.transaccion_id, 'ord_1');
    assert.equal(res.data.transaccion.pasarela, 'conekta');
    assert.equal(res.data.transaccion.producto_nombre, 'Hora');
    const h = res.data.historial;
    assert.equal(h.length, 3, JSON.stringify(h));
    assert.deepEqual([h[0].estado_nuevo, h[0].estado_pago_nuevo], ['entregada', 'paid']);
    assert.deepEqual([h[1].tipo, h[1].estado_pago_anterior, h[1].estado_pago_nuevo], ['pasarela', 'paid', 'refunded']);
    assert.deepEqual([h[2].tipo, h[2].estado_anterior, h[2].estado_nuevo, h[2].detalle], ['estado', 'entregada', 'reembolsada', 'reembolso del administrador']);
    assert.deepEqual(res.data.trabajos.map((j: { tipo: string; estado: string }) => [j.tipo, j.estado]), [['pagos.quitar_ficha', 'pendiente']]);
  });

  it("another company's transaction is a 404, like one that does not exist", async () => {
    assert.equal((await get(b.token, `/api/v1/admin/mi-empresa/transacciones/${ids.ord_1}`)).statusCode, 404);
    assert.equal((await get(a.token, `/api/v1/admin/mi-empresa/transacciones/2147483000`)).statusCode, 404);
    assert.equal((await get(a.token, `/api/v1/admin/mi-empresa/transacciones/abc`)).statusCode, 422);
  });

  it('filters transactions by gateway (and refuses an unknown one)', async () => {
    const mp = await get(a.token, '/api/v1/admin/mi-empresa/transacciones?pasarela=mercado_pago');
    assert.equal(mp.statusCode, 200);
    assert.deepEqual(mp.data.transacciones.map((x: { transaccion_id: string }) => x.transaccion_id), ['mp_2']);
    const ck = await get(a.token, '/api/v1/admin/mi-empresa/transacciones?pasarela=conekta');
    assert.equal(ck.data.total, 4);
    assert.equal((await get(a.token, '/api/v1/admin/mi-empresa/transacciones?pasarela=paypal')).statusCode, 422);
  });

  it('products and routers: all without limit/offset (legacy), one page with them, total in X-Total-Count', async () => {
    const all = await get(a.token, '/api/v1/admin/products');
    assert.equal(all.data.length, 4);
    assert.equal(all.headers['x-total-count'], '4');
    const page = await get(a.token, '/api/v1/admin/products?limit=2&offset=1');
    assert.equal(page.statusCode, 200);
    assert.deepEqual(page.data.map((p: { nombre_venta: string }) => p.nombre_venta), all.data.slice(1, 3).map((p: { nombre_venta: string }) => p.nombre_venta));
    assert.equal(page.headers['x-total-count'], '4');
    assert.equal((await get(a.token, '/api/v1/admin/products?limit=0')).statusCode, 422);

    const routersAll = await get(a.token, '/api/v1/admin/mi-empresa/routers');
    assert.equal(routersAll.data.total, 2);
    assert.equal(routersAll.data.routers.length, 2);
    const routersPage = await get(a.token, '/api/v1/admin/mi-empresa/routers?limit=1&offset=1');
    assert.equal(routersPage.data.routers.length, 1);
    assert.equal(routersPage.data.routers[0].id, routersAll.data.routers[1].id);
    assert.equal(routersPage.headers['x-total-count'], '2');
  });

  it("sales: today and this month in Mexico City's time, net of refunds (partial ones too), by day and by plan", async () => {
    const res = await get(a.token, '/api/v1/admin/mi-empresa/ventas?dias=7');
    assert.equal(res.statusCode, 200, res.body);
    const s = res.data;
    assert.equal(s.zona_horaria, 'America/Mexico_City');
    // ord_1 was refunded by the detail test: only the partial refund's 16.00 is left today.
    assert.deepEqual(s.hoy, { fecha: s.por_dia[6].fecha, monto: 16, ventas: 1 });
    assert.equal(s.por_dia.length, 7);
    assert.deepEqual([s.por_dia[6].monto, s.por_dia[5].monto], [16, 7]);
    assert.ok(s.mes.monto === 16 || s.mes.monto === 23, `mes ${s.mes.monto}`);
    assert.deepEqual(s.por_plan, [{ producto_id: productoId, nombre: 'Hora', monto: 23, ventas: 2 }]);
    const other = await get(b.token, '/api/v1/admin/mi-empresa/ventas');
    assert.equal(other.data.hoy.monto, 999);
    assert.equal(other.data.por_dia.length, 30);
  });

  it('active sessions on the router (RouterOS) and disconnect; the voucher stays', async () => {
    sim.state.addUser({ name: 'PT-ABCDE', password: '1234', profile: '1_Hora' });
    sim.state.addSession({ user: 'PT-ABCDE', address: '10.5.50.9', 'mac-address': '02:00:00:00:00:09', uptime: '5m' });
    const list = await get(a.token, `/api/v1/admin/routers/${simRouterId}/sesiones`);
    assert.equal(list.statusCode, 200, list.body);
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].usuario, 'PT-ABCDE');
    assert.equal(list.data[0].direccion, '10.5.50.9');
    assert.equal((await get(b.token, `/api/v1/admin/routers/${simRouterId}/sesiones`)).statusCode, 404);
    const disconnect = (token: string, sesion_id: string) =>
      t.request({ method: 'POST', url: `/api/v1/admin/routers/${simRouterId}/sesiones/desconectar`, headers: bearer(token), payload: { sesion_id } });
    assert.equal((await disconnect(b.token, list.data[0].id)).statusCode, 404);
    assert.equal((await disconnect(a.token, 'x;rm')).statusCode, 400);
    const res = await disconnect(a.token, list.data[0].id);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(sim.state.active.rows.length, 0);
    assert.ok(sim.state.findUser('PT-ABCDE'), 'the voucher is still on the router');
    assert.equal((await disconnect(a.token, list.data[0].id)).statusCode, 404);
    const status = await get(a.token, `/api/v1/admin/mi-empresa/routers/${simRouterId}/estado`);
    assert.equal(status.data.circuito, 'closed');
    assert.equal(status.data.sin_conexion, false);
    assert.ok(status.data.ultimo_contacto);
  });

  it('alerts: an unreachable router (once to Telegram), purchases in review, failed deliveries', async () => {
    await t.ctx.db.orm.update(empresas).set({ telegramBotToken: t.ctx.secrets.general.encrypt('123:abc'), telegramChatId: '42', notificacionesTelegram: true }).where(eq(empresas.id, a.empresa.id));
    const down = await createRouter(t.ctx, a.empresa.id, { host: '127.0.0.1', puerto: closedPort, nombre: 'Caído' });
    await t.ctx.db.query(`INSERT INTO outbox (kind, payload, dead_at) VALUES ('pagos.entregar', jsonb_build_object('transaccionId', $1::int), now())`, [ids.ord_3]);
    for (let i = 0; i < 4; i++) assert.equal((await get(a.token, `/api/v1/admin/routers/${down.id}/sesiones`)).statusCode, 400);
    const status = await get(a.token, `/api/v1/admin/mi-empresa/routers/${down.id}/estado`);
    assert.equal(status.data.circuito, 'open');
    assert.equal(status.data.sin_conexion, true);
    assert.ok(status.data.ultimo_error);
    const res = await get(a.token, '/api/v1/admin/mi-empresa/alertas');
    assert.equal(res.statusCode, 200);
    const byType = Object.fromEntries(res.data.alertas.map((x: { tipo: string }) => [x.tipo, x]));
    assert.equal(byType.router_sin_conexion.router_id, down.id);
    assert.equal(byType.compras_en_revision.cantidad, 1);
    assert.equal(byType.entregas_fallidas.cantidad, 1);
    // The outage went to the company's chat once, whatever the number of failed attempts.
    await waitFor(() => telegram.messages.length > 0);
    assert.equal(telegram.messages.length, 1);
    assert.equal(telegram.messages[0].chat_id, '42');
    assert.match(telegram.messages[0].text, /Router sin conexión[\s\S]*Caído/);
    const other = await get(b.token, '/api/v1/admin/mi-empresa/alertas');
    assert.deepEqual(other.data.alertas, []);
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
}
