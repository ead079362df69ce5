/**
 * Conekta → customer messages, exactly as the legacy service words them (legacy-payments.md §2.1 step 5
 * and §3.3). Data, not code: the order of ERROR_CODE_MESSAGES matters (first match wins).
 */

/** Error code (or a part of it) → message; matched in order, key ⊂ code or code ⊂ key. */
export const ERROR_CODE_MESSAGES: ReadonlyArray<readonly [string, string]> = [
  ['processing_error', 'Error al procesar el pago. Intente nuevamente.'],
  ['conekta.errors.processing.tokenization.used', 'El token de tarjeta ya fue utilizado. Genere un nuevo token.'],
  ['conekta.errors.processing.tokenization.invalid', 'Token de tarjeta inválido. Genere un nuevo token.'],
  ['conekta.errors.processing.tokenization.expired', 'Token de tarjeta expirado. Genere un nuevo token.'],
  ['card_declined', 'Tarjeta declinada. Contacte a su banco.'],
  ['insufficient_funds', 'Fondos insuficientes en la tarjeta.'],
  ['expired_card', 'Tarjeta expirada. Use otra tarjeta.'],
  ['invalid_card', 'Tarjeta inválida. Verifique los datos.'],
  ['stolen_card', 'Tarjeta reportada como robada.'],
  ['suspected_fraud', 'Actividad sospechosa detectada.'],
  ['card_not_supported', 'Tarjeta no soportada.'],
  ['card_number_incorrect', 'Número de tarjeta incorrecto.'],
  ['cvv_incorrect', 'Código de seguridad (CVV) incorrecto.'],
  ['parameter_validation_error', 'Datos inválidos en la solicitud.'],
  ['invalid_parameter', 'Parámetro inválido.'],
  ['missing_parameter', 'Falta parámetro requerido.'],
  ['invalid_amount', 'Monto inválido.'],
  ['invalid_currency', 'Moneda inválida.'],
  ['invalid_email', 'Correo electrónico inválido.'],
  ['invalid_phone', 'Número de teléfono inválido.'],
  ['authentication_error', 'Error de autenticación. Contacte al administrador.'],
  ['invalid_api_key', 'Clave API inválida.'],
  ['unauthorized_request', 'No autorizado.'],
  ['resource_not_found', 'Recurso no encontrado.'],
  ['order_not_found', 'Orden no encontrada.'],
  ['customer_not_found', 'Cliente no encontrado.'],
  ['gateway_error', 'Error en el procesador de pagos.'],
  ['bank_connection_error', 'Error de conexión con el banco.'],
  ['server_error', 'Error interno del servidor.'],
  ['rate_limit_exceeded', 'Límite de solicitudes excedido. Espere un momento.'],
  ['quota_exceeded', 'Cuota excedida. Contacte a Conekta.'],
  ['default', 'Error al procesar el pago. Intente nuevamente.'],
];

const msg = (key: string) => ERROR_CODE_MESSAGES.find(([k]) => k === key)![1];

/** Conekta HTTP status → our status; anything else is a 500 (legacy). */
export const HTTP_STATUS_MAP: Readonly<Record<number, number>> = { 402: 402, 400: 400, 401: 401, 404: 404, 422: 422, 429: 429 };

export const TIMEOUT_MESSAGE = 'Tiempo de espera agotado. Intente nuevamente.';
export const INTERNAL_MESSAGE = 'Error interno al procesar el pago.';
export const INVALID_TOKEN_MESSAGE = 'Token de tarjeta inválido o ya utilizado.';
/** The literal test token the legacy refused before any HTTP call. */
export const LEGACY_REFUSED_TOKEN = 'tok_2zD9Phs4sGnJN9ckc';

/** payment_status of a 200 answer that is not `paid` → 402 detail. */
export const PAYMENT_STATUS_MESSAGES: Readonly<Record<string, string>> = {
  pending: 'El pago está pendiente de confirmación.',
  declined: 'El pago fue declinado. Contacte a su banco.',
  expired: 'El pago expiró. Realice una nueva transacción.',
  canceled: 'El pago fue cancelado.',
  refunded: 'El pago fue reembolsado.',
  chargeback: 'Disputa activa en el pago.',
  pre_authorized: 'Pago pre-autorizado pendiente de captura.',
  partially_paid: 'El pago está parcialmente completado.',
  pending_payment: 'Pendiente de procesamiento de pago.',
  failed: 'El pago falló. Intente nuevamente.',
  voided: 'El pago fue anulado.',
};
export const PAYMENT_STATUS_DEFAULT = 'El pago no fue aprobado.';

export function paymentStatusMessage(status: string): string {
  return PAYMENT_STATUS_MESSAGES[status.trim().toLowerCase()] ?? PAYMENT_STATUS_DEFAULT;
}

/** Message of a Conekta error code, falling back to the technical message (legacy order of rules). */
export function errorMessage(code: string, technical: string | null): { key: string; message: string } {
  const c = code.trim().toLowerCase();
  for (const [key, message] of ERROR_CODE_MESSAGES) {
    if (c.includes(key) || key.includes(c)) return { key, message };
  }
  const t = (technical ?? '').toLowerCase();
  if (t.includes('token') || t.includes('tokenization')) {
    if (t.includes('already') || t.includes('used')) return { key: 'token_used', message: msg('conekta.errors.processing.tokenization.used') };
    if (t.includes('invalid')) return { key: 'token_invalid', message: msg('conekta.errors.processing.tokenization.invalid') };
    if (t.includes('expired')) return { key: 'token_expired', message: msg('conekta.errors.processing.tokenization.expired') };
  } else if (t.includes('card') || t.includes('tarjeta')) {
    if (t.includes('declined') || t.includes('rechazada')) return { key: 'card_declined', message: msg('card_declined') };
    if (t.includes('insufficient') || t.includes('fondos')) return { key: 'insufficient_funds', message: msg('insufficient_funds') };
    if (t.includes('expired') || t.includes('expirada')) return { key: 'expired_card', message: msg('expired_card') };
    if (t.includes('invalid') || t.includes('inválida')) return { key: 'invalid_card', message: msg('invalid_card') };
  } else if (t.includes('funds')) {
    return { key: 'insufficient_funds', message: msg('insufficient_funds') };
  } else if (t.includes('authentication') || t.includes('auth')) {
    return { key: 'authentication_error', message: msg('authentication_error') };
  } else if (t.includes('parameter') || t.includes('validation')) {
    return { key: 'parameter_validation_error', message: msg('parameter_validation_error') };
  }
  return { key: 'default', message: msg('default') };
}

/** Code and technical message of a Conekta error body (legacy extraction rules, without its crash). */
export function extractError(body: unknown): { code: string; technical: string | null } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const details = Array.isArray(b.details) ? b.details : [];
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  if (details.length > 0) {
    const d = (typeof details[0] === 'object' && details[0] !== null ? details[0] : {}) as Record<string, unknown>;
    return { code: text(d.code) ?? text(b.type) ?? '', technical: text(d.debug_message) ?? text(d.message) };
  }
  if (text(b.type)) return { code: text(b.type)!, technical: text(b.message) };
  if (text(b.message)) return { code: 'default', technical: text(b.message) };
  return { code: 'default', technical: null };
}
