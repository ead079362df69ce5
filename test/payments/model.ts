/**
 * Model-based test of the money state machine (fast-check): random interleavings of charge answers
 * (approved, declined, lost after the charge, timeout with and without a charge, 429), gateway webhooks
 * (paid, full and partial refund, chargeback; duplicated, out of order, stale), deliveries (ok, trap,
 * reply lost after the router created the user), lease takeovers, database faults on a write, crashes of
 * an actor mid-flight (its lease left to expire) and admin refunds, run through the REAL purchase,
 * settlement and worker code on real PostgreSQL, against the in-process gateway fakes and the RouterOS
 * simulator. After each run, with every fault healed and the workers drained (time moved forward in the
 * database, so deadlines and grace periods pass), the invariant must hold for the run's purchase:
 *
 *   - charged at most once per attempt, refunded at most the amount (no double refund);
 *   - money kept at the gateway (charged, not fully refunded or charged back) ⇒ exactly one live voucher;
 *   - no money kept ⇒ no voucher on the router;
 *   - the row's state agrees with the gateway (delivered / partially refunded ⇔ money kept);
 *   - a top-up (a quarter of the runs) is a charge without a voucher of its own: its sale's single user has
 *     the extended limit exactly while the top-up's money is kept, the original one otherwise.
 *
 * Used by test/payments/model.test.ts (≥ 200 runs) and `npm run drill -- --model N` (long mode).
 */
import fc from 'fast-check';
import { settle } from '../../src/modules/payments/settle.js';
import { orderToPayment } from '../../src/modules/payments/gateways/conekta.js';
import { toPayment } from '../../src/modules/payments/gateways/mercadopago.js';
import type { Transaccion } from '../../src/modules/payments/repository.js';
import { LeaseLostError } from '../../src/infra/outbox.js';
import type { TestApp } from '../helpers/app.js';
import { auth, conektaBody, mpBody, routerDown, routerUp, txByRef, uniq, type Fakes, type Shop } from './helpers.js';

type Gateway = 'conekta' | 'mp';
/** Actors "killed" mid-flight in the current run. */
const crashed: Array<() => void> = [];
type Charge = 'approved' | 'declined' | 'lost_charged' | 'timeout_charged' | 'timeout_uncharged' | 'rate_limited';
type Delivery = 'ok' | 'trap' | 'reply_lost';
type Step =
  | { k: 'webhook' }
  | { k: 'refund_full' }
  | { k: 'refund_partial'; cents: number }
  | { k: 'chargeback' }
  | { k: 'stale_settle' }
  | { k: 'drain' }
  | { k: 'router_down' }
  | { k: 'router_up' }
  | { k: 'lease_takeover' }
  | { k: 'db_fault_once' }
  | { k: 'crash_worker' }
  | { k: 'admin_refund' };

export interface Scenario {
  /** A top-up (issue 15) of a voucher sold just before, instead of a new sale: the faults hit the top-up. */
  recarga?: boolean;
  gateway: Gateway;
  charge: Charge;
  delivery: Delivery;
  steps: Step[];
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constant<Step>({ k: 'webhook' }),
  fc.constant<Step>({ k: 'refund_full' }),
  fc.integer({ min: 1, max: 1998 }).map<Step>((cents) => ({ k: 'refund_partial', cents })),
  fc.constant<Step>({ k: 'chargeback' }),
  fc.constant<Step>({ k: 'stale_settle' }),
  fc.constant<Step>({ k: 'drain' }),
  fc.constant<Step>({ k: 'router_down' }),
  fc.constant<Step>({ k: 'router_up' }),
  fc.constant<Step>({ k: 'lease_takeover' }),
  fc.constant<Step>({ k: 'db_fault_once' }),
  fc.constant<Step>({ k: 'crash_worker' }),
  fc.constant<Step>({ k: 'admin_refund' }),
);

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  recarga: fc.constantFrom(false, false, false, true),
  gateway: fc.constantFrom<Gateway>('conekta', 'mp'),
  charge: fc.constantFrom<Charge>('approved', 'approved', 'declined', 'lost_charged', 'timeout_charged', 'timeout_uncharged', 'rate_limited'),
  delivery: fc.constantFrom<Delivery>('ok', 'ok', 'trap', 'reply_lost'),
  steps: fc.array(stepArb, { maxLength: 6 }),
});

export interface ModelRig {
  t: TestApp;
  f: Fakes;
  shop: Shop;
  base: string;
}

