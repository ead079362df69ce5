/**
 * What happens when things fail: dead routers, gateway timeouts and 5xx, delivery past the deadline,
 * refunds, chargebacks and webhooks (signed and forged). Workers run as in production.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestApp } from '../helpers/app.js';
import { enqueue } from '../../src/infra/outbox.js';
import { JOB } from '../../src/modules/payments/repository.js';
import {
  auth,
  conektaBody,
  createShop,
  listen,
  mpBody,
  routerDown,
  routerUp,
  routerUsers,
  setConektaWebhookKey,
  startFakes,
  startPaymentsApp,
  txByRef,
  uniq,
  waitFor,
  type Fakes,
  type Shop,
} from './helpers.js';

describe('recovery', () => {
  let f: Fakes;
  let t: TestApp;
  let base: string;
  const secret = 'mp-webhook-secret-123';
  let shop: Shop;
  const buy = (s: Shop, url: string, payload: unknown, headers: Record<string, string> = {}) =>
    t.request({ method: 'POST', url, headers: { ...auth(s.apiKey), ...headers }, payload: payload as Record<string, unknown> });

  before(async () => {
    f = await startFakes();
    t = await startPaymentsApp(f);
    base = await listen(t);
    await t.ctx.payments.startWorkers();
    shop = await createShop(t, { webhookSecret: secret });
    await setConektaWebhookKey(t, shop.adminToken, f.conekta.webhookPublicKey);
  });
  after(async () => {
    await t.close();
    await shop.sim.close();
    await f.close();
  });

  it('router down before the charge: 503 with referencia, the gateway is never called', async () => {
    const s = await createShop(t);
    await s.sim.refuse();
    const before = f.conekta.state.requests.length + f.mp.state.requests.length;
    const c = await buy(s, '/api/v1/payments/pagar-conekta', conektaBody(s.productId));
    assert.equal(c.statusCode, 503, c.body);
    assert.equal(c.data.code, 'router_unavailable');
    assert.equal(c.data.detail, 'El router no está disponible en este momento. No se realizó ningún cargo; intente más tarde.');
    assert.ok(c.data.referencia);
    const m = await buy(s, '/api/v1/payments/pagar-mercado-pago', mpBody(s.productId));
    assert.equal(m.statusCode, 503);
    assert.equal(f.conekta.state.requests.length + f.mp.state.requests.length, before);
    await s.sim.close();
  });

  it('router down after the charge: credentials now with estado_hotspot pendiente, voucher on the router when it returns', async () => {
    const s = await createShop(t);
    const warm = await buy(s, '/api/v1/payments/pagar-conekta', conektaBody(s.productId));
    assert.equal(warm.statusCode, 200);
    routerDown(s.sim);
    const res = await buy(s, '/api/v1/payments/pagar-conekta', conektaBody(s.productId));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.success, true);
    assert.equal(res.data.estado, 'cobrada');
    assert.equal(res.data.estado_hotspot, 'pendiente');
    const user = res.data.usuario_hotspot.usuario;
    assert.match(user, /^PT-/);
    assert.equal(routerUsers(s.sim, user).length, 0);
    await routerUp(s.sim);
    // No further request: the delivery worker retries until the router answers.
    await waitFor('ficha entregada', async () => (await txByRef(t.ctx, res.data.referencia)).estado === 'entregada');
    const users = routerUsers(s.sim, user);
    assert.equal(users.length, 1);
    assert.equal(users[0].password, res.data.usuario_hotspot.contrasena);
    const look = await t.request({ method: 'GET', url: `/api/v1/payments/transacciones/${res.data.referencia}`, headers: auth(s.apiKey) });
    assert.equal(look.data.estado_hotspot, 'active');
    assert.equal(look.data.usuario_hotspot.usuario, user);
    await s.sim.close();
  });

  it('gateway timeout → en_revision → reconciled to a delivered sale when the charge went through', async () => {
    const res = await buy(shop, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId, `tok_test_timeout_paid~${uniq()}`));
    assert.equal(res.statusCode, 504);
    assert.equal(res.data.detail, 'Tiempo de espera agotado. Intente nuevamente.');
    assert.equal(res.data.estado, 'en_revision');
    assert.equal((await txByRef(t.ctx, res.data.referencia)).estado, 'en_revision');
    const row = await waitFor('conciliada', async () => {
      const r = await txByRef(t.ctx, res.data.referencia);
      return r.estado === 'entregada' ? r : null;
    });
    assert.equal(f.conekta.ordersFor(res.data.referencia).length, 1);
    assert.equal(routerUsers(shop.sim, row.usuarioHotspot!).length, 1);
    const look = await t.request({ method: 'GET', url: `/api/v1/payments/transacciones/${res.data.referencia}`, headers: auth(shop.apiKey) });
    assert.equal(look.data.estado, 'entregada');
    assert.ok(look.data.usuario_hotspot.contrasena);
  });

  it('gateway timeout → en_revision → reconciled to rejected when nothing was charged', async () => {
    const res = await buy(shop, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId, `tok_test_timeout~${uniq()}`));
    assert.equal(res.statusCode, 504);
    const row = await waitFor('conciliada', async () => {
      const r = await txByRef(t.ctx, res.data.referencia);
      return r.estado === 'rechazada' ? r : null;
    });
    assert.equal(row.errorCodigo, 'sin_cobro');
    assert.equal(f.conekta.ordersFor(res.data.referencia).length, 0);
    assert.equal(routerUsers(shop.sim, row.usuarioHotspot!).length, 0);
  });

  it('Mercado Pago 5xx with and without a charge: both reconciled', async () => {
    const a = await buy(shop, '/api/v1/payments/pagar-mercado-pago', mpBody(shop.productId, `500_approved~${uniq()}`));
    const b = await buy(shop, '/api/v1/payments/pagar-mercado-pago', mpBody(shop.productId, `500~${uniq()}`));
    for (const r of [a, b]) {
      // An upstream failure is a 502 with the referencia and the estado (issue 12), never a 500.
      assert.equal(r.statusCode, 502);
      assert.ok(r.data.referencia);
      assert.equal(r.data.detail, 'Error interno al procesar el pago');
      assert.equal(r.data.estado, 'en_revision');
    }
    await waitFor('a entregada', async () => (await txByRef(t.ctx, a.data.referencia)).estado === 'entregada');
    await waitFor('b rechazada', async () => (await txByRef(t.ctx, b.data.referencia)).estado === 'rechazada');
  });

  it('delivery impossible past the deadline: refunded at the gateway, voucher absent, company told', async () => {
    const s = await createShop(t);
    const warm = await buy(s, '/api/v1/payments/pagar-mercado-pago', mpBody(s.productId));
    assert.equal(warm.statusCode, 200);
    routerDown(s.sim);
    const res = await buy(s, '/api/v1/payments/pagar-mercado-pago', mpBody(s.productId));
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.estado_hotspot, 'pendiente');
    const ref = res.data.referencia;
    // Time passes: the provisioning deadline is now behind us.
    await t.ctx.db.query(`UPDATE transacciones SET entrega_limite = (now() AT TIME ZONE 'utc') - interval '1 second' WHERE referencia = $1`, [ref]);
    const row = await waitFor('reembolsada', async () => {
      const r = await txByRef(t.ctx, ref);
      return r.estado === 'reembolsada' ? r : null;
    }, 30_000);
    assert.equal(row.estadoPago, 'refunded');
    const payment = f.mp.state.payments.get(Number(res.data.id_transaccion))!;
    assert.equal(payment.status, 'refunded');
    assert.equal(f.mp.state.refunds.filter((x) => x.paymentId === payment.id).length, 1);
    await routerUp(s.sim);
    await waitFor('ficha dada de baja', async () => (await txByRef(t.ctx, ref)).estadoHotspot === 'disabled', 30_000);
    assert.equal(routerUsers(s.sim, row.usuarioHotspot!).length, 0);
    const notices = await waitFor('avisos', () => {
      const texts = f.telegram.messages.filter((m) => m.text.includes(res.data.id_transaccion)).map((m) => m.text);
      return texts.length >= 2 ? texts : null;
    });
    assert.ok(notices.some((x) => x.startsWith('🚨 <b>No se pudo entregar la ficha</b>')));
    assert.ok(notices.some((x) => x.startsWith('↩️ <b>Pago Reembolsado</b>')));
    const look = await t.request({ method: 'GET', url: `/api/v1/payments/transacciones/${ref}`, headers: auth(s.apiKey) });
    assert.equal(look.data.estado, 'reembolsada');
    assert.equal(look.data.usuario_hotspot, null);
    await s.sim.close();
  });

  it('a refund made at Mercado Pago arrives by signed webhook: voucher and session gone, duplicates are no-ops', async () => {
    const res = await buy(shop, '/api/v1/payments/pagar-mercado-pago', mpBody(shop.productId));
    assert.equal(res.statusCode, 200);
    const user = res.data.usuario_hotspot.usuario;
    shop.sim.state.addSession({ user, address: '10.5.50.30', 'mac-address': 'AA:BB:CC:00:00:01', uptime: '5m' });
    const paymentId = res.data.id_transaccion;
    f.mp.setPaymentStatus(paymentId, 'refunded', 'refunded');
    const url = `${base}/api/v1/webhook/mercado-pago`;

    const forged = await f.mp.sendWebhook(paymentId, { url, signature: 'forged' });
    assert.equal(forged.status, 401);
    const unsigned = await f.mp.sendWebhook(paymentId, { url, signature: 'none' });
    assert.equal(unsigned.status, 401);
    const stale = await f.mp.sendWebhook(paymentId, { url, secret, ts: String(Date.now() - 3600_000) });
    assert.equal(stale.status, 401);
    assert.equal((await txByRef(t.ctx, res.data.referencia)).estado, 'entregada', 'forged notices change nothing');

    const ok = await f.mp.sendWebhook(paymentId, { url, secret, notificationId: 555 });
    assert.equal(ok.status, 200, ok.body);
    const dup = await f.mp.sendWebhook(paymentId, { url, secret, notificationId: 555 });
    assert.equal(dup.status, 200);
    await waitFor('baja', async () => (await txByRef(t.ctx, res.data.referencia)).estadoHotspot === 'disabled');
    const row = await txByRef(t.ctx, res.data.referencia);
    assert.equal(row.estado, 'reembolsada');
    assert.equal(row.estadoPago, 'refunded');
    assert.equal(row.webhookProcessed, true);
    assert.equal(routerUsers(shop.sim, user).length, 0);
    assert.equal(shop.sim.state.active.rows.filter((x) => x.user === user).length, 0, 'active session ended');
    await t.ctx.payments.outbox.drain();
    const refundedNotices = f.telegram.messages.filter((m) => m.text.startsWith('↩️') && m.text.includes(paymentId));
    assert.equal(refundedNotices.length, 1);
  });

  it('a Conekta chargeback webhook (digest-signed) removes the voucher; a forged digest is refused', async () => {
    const res = await buy(shop, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId));
    assert.equal(res.statusCode, 200);
    const orderId = res.data.id_transaccion;
    f.conekta.setOrderStatus(orderId, 'charged_back');
    const url = `${base}/api/v1/webhook/conekta`;
    const forged = await f.conekta.sendWebhook(url, 'charge.chargeback.created', orderId, { signature: 'forged' });
    assert.equal(forged.status, 401);
    const ok = await f.conekta.sendWebhook(url, 'charge.chargeback.created', orderId);
    assert.equal(ok.status, 200);
    await waitFor('baja', async () => (await txByRef(t.ctx, res.data.referencia)).estadoHotspot === 'disabled');
    const row = await txByRef(t.ctx, res.data.referencia);
    assert.equal(row.estado, 'reembolsada');
    assert.equal(row.estadoPago, 'charged_back');
    assert.equal(routerUsers(shop.sim, res.data.usuario_hotspot.usuario).length, 0);
  });

  it('a webhook body cannot lie: the payment is re-read from the gateway', async () => {
    const res = await buy(shop, '/api/v1/payments/pagar-mercado-pago', mpBody(shop.productId));
    const s2 = await createShop(t); // no webhook secret: unsigned notices are accepted
    const r2 = await buy(s2, '/api/v1/payments/pagar-mercado-pago', mpBody(s2.productId));
    const hook = await t.request({
      method: 'POST',
      url: `/api/v1/webhook/mercado-pago?data.id=${r2.data.id_transaccion}&type=payment`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ type: 'payment', action: 'payment.refunded', id: 1, data: { id: r2.data.id_transaccion, status: 'refunded' } }),
    });
    assert.equal(hook.statusCode, 200);
    await t.ctx.payments.outbox.drain();
    assert.equal((await txByRef(t.ctx, r2.data.referencia)).estado, 'entregada', 'MP still says approved');
    assert.equal((await txByRef(t.ctx, res.data.referencia)).estado, 'entregada');
    // Legacy-compatible answers for bodies without a payment.
    const invalid = await t.request({ method: 'POST', url: '/api/v1/webhook/mercado-pago', payload: '' });
    assert.equal(invalid.statusCode, 200);
    assert.equal(invalid.data.message, 'Webhook received and queued');
    const other = await t.request({ method: 'POST', url: '/api/v1/webhook/mercado-pago', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ type: 'plan', id: 9, data: { id: '1' } }) });
    assert.equal(other.data.message, "Webhook type 'plan' received");
    await s2.sim.close();
  });

  it('company admin refund: refunded at the gateway, voucher removed, audited; scoped to the company', async () => {
    const res = await buy(shop, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId));
    const row = await txByRef(t.ctx, res.data.referencia);
    const other = await createShop(t);
    // Closed whatever happens: a simulator left open keeps the test file alive until its timeout.
    try {
      const url = `/api/v1/admin/mi-empresa/transacciones/${row.id}/reembolso`;
      const foreign = await t.request({ method: 'POST', url, headers: { authorization: `Bearer ${other.adminToken}` }, payload: {} });
      assert.equal(foreign.statusCode, 404);
      const key = await t.request({ method: 'POST', url, headers: auth(shop.apiKey), payload: {} });
      assert.equal(key.statusCode, 401);
      const ok = await t.request({ method: 'POST', url, headers: { authorization: `Bearer ${shop.adminToken}` }, payload: { motivo: 'Cliente <molesto>' } });
      assert.equal(ok.statusCode, 202, ok.body);
      assert.equal(ok.data.reembolso.estado, 'completado');
      assert.equal(ok.data.success, true);
      assert.equal(ok.data.message, 'Reembolso realizado correctamente');
      assert.equal(ok.data.transaccion.estado, 'reembolsada');
      assert.equal(ok.data.transaccion.monto, 19.99);
      assert.equal(f.conekta.state.orders.get(res.data.id_transaccion)!.payment_status, 'refunded');
      await waitFor('baja', async () => (await txByRef(t.ctx, res.data.referencia)).estadoHotspot === 'disabled');
      assert.equal(routerUsers(shop.sim, res.data.usuario_hotspot.usuario).length, 0);
      const again = await t.request({ method: 'POST', url, headers: { authorization: `Bearer ${shop.adminToken}` }, payload: {} });
      assert.equal(again.statusCode, 409);
      const audit = await t.ctx.db.query<{ accion: string; recurso_id: string; detalles: any }>(`SELECT accion, recurso_id, detalles FROM auditoria WHERE accion = 'transaccion.reembolso'`);
      assert.equal(audit.length, 1);
      assert.equal(audit[0].recurso_id, String(row.id));
      assert.equal(audit[0].detalles.motivo, 'Cliente <molesto>');
      const declined = await buy(shop, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId, `tok_test_decline_card_declined~${uniq()}`));
      const drow = await txByRef(t.ctx, declined.data.referencia);
      const notRefundable = await t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${drow.id}/reembolso`, headers: { authorization: `Bearer ${shop.adminToken}` } });
      assert.equal(notRefundable.statusCode, 409);
    } finally {
      await other.sim.close();
    }
  });

  it('admin refund while a worker already runs the refund job: the answer waits for that run, not "reintentando"', async () => {
    // CI once answered `reintentando` here: the background worker, woken by the enqueue, claimed the job
    // before the request's own runNow, which then found it leased and reported a run still in flight.
    const res = await buy(shop, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId));
    const row = await txByRef(t.ctx, res.data.referencia);
    // Another worker holds the job's lease from its insertion (as a claim does): inserted due and unclaimed, the
    // background worker woken by its NOTIFY could run the refund before a later "hold" (then the admin's
    // request finds it refunded, 409, and never writes its audit row).
    const jobId = await enqueue(
      t.ctx.db.orm,
      JOB.refund,
      { transaccionId: row.id, motivo: 'otro trabajador', origen: 'empresa' },
      { dedupeKey: `reembolsar:${row.id}`, claimForMs: 60_000, leaseToken: 'otro-trabajador' },
    );
    assert.ok(jobId);
    const [held] = await t.ctx.db.query<{ id: string | number; kind: string; payload: Record<string, unknown>; attempts: number }>(
      `SELECT id, kind, payload, attempts FROM outbox WHERE id = $1 AND lease_token = 'otro-trabajador' AND locked_until > now()`,
      [jobId],
    );
    assert.ok(held, 'the job is held by the other worker');
    const answer = t.request({
      method: 'POST',
      url: `/api/v1/admin/mi-empresa/transacciones/${row.id}/reembolso`,
      headers: { authorization: `Bearer ${shop.adminToken}` },
      payload: {},
    });
    // The request has enqueued (deduplicated onto the held job) once its audit row is committed; then the
    // other worker runs the job.
    await waitFor('solicitud registrada', async () => {
      const rows = await t.ctx.db.query(`SELECT 1 FROM auditoria WHERE accion = 'transaccion.reembolso' AND recurso_id = $1`, [String(row.id)]);
      return rows.length > 0;
    });
    await t.ctx.payments.outbox.runClaimed({ id: Number(held.id), kind: held.kind, payload: held.payload, attempts: held.attempts, leaseToken: 'otro-trabajador' });
    const ok = await answer;
    assert.equal(ok.statusCode, 202, ok.body);
    assert.equal(ok.data.reembolso.estado, 'completado');
    assert.equal(ok.data.transaccion.estado, 'reembolsada');
    assert.equal(f.conekta.state.refunds.filter((r) => r.orderId === res.data.id_transaccion).length, 1, 'refunded once');
  });

  it('legacy webhook helpers: test-webhook describes the endpoint; transaccion/{ref} needs an admin of that company', async () => {
    const info = await t.request({ method: 'GET', url: '/api/v1/webhook/test-webhook' });
    assert.equal(info.statusCode, 200);
    assert.equal(info.data.status, 'active');
    assert.equal(info.data.url_produccion, 'https://pagos.example.com/api/v1/webhook/mercado-pago');
    const res = await buy(shop, '/api/v1/payments/pagar-mercado-pago', mpBody(shop.productId));
    const url = `/api/v1/webhook/transaccion/${res.data.referencia}`;
    assert.equal((await t.request({ method: 'GET', url })).statusCode, 401, 'no longer public');
    const other = await createShop(t);
    const foreign = await t.request({ method: 'GET', url, headers: { authorization: `Bearer ${other.adminToken}` } });
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.data.detail, 'Transaction not found');
    const own = await t.request({ method: 'GET', url, headers: { authorization: `Bearer ${shop.adminToken}` } });
    assert.equal(own.statusCode, 200);
    assert.equal(own.data.transaction.external_reference, res.data.referencia);
    assert.equal(own.data.transaction.transaccion_id, res.data.id_transaccion);
    assert.equal(own.data.transaction.monto, 19.99);
    assert.deepEqual(own.data.empresa, { id: shop.empresaId, nombre: shop.empresaNombre, tiene_webhook_secret: true });
    const sa = await t.request({ method: 'GET', url, headers: { authorization: `Bearer ${await t.superAdminToken()}` } });
    assert.equal(sa.statusCode, 200);
    const missing = await t.request({ method: 'GET', url: '/api/v1/webhook/transaccion/nope', headers: { authorization: `Bearer ${shop.adminToken}` } });
    assert.equal(missing.statusCode, 404);
    await other.sim.close();
  });
});
