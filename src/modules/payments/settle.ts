/**
 * Apply what the gateway says about a payment (re-read from the gateway, never taken from a webhook body)
 * to our purchase. Used by webhooks, status polls and the reconciler; every effect goes through a guarded
 * transition built from the one table (transitions.ts), so duplicates, out-of-order notices and actors
 * holding a stale read are no-ops. A revival of a purchase we declared unpaid (`sin_cobro`) happens only
 * on a fresh gateway read taken under the row lock.
 */
import { eq, sql } from 'drizzle-orm';
import { transacciones } from '../../infra/db/schema.js';
import { isUniqueViolation } from '../../infra/errors.js';
import { paymentStatusMessage } from './gateways/conekta-tables.js';
import { statusDetailMessage } from './gateways/mercadopago-tables.js';
import type { GatewayPayment } from './gateways/types.js';
import { NOW, closePassNow, findById, markLateApproval, markCharged, markDeclined, markPartiallyRefunded, markPending, markRefunded, rowToTransaccion, type Transaccion } from './repository.js';
import type { PaymentsService } from './service.js';
import { MONEY_KEPT, OPEN, transitionFor } from './transitions.js';
import { generateVoucher, type TipoUsuario } from './vouchers.js';

export type SettleEffect = 'charged' | 'declined' | 'refunded' | 'partially_refunded' | 'pending' | 'review' | 'refund_queued' | 'none';

/** Does this gateway payment belong to this purchase? */
export function paymentMatches(tx: Transaccion, p: GatewayPayment): boolean {
  if (tx.transaccionId && p.id === tx.transaccionId) return true;
  return !!tx.referencia && p.reference === tx.referencia;
}

/** The charge is not what we sold (another currency, another amount): refuse it and send it to review. */
function mismatch(tx: Transaccion, p: GatewayPayment): string | null {
  const expected = (tx.moneda || 'MXN').toUpperCase();
  if (p.currency && p.currency.toUpperCase() !== expected) return `moneda ${p.currency} distinta de ${expected}`;
  if (p.amountCents !== null && tx.montoCentavos !== null && p.amountCents !== tx.montoCentavos) return `monto ${p.amountCents} distinto de ${tx.montoCentavos} centavos`;
  return null;
}

/**
 * Apply `p` to the purchase. `tx` may be stale: when the guarded write found the row in another state
 * (another actor moved it meanwhile, e.g. a stale "approved" made it `cobrada` while this read says
 * "refunded"), the read is applied again to the row as it is now, so that what the gateway said is never
 * lost; the guards keep every retry a no-op where the table forbids it.
 */
export async function settle(svc: PaymentsService, tx: Transaccion, p: GatewayPayment, pollAttempt = 1): Promise<SettleEffect> {
  let row = tx;
  for (let round = 0; round < 3; round++) {
    const effect = await settleRow(svc, row, p, pollAttempt);
    // The 3-D Secure challenge ended: the device's walled-garden pass goes now, not at the deadline.
    if (row.estado === 'en_autenticacion' && effect !== 'none' && effect !== 'pending') await closePassNow(svc.deps.db.orm, row.id);
    if (effect !== 'none') return effect;
    const now = await findById(svc.deps.db.orm, row.id);
    if (!now || (now.estado === row.estado && now.errorCodigo === row.errorCodigo)) return effect;
    row = now;
  }
  return 'none';
}

