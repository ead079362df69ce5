/**
 * The purchase state machine on `transacciones`. Every transition is one guarded UPDATE (`WHERE estado IN
 * (…)`), so concurrent actors (the request, workers on several instances, webhooks, an admin) cannot move
 * a purchase backwards or apply an effect twice; the jobs a transition needs are enqueued in the same
 * database transaction.
 *
 *   iniciada ──approved──▶ cobrada ──voucher on router──▶ entregada
 *      │ ╲──declined──▶ rechazada ──late approval──▶ cobrada
 *      ╰──unknown──▶ en_revision ──reconciled──▶ cobrada | rechazada
 *   cobrada | entregada ──refund / chargeback / cancellation──▶ reembolsada
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../../infra/db/index.js';
import { transacciones } from '../../infra/db/schema.js';
import { enqueue } from '../../infra/outbox.js';
import type { GatewayPayment } from './gateways/types.js';

export type Transaccion = typeof transacciones.$inferSelect;
export type Estado = 'iniciada' | 'cobrada' | 'entregada' | 'rechazada' | 'en_revision' | 'reembolsada';

export const NOW = sql`(now() AT TIME ZONE 'utc')`;

/** Job kinds (the outbox handlers live in workers.ts). */
export const JOB = {
  deliver: 'pagos.entregar',
  refund: 'pagos.reembolsar',
  removeVoucher: 'pagos.quitar_ficha',
  reconcile: 'pagos.conciliar',
  applyPayment: 'pagos.aplicar_pago',
  webhookLookup: 'pagos.webhook_pendiente',
  notify: 'pagos.telegram',
} as const;

export type NoticeKind = 'aprobado' | 'rechazado' | 'reembolsado' | 'entrega_fallida';

export async function findById(ex: Executor, id: number): Promise<Transaccion | null> {
  const [row] = await ex.select().from(transacciones).where(eq(transacciones.id, id)).limit(1);
  return row ?? null;
}

export async function findByReferencia(ex: Executor, referencia: string): Promise<Transaccion | null> {
  const [row] = await ex.select().from(transacciones).where(eq(transacciones.referencia, referencia)).limit(1);
  return row ?? null;
}

export async function findByGatewayId(ex: Executor, pasarela: string, paymentId: string): Promise<Transaccion | null> {
  const [row] = await ex
    .select()
    .from(transacciones)
    .where(and(eq(transacciones.transaccionId, paymentId), eq(transacciones.pasarela, pasarela)))
    .limit(1);
  return row ?? null;
}

export async function notify(ex: Executor, tx: Pick<Transaccion, 'id'>, tipo: NoticeKind, motivo?: string): Promise<void> {
  await enqueue(ex, JOB.notify, { transaccionId: tx.id, tipo, motivo: motivo ?? null }, { dedupeKey: `telegram:${tx.id}:${tipo}` });
}

/**
 * The gateway took the money: record it and make delivery a durable job. Returns the job id when this call
 * made the transition. `deliverDelayMs` leaves the first attempt to the caller (workers take over after it).
 */
export async function markCharged(ex: Executor, id: number, payment: GatewayPayment, deadlineMinutes: number, deliverDelayMs = 0): Promise<number | null> {
  const rows = await ex
    .update(transacciones)
    .set({
      estado: 'cobrada',
      estadoPago: payment.rawStatus.slice(0, 20),
      estadoDetalle: payment.statusDetail.slice(0, 100) || null,
      transaccionId: payment.id,
      pagadaEn: NOW,
      entregaLimite: sql`(now() AT TIME ZONE 'utc') + make_interval(mins => ${deadlineMinutes})`,
      estadoHotspot: 'pending',
      errorCodigo: null,
      errorDetalle: null,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), inArray(transacciones.estado, ['iniciada', 'en_revision', 'rechazada'])))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return null;
  return enqueue(ex, JOB.deliver, { transaccionId: id }, { dedupeKey: `entregar:${id}`, delayMs: deliverDelayMs });
}

export async function markDeclined(
  ex: Executor,
  id: number,
  f: { rawStatus: string; detail?: string | null; paymentId?: string | null; code: string; message: string; notifyCompany: boolean },
): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({
      estado: 'rechazada',
      estadoPago: f.rawStatus.slice(0, 20),
      estadoDetalle: f.detail?.slice(0, 100) ?? null,
      ...(f.paymentId ? { transaccionId: f.paymentId } : {}),
      errorCodigo: f.code.slice(0, 50),
      errorDetalle: f.message,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), inArray(transacciones.estado, ['iniciada', 'en_revision'])))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  if (f.notifyCompany) await notify(ex, { id }, 'rechazado', f.message);
  return true;
}

/** Outcome unknown (timeout, 5xx): the reconciler asks the gateway by our reference soon. */
export async function markUnknown(ex: Executor, id: number, code: string, message: string, reconcileInMs: number): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({ estado: 'en_revision', estadoPago: 'unknown', errorCodigo: code.slice(0, 50), errorDetalle: message, actualizadaEn: NOW })
    .where(and(eq(transacciones.id, id), eq(transacciones.estado, 'iniciada')))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  await scheduleReconcile(ex, id, reconcileInMs);
  return true;
}

/** Mercado Pago pending / in_process: no sale yet; the reconciler polls it and webhooks may settle it. */
export async function markPending(ex: Executor, id: number, payment: GatewayPayment, pollInMs: number): Promise<void> {
  await ex
    .update(transacciones)
    .set({
      estadoPago: payment.rawStatus.slice(0, 20),
      estadoDetalle: payment.statusDetail.slice(0, 100) || null,
      transaccionId: payment.id,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), inArray(transacciones.estado, ['iniciada', 'en_revision'])));
  await scheduleReconcile(ex, id, pollInMs);
}

/** Bring the purchase's reconcile job forward (or create it). */
export async function scheduleReconcile(ex: Executor, id: number, delayMs: number): Promise<void> {
  const created = await enqueue(ex, JOB.reconcile, { transaccionId: id }, { dedupeKey: `conciliar:${id}`, delayMs });
  if (created === null) {
    await ex.execute(sql`
      UPDATE outbox SET run_at = LEAST(run_at, now() + make_interval(secs => ${delayMs / 1000}::double precision))
       WHERE dedupe_key = ${`conciliar:${id}`} AND done_at IS NULL`);
  }
}

export async function markDelivered(ex: Executor, id: number): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({ estado: 'entregada', estadoHotspot: 'active', usuarioCreadoEn: NOW, errorCodigo: null, errorDetalle: null, actualizadaEn: NOW })
    .where(and(eq(transacciones.id, id), eq(transacciones.estado, 'cobrada')))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  await notify(ex, { id }, 'aprobado');
  return true;
}

/**
 * Money went back to the customer (our refund, the gateway's refund, a chargeback, a cancellation):
 * the voucher must go. Returns true when this call made the transition.
 */
export async function markRefunded(
  ex: Executor,
  id: number,
  f: { rawStatus: string; refundId?: string | null; motivo: string },
): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({
      estado: 'reembolsada',
      estadoPago: f.rawStatus.slice(0, 20),
      reembolsoId: f.refundId ?? null,
      reembolsadaEn: NOW,
      errorDetalle: f.motivo,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), inArray(transacciones.estado, ['cobrada', 'entregada'])))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  await enqueue(ex, JOB.removeVoucher, { transaccionId: id }, { dedupeKey: `quitar:${id}` });
  await notify(ex, { id }, 'reembolsado', f.motivo);
  return true;
}
