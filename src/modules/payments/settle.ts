/**
 * Apply what the gateway says about a payment (re-read from the gateway, never taken from a webhook body)
 * to our purchase. Used by webhooks, status polls and the reconciler; every effect goes through a guarded
 * transition, so duplicates and out-of-order notices are no-ops.
 */
import { eq } from 'drizzle-orm';
import { transacciones } from '../../infra/db/schema.js';
import { paymentStatusMessage } from './gateways/conekta-tables.js';
import { statusDetailMessage } from './gateways/mercadopago-tables.js';
import type { GatewayPayment } from './gateways/types.js';
import { NOW, markCharged, markDeclined, markPending, markRefunded, type Transaccion } from './repository.js';
import type { PaymentsService } from './service.js';

export type SettleEffect = 'charged' | 'declined' | 'refunded' | 'pending' | 'none';

/** Does this gateway payment belong to this purchase? */
export function paymentMatches(tx: Transaccion, p: GatewayPayment): boolean {
  if (tx.transaccionId && p.id === tx.transaccionId) return true;
  return !!tx.referencia && p.reference === tx.referencia;
}

export async function settle(svc: PaymentsService, tx: Transaccion, p: GatewayPayment, pollAttempt = 1): Promise<SettleEffect> {
  if (!paymentMatches(tx, p)) {
    svc.deps.logger.warn({ transaccion: tx.id, pago: p.id }, 'el pago de la pasarela no corresponde a la transacción');
    return 'none';
  }
  const open = tx.estado === 'iniciada' || tx.estado === 'en_revision';
  const paid = tx.estado === 'cobrada' || tx.estado === 'entregada';
  return svc.deps.db.transaction(async (dbtx): Promise<SettleEffect> => {
    switch (p.status) {
      case 'approved':
        if (open || tx.estado === 'rechazada') {
          if (p.amountCents !== null && tx.montoCentavos !== null && p.amountCents !== tx.montoCentavos) {
            svc.deps.logger.warn({ transaccion: tx.id, esperado: tx.montoCentavos, cobrado: p.amountCents }, 'monto cobrado distinto del esperado');
          }
          return (await markCharged(dbtx, tx.id, p, svc.deps.config.provisionDeadlineMinutes)) !== null ? 'charged' : 'none';
        }
        if (paid && tx.estadoPago !== p.rawStatus) {
          await dbtx.update(transacciones).set({ estadoPago: p.rawStatus.slice(0, 20), actualizadaEn: NOW }).where(eq(transacciones.id, tx.id));
        }
        return 'none';
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
        return 'none';
      case 'refunded':
      case 'charged_back':
        if (paid) {
          const motivo = p.status === 'charged_back' ? 'Contracargo del cliente' : 'Reembolso registrado en la pasarela';
          return (await markRefunded(dbtx, tx.id, { rawStatus: p.rawStatus, motivo })) ? 'refunded' : 'none';
        }
        if (open) {
          // Charged and given back before we ever recorded it: nothing was sold.
          return (await markDeclined(dbtx, tx.id, {
            rawStatus: p.rawStatus,
            detail: p.statusDetail,
            paymentId: p.id,
            code: 'devuelto_en_pasarela',
            message: 'El pago fue devuelto en la pasarela',
            notifyCompany: false,
          }))
            ? 'declined'
            : 'none';
        }
        return 'none';
      default:
        return 'none';
    }
  });
}
