/**
 * Telegram messages to the company for both gateways (the legacy only sent Mercado Pago approvals, without
 * escaping, with an empty PIN). Every value from outside is HTML-escaped; the PIN of a PIN voucher is its
 * username.
 */
import { escapeHtml } from '../notifications/telegram.js';
import type { NoticeKind, Transaccion } from './repository.js';

export interface NoticeContext {
  empresaNombre: string;
  productoNombre: string;
  password: string;
}

const GATEWAY_LABEL: Record<string, string> = { conekta: 'Conekta', mercado_pago: 'Mercado Pago' };

export function buildNotice(kind: NoticeKind, tx: Transaccion, c: NoticeContext, motivo: string | null): string {
  const e = escapeHtml;
  const common = [
    `🏢 <b>Empresa:</b> ${e(c.empresaNombre)}`,
    `📦 <b>Plan:</b> ${e(c.productoNombre)}`,
    `💰 <b>Monto:</b> $${e(tx.monto)} ${e(tx.moneda ?? 'MXN')}`,
    `👤 <b>Cliente:</b> ${e(tx.clienteNombre ?? '')}`,
  ];
  const id = `🆔 <b>Transacción:</b> <code>${e(tx.transaccionId ?? tx.referencia ?? String(tx.id))}</code>`;
  const via = `💳 <b>Pasarela:</b> ${e(GATEWAY_LABEL[tx.pasarela ?? ''] ?? tx.pasarela ?? '')}`;
  const credentials =
    tx.tipoUsuario === 'pin'
      ? [`🔑 <b>PIN:</b> <code>${e(tx.usuarioHotspot ?? '')}</code>`]
      : [`👤 <b>Usuario:</b> <code>${e(tx.usuarioHotspot ?? '')}</code>`, `🔑 <b>Contraseña:</b> <code>${e(c.password)}</code>`];
  switch (kind) {
    case 'aprobado':
      return ['✅ <b>¡Pago Aprobado!</b>', ...common, id, via, ...credentials, '🔥 <i>Acceso WiFi entregado correctamente.</i>'].join('\n');
    case 'rechazado':
      return ['❌ <b>Pago Rechazado</b>', ...common, via, `⚠️ <b>Motivo:</b> ${e(motivo ?? '')}`].join('\n');
    case 'reembolsado':
      return ['↩️ <b>Pago Reembolsado</b>', ...common, id, via, `📝 <b>Motivo:</b> ${e(motivo ?? '')}`, '🚫 <i>La ficha fue dada de baja del router.</i>'].join('\n');
    case 'entrega_fallida':
      return [
        '🚨 <b>No se pudo entregar la ficha</b>',
        ...common,
        id,
        via,
        `⚠️ <b>Motivo:</b> ${e(motivo ?? 'El router no respondió a tiempo')}`,
        '↩️ <i>El pago se reembolsa automáticamente al cliente.</i>',
      ].join('\n');
    case 'alerta':
      return ['🚨 <b>Atención: una operación de pago necesita revisión</b>', ...common, id, via, `⚠️ <b>Detalle:</b> ${e(motivo ?? '')}`].join('\n');
    case 'reembolso_parcial':
      return ['↩️ <b>Reembolso parcial</b>', ...common, id, via, `📝 <b>Reembolsado:</b> $${e(((tx.reembolsadoCentavos ?? 0) / 100).toFixed(2))}`, '✅ <i>La ficha sigue activa.</i>'].join('\n');
  }
}
