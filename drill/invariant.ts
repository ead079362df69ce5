/**
 * The money invariant of the purchases issue, checked against the three places money and vouchers
 * live: our database, the gateway (the Conekta fake's orders and refunds) and the routers (the
 * simulators' hotspot users). Shared by `npm run drill`, test/drill and the payment tests.
 *
 *   1. No double charge: at most one paid order per purchase reference, and per client purchase
 *      (one Idempotency-Key, however often it was retried).
 *   2. Every approved charge is delivered (transaction `entregada`, its voucher active on the router)
 *      or refunded (refund at the gateway, transaction `reembolsada`, no active voucher).
 *   3. No voucher without an approved charge: every active voucher of ours (RouterOS comment
 *      `pagos-hotspot tx=<referencia>`) belongs to a paid, unrefunded order and a delivered transaction.
 *   4. The amount charged is the transaction's amount.
 * Transactions still open (`iniciada`, `cobrada`, `en_revision`) are reported apart: the drill waits for
 * them to settle first (see `waitSettled`), and any left are violations of its deadline.
 */
import type { ConektaFake } from '../sandbox/conekta.js';
import type { MercadoPagoFake } from '../sandbox/mercadopago.js';
import type { RouterSimulator } from '../sandbox/routeros/index.js';

export type Query = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

export interface TxRow {
  id: number;
  referencia: string;
  estado: string;
  pasarela: string | null;
  transaccion_id: string | null;
  router_id: string;
  usuario_hotspot: string | null;
  monto_centavos: number | null;
  /** The validity sweeper disabled its voucher (issue 15): delivered, now legitimately disabled. */
  expirada: boolean;
}

export interface InvariantInput {
  query: Query;
  conekta: ConektaFake;
  /** Mercado Pago's fake too (its payments count as charges like Conekta's orders). */
  mercadoPago?: MercadoPagoFake;
  routers: RouterSimulator[];
  /** Client purchases: Idempotency-Key → references seen in its answers (optional; adds check 1b). */
  clientPurchases?: Map<string, Set<string>>;
}

export interface InvariantReport {
  ok: boolean;
  violations: string[];
  counts: {
    transactions: number;
    byEstado: Record<string, number>;
    ordersPaid: number;
    ordersRefunded: number;
    refunds: number;
    vouchersActive: number;
    vouchersDisabled: number;
    open: number;
  };
}

export const OPEN_STATES = ['iniciada', 'en_autenticacion', 'cobrada', 'en_revision'];
const COMMENT = /^pagos-hotspot tx=(.+)$/;

export async function transactions(query: Query): Promise<TxRow[]> {
  return query<TxRow>(
    `SELECT id, referencia, estado, pasarela, transaccion_id, router_id, usuario_hotspot, monto_centavos, expirada_en IS NOT NULL AS expirada
       FROM transacciones WHERE referencia IS NOT NULL ORDER BY id`,
  );
}

