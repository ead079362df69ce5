/**
 * Mercado Pago `status_detail` → customer message, exactly as the legacy service words them
 * (legacy-payments.md §3.5.4). Data, not code: the order matters for the substring fallback.
 */

export const STATUS_DETAIL_MESSAGES: ReadonlyArray<readonly [string, string]> = [
  ['cc_rejected_insufficient_amount', '❌ Fondos insuficientes en la tarjeta.'],
  ['cc_rejected_bad_filled_card_number', '❌ Número de tarjeta incorrecto. Verifique los datos.'],
  ['cc_rejected_bad_filled_date', '❌ Fecha de vencimiento incorrecta.'],
  ['cc_rejected_bad_filled_security_code', '❌ Código de seguridad (CVV) incorrecto.'],
  ['cc_rejected_high_risk', '⚠️ Pago rechazado por políticas de seguridad.'],
  ['cc_rejected_card_disabled', '❌ Tarjeta deshabilitada. Contacte a su banco.'],
  ['cc_rejected_blacklist', '❌ No se puede procesar el pago con esta tarjeta.'],
  ['cc_rejected_card_error', '❌ Error al procesar la tarjeta. Intente nuevamente.'],
  ['cc_rejected_duplicated_payment', '⚠️ Este pago ya fue procesado anteriormente.'],
  ['cc_rejected_call_for_authorize', '⚠️ El pago requiere autorización del banco.'],
  ['cc_rejected_max_attempts', '⏰ Máximo de intentos excedido. Espere e intente más tarde.'],
  ['cc_rejected_other_reason', '❌ Tarjeta rechazada. Contacte a su banco.'],
  // Not a legacy message (the legacy had no 3-D Secure): MP "How to integrate 3DS", failed challenge.
  ['cc_rejected_3ds_challenge', 'Tu banco no confirmó el pago (verificación 3-D Secure). No se hizo ningún cargo.'],
  ['invalid_payment_method', '❌ Método de pago inválido.'],
  ['invalid_token', '❌ Token de pago inválido o expirado.'],
  ['invalid_user', '❌ Información del pagador inválida.'],
  ['invalid_installments', '❌ Número de cuotas no válido para esta tarjeta.'],
  ['pending_contingency', '⏳ El pago está pendiente de confirmación.'],
  ['pending_review_manual', '⏳ El pago está siendo revisado manualmente.'],
  ['pending_waiting_payment', '⏳ Esperando confirmación del pago.'],
  ['authentication_error', '🔐 Error de autenticación con Mercado Pago.'],
  ['invalid_access_token', '🔐 Credenciales de Mercado Pago inválidas.'],
];

export const STATUS_DETAIL_DEFAULT = '❌ Error al procesar el pago. Intente nuevamente.';

/** Exact match first, then the first key that is contained in the detail or contains it. */
export function statusDetailMessage(detail: string | null | undefined): string {
  const d = (detail ?? '').trim().toLowerCase();
  if (d === '') return STATUS_DETAIL_DEFAULT;
  const exact = STATUS_DETAIL_MESSAGES.find(([k]) => k === d);
  if (exact) return exact[1];
  const partial = STATUS_DETAIL_MESSAGES.find(([k]) => d.includes(k) || k.includes(d));
  return partial ? partial[1] : STATUS_DETAIL_DEFAULT;
}

export const INTERNAL_MESSAGE = 'Error interno al procesar el pago';
export const PENDING_WARNING = 'Pago pendiente de confirmación';
