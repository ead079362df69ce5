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
 *   5. Top-ups (issue 15) are charges without a voucher of their own: no router user carries a top-up's
 *      referencia; the sale's user has exactly its original limits plus those of its top-ups whose money
 *      is kept (less: a paid top-up not applied; more: an extension nobody paid for, e.g. a refund not
 *      reverted or a delivery applied twice); a top-up whose money is kept has a live sale.
 *   6. Counter (batch) vouchers (comment `pagos-hotspot lote=<id>`) are live without gateway money: each
 *      live one is a voucher of a batch that was not voided, not voided or expired itself; every voucher of
 *      a live batch that reached the router is still there; no gateway charge claims a batch voucher's name.
 *      A top-up may extend one (its `recarga_de` is minus the voucher's id): the batch voucher's user then
 *      has exactly its batch's limits plus those of its top-ups whose money is kept, and a top-up whose money
 *      is kept has a voucher that was neither voided nor lost.
 *   7. An expired voucher (sale or batch) was delivered and is now disabled (still on the router, never live).
 * Transactions still open (`iniciada`, `en_autenticacion`, `cobrada`, `en_revision`) are reported apart: the drill waits for
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
  /** A top-up: the sale it extends, and its stored targets (totals) and the terms before it. */
  recarga_de: number | null;
  recarga_minutos: number | null;
  recarga_previo_minutos: number | null;
  recarga_bytes: string | number | null;
  recarga_previo_bytes: string | number | null;
  limite_minutos: number | null;
  limite_bytes: string | number | null;
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
const BATCH_COMMENT = /^pagos-hotspot lote=(\d+)$/;

/** RouterOS duration (`1d2h3m4s`, `01:02:03`) → seconds; null when absent. */
function durationSeconds(v: string | undefined): number | null {
  if (v === undefined || v === '') return null;
  const clock = /^(?:(\d+)d\s*)?(\d+):(\d+):(\d+)$/.exec(v);
  if (clock) return Number(clock[1] ?? 0) * 86400 + Number(clock[2]) * 3600 + Number(clock[3]) * 60 + Number(clock[4]);
  let total = 0;
  for (const m of v.matchAll(/(\d+)(w|d|h|ms|m|s)/g)) total += Number(m[1]) * ({ w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0 } as Record<string, number>)[m[2]];
  return total;
}

interface BatchVoucherRow {
  id: number;
  lote_id: number;
  limite_minutos: number | null;
  limite_bytes: string | number | null;
  router_id: string;
  usuario: string;
  estado: string;
  en_router: boolean;
  lote_estado: string;
}

export async function transactions(query: Query): Promise<TxRow[]> {
  return query<TxRow>(
    `SELECT id, referencia, estado, pasarela, transaccion_id, router_id, usuario_hotspot, monto_centavos, expirada_en IS NOT NULL AS expirada,
            recarga_de, recarga_minutos, recarga_previo_minutos, recarga_bytes, recarga_previo_bytes, limite_minutos, limite_bytes
       FROM transacciones WHERE referencia IS NOT NULL ORDER BY id`,
  );
}

/** "Was paid at some point": refunds and chargebacks change the status of a paid Conekta order afterwards. */
export function conektaOrderWasPaid(o: { payment_status?: unknown }): boolean {
  return ['paid', 'refunded', 'partially_refunded', 'charged_back', 'chargeback'].includes(String(o.payment_status));
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
      paid: conektaOrderWasPaid(o),
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

  const vouchers = new Map<string, { router: number; name: string; disabled: boolean; uptime: number | null; bytes: number | null }[]>();
  const batchUsers: { router: number; lote: number; name: string; disabled: boolean; uptime: number | null; bytes: number | null }[] = [];
  input.routers.forEach((sim, i) => {
    for (const u of sim.state.users.rows) {
      const b = BATCH_COMMENT.exec(u.comment ?? '');
      if (b) {
        batchUsers.push({
          router: i,
          lote: Number(b[1]),
          name: u.name,
          disabled: u.disabled === 'true' || u.disabled === 'yes',
          uptime: durationSeconds(u['limit-uptime']),
          bytes: u['limit-bytes-total'] ? Number(u['limit-bytes-total']) : null,
        });
      }
      const m = COMMENT.exec(u.comment ?? '');
      if (!m) continue;
      const list = vouchers.get(m[1]) ?? [];
      list.push({
        router: i,
        name: u.name,
        disabled: u.disabled === 'true' || u.disabled === 'yes',
        uptime: durationSeconds(u['limit-uptime']),
        bytes: u['limit-bytes-total'] ? Number(u['limit-bytes-total']) : null,
      });
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
    if (tx.recarga_de !== null) {
      // 5. A top-up: its state agrees with its money; its extension is checked per sale below.
      if (refunded && tx.estado !== 'reembolsada') violations.push(`reembolso no reflejado: recarga ${ref} reembolsada en la pasarela, transacción ${tx.estado}`);
      if (!refunded && tx.estado !== 'entregada' && tx.estado !== 'reembolso_parcial') violations.push(`recarga cobrada y no aplicada ni reembolsada: ${ref} (transacción ${tx.estado})`);
      continue;
    }
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

  // 5. Top-ups: no voucher of their own; the sale's user has its original limits plus the top-ups paid.
  const byId = new Map(txs.map((t) => [Number(t.id), t]));
  const topUpsBySale = new Map<number, TxRow[]>();
  for (const t of txs) {
    if (t.recarga_de === null) continue;
    topUpsBySale.set(Number(t.recarga_de), [...(topUpsBySale.get(Number(t.recarga_de)) ?? []), t]);
    if ((vouchers.get(t.referencia) ?? []).length > 0) violations.push(`recarga con ficha propia: ${t.referencia} (una recarga nunca crea un usuario)`);
  }
  const kept = (t: TxRow) => {
    const paid = paidByRef.get(t.referencia);
    return !!paid && !isRefunded(paid[0]);
  };
  for (const [saleId, list] of topUpsBySale) {
    if (saleId < 0) continue; // a counter voucher's: checked with the batch vouchers below
    const sale = byId.get(saleId);
    if (!sale) {
      violations.push(`recarga sin venta: ${list.map((t) => t.referencia).join(', ')}`);
      continue;
    }
    const paidTopUps = list.filter(kept);
    const saleLive = ['entregada', 'reembolso_parcial'].includes(sale.estado) && kept(sale);
    if (!saleLive) {
      for (const t of paidTopUps) violations.push(`recarga cobrada sobre una ficha dada de baja: ${t.referencia} (venta ${sale.referencia} ${sale.estado})`);
      continue;
    }
    const user = (vouchers.get(sale.referencia) ?? [])[0];
    if (!user) continue; // reported by rule 2 for the sale
    const first = [...list].sort((a, b) => Number(a.id) - Number(b.id))[0];
    const sum = (f: (t: TxRow) => number | null) => paidTopUps.reduce((n, t) => n + (f(t) ?? 0), 0);
    const n = (v: string | number | null) => (v === null ? null : Number(v));
    if (first.recarga_previo_minutos !== null) {
      const expected = (first.recarga_previo_minutos + sum((t) => (t.recarga_minutos === null ? null : t.recarga_minutos - (t.recarga_previo_minutos ?? 0)))) * 60;
      if ((user.uptime ?? 0) < expected) violations.push(`recarga cobrada sin extensión: venta ${sale.referencia} tiene ${user.uptime}s de ${expected}s pagados`);
      if ((user.uptime ?? 0) > expected) violations.push(`extensión sin cobro: venta ${sale.referencia} tiene ${user.uptime}s y se pagaron ${expected}s`);
    }
    if (first.recarga_previo_bytes !== null) {
      const expected = n(first.recarga_previo_bytes)! + sum((t) => (t.recarga_bytes === null ? null : n(t.recarga_bytes)! - (n(t.recarga_previo_bytes) ?? 0)));
      if ((user.bytes ?? 0) !== expected) violations.push(`datos de recarga: venta ${sale.referencia} tiene ${user.bytes} bytes y se pagaron ${expected}`);
    }
  }

  // 6 and 7 for counter vouchers: live without gateway money; expired ones disabled; none claimed by a charge.
  const batchRows = await input
    .query<BatchVoucherRow>(
      `SELECT f.id, f.lote_id, f.router_id, f.usuario, f.estado, f.en_router, l.estado AS lote_estado, l.limite_minutos, l.limite_bytes
         FROM fichas_lote f JOIN lotes l ON l.id = f.lote_id`,
    )
    .catch(() => [] as BatchVoucherRow[]);
  const batchKey = (lote: number, name: string) => `${lote}|${name}`;
  const batchByKey = new Map(batchRows.map((r) => [batchKey(Number(r.lote_id), r.usuario), r]));
  const seenBatch = new Set<string>();
  for (const u of batchUsers) {
    const row = batchByKey.get(batchKey(u.lote, u.name));
    seenBatch.add(batchKey(u.lote, u.name));
    if (u.disabled) continue;
    if (!row) violations.push(`ficha de lote sin lote: ${u.name} (lote ${u.lote} no la generó)`);
    else if (row.lote_estado === 'anulado' || row.estado === 'anulado') violations.push(`ficha de lote anulada y activa: ${u.name} (lote ${u.lote})`);
    else if (row.estado === 'expirado') violations.push(`ficha de lote activa tras vencer: ${u.name} (lote ${u.lote})`);
  }
  for (const r of batchRows) {
    if (r.en_router && r.lote_estado !== 'anulado' && ['generado', 'vendido'].includes(r.estado) && !seenBatch.has(batchKey(Number(r.lote_id), r.usuario))) {
      violations.push(`ficha de lote ausente del router: ${r.usuario} (lote ${r.lote_id})`);
    }
  }
  // 5 for counter vouchers: the batch's limits plus those of the top-ups whose money is kept.
  const batchById = new Map(batchRows.map((r) => [Number(r.id), r]));
  const n = (v: string | number | null) => (v === null ? null : Number(v));
  for (const [ref, list] of topUpsBySale) {
    if (ref >= 0) continue;
    const row = batchById.get(-ref);
    if (!row) {
      violations.push(`recarga sin ficha de lote: ${list.map((t) => t.referencia).join(', ')}`);
      continue;
    }
    const paidTopUps = list.filter(kept);
    if (row.lote_estado === 'anulado' || row.estado === 'anulado' || !row.en_router) {
      for (const t of paidTopUps) violations.push(`recarga cobrada sobre una ficha dada de baja: ${t.referencia} (ficha de lote ${row.usuario} ${row.estado})`);
      continue;
    }
    const user = batchUsers.find((u) => u.lote === Number(row.lote_id) && u.name === row.usuario);
    if (!user) continue; // reported above (absent from the router)
    const sum = (f: (t: TxRow) => number | null) => paidTopUps.reduce((acc, t) => acc + (f(t) ?? 0), 0);
    if (row.limite_minutos !== null) {
      const expected = (Number(row.limite_minutos) + sum((t) => (t.recarga_minutos === null ? null : t.recarga_minutos - (t.recarga_previo_minutos ?? 0)))) * 60;
      if ((user.uptime ?? 0) < expected) violations.push(`recarga cobrada sin extensión: ficha de lote ${row.usuario} tiene ${user.uptime}s de ${expected}s pagados`);
      if ((user.uptime ?? 0) > expected) violations.push(`extensión sin cobro: ficha de lote ${row.usuario} tiene ${user.uptime}s y se pagaron ${expected}s`);
    }
    if (row.limite_bytes !== null) {
      const expected = n(row.limite_bytes)! + sum((t) => (t.recarga_bytes === null ? null : n(t.recarga_bytes)! - (n(t.recarga_previo_bytes) ?? 0)));
      if ((user.bytes ?? 0) !== expected) violations.push(`datos de recarga: ficha de lote ${row.usuario} tiene ${user.bytes} bytes y se pagaron ${expected}`);
    }
  }

  const batchNames = new Set(batchRows.map((r) => `${r.router_id}|${r.usuario}`));
  for (const t of txs) {
    if (t.recarga_de !== null || !t.usuario_hotspot || !paidByRef.has(t.referencia)) continue;
    if (batchNames.has(`${t.router_id}|${t.usuario_hotspot}`)) violations.push(`ficha de lote reclamada por un cobro: ${t.usuario_hotspot} (referencia ${t.referencia})`);
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