/** What the gateway holds for one referencia: charges, money kept, refunded cents. */
function gatewayView(rig: ModelRig, ref: string, gateway: Gateway) {
  if (gateway === 'conekta') {
    const orders = rig.f.conekta.ordersFor(ref);
    const paid = orders.filter((o) => ['paid', 'partially_refunded', 'refunded', 'chargeback', 'charged_back'].includes(o.payment_status));
    const o = paid[0];
    const refunded = o ? Number(o.amount_refunded ?? 0) : 0;
    const kept = !!o && (o.payment_status === 'paid' || o.payment_status === 'partially_refunded') && refunded < o.amount;
    return { charges: paid.length, kept, refunded, amount: o?.amount ?? 0, overRefunded: !!o && refunded > o.amount, id: o?.id ?? null };
  }
  const ps = rig.f.mp.paymentsFor(ref);
  const paid = ps.filter((p) => ['approved', 'refunded', 'charged_back'].includes(p.status));
  const p = paid[0];
  const refunded = p ? Math.round(Number(p.transaction_amount_refunded ?? 0) * 100) : 0;
  const amount = p ? Math.round(p.transaction_amount * 100) : 0;
  const kept = !!p && p.status === 'approved' && refunded < amount;
  return { charges: paid.length, kept, refunded, amount, overRefunded: !!p && refunded > amount, id: p ? String(p.id) : null };
}

export async function runScenario(rig: ModelRig, sc: Scenario): Promise<void> {
  const { t, f, shop } = rig;
  const hotspot = t.ctx.hotspot;
  const n = uniq();
  const token =
    sc.gateway === 'conekta'
      ? { approved: `tok_test_visa_4242~${n}`, declined: `tok_test_decline_card_declined~${n}`, lost_charged: `tok_test_500_paid~${n}`, timeout_charged: `tok_test_timeout_paid~${n}`, timeout_uncharged: `tok_test_timeout~${n}`, rate_limited: `tok_test_http_429_rate_limit_exceeded~${n}` }[sc.charge]
      : { approved: `card~${n}`, declined: `rej_cc_rejected_other_reason~${n}`, lost_charged: `500_approved~${n}`, timeout_charged: `timeout_approved~${n}`, timeout_uncharged: `timeout~${n}`, rate_limited: `card~${n}` }[sc.charge];
  if (sc.gateway === 'mp' && sc.charge === 'rate_limited') f.mp.failNext({ status: 429 });

  // A top-up scenario: the voucher it extends, sold (and delivered) before any fault.
  let sale: { referencia: string; usuario: string; contrasena: string } | null = null;
  if (sc.recarga) {
    const s0 = await t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: auth(shop.apiKey), payload: conektaBody(shop.productId, `tok_test_visa_4242~v${n}`) });
    if (s0.statusCode !== 200) throw new Error(`venta previa: ${s0.statusCode} ${s0.body}`);
    sale = { referencia: s0.data.referencia, usuario: s0.data.usuario_hotspot.usuario, contrasena: s0.data.usuario_hotspot.contrasena };
  }

  // Deliveries: the router's behaviour for this run's first creation (or first top-up write).
  const create = hotspot.createVoucher.bind(hotspot);
  const setLimits = hotspot.setVoucherLimits.bind(hotspot);
  let firstCreate = true;
  hotspot.createVoucher = async (routerId, spec) => {
    if (!firstCreate || sc.recarga) return create(routerId, spec);
    firstCreate = false;
    if (sc.delivery === 'trap') throw Object.assign(new Error('failure: simulated trap'), { name: 'TrapError' });
    const out = await create(routerId, spec);
    if (sc.delivery === 'reply_lost') throw new Error('reply lost after the router created the user');
    return out;
  };
  hotspot.setVoucherLimits = async (...args) => {
    if (!firstCreate || !sc.recarga) return setLimits(...args);
    firstCreate = false;
    if (sc.delivery === 'trap') throw Object.assign(new Error('failure: simulated trap'), { name: 'TrapError' });
    const out = await setLimits(...args);
    if (sc.delivery === 'reply_lost') throw new Error('reply lost after the router applied the limits');
    return out;
  };
  let ref: string;
  try {
    const topUp = sale ? { usuario: sale.usuario, contrasena: sale.contrasena } : {};
    const res = await t.request({
      method: 'POST',
      url: `/api/v1/payments/${sc.recarga ? 'recargar' : 'pagar'}-${sc.gateway === 'conekta' ? 'conekta' : 'mercado-pago'}`,
      headers: auth(shop.apiKey),
      payload: sc.gateway === 'conekta' ? conektaBody(shop.productId, token, topUp) : mpBody(shop.productId, token, topUp),
    });
    ref = String(res.data.referencia ?? '');
    if (!ref) throw new Error(`sin referencia: ${res.statusCode} ${res.body}`);
    const snapshot: Transaccion | null = (await txByRef(t.ctx, ref)) ?? null;

    for (const step of sc.steps) await applyStep(rig, sc, ref, step, snapshot);
  } finally {
    hotspot.createVoucher = create;
    hotspot.setVoucherLimits = setLimits;
  }
  await quiesce(rig, ref);
  await checkInvariant(rig, sc, ref, sale);
}