async function settleRow(svc: PaymentsService, tx: Transaccion, p: GatewayPayment, pollAttempt: number): Promise<SettleEffect> {
  if (!paymentMatches(tx, p)) {
    svc.deps.logger.warn({ transaccion: tx.id, pago: p.id }, 'el pago de la pasarela no corresponde a la transacción');
    return 'none';
  }
  const estado = tx.estado as (typeof OPEN)[number];
  const open = OPEN.includes(estado);
  const paid = MONEY_KEPT.includes(tx.estado as (typeof MONEY_KEPT)[number]);
  const { db, logger, config } = svc.deps;

  if (p.status === 'approved' || p.status === 'partially_refunded') {
    // The bank approved a challenge we had expired: never delivered, refunded in full (even if it is not what we sold).
    if (tx.estado === 'rechazada' && tx.errorCodigo === 'autenticacion_vencida') {
      logger.warn({ transaccion: tx.id, referencia: tx.referencia, pago: p.id }, 'aprobación 3-D Secure después de vencer: se reembolsa');
      return (await db.transaction((t) => markLateApproval(t, tx.id, p))) ? 'refund_queued' : 'none';
    }
    if (open || tx.estado === 'rechazada') {
      const wrong = mismatch(tx, p);
      if (wrong) {
        // Never deliver (nor revive) a charge that is not what we sold: a person decides (refund or accept).
        logger.error({ transaccion: tx.id, referencia: tx.referencia, motivo: wrong }, 'cobro distinto de la venta: a revisión');
        if (open) {
          await db.orm
            .update(transacciones)
            .set({ estado: 'en_revision', transaccionId: p.id, errorCodigo: 'cobro_no_coincide', errorDetalle: wrong, actualizadaEn: NOW })
            .where(sql`id = ${tx.id} AND estado IN ('iniciada', 'en_autenticacion', 'en_revision')`);
        }
        return 'review';
      }
      if (tx.estado === 'rechazada') return revive(svc, tx, p);
      const charged = (await markCharged(db.orm, tx.id, p, config.provisionDeadlineMinutes)) !== null;
      if (charged && p.status === 'partially_refunded' && p.refundedCents) {
        await markPartiallyRefunded(db.orm, tx.id, { rawStatus: p.rawStatus, refundedCents: p.refundedCents });
      }
      return charged ? 'charged' : 'none';
    }
    if (paid && p.status === 'partially_refunded' && p.refundedCents !== null) {
      if (tx.montoCentavos !== null && p.refundedCents >= tx.montoCentavos) {
        return (await db.transaction((t) => markRefunded(t, tx.id, { rawStatus: 'refunded', motivo: 'Reembolso registrado en la pasarela' }))) ? 'refunded' : 'none';
      }
      return (await markPartiallyRefunded(db.orm, tx.id, { rawStatus: p.rawStatus, refundedCents: p.refundedCents })) ? 'partially_refunded' : 'none';
    }
    if (paid && tx.estadoPago !== p.rawStatus && tx.estado !== 'reembolso_parcial') {
      await db.orm.update(transacciones).set({ estadoPago: p.rawStatus.slice(0, 20), actualizadaEn: NOW }).where(eq(transacciones.id, tx.id));
    }
    return 'none';
  }

  return db.transaction(async (dbtx): Promise<SettleEffect> => {
    switch (p.status) {
      case 'pending':
        if (open) {
          await markPending(dbtx, tx.id, p, svc.pendingPollMs(pollAttempt));
          return 'pending';
        }
        return 'none';
      case 'rejected':
      case 'cancelled':
        if (open) {
          const message = tx.pasarela === 'conekta' ? paymentStatusMessage(p.rawStatus) : statusDetailMessage(p.statusDetail);
          return (await markDeclined(dbtx, tx.id, { rawStatus: p.rawStatus, detail: p.statusDetail, paymentId: p.id, code: 'gateway_rejected', message, notifyCompany: true }))
            ? 'declined'
            : 'none';
        }
        if (paid) {
          return (await markRefunded(dbtx, tx.id, { rawStatus: p.rawStatus, motivo: 'Pago cancelado en la pasarela' })) ? 'refunded' : 'none';
        }
        // A challenge we expired that the bank then declined: nothing was ever charged, nothing to record.
        if (tx.estado === 'rechazada' && tx.errorCodigo === 'autenticacion_vencida') return 'none';
        return returnedWithoutSale(dbtx, tx, p);
      case 'refunded':
      case 'charged_back':
        if (paid) {
          const motivo = p.status === 'charged_back' ? 'Contracargo del cliente' : 'Reembolso registrado en la pasarela';
          return (await markRefunded(dbtx, tx.id, { rawStatus: p.rawStatus, motivo })) ? 'refunded' : 'none';
        }
        return returnedWithoutSale(dbtx, tx, p);
      default:
        return 'none';
    }
  });
}

