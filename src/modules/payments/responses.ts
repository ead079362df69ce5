/** Legacy response shapes of the purchase endpoints (legacy-payments.md §2.1, §2.2), plus our additions. */
import { dateToNaiveIso } from '../../infra/time.js';
import type { GatewayPayment } from './gateways/types.js';
import { PENDING_WARNING, statusDetailMessage } from './gateways/mercadopago-tables.js';
import { centsToNumber } from './money.js';
import type { Transaccion } from './repository.js';

export type EstadoHotspotWire = 'active' | 'pendiente' | 'eliminado';

export function estadoHotspotWire(tx: Pick<Transaccion, 'estado' | 'estadoHotspot'>): EstadoHotspotWire {
  if (tx.estadoHotspot === 'disabled' || tx.estado === 'reembolsada') return 'eliminado';
  return tx.estado === 'entregada' || tx.estadoHotspot === 'active' ? 'active' : 'pendiente';
}

const MSG_NOT_REQUESTED = 'Favor de ingresar sus credenciales para conectar a Internet';
const MSG_FAILED = 'No se pudo conectar automáticamente. Use las credenciales para conectar a Internet';
const MSG_SLOW = 'El servicio está tardando en responder. Use las credenciales para conectarse a internet';
const MSG_OK = '¡Conexión establecida con éxito! Disfrute de Internet sin límites';

/** The `auto_conexion` object from the auto-connect request and the router's result (null: not run). */
export function autoConexion(requested: boolean, mac: string | null, ip: string | null, result: Record<string, unknown> | null): Record<string, unknown> {
  if (!requested) return { estado: 'no_conectado', mac: '', ip: '', mensaje: MSG_NOT_REQUESTED, verificado: false };
  if (!mac) return { estado: 'no_conectado', mac: '', ip: '', mensaje: MSG_FAILED, verificado: false };
  if (result && result.conectado === true) {
    return { estado: 'conectado', mac, ip: ip ?? '', mensaje: MSG_OK, verificado: true, session_id: null };
  }
  const error = typeof result?.error === 'string' ? result.error : '';
  return { estado: 'no_conectado', mac, ip: ip ?? '', mensaje: /timeout/i.test(error) ? MSG_SLOW : MSG_FAILED, verificado: false };
}

export interface SaleContext {
  tx: Transaccion;
  password: string;
  productoNombre: string;
  perfil: string;
  priceCents: number;
  moneda: string;
  clienteNombre: string;
  clienteEmail: string;
  autoConexion: Record<string, unknown>;
}

function common(c: SaleContext) {
  return {
    tipo_usuario: c.tx.tipoUsuario ?? 'usuario_contrasena',
    producto: { nombre: c.productoNombre, precio: centsToNumber(c.priceCents), moneda: c.moneda, perfil_mikrotik: c.perfil },
    cliente: { nombre: c.clienteNombre, email: c.clienteEmail },
    timestamp: dateToNaiveIso(new Date()),
  };
}

function ours(c: SaleContext) {
  return { referencia: c.tx.referencia, estado: c.tx.estado, estado_hotspot: estadoHotspotWire(c.tx) };
}

export function conektaSuccess(c: SaleContext): Record<string, unknown> {
  return {
    success: true,
    id_transaccion: c.tx.transaccionId,
    estado_pago: 'paid',
    tipo_usuario: c.tx.tipoUsuario ?? 'usuario_contrasena',
    usuario_hotspot: { usuario: c.tx.usuarioHotspot, contrasena: c.password },
    ...withoutTipo(common(c)),
    auto_conexion: c.autoConexion,
    ...ours(c),
  };
}

function withoutTipo<T extends { tipo_usuario: unknown }>(o: T): Omit<T, 'tipo_usuario'> {
  const { tipo_usuario: _t, ...rest } = o;
  return rest;
}

/** What the browser may see of the MP payment (the legacy sent the whole object, payer data included). */
function mpSummary(p: GatewayPayment): Record<string, unknown> {
  const r = p.raw;
  return {
    id: r.id,
    status: r.status,
    status_detail: r.status_detail ?? null,
    external_reference: r.external_reference ?? null,
    transaction_amount: r.transaction_amount ?? null,
    currency_id: r.currency_id ?? null,
    date_approved: r.date_approved ?? null,
    payment_method_id: r.payment_method_id ?? null,
    payment_type_id: r.payment_type_id ?? null,
    installments: r.installments ?? null,
  };
}

export function mercadoPagoSuccess(c: SaleContext, p: GatewayPayment, cuotas: number): Record<string, unknown> {
  const r = p.raw;
  const card = r.card && typeof r.card === 'object' ? (r.card as Record<string, unknown>) : null;
  return {
    success: true,
    id_transaccion: c.tx.transaccionId,
    estado_pago: 'approved',
    tipo_usuario: c.tx.tipoUsuario ?? 'usuario_contrasena',
    usuario_hotspot: { usuario: c.tx.usuarioHotspot, contrasena: c.password },
    ...withoutTipo(common(c)),
    mercado_pago: {
      payment_id: r.id,
      status: p.rawStatus,
      status_detail: p.statusDetail,
      installments: cuotas,
      payment_method: {
        id: r.payment_method_id ?? null,
        type: r.payment_type_id ?? null,
        issuer: r.issuer_id ?? null,
        last_four_digits: card?.last_four_digits ?? null,
        installments: r.installments ?? cuotas,
      },
      raw_response: mpSummary(p),
    },
    auto_conexion: c.autoConexion,
    ...ours(c),
  };
}

/** MP pending / in_process: not a sale yet, so no credentials; the portal polls our reference. */
export function mercadoPagoPending(c: SaleContext, p: GatewayPayment, cuotas: number): Record<string, unknown> {
  const r = p.raw;
  const detail = p.statusDetail.startsWith('pending') ? statusDetailMessage(p.statusDetail) : statusDetailMessage('pending_contingency');
  return {
    success: false,
    pendiente: true,
    id_transaccion: c.tx.transaccionId,
    estado_pago: p.rawStatus,
    tipo_usuario: c.tx.tipoUsuario ?? 'usuario_contrasena',
    usuario_hotspot: null,
    ...withoutTipo(common(c)),
    mercado_pago: {
      payment_id: r.id,
      status: p.rawStatus,
      status_detail: p.statusDetail,
      installments: cuotas,
      payment_method: { id: r.payment_method_id ?? null, type: r.payment_type_id ?? null },
      raw_response: {},
    },
    auto_conexion: autoConexion(false, null, null, null),
    advertencia: PENDING_WARNING,
    detail,
    code: 'pago_pendiente',
    ...ours(c),
  };
}