async function gatewayPayment(rig: ModelRig, sc: Scenario, id: string) {
  if (sc.gateway === 'conekta') {
    const o = rig.f.conekta.state.orders.get(id);
    return o ? orderToPayment(o as unknown as Record<string, unknown>) : null;
  }
  const p = rig.f.mp.state.payments.get(Number(id));
  return p ? toPayment(p as unknown as Record<string, unknown>) : null;
}

async function sendWebhook(rig: ModelRig, sc: Scenario, id: string, type: string) {
  if (sc.gateway === 'conekta') await rig.f.conekta.sendWebhook(`${rig.base}/api/v1/webhook/conekta`, type, id);
  else await rig.f.mp.sendWebhook(id, { url: `${rig.base}/api/v1/webhook/mercado-pago` });
}

async function applyStep(rig: ModelRig, sc: Scenario, ref: string, step: Step, snapshot: Transaccion | null): Promise<void> {
  const { t, f, shop } = rig;
  const svc = t.ctx.payments;
  const g = gatewayView(rig, ref, sc.gateway);
  switch (step.k) {
    case 'webhook':
      if (g.id) await sendWebhook(rig, sc, g.id, 'order.paid');
      return;
    case 'refund_full':
    case 'refund_partial':
    case 'chargeback': {
      if (!g.id || !g.kept) return;
      const left = g.amount - g.refunded;
      const cents = step.k === 'refund_partial' ? Math.min(step.cents, left) : left;
      if (sc.gateway === 'conekta') {
        const o = f.conekta.state.orders.get(g.id)!;
        if (step.k === 'chargeback') f.conekta.setOrderStatus(g.id, 'charged_back');
        else {
          o.amount_refunded = g.refunded + cents;
          f.conekta.setOrderStatus(g.id, Number(o.amount_refunded) >= o.amount ? 'refunded' : 'partially_refunded');
        }
      } else {
        const p = f.mp.state.payments.get(Number(g.id))!;
        if (step.k === 'chargeback') f.mp.setPaymentStatus(g.id, 'charged_back', 'settled');
        else {
          p.transaction_amount_refunded = (g.refunded + cents) / 100;
          if (g.refunded + cents >= g.amount) f.mp.setPaymentStatus(g.id, 'refunded', 'refunded');
          else p.status_detail = 'partially_refunded';
        }
      }
      await sendWebhook(rig, sc, g.id, step.k === 'chargeback' ? 'charge.chargeback.created' : 'order.refunded');
      return;
    }
    case 'stale_settle': {
      // An actor holding the first read of the row and an old "approved" commits now.
      if (!snapshot || !g.id) return;
      const p = await gatewayPayment(rig, sc, g.id);
      if (!p) return;
      await settle(svc, snapshot, { ...p, status: 'approved', rawStatus: sc.gateway === 'conekta' ? 'paid' : 'approved', refundedCents: 0 }).catch(() => undefined);
      return;
    }
    case 'drain':
      await svc.outbox.drain(3).catch(() => undefined);
      return;
    case 'router_down':
      routerDown(shop.sim);
      return;
    case 'router_up':
      await routerUp(shop.sim);
      return;
    case 'lease_takeover':
      await t.ctx.db.query(`UPDATE outbox SET locked_until = now() - interval '1 second' WHERE done_at IS NULL AND locked_until IS NOT NULL`);
      return;
    case 'db_fault_once': {
      // The next write that would record a refund or a delivery fails once (a database fault on that write).
      await t.ctx.db.query(`CREATE OR REPLACE FUNCTION modelo_falla() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'falla de modelo'; END $$ LANGUAGE plpgsql`);
      await t.ctx.db.query(`DROP TRIGGER IF EXISTS modelo_falla ON transacciones`);
      await t.ctx.db.query(`CREATE TRIGGER modelo_falla BEFORE UPDATE ON transacciones FOR EACH ROW WHEN (NEW.referencia = '${ref.replace(/'/g, '')}' AND NEW.estado IS DISTINCT FROM OLD.estado) EXECUTE FUNCTION modelo_falla()`);
      try {
        await svc.outbox.drain(2).catch(() => undefined);
      } finally {
        await t.ctx.db.query(`DROP TRIGGER IF EXISTS modelo_falla ON transacciones`);
      }
      return;
    }
    case 'crash_worker': {
      // A worker claims the due jobs and dies at its first router call: the jobs keep their lease until it expires.
      const hotspot = t.ctx.hotspot;
      const create = hotspot.createVoucher.bind(hotspot);
      const remove = hotspot.removeVoucher.bind(hotspot);
      // Dead: it never returns while the scenario runs; at quiescence it is released as a fenced zombie
      // (LeaseLostError: it stops without writing anything, as a dead process would).
      const die = () => new Promise<never>((_, reject) => crashed.push(() => reject(new LeaseLostError(0))));
      const setLimits = hotspot.setVoucherLimits.bind(hotspot);
      hotspot.createVoucher = () => die();
      hotspot.removeVoucher = () => die();
      hotspot.setVoucherLimits = () => die();
      const abandoned = svc.outbox.drain(1).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 30));
      hotspot.createVoucher = create;
      hotspot.removeVoucher = remove;
      hotspot.setVoucherLimits = setLimits;
      void abandoned;
      return;
    }
    case 'admin_refund': {
      const row = await txByRef(t.ctx, ref);
      if (!row) return;
      await t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${row.id}/reembolso`, headers: { authorization: `Bearer ${shop.adminToken}` }, payload: {} });
      return;
    }
  }
}

/** Heal every fault, move the purchase's clock forward, and drain until nothing is due. */
async function quiesce(rig: ModelRig, ref: string): Promise<void> {
  const { t, shop } = rig;
  await routerUp(shop.sim);
  for (const release of crashed.splice(0)) release();
  for (let round = 0; round < 40; round++) {
    await t.ctx.db.query(
      `UPDATE transacciones SET cobro_intentado_en = cobro_intentado_en - interval '2 hours', creada_en = creada_en - interval '2 hours'
        WHERE referencia = $1 AND estado IN ('iniciada', 'en_revision')`,
      [ref],
    );
    // Leases of crashed actors run out; everything due now.
    await t.ctx.db.query(`UPDATE outbox SET run_at = now(), locked_until = CASE WHEN locked_until < now() + interval '1 hour' THEN NULL ELSE locked_until END WHERE done_at IS NULL AND kind <> 'pagos.purgar'`);
    const ran = await t.ctx.payments.outbox.drain(10);
    const [open] = await t.ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE done_at IS NULL AND kind <> 'pagos.purgar' AND kind <> 'pagos.telegram'`);
    const [tx] = await t.ctx.db.query<{ estado: string }>(`SELECT estado FROM transacciones WHERE referencia = $1`, [ref]);
    if (ran === 0 && Number(open.n) === 0 && tx && !['iniciada', 'en_revision', 'cobrada'].includes(tx.estado)) return;
  }
}