/** Charged and given back before we recorded a sale (or after we declared it unpaid): never to be revived. */
async function returnedWithoutSale(dbtx: Parameters<typeof markDeclined>[0], tx: Transaccion, p: GatewayPayment): Promise<SettleEffect> {
  if (!transitionFor({ estado: tx.estado }, 'devuelto_sin_venta')) return 'none';
  return (await markDeclined(dbtx, tx.id, {
    rawStatus: p.rawStatus,
    detail: p.statusDetail,
    paymentId: p.id,
    code: 'devuelto_en_pasarela',
    message: 'El pago fue devuelto en la pasarela',
    notifyCompany: false,
    evento: 'devuelto_sin_venta',
  }))
    ? 'declined'
    : 'none';
}

/**
 * A purchase we declared unpaid (`sin_cobro`: our lookup missed, e.g. Mercado Pago's lagging search) is
 * approved after all. Under the row lock, read the gateway again (the caller's read may be stale: a refund
 * may have happened since) and only then record the charge. A voucher name taken meanwhile by another
 * live purchase on the router is regenerated (the unique index would refuse it forever).
 */
async function revive(svc: PaymentsService, tx: Transaccion, p: GatewayPayment): Promise<SettleEffect> {
  const { db, config, secrets } = svc.deps;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await db.transaction(async (t): Promise<SettleEffect> => {
        const locked = await t.execute(sql`SELECT * FROM transacciones WHERE id = ${tx.id} FOR UPDATE`);
        const raw = (locked as unknown as { rows: Record<string, unknown>[] }).rows[0];
        if (!raw) return 'none';
        const row = rowToTransaccion(raw);
        if (!transitionFor(row, 'cobro_aprobado', { lecturaFresca: true })) return 'none';
        const fresh = await svc.getPayment(row, p.id);
        if (!fresh || !paymentMatches(row, fresh) || (fresh.status !== 'approved' && fresh.status !== 'partially_refunded') || mismatch(row, fresh)) return 'none';
        const taken = await t.execute(
          sql`SELECT 1 FROM transacciones WHERE router_id = ${row.routerId} AND usuario_hotspot = ${row.usuarioHotspot} AND id <> ${row.id}
                AND referencia IS NOT NULL AND recarga_de IS NULL AND estado IN ('iniciada', 'en_autenticacion', 'cobrada', 'entregada', 'en_revision', 'reembolso_parcial') LIMIT 1`,
        );
        let voucher: { username: string; passwordEnc: string | null } | undefined;
        // A top-up names its sale's user (never renamed: it creates no user).
        if (row.recargaDe === null && (((taken as unknown as { rows: unknown[] }).rows ?? []).length > 0 || attempt > 0)) {
          const creds = generateVoucher((row.tipoUsuario as TipoUsuario) ?? 'usuario_contrasena', svc.voucherLengths);
          voucher = { username: creds.username, passwordEnc: creds.password ? secrets.general.encrypt(creds.password) : null };
        }
        const done = await markCharged(t, row.id, fresh, config.provisionDeadlineMinutes, { lecturaFresca: true, voucher });
        if (done && fresh.status === 'partially_refunded' && fresh.refundedCents) {
          await markPartiallyRefunded(t, row.id, { rawStatus: fresh.rawStatus, refundedCents: fresh.refundedCents });
        }
        return done ? 'charged' : 'none';
      });
    } catch (e) {
      // Another live purchase took the name between our check and the UPDATE: draw a new one.
      if (isUniqueViolation(e, 'uq_transacciones_voucher_vivo')) continue;
      throw e;
    }
  }
  return 'none';
}
