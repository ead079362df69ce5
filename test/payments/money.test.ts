/**
 * Regression tests of issue 11 ("exactly-once money under compound faults"), defects 1–5: one test per
 * defect scenario, named after it, on real PostgreSQL (through a cuttable TCP proxy) with the gateway
 * fakes and the RouterOS simulator.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testDbKind } from '../helpers/db.js';
import { requestHash } from '../../src/modules/payments/idempotency.js';
import { settle } from '../../src/modules/payments/settle.js';
import { orderToPayment } from '../../src/modules/payments/gateways/conekta.js';
import { conektaBody, mpBody, routerUsers, txByRef, uniq, waitFor } from './helpers.js';
import { useMoneyEnv } from './money-env.js';

describe('money under compound faults (issue 11): defects 1–5', { skip: testDbKind() === 'pglite' ? 'needs PostgreSQL over TCP' : false }, () => {
  const env = useMoneyEnv();
  const { buy, buyMp, row, settled, drainUntil, ourVouchers } = env;
  describe('defect 1: a charged purchase must never invite a second charge', () => {
    it('database cut during completion, then a same-key retry: the computed answer is sent, the retry answers 202 with the referencia at once, one charge', async () => {
      const key = uniq();
      const body = conektaBody(env.shop.productId);
      env.t.ctx.payments.hooks.afterChargeRecorded = () => env.proxy.cut();
      const ordersBefore = env.f.conekta.state.orders.size;
      const first = await buy(body, { 'idempotency-key': key });
      env.t.ctx.payments.hooks.afterChargeRecorded = undefined;
      await env.proxy.restore();
      assert.equal(first.statusCode, 503, first.body);
      assert.ok(first.data.referencia, 'referencia on the answer');
      assert.equal(first.data.estado, 'en_revision', `the purchase's own answer (with estado), not the generic 503: ${first.body}`);
      const retry = await buy(body, { 'idempotency-key': key });
      assert.equal(retry.statusCode, 202, retry.body);
      assert.equal(retry.data.referencia, first.data.referencia);
      assert.ok(['cobrada', 'entregada'].includes(retry.data.estado), retry.body);
      assert.equal(env.f.conekta.state.orders.size, ordersBefore + 1, 'charged once');
      await drainUntil('entregada', async () => (await txByRef(env.t.ctx, first.data.referencia))?.estado === 'entregada');
      assert.equal(env.f.conekta.state.orders.size, ordersBefore + 1, 'still charged once');
    });

    it('request killed between claim and completion: a same-key retry answers 202 from the transaction row at once, never 409', async () => {
      const sold = await buy(conektaBody(env.shop.productId));
      assert.equal(sold.statusCode, 200, sold.body);
      const key = uniq();
      const body = conektaBody(env.shop.productId);
      // What a SIGKILL after the attempt's commit leaves: the key `procesando` with the referencia, no answer.
      await env.t.ctx.db.query(`INSERT INTO idempotencia_solicitudes (router_id, clave, endpoint, hash_solicitud, referencia) VALUES ($1, $2, 'pagar-conekta', $3, $4)`, [
        env.shop.routerId,
        key,
        requestHash('pagar-conekta', body),
        sold.data.referencia,
      ]);
      const ordersBefore = env.f.conekta.state.orders.size;
      const retry = await buy(body, { 'idempotency-key': key });
      assert.equal(retry.statusCode, 202, retry.body);
      assert.equal(retry.data.referencia, sold.data.referencia);
      assert.equal(retry.data.estado, 'entregada');
      assert.equal(env.f.conekta.state.orders.size, ordersBefore, 'no charge');
    });

    it('same-key retry before the attempt is recorded: waits a bounded time, then 409 without any referencia', async () => {
      const key = uniq();
      const body = conektaBody(env.shop.productId);
      await env.t.ctx.db.query(`INSERT INTO idempotencia_solicitudes (router_id, clave, endpoint, hash_solicitud) VALUES ($1, $2, 'pagar-conekta', $3)`, [
        env.shop.routerId,
        key,
        requestHash('pagar-conekta', body),
      ]);
      const retry = await buy(body, { 'idempotency-key': key });
      assert.equal(retry.statusCode, 409, retry.body);
      assert.equal(retry.data.code, 'idempotency_in_progress');
      assert.equal(retry.data.referencia, undefined, retry.body);
    });

    it('request died before its attempt and its key release failed with the database: a same-key retry takes the key over once the owner is silent, charges once', async () => {
      const key = uniq();
      const body = conektaBody(env.shop.productId);
      // What a database cut between the claim and the attempt leaves (the release failed too), or a SIGKILL there.
      await env.t.ctx.db.query(
        `INSERT INTO idempotencia_solicitudes (router_id, clave, endpoint, hash_solicitud, propietario, creada_en, actualizada_en)
         VALUES ($1, $2, 'pagar-conekta', $3, 'muerto', now() - interval '5 seconds', now() - interval '5 seconds')`,
        [env.shop.routerId, key, requestHash('pagar-conekta', body)],
      );
      const ordersBefore = env.f.conekta.state.orders.size;
      const retry = await buy(body, { 'idempotency-key': key });
      assert.equal(retry.statusCode, 200, retry.body);
      assert.ok(retry.data.referencia);
      const again = await buy(body, { 'idempotency-key': key });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.data.referencia, retry.data.referencia, 'replayed, not bought again');
      assert.equal(env.f.conekta.state.orders.size, ordersBefore + 1, 'charged once');
    });

    it('an owner still running when its key was taken over cannot record its attempt: it answers 409 without charging, the new owner charges once', async () => {
      const key = uniq();
      const body = conektaBody(env.shop.productId);
      const ordersBefore = env.f.conekta.state.orders.size;
      let retry: Awaited<ReturnType<typeof buy>> | undefined;
      env.t.ctx.payments.hooks.beforeAttempt = async () => {
        env.t.ctx.payments.hooks.beforeAttempt = undefined;
        // The first request stalls past IDEMPOTENCY_STALE_MS (as if paused), and a retry takes its key over.
        await env.t.ctx.db.query(`UPDATE idempotencia_solicitudes SET actualizada_en = now() - interval '5 seconds' WHERE router_id = $1 AND clave = $2`, [env.shop.routerId, key]);
        retry = await buy(body, { 'idempotency-key': key });
      };
      const first = await buy(body, { 'idempotency-key': key });
      env.t.ctx.payments.hooks.beforeAttempt = undefined;
      assert.ok(retry, 'the retry ran');
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal(first.statusCode, 409, first.body);
      assert.equal(first.data.code, 'idempotency_key_taken_over');
      const [{ n }] = await env.t.ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE referencia = $1`, [first.data.referencia ?? '']);
      assert.equal(n, 0, 'no attempt recorded for the old owner');
      assert.equal(env.f.conekta.state.orders.size, ordersBefore + 1, 'charged once');
    });
  });

  describe('defect 2: a refunded payment must not come back to life', () => {
    it('refund webhook marks the purchase, then an actor with a stale approved read commits: no revival, no voucher', async () => {
      // Conekta takes the money and the answer is lost: the purchase is en_revision.
      env.f.conekta.failNext({ status: 500, create: 'paid' });
      const res = await buy(conektaBody(env.shop.productId));
      assert.equal(res.data.estado, 'en_revision', res.body);
      const stale = await txByRef(env.t.ctx, res.data.referencia);
      const [order] = env.f.conekta.ordersFor(res.data.referencia);
      const staleApproved = orderToPayment(order as unknown as Record<string, unknown>);
      assert.equal(staleApproved.status, 'approved');
      // The customer is refunded at the gateway; its webhook is applied.
      env.f.conekta.setOrderStatus(order.id, 'refunded');
      const hook = await env.f.conekta.sendWebhook(`${env.base}/api/v1/webhook/conekta`, 'order.refunded', order.id);
      assert.equal(hook.status, 200, hook.body);
      await drainUntil('rechazada por devolución', async () => (await txByRef(env.t.ctx, res.data.referencia))?.estado === 'rechazada');
      // The stale actor (request, reconciler or webhook job) commits its old "approved".
      await settle(env.t.ctx.payments, stale, staleApproved);
      await env.t.ctx.payments.outbox.drain();
      const row = await txByRef(env.t.ctx, res.data.referencia);
      assert.equal(row.estado, 'rechazada', 'a refunded order never becomes cobrada/entregada');
      assert.equal(routerUsers(env.shop.sim, row.usuarioHotspot ?? '').length, 0, 'no voucher on the router');
    });
  });

  describe('found by the long model run (seed 987364272): a refund read must not be lost to a concurrent stale approval', () => {
    it('the refund read meets a row a stale approval moved to cobrada meanwhile: applied to the row as it is now, refunded, no voucher', async () => {
      env.f.conekta.failNext({ status: 500, create: 'paid' });
      const res = await buy(conektaBody(env.shop.productId));
      assert.equal(res.data.estado, 'en_revision', res.body);
      const before = await txByRef(env.t.ctx, res.data.referencia);
      const [order] = env.f.conekta.ordersFor(res.data.referencia);
      const staleApproved = orderToPayment(order as unknown as Record<string, unknown>);
      env.f.conekta.setOrderStatus(order.id, 'refunded');
      const refunded = orderToPayment(env.f.conekta.state.orders.get(order.id) as unknown as Record<string, unknown>);
      assert.equal(refunded.status, 'refunded');
      // A worker read the row (en_revision) and then the gateway (refunded); before it writes, a stale
      // actor commits its old "approved": the row is cobrada now and its delivery is queued.
      assert.equal(await settle(env.t.ctx.payments, before, staleApproved), 'charged');
      const effect = await settle(env.t.ctx.payments, before, refunded);
      assert.equal(effect, 'refunded', 'what the gateway said is applied to the row as it is now, not dropped');
      await env.t.ctx.payments.outbox.drain();
      const row = await txByRef(env.t.ctx, res.data.referencia);
      assert.equal(row.estado, 'reembolsada');
      assert.equal(routerUsers(env.shop.sim, row.usuarioHotspot ?? '').length, 0, 'no voucher on the router');
    });
  });

  describe('defect 3: a Conekta lost answer is looked up the way the real API supports', () => {
    it('Conekta answer lost after the charge: the paid order is found by the created_at window and our metadata, delivered, never sin_cobro', async () => {
      env.f.conekta.failNext({ status: 500, create: 'paid' });
      const res = await buy(conektaBody(env.shop.productId));
      assert.equal(res.data.estado, 'en_revision', res.body);
      const r = await settled(res.data.referencia, ['iniciada', 'en_revision', 'cobrada']);
      assert.equal(r.estado, 'entregada', `paid at Conekta but ${r.estado} ${r.errorCodigo ?? ''}`);
      assert.equal(ourVouchers(r).length, 1);
    });
  });

  describe('defect 4: Mercado Pago search lag is never taken as final', () => {
    it('Mercado Pago search lag: a miss is not terminal before the horizon', async () => {
      env.f.mp.setSearchLag(10 * 60_000);
      const cfg = env.t.ctx.config as { paymentNotFoundHorizonMs: number };
      cfg.paymentNotFoundHorizonMs = 3600_000;
      try {
        const res = await buyMp(mpBody(env.shop.productId, `500_approved~${uniq()}`));
        assert.equal(res.data.estado, 'en_revision', res.body);
        // Well past the charge's own grace period (2 × gateway timeout + 2 s), still asking.
        await new Promise((r) => setTimeout(r, env.t.ctx.payments.notFoundGraceMs() + 500));
        await env.t.ctx.payments.outbox.drain();
        await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE kind = 'pagos.conciliar' AND done_at IS NULL`);
        await env.t.ctx.payments.outbox.drain();
        assert.equal((await row(res.data.referencia)).estado, 'en_revision', 'a search miss within the horizon is not "sin_cobro"');
      } finally {
        cfg.paymentNotFoundHorizonMs = 0;
        env.f.mp.setSearchLag(1500);
      }
    });

    it('Mercado Pago purchase declared unpaid, then the webhook with only data.id: the payment is fetched, its external_reference found, the sale settled', async () => {
      env.f.mp.setSearchLag(10 * 60_000);
      try {
        const res = await buyMp(mpBody(env.shop.productId, `500_approved~${uniq()}`));
        const declared = await settled(res.data.referencia, ['iniciada', 'en_revision']);
        assert.equal(declared.errorCodigo, 'sin_cobro');
        const [payment] = env.f.mp.paymentsFor(res.data.referencia);
        const hook = await env.f.mp.sendWebhook(payment.id, { url: `${env.base}/api/v1/webhook/mercado-pago` });
        assert.equal(hook.status, 200, hook.body);
        const r = await settled(res.data.referencia, ['rechazada', 'cobrada']);
        assert.equal(r.estado, 'entregada');
        assert.equal(r.transaccionId, String(payment.id));
        assert.equal(ourVouchers(r).length, 1);
      } finally {
        env.f.mp.setSearchLag(1500);
      }
    });
  });

  describe('defect 5: an admin refund is always recorded', () => {
    it('admin refund: the gateway refunds, then the record transaction fails: 202, and the durable job records it later, refunded once', async () => {
      const sold = await buy(conektaBody(env.shop.productId));
      assert.equal(sold.statusCode, 200, sold.body);
      const tx = await row(sold.data.referencia);
      // The record fails after the gateway refunded (a database fault on exactly that write).
      await env.t.ctx.db.query(`CREATE OR REPLACE FUNCTION falla_registro() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'registro caído'; END $$ LANGUAGE plpgsql`);
      await env.t.ctx.db.query(`CREATE TRIGGER falla_registro BEFORE UPDATE ON transacciones FOR EACH ROW WHEN (NEW.estado = 'reembolsada') EXECUTE FUNCTION falla_registro()`);
      let res;
      try {
        res = await env.t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${tx.id}/reembolso`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
      } finally {
        await env.t.ctx.db.query(`DROP TRIGGER IF EXISTS falla_registro ON transacciones`);
      }
      assert.equal(env.f.conekta.state.refunds.filter((x) => x.orderId === tx.transaccionId).length, 1, 'the gateway refunded');
      assert.equal(res.statusCode, 202, res.body);
      assert.ok(res.data.reembolso && res.data.reembolso.estado !== 'completado', res.body);
      await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE kind = 'pagos.reembolsar' AND done_at IS NULL`);
      const r = await settled(sold.data.referencia, ['entregada'], 10_000);
      assert.equal(r.estado, 'reembolsada');
      assert.equal(env.f.conekta.state.refunds.filter((x) => x.orderId === tx.transaccionId).length, 1, 'refunded once at the gateway');
      await waitFor('ficha retirada', async () => {
        await env.t.ctx.payments.outbox.drain();
        return ourVouchers(r).length === 0;
      });
    });
  });

});