async function checkInvariant(rig: ModelRig, sc: Scenario, ref: string, sale: { referencia: string; usuario: string } | null = null): Promise<void> {
  const g = gatewayView(rig, ref, sc.gateway);
  const tx = await txByRef(rig.t.ctx, ref);
  const vouchers = rig.shop.sim.state.users.rows.filter((u) => u.comment === `pagos-hotspot tx=${ref}`).length;
  const problems: string[] = [];
  if (g.charges > 1) problems.push(`${g.charges} cobros`);
  if (g.overRefunded) problems.push('reembolsado de más');
  if (sale) {
    // A top-up: a charge without a voucher of its own; the sale's user extended exactly while its money is kept.
    const users = rig.shop.sim.state.users.rows.filter((u) => u.comment === `pagos-hotspot tx=${sale.referencia}`);
    if (vouchers !== 0) problems.push(`recarga con ${vouchers} fichas propias`);
    if (users.length !== 1) problems.push(`la ficha recargada tiene ${users.length} usuarios`);
    const limit = users[0]?.['limit-uptime'];
    if (g.kept) {
      if (limit !== '2h') problems.push(`dinero retenido y límite ${limit} (se pagaron 2h)`);
      if (!tx || !['entregada', 'reembolso_parcial'].includes(tx.estado)) problems.push(`dinero retenido pero estado ${tx?.estado} ${tx?.errorCodigo ?? ''}`);
    } else {
      if (limit !== '1h') problems.push(`recarga sin dinero y límite ${limit} (1h pagada)`);
      if (tx && ['cobrada', 'entregada', 'reembolso_parcial'].includes(tx.estado)) problems.push(`estado ${tx.estado} sin dinero retenido`);
    }
  } else if (g.kept) {
    if (vouchers !== 1) problems.push(`dinero retenido con ${vouchers} fichas`);
    if (!tx || !['entregada', 'reembolso_parcial'].includes(tx.estado)) problems.push(`dinero retenido pero estado ${tx?.estado} ${tx?.errorCodigo ?? ''}`);
  } else {
    if (vouchers !== 0) problems.push(`ficha activa sin dinero (${vouchers})`);
    if (tx && ['cobrada', 'entregada', 'reembolso_parcial'].includes(tx.estado)) problems.push(`estado ${tx.estado} sin dinero retenido`);
  }
  if (problems.length > 0) throw new Error(`Invariante del dinero: VIOLADO — ${problems.join('; ')} (referencia ${ref}, escenario ${JSON.stringify(sc)})`);
}

