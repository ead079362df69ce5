/**
 * Regression tests of issue 11, defects 6–10 (partial refunds, revival collisions, refund/delivery races,
 * fenced leases, dead jobs and the smaller holes), each named after its scenario.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testDbKind } from '../helpers/db.js';
import { settle } from '../../src/modules/payments/settle.js';
import { orderToPayment } from '../../src/modules/payments/gateways/conekta.js';
import { toPayment } from '../../src/modules/payments/gateways/mercadopago.js';
import { deliver } from '../../src/modules/payments/workers.js';
import { Outbox } from '../../src/infra/outbox.js';
import { auth, conektaBody, mpBody, routerDown, routerUp, uniq, waitFor } from './helpers.js';
import { useMoneyEnv } from './money-env.js';

describe('money under compound faults (issue 11): defects 6–10', { skip: testDbKind() === 'pglite' ? 'needs PostgreSQL over TCP' : false }, () => {
  const env = useMoneyEnv();
  const { buy, buyMp, row, settled, ourVouchers } = env;
  describe('defect 6: partial refunds are their own state', () => {
    it('Conekta partial refund: reembolso_parcial with the refunded cents, voucher stays; the admin refund gives back the remainder with amount and reason', async () => {
      const sold = await buy(conektaBody(env.shop.productId));
      const tx = await row(sold.data.referencia);
      // Part of the money goes back from Conekta's dashboard.
      const o = env.f.conekta.state.orders.get(tx.transaccionId!)!;
      o.amount_refunded = 500;
      env.f.conekta.setOrderStatus(o.id, 'partially_refunded');
      const hook = await env.f.conekta.sendWebhook(`${env.base}/api/v1/webhook/conekta`, 'order.partially_refunded', tx.transaccionId!);
      assert.equal(hook.status, 200);
      const r = await settled(sold.data.referencia, ['entregada'], 10_000);
      assert.equal(r.estado, 'reembolso_parcial');
      assert.equal(r.reembolsadoCentavos, 500);
      assert.equal(ourVouchers(r).length, 1, 'the voucher stays');
      const shown = await env.t.request({ method: 'GET', url: `/api/v1/payments/transacciones/${r.referencia}`, headers: auth(env.shop.apiKey) });
      assert.equal(shown.data.estado, 'reembolso_parcial');
      assert.equal(shown.data.estado_pago, 'partially_refunded');
      assert.equal(shown.data.monto_reembolsado, 5);
      assert.ok(shown.data.usuario_hotspot, 'credentials still shown');
      const refund = await env.t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${r.id}/reembolso`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
      assert.equal(refund.statusCode, 202, refund.body);
      const done = await settled(sold.data.referencia, ['reembolso_parcial'], 10_000);
      assert.equal(done.estado, 'reembolsada');
      const last = env.f.conekta.state.requests.filter((x) => x.method === 'POST' && x.path.endsWith('/refunds')).at(-1)!;
      assert.equal((last.body as { amount: number }).amount, 1499, 'the remainder');
      assert.equal(typeof (last.body as { reason: unknown }).reason, 'string');
    });

    it('Mercado Pago partial refund (approved, partially_refunded): reembolso_parcial, voucher stays', async () => {
      {
        const sold = await buyMp(mpBody(env.shop.productId));
        assert.equal(sold.statusCode, 200, sold.body);
        const tx = await row(sold.data.referencia);
        const p = env.f.mp.state.payments.get(Number(tx.transaccionId))!;
        p.transaction_amount_refunded = 5;
        p.status_detail = 'partially_refunded';
        const hook = await env.f.mp.sendWebhook(p.id, { url: `${env.base}/api/v1/webhook/mercado-pago` });
        assert.equal(hook.status, 200);
        const r = await settled(sold.data.referencia, ['entregada'], 10_000);
        assert.equal(r.estado, 'reembolso_parcial');
        assert.equal(r.reembolsadoCentavos, 500);
        assert.equal(ourVouchers(r).length, 1);
      }
    });
  });

  describe('defect 7: revival collisions and refunds racing deliveries', () => {
    it('revived purchase whose voucher name was taken meanwhile: a new name, delivered, not retried forever', async () => {
      env.f.mp.setSearchLag(10 * 60_000);
      try {
        const res = await buyMp(mpBody(env.shop.productId, `500_approved~${uniq()}`));
        const declared = await settled(res.data.referencia, ['iniciada', 'en_revision']);
        assert.equal(declared.errorCodigo, 'sin_cobro');
        // Another live purchase now holds the same voucher name on this router.
        const other = await buy(conektaBody(env.shop.productId));
        await env.t.ctx.db.query('UPDATE transacciones SET usuario_hotspot = $1 WHERE referencia = $2', [declared.usuarioHotspot, other.data.referencia]);
        const [payment] = env.f.mp.paymentsFor(res.data.referencia);
        await settle(env.t.ctx.payments, declared, toPayment(payment as unknown as Record<string, unknown>));
        const r = await settled(res.data.referencia, ['rechazada', 'cobrada']);
        assert.equal(r.estado, 'entregada');
        assert.notEqual(r.usuarioHotspot, declared.usuarioHotspot);
        assert.equal(ourVouchers(r).length, 1);
      } finally {
        env.f.mp.setSearchLag(1500);
      }
    });

    it('refund racing a delivery: the removal already ran, the voucher lands after it, the router fails the clean-up: its own durable removal job takes it off', async () => {
      const hotspot = env.t.ctx.hotspot;
      const create = hotspot.createVoucher.bind(hotspot);
      let armed = true;
      hotspot.createVoucher = async (routerId, spec) => {
        if (!armed) return create(routerId, spec);
        armed = false;
        const ref = spec.comment.replace('pagos-hotspot tx=', '');
        const before = await row(ref);
        const o = env.f.conekta.state.orders.get(before.transaccionId!)!;
        env.f.conekta.setOrderStatus(o.id, 'refunded');
        await settle(env.t.ctx.payments, before, orderToPayment(o as unknown as Record<string, unknown>));
        await env.t.ctx.payments.outbox.drain(); // the removal runs now: nothing on the router yet
        const out = await create(routerId, spec);
        routerDown(env.shop.sim);
        return out;
      };
      let res;
      try {
        res = await buy(conektaBody(env.shop.productId));
      } finally {
        hotspot.createVoucher = create;
        await routerUp(env.shop.sim);
      }
      const r = await row(res.data.referencia);
      assert.equal(r.estado, 'reembolsada');
      await waitFor('sin ficha tras el reembolso', async () => {
        await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE kind = 'pagos.quitar_ficha' AND done_at IS NULL`);
        await env.t.ctx.payments.outbox.drain();
        return ourVouchers(r).length === 0;
      }, 10_000);
    });
  });

  describe('defect 8: outbox leases are fenced', () => {
    it('lease takeover on a slow router: the worker that lost its lease stops before touching the router again; one voucher in the end', async () => {
      const hotspot = env.t.ctx.hotspot;
      const create = hotspot.createVoucher.bind(hotspot);
      let calls = 0;
      let release = () => undefined as void;
      let other: Outbox | null = null;
      let otherRun: Promise<boolean> | null = null;
      hotspot.createVoucher = async (routerId, spec) => {
        calls++;
        if (calls === 1) {
          // While the router is slow, this worker's lease runs out and another worker (another instance)
          // claims the job; it waits here until the first one has finished.
          const tx = await row(spec.comment.replace('pagos-hotspot tx=', ''));
          const [j] = await env.t.ctx.db.query<{ id: number }>(`SELECT id FROM outbox WHERE dedupe_key = $1 AND done_at IS NULL`, [`entregar:${tx.id}`]);
          await env.t.ctx.db.query(`UPDATE outbox SET locked_until = now() - interval '1 second' WHERE id = $1`, [j.id]);
          const gate = new Promise<void>((r) => (release = r));
          other = new Outbox(env.t.ctx.db, env.t.ctx.logger, { leaseMs: 30_000 });
          other.on('pagos.entregar', async (job) => {
            await gate;
            return deliver(env.t.ctx.payments, job);
          });
          let claimed = false;
          otherRun = other.runNow(Number(j.id)).then((ran) => (claimed = ran));
          await waitFor('el otro trabajador tiene el trabajo', async () => {
            const [x] = await env.t.ctx.db.query<{ held: boolean }>(`SELECT locked_until > now() AS held FROM outbox WHERE id = $1`, [j.id]);
            return x.held || claimed;
          });
          // …and someone made a user with this name by hand: the first worker would rename and create another.
          env.shop.sim.state.users.rows.push({ '.id': '*H1', name: spec.username, profile: spec.profile, comment: 'hecho a mano' } as never);
        }
        return create(routerId, spec);
      };
      let res;
      try {
        res = await buy(conektaBody(env.shop.productId));
      } finally {
        hotspot.createVoucher = create;
      }
      try {
        assert.equal(res.statusCode, 200, res.body);
        const r = await row(res.data.referencia);
        assert.equal(ourVouchers(r).length, 0, 'the worker without its lease created nothing');
        assert.equal(calls, 1, 'and did not call the router again');
      } finally {
        // Released whatever the assertions said, so a failure does not hang the file's clean-up.
        release();
        await otherRun;
      }
      const done = await row(res.data.referencia);
      assert.equal(done.estado, 'entregada');
      assert.equal(ourVouchers(done).length, 1, 'one voucher, by the worker holding the lease');
      void other;
    });
  });

  describe('defect 9: jobs neither die silently nor live forever', () => {
    it('refund notice whose gateway re-read keeps failing: after its cap the job is dead (visible), counted, logged and the company alerted', async () => {
      const sold = await buy(conektaBody(env.shop.productId));
      const tx = await row(sold.data.referencia);
      const hook = await env.f.conekta.sendWebhook(`${env.base}/api/v1/webhook/conekta`, 'order.refunded', tx.transaccionId!);
      assert.equal(hook.status, 200);
      // Days of failed re-reads, compressed: the job is at its last allowed attempt and the gateway still fails.
      await env.t.ctx.db.query(`UPDATE outbox SET attempts = 499 WHERE kind = 'pagos.aplicar_pago' AND done_at IS NULL AND payload->>'transaccionId' = $1`, [String(tx.id)]);
      env.f.conekta.failNextRead({ status: 500 });
      const sentBefore = env.f.telegram.messages.length;
      await env.t.ctx.payments.outbox.drain();
      const [job] = await env.t.ctx.db.query<{ dead_at: unknown; done_at: unknown }>(
        `SELECT dead_at, done_at FROM outbox WHERE kind = 'pagos.aplicar_pago' AND payload->>'transaccionId' = $1 ORDER BY id DESC LIMIT 1`,
        [String(tx.id)],
      );
      assert.ok(job.dead_at, 'dead, not silently dropped');
      const metrics = await env.t.ctx.metrics.registry.metrics();
      assert.match(metrics, /outbox_dead_jobs_total\{kind="pagos.aplicar_pago"\} [1-9]/);
      await env.t.ctx.payments.outbox.drain();
      assert.ok(env.f.telegram.messages.slice(sentBefore).some((m) => /Atención/.test(m.text)), 'the company is told');
    });
  });

  describe('defect 10: smaller holes', () => {
    it('same key with another body: 409 without the first purchase referencia', async () => {
      const key = uniq();
      const first = await buy(conektaBody(env.shop.productId), { 'idempotency-key': key });
      assert.equal(first.statusCode, 200, first.body);
      const other = await buy(conektaBody(env.shop.productId), { 'idempotency-key': key });
      assert.equal(other.statusCode, 409, other.body);
      assert.equal(other.data.code, 'idempotency_key_reused');
      assert.ok(!other.body.includes(first.data.referencia), `the 409 leaks the first referencia: ${other.body}`);
      assert.equal(other.data.referencia, undefined);
    });

    it('gateway 429 on a charge: not charged, retry later; never a card decline', async () => {
      const res = await buy(conektaBody(env.shop.productId, `tok_test_http_429_rate_limit_exceeded~${uniq()}`));
      assert.equal(res.statusCode, 429, res.body);
      assert.equal(res.data.code, 'gateway_rate_limited');
      const r = await row(res.data.referencia);
      assert.equal(r.errorCodigo, 'gateway_rate_limited');
    });

    it('unknown-payment webhooks keep the payment id only, once per payment', async () => {
      const big = JSON.stringify({ action: 'payment.updated', type: 'payment', data: { id: '987654321' }, padding: 'x'.repeat(100_000) });
      for (let i = 0; i < 2; i++) {
        const r = await fetch(`${env.base}/api/v1/webhook/mercado-pago?data.id=987654321&type=payment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
        assert.equal(r.status, 200);
      }
      const jobs = await env.t.ctx.db.query<{ payload: Record<string, unknown> }>(`SELECT payload FROM outbox WHERE dedupe_key = 'webhook:mercado_pago:987654321'`);
      assert.equal(jobs.length, 1);
      assert.ok(JSON.stringify(jobs[0].payload).length < 500, `stored: ${JSON.stringify(jobs[0].payload).slice(0, 200)}`);
      assert.equal(jobs[0].payload.paymentId, '987654321');
    });

    it('retention: stored answers lose their voucher credentials and finished jobs are purged', async () => {
      const key = uniq();
      const sold = await buy(conektaBody(env.shop.productId), { 'idempotency-key': key });
      assert.equal(sold.statusCode, 200);
      await env.t.ctx.db.query(`UPDATE idempotencia_solicitudes SET creada_en = now() - interval '100 hours' WHERE clave = $1`, [key]);
      await env.t.ctx.db.query(`UPDATE outbox SET done_at = now() - interval '100 hours' WHERE done_at IS NOT NULL`);
      await env.t.ctx.db.query(`DELETE FROM outbox WHERE kind = 'pagos.purgar'`);
      await env.t.ctx.db.query(`INSERT INTO outbox (kind, payload, dedupe_key) VALUES ('pagos.purgar', '{}', 'pagos:purgar')`);
      await env.t.ctx.payments.outbox.drain();
      const [k] = await env.t.ctx.db.query<{ respuesta_cifrada: string | null; referencia: string }>(`SELECT respuesta_cifrada, referencia FROM idempotencia_solicitudes WHERE clave = $1`, [key]);
      assert.equal(k.respuesta_cifrada, null, 'no credentials kept past the retention');
      assert.equal(k.referencia, sold.data.referencia);
      const [{ n }] = await env.t.ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE done_at < now() - interval '99 hours' AND dead_at IS NULL`);
      assert.equal(n, 0);
      const again = await buy(conektaBody(env.shop.productId), { 'idempotency-key': key });
      assert.ok(!JSON.stringify(again.data).includes(sold.data.usuario_hotspot.contrasena) || again.statusCode !== 200, 'the replay no longer carries credentials');
    });

    it('settlement refuses a charge in another currency and sends it to review', async () => {
      env.f.conekta.failNext({ status: 500, create: 'paid' });
      const res = await buy(conektaBody(env.shop.productId));
      const [order] = env.f.conekta.ordersFor(res.data.referencia);
      (order as { currency: string }).currency = 'USD';
      await new Promise((r) => setTimeout(r, 300));
      await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE kind = 'pagos.conciliar' AND done_at IS NULL`);
      await env.t.ctx.payments.outbox.drain();
      await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE kind = 'pagos.conciliar' AND done_at IS NULL`);
      await env.t.ctx.payments.outbox.drain();
      const r = await row(res.data.referencia);
      assert.notEqual(r.estado, 'cobrada');
      assert.notEqual(r.estado, 'entregada');
      assert.equal(r.errorCodigo, 'cobro_no_coincide');
    });

    it('a forged Conekta event for a real order sets no webhook fields', async () => {
      const sold = await buy(conektaBody(env.shop.productId));
      const tx = await row(sold.data.referencia);
      const forged = JSON.stringify({ id: 'evt_forjado_por_atacante', type: 'order.paid', data: { object: { id: tx.transaccionId, object: 'order' } } });
      const r = await fetch(`${env.base}/api/v1/webhook/conekta`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: forged });
      assert.equal(r.status, 200);
      await env.t.ctx.payments.outbox.drain();
      const after = await row(sold.data.referencia);
      assert.notEqual(after.notificationId, 'evt_forjado_por_atacante');
      assert.equal(after.webhookProcessed, false);
    });
  });
});
