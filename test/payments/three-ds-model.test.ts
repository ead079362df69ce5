/**
 * The money invariant under 3-D Secure (issue 13), model-based (fast-check) through the real checkout HTTP
 * path, settlement and workers: random interleavings of the bank's verdict (approve, fail, none), the
 * customer coming back to our page (or not), reconcile runs, duplicated webhook-like reads, and the challenge's
 * deadline passing before or after the bank answers. After each run (every job drained, time moved past every
 * deadline in the database):
 *   - approved at the gateway and not refunded ⇒ delivered, exactly one voucher on the router;
 *   - approved after the challenge had expired ⇒ refunded in full exactly once, no voucher ever;
 *   - never approved ⇒ declined, no voucher, no refund;
 *   - the device's walled-garden pass is gone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { settle } from '../../src/modules/payments/settle.js';
import { auth, createShop, routerUsers, startFakes, startPaymentsApp, txByRef, uniq, waitFor, type Fakes, type Shop } from './helpers.js';
import type { TestApp } from '../helpers/app.js';

type Step = 'approve' | 'fail' | 'return' | 'reconcile' | 'read_twice' | 'deadline';
const OPEN = ['iniciada', 'en_autenticacion', 'en_revision', 'cobrada'];

describe('3-D Secure money model (fast-check)', () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  before(async () => {
    f = await startFakes();
    // A long timeout: the deadline passes only when a step moves the clock (deterministic, no race with the run).
    t = await startPaymentsApp(f, { env: { THREE_DS_CHALLENGE_TIMEOUT_MS: '600000' } });
    shop = await createShop(t);
    await t.ctx.db.query(`UPDATE empresas SET mercado_pago_public_key = 'TEST-public-3ds' WHERE id = $1`, [shop.empresaId]);
    await t.ctx.payments.startWorkers();
  });
  after(async () => {
    await t.ctx.payments.stopWorkers();
    await t.close();
    await shop.sim.close();
    await f.close();
  });

  const jobsNow = (id: number) => t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE done_at IS NULL AND dead_at IS NULL AND payload->>'transaccionId' = $1`, [String(id)]);
  const pastDeadline = (id: number) => t.ctx.db.query(`UPDATE transacciones SET cobro_intentado_en = cobro_intentado_en - interval '2 hours' WHERE id = $1`, [id]);

  it('random interleavings keep the money invariant', { timeout: 240_000 }, async () => {
    const numRuns = Number(process.env.THREE_DS_MODEL_RUNS ?? 24);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('conekta' as const, 'mercado_pago' as const), fc.array(fc.constantFrom<Step>('approve', 'fail', 'return', 'reconcile', 'read_twice', 'deadline'), { maxLength: 6 }), async (pasarela, steps) => {
        const ip = `10.5.60.${(n % 200) + 10}`;
        // Each run is another customer: the page's endpoints are rate-limited per client address (30/min), and
        // the runs (with fast-check's shrinking) would otherwise all count against 127.0.0.1.
        const customer = `198.51.${Math.floor(n / 250) % 250}.${(n++ % 250) + 1}`;
        const s = await t.request({
          method: 'POST',
          url: '/api/v1/checkout/sesiones',
          headers: auth(shop.apiKey),
          payload: { producto_id: shop.productId, pasarela, nombre_cliente: 'Ana López', email_cliente: 'ana@example.com', link_login_only: 'http://10.5.50.1/login', ip },
        });
        assert.equal(s.statusCode, 201, s.body);
        const sesion = new URL(s.data.url).pathname.split('/').pop()!;
        const payload = pasarela === 'conekta' ? { token: `tok_test_3ds_challenge_${uniq()}` } : { token: `3ds_challenge~${uniq()}`, payment_method_id: 'visa', installments: 1 };
        const pay = await t.request({ method: 'POST', url: `/api/v1/checkout/sesiones/${sesion}/pago`, remoteAddress: customer, headers: { 'idempotency-key': `k-${uniq()}` }, payload });
        assert.equal(pay.statusCode, 202, pay.body);
        const referencia: string = pay.data.referencia;
        const row0 = await txByRef(t.ctx, referencia);
        const gatewayId = row0.transaccionId!;

        let verdict: 'none' | 'approved' | 'failed' = 'none';
        let approvedAfterDeadline = false;
        let deadlinePassed = false;
        for (const step of steps) {
          if (step === 'approve' || step === 'fail') {
            if (verdict !== 'none') continue;
            verdict = step === 'approve' ? 'approved' : 'failed';
            if (verdict === 'approved' && deadlinePassed) {
              // Approved after the deadline: "late" only if we had already expired it (the read under the deadline decides).
              const now = await txByRef(t.ctx, referencia);
              approvedAfterDeadline = now.estado === 'rechazada';
            }
            if (pasarela === 'conekta') f.conekta.completeChallenge(gatewayId, step === 'approve' ? 'aprobar' : 'rechazar');
            else f.mp.completeChallenge(gatewayId, step === 'approve' ? 'aprobar' : 'rechazar');
          } else if (step === 'return') {
            await t.request({ method: 'POST', url: `/api/v1/checkout/sesiones/${sesion}/autenticacion`, remoteAddress: customer });
          } else if (step === 'reconcile') {
            await jobsNow(row0.id);
          } else if (step === 'read_twice') {
            // Two actors holding the same read (a webhook and the reconciler), applied concurrently.
            const tx = await txByRef(t.ctx, referencia);
            const p = await t.ctx.payments.getPayment(tx, gatewayId);
            if (p) await Promise.all([settle(t.ctx.payments, tx, p), settle(t.ctx.payments, tx, p)]);
          } else if (step === 'deadline') {
            deadlinePassed = true;
            await pastDeadline(row0.id);
            await jobsNow(row0.id);
            // The reconciler expires it unless the bank already answered (then it settles that answer).
            await waitFor('expired or settled', async () => ((await txByRef(t.ctx, referencia)).estado !== 'en_autenticacion' ? true : null));
          }
        }
        // Drain: past every deadline, every job of this purchase run until nothing changes any more.
        await pastDeadline(row0.id);
        const final = await waitFor(
          'settled',
          async () => {
            await jobsNow(row0.id);
            const tx = await txByRef(t.ctx, referencia);
            if (OPEN.includes(tx.estado)) return null;
            if (verdict === 'approved' && tx.estado === 'rechazada') return null; // the late refund is on its way
            const [pending] = await t.ctx.db.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM outbox WHERE done_at IS NULL AND dead_at IS NULL AND payload->>'transaccionId' = $1 AND kind <> 'pagos.reto_vencido' AND kind <> 'pagos.telegram'`,
              [String(row0.id)],
            );
            return pending.n === 0 ? tx : null;
          },
          30_000,
        );

        const refunds =
          pasarela === 'conekta'
            ? f.conekta.state.refunds.filter((r) => r.orderId === gatewayId).map((r) => r.amount)
            : f.mp.state.refunds.filter((r) => String(r.paymentId) === gatewayId).map((r) => Math.round(r.amount * 100));
        const vouchers = routerUsers(shop.sim, final.usuarioHotspot!);
        const label = `${pasarela} ${steps.join(',')} → ${final.estado}/${final.errorCodigo ?? ''}`;
        if (verdict === 'approved' && !approvedAfterDeadline) {
          assert.equal(final.estado, 'entregada', label);
          assert.equal(vouchers.length, 1, label);
          assert.deepEqual(refunds, [], label);
        } else if (verdict === 'approved') {
          assert.equal(final.estado, 'reembolsada', label);
          assert.equal(final.errorCodigo, 'autenticacion_vencida', label);
          assert.deepEqual(refunds, [1999], label);
          assert.equal(vouchers.length, 0, label);
        } else {
          assert.equal(final.estado, 'rechazada', label);
          assert.equal(vouchers.length, 0, label);
          assert.deepEqual(refunds, [], label);
        }
        await waitFor('pass gone', () => (shop.sim.state.walledGardenIp.rows.some((r) => r.comment === `Pagos Hotspot 3DS ${referencia}`) ? null : true));
      }),
      {
        numRuns,
        includeErrorInReport: true,
        // THREE_DS_MODEL_SEED and THREE_DS_MODEL_PATH replay a reported failure (fast-check prints both).
        ...(process.env.THREE_DS_MODEL_SEED ? { seed: Number(process.env.THREE_DS_MODEL_SEED), path: process.env.THREE_DS_MODEL_PATH } : {}),
      },
    );
  });
});