/** The app's settings for the model (test/payments/model.test.ts and `npm run drill -- --model`). */
export const MODEL_APP_ENV: Record<string, string> = {
  GATEWAY_TIMEOUT_MS: '250',
  PAYMENT_NOT_FOUND_HORIZON_MS: '0',
  IDEMPOTENCY_WAIT_MS: '200',
  // A crashed actor of the model freezes where it was, inside a transaction when it died during a top-up's
  // revert (row lock held across the router call): PostgreSQL ends its session, as it would a frozen instance's.
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '3000',
};

/** One run that takes longer than this is stuck (a lock or a promise never settled), not slow: fail with its scenario. */
const RUN_TIMEOUT_MS = 30_000;

/** Run the model `numRuns` times; the seed is printed on failure (and replays with `seed`). */
export async function runModel(
  rigs: ModelRig | ModelRig[],
  opts: { numRuns: number; seed?: number; log?: (line: string) => void; timeLimitMs?: number },
): Promise<{ seed: number; runs: number; slowestMs: number; slowest: Scenario | null; interrupted: boolean }> {
  const seed = opts.seed ?? (Date.now() ^ (process.pid << 8)) >>> 0;
  let runs = 0;
  let slowestMs = 0;
  let slowest: Scenario | null = null;
  // Several shops (router keys) in turn: the purchase endpoint's own rate limit is per router key.
  const all = Array.isArray(rigs) ? rigs : [rigs];
  const rig = all[0];
  // The model's search index answers at once: a lagging one is covered by its own tests and drill phase.
  rig.f.mp.setSearchLag(0);
  try {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        runs++;
        if (opts.log && runs % 500 === 0) opts.log(`modelo: ${runs} corridas`);
        const t0 = performance.now();
        await runScenario(all[runs % all.length], sc);
        const ms = performance.now() - t0;
        if (ms > slowestMs) [slowestMs, slowest] = [Math.round(ms), sc];
        if (ms > 5000) opts.log?.(`modelo: corrida ${runs} tardó ${Math.round(ms)} ms: ${JSON.stringify(sc)}`);
      }),
      {
        numRuns: opts.numRuns,
        seed,
        endOnFailure: true,
        includeErrorInReport: true,
        plugins: [
          fc.timeout(RUN_TIMEOUT_MS),
          // A time budget (the suite's copy): on a machine too busy for every run, stop early; runs are counted.
          ...(opts.timeLimitMs ? [fc.interruptAfterTimeLimit(opts.timeLimitMs, { failOnInterrupt: false })] : []),
        ],
      },
    );
  } catch (e) {
    throw new Error(`modelo falló con semilla ${seed} (repetir con MODEL_SEED=${seed}): ${(e as Error).message}`, { cause: e });
  }
  return { seed, runs, slowestMs, slowest, interrupted: runs < opts.numRuns };
}