export async function checkMoneyInvariant(input: InvariantInput): Promise<InvariantReport> {
  const violations: string[] = [];
  const txs = await transactions(input.query);
  const byRef = new Map(txs.map((t) => [t.referencia, t]));

  // Both gateways' charges, in one shape: id, our reference, amount and refunded cents, final status.
  interface Charge {
    gateway: 'conekta' | 'mercado_pago';
    id: string;
    ref: string;
    amount: number;
    refunded: number;
    paid: boolean;
    fullyReturned: boolean;
  }
  const refundsByOrder = new Map<string, number>();
  for (const r of input.conekta.state.refunds) refundsByOrder.set(r.orderId, (refundsByOrder.get(r.orderId) ?? 0) + r.amount);
  const charges: Charge[] = [];
  for (const o of input.conekta.state.orders.values()) {
    const st = String(o.payment_status);
    const refunded = Math.max(Number(o.amount_refunded ?? 0), refundsByOrder.get(o.id) ?? 0);
    charges.push({
      gateway: 'conekta',
      id: o.id,
      ref: String(o.metadata?.referencia ?? ''),
      amount: o.amount,
      refunded,
      // "Was paid at some point": refunds and chargebacks change the status of a paid order afterwards.
      paid: ['paid', 'refunded', 'partially_refunded', 'charged_back', 'chargeback'].includes(st),
      fullyReturned: st === 'refunded' || st === 'charged_back' || st === 'chargeback' || refunded >= o.amount,
    });
  }
  for (const p of input.mercadoPago?.state.payments.values() ?? []) {
    const amount = Math.round(p.transaction_amount * 100);
    const refunded = Math.round(Number(p.transaction_amount_refunded ?? 0) * 100);
    charges.push({
      gateway: 'mercado_pago',
      id: String(p.id),
      ref: String(p.external_reference ?? ''),
      amount,
      refunded,
      paid: ['approved', 'refunded', 'charged_back'].includes(p.status),
      fullyReturned: p.status === 'refunded' || p.status === 'charged_back' || refunded >= amount,
    });
  }
  const orders = charges;
  const isRefunded = (c: Charge) => c.fullyReturned;
  const paidByRef = new Map<string, Charge[]>();
  for (const c of charges) {
    if (!c.paid) continue;
    paidByRef.set(c.ref, [...(paidByRef.get(c.ref) ?? []), c]);
  }

  const vouchers = new Map<string, { router: number; name: string; disabled: boolean }[]>();
  input.routers.forEach((sim, i) => {
    for (const u of sim.state.users.rows) {
      const m = COMMENT.exec(u.comment ?? '');
      if (!m) continue;
      const list = vouchers.get(m[1]) ?? [];
      list.push({ router: i, name: u.name, disabled: u.disabled === 'true' || u.disabled === 'yes' });
      vouchers.set(m[1], list);
    }
  });
  const active = (ref: string) => (vouchers.get(ref) ?? []).filter((v) => !v.disabled);

  // 1. No double charge.
  for (const [ref, paid] of paidByRef) {
    if (paid.length > 1) violations.push(`cobro doble: referencia ${ref} tiene ${paid.length} órdenes pagadas (${paid.map((o) => o.id).join(', ')})`);
    if (!byRef.has(ref)) violations.push(`cobro sin transacción: orden ${paid[0].id} con referencia ${ref || '(vacía)'}`);
  }
  for (const [key, refs] of input.clientPurchases ?? []) {
    const paid = [...refs].flatMap((r) => paidByRef.get(r) ?? []);
    if (paid.length > 1) violations.push(`cobro doble: la compra del cliente ${key} se cobró ${paid.length} veces (${[...refs].join(', ')})`);
  }

  // 2. Every approved charge delivered or refunded; 4. the right amount.
  let open = 0;
  for (const [ref, paid] of paidByRef) {
    const tx = byRef.get(ref);
    if (!tx) continue;
    const order = paid[0];
    if (tx.monto_centavos !== null && order.amount !== tx.monto_centavos) violations.push(`monto: ${ref} cobró ${order.amount} y la transacción dice ${tx.monto_centavos}`);
    if (OPEN_STATES.includes(tx.estado)) {
      open++;
      violations.push(`sin resolver: ${ref} cobrada (orden ${order.id}) y la transacción sigue ${tx.estado}`);
      continue;
    }
    const refunded = isRefunded(order);
    if (refunded) {
      if (tx.estado !== 'reembolsada') violations.push(`reembolso no reflejado: ${ref} reembolsada en la pasarela, transacción ${tx.estado}`);
      if (active(ref).length > 0) violations.push(`ficha activa tras reembolso: ${ref} (${active(ref).map((v) => v.name).join(', ')})`);
    } else {
      if (order.refunded > order.amount) violations.push(`reembolso doble: ${ref} devolvió ${order.refunded} de ${order.amount}`);
      if (tx.estado !== 'entregada' && tx.estado !== 'reembolso_parcial') violations.push(`cobrada y no entregada ni reembolsada: ${ref} (transacción ${tx.estado})`);
      else if (tx.expirada) {
        // Expired: delivered, then disabled by the sweeper — exactly one voucher, and none of it live.
        if (active(ref).length > 0) violations.push(`ficha activa tras vencer: ${ref} (${active(ref).map((v) => v.name).join(', ')})`);
        if ((vouchers.get(ref) ?? []).length > 1) violations.push(`varias fichas para una compra vencida: ${ref}`);
      } else if (active(ref).length !== 1) violations.push(`entregada sin ficha en el router: ${ref} (${active(ref).length} fichas activas)`);
    }
  }

  // 3. No voucher without an approved charge; no delivered transaction without a charge.
  for (const [ref, list] of vouchers) {
    const live = list.filter((v) => !v.disabled);
    if (live.length === 0) continue;
    const paid = paidByRef.get(ref);
    if (!paid) violations.push(`ficha sin cobro: ${ref} (${live.map((v) => v.name).join(', ')})`);
    else if (isRefunded(paid[0])) continue; // reported above
    if (live.length > 1) violations.push(`varias fichas para una compra: ${ref} (${live.map((v) => v.name).join(', ')})`);
  }
  for (const tx of txs) {
    if (OPEN_STATES.includes(tx.estado) && !paidByRef.has(tx.referencia)) open++;
    const checked = tx.pasarela === 'conekta' || (tx.pasarela === 'mercado_pago' && !!input.mercadoPago);
    if (['entregada', 'reembolsada', 'reembolso_parcial'].includes(tx.estado) && checked && !paidByRef.has(tx.referencia)) {
      violations.push(`transacción ${tx.estado} sin cobro en la pasarela: ${tx.referencia}`);
    }
    if (tx.estado === 'rechazada' && paidByRef.has(tx.referencia) && !isRefunded(paidByRef.get(tx.referencia)![0])) {
      violations.push(`rechazada pero cobrada: ${tx.referencia}`);
    }
  }

  const byEstado: Record<string, number> = {};
  for (const t of txs) byEstado[t.estado] = (byEstado[t.estado] ?? 0) + 1;
  let vouchersActive = 0;
  let vouchersDisabled = 0;
  for (const list of vouchers.values()) {
    for (const v of list) {
      if (v.disabled) vouchersDisabled++;
      else vouchersActive++;
    }
  }
  return {
    ok: violations.length === 0,
    violations,
    counts: {
      transactions: txs.length,
      byEstado,
      ordersPaid: [...paidByRef.values()].reduce((n, l) => n + l.length, 0),
      ordersRefunded: orders.filter((o) => o.paid && isRefunded(o)).length,
      refunds: input.conekta.state.refunds.length + (input.mercadoPago?.state.refunds.length ?? 0),
      vouchersActive,
      vouchersDisabled,
      open,
    },
  };
}

/** Wait (bounded) until no transaction is open any more; returns how many still are. */
export async function waitSettled(query: Query, timeoutMs: number, pollMs = 250): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE referencia IS NOT NULL AND estado = ANY($1)`, [OPEN_STATES]);
    if (row.n === 0 || Date.now() > end) return row.n;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
