/**
 * The purchase state machine as ONE table. Every guarded UPDATE on `transacciones.estado` is built from
 * `TRANSITIONS` (`guardSql`), and the table-driven test checks every pair of states against it. To add a
 * state (3-D Secure, top-ups…): add it to `ESTADOS`, add its rows here, and extend the CHECK constraint in
 * a migration.
 *
 * Money is monotonic: once money went back (refund, chargeback, cancellation) a purchase never returns to a
 * state that delivers a voucher. The only way out of `rechazada` is a revival of a purchase we declared
 * unpaid ourselves (`error_codigo = 'sin_cobro'`: our lookup found nothing), and only on a fresh gateway
 * read taken under the row lock, so that a stale "approved" read cannot bring back a refunded order.
 *
 *   iniciada ──approved──▶ cobrada ──voucher on router──▶ entregada
 *   iniciada ──3-D Secure challenge──▶ en_autenticacion ──approved──▶ cobrada | ──failed──▶ rechazada
 *   en_autenticacion ──challenge expired (fresh read: still pending)──▶ rechazada (autenticacion_vencida)
 *   rechazada (autenticacion_vencida) ──the bank approved after all──▶ reembolsada (full refund, never delivered)
 *      │ ╲──declined──▶ rechazada ──(sin_cobro, fresh read under lock) approved──▶ cobrada
 *      ╰──unknown──▶ en_revision ──reconciled──▶ cobrada | rechazada
 *   cobrada | entregada ──partial refund──▶ reembolso_parcial (voucher stays; refunded cents recorded)
 *   cobrada | entregada | reembolso_parcial ──refund of the rest / chargeback / cancellation──▶ reembolsada
 */
import { sql, type SQL } from 'drizzle-orm';

export const ESTADOS = ['iniciada', 'en_autenticacion', 'en_revision', 'cobrada', 'entregada', 'reembolso_parcial', 'rechazada', 'reembolsada'] as const;
export type Estado = (typeof ESTADOS)[number];

/** What happened to the purchase (the cause of a transition). */
export type Evento =
  /** The gateway took the money. */
  | 'cobro_aprobado'
  /** The gateway refused the charge, or our lookup found no charge after the grace period (`sin_cobro`). */
  | 'cobro_rechazado'
  /** The charge's outcome is unknown (timeout, 5xx): the reconciler finds out. */
  | 'resultado_desconocido'
  /** The gateway asks the customer's bank for a 3-D Secure challenge: waiting for the customer. */
  | 'autenticacion_requerida'
  /** The challenge stayed open past THREE_DS_CHALLENGE_TIMEOUT_MS (a fresh read still said pending): never delivered. */
  | 'autenticacion_vencida'
  /** The voucher is on the router. */
  | 'entrega'
  /** Part of the money went back; the voucher stays. */
  | 'reembolso_parcial'
  /** All the money went back (our refund, the gateway's, a chargeback, a cancellation): the voucher goes. */
  | 'reembolso_total'
  /** Charged and given back before we recorded the charge (nothing was sold); also ends any `sin_cobro` revival. */
  | 'devuelto_sin_venta';

/** What a transition needs besides its from-state. */
export type Condicion =
  /** `error_codigo = 'sin_cobro'`: we declared it unpaid ourselves (never after a refund, cancellation or chargeback). */
  | 'sin_cobro'
  /** The caller read the gateway after taking the row lock (`SELECT … FOR UPDATE`); the SQL cannot check it, the caller asserts it. */
  | 'lectura_fresca'
  /** The voucher is not on the router yet (`estado_hotspot <> 'active'`). */
  | 'ficha_pendiente'
  /** `error_codigo = 'autenticacion_vencida'`: the 3-D Secure challenge expired before the bank answered. */
  | 'autenticacion_vencida';

export interface Transition {
  from: Estado;
  to: Estado;
  on: Evento;
  requires?: readonly Condicion[];
}

export const TRANSITIONS: readonly Transition[] = [
  { from: 'iniciada', to: 'cobrada', on: 'cobro_aprobado' },
  { from: 'en_revision', to: 'cobrada', on: 'cobro_aprobado' },
  { from: 'rechazada', to: 'cobrada', on: 'cobro_aprobado', requires: ['sin_cobro', 'lectura_fresca'] },
  // The bank approved within the challenge's time (the expiry itself reads the gateway first).
  { from: 'en_autenticacion', to: 'cobrada', on: 'cobro_aprobado' },

  { from: 'iniciada', to: 'en_autenticacion', on: 'autenticacion_requerida' },
  { from: 'en_autenticacion', to: 'rechazada', on: 'autenticacion_vencida' },

  { from: 'iniciada', to: 'rechazada', on: 'cobro_rechazado' },
  { from: 'en_revision', to: 'rechazada', on: 'cobro_rechazado' },
  { from: 'en_autenticacion', to: 'rechazada', on: 'cobro_rechazado' },

  { from: 'iniciada', to: 'en_revision', on: 'resultado_desconocido' },

  { from: 'cobrada', to: 'entregada', on: 'entrega' },
  // Partly refunded before the voucher reached the router: it is still owed, and stays in its state.
  { from: 'reembolso_parcial', to: 'reembolso_parcial', on: 'entrega', requires: ['ficha_pendiente'] },

  { from: 'cobrada', to: 'reembolso_parcial', on: 'reembolso_parcial' },
  { from: 'entregada', to: 'reembolso_parcial', on: 'reembolso_parcial' },
  // A second partial refund (the amount only grows: the UPDATE itself checks that).
  { from: 'reembolso_parcial', to: 'reembolso_parcial', on: 'reembolso_parcial' },

  { from: 'cobrada', to: 'reembolsada', on: 'reembolso_total' },
  { from: 'entregada', to: 'reembolsada', on: 'reembolso_total' },
  { from: 'reembolso_parcial', to: 'reembolsada', on: 'reembolso_total' },
  // An approval that arrived after its challenge expired: refunded in full, no voucher ever existed.
  { from: 'rechazada', to: 'reembolsada', on: 'reembolso_total', requires: ['autenticacion_vencida'] },

  { from: 'iniciada', to: 'rechazada', on: 'devuelto_sin_venta' },
  { from: 'en_revision', to: 'rechazada', on: 'devuelto_sin_venta' },
  { from: 'en_autenticacion', to: 'rechazada', on: 'devuelto_sin_venta' },
  // A purchase we declared unpaid learns its charge was given back: it can never be revived.
  { from: 'rechazada', to: 'rechazada', on: 'devuelto_sin_venta' },
];

/** States that hold a live (or owed) voucher: the unique voucher-name index and the delivery worker use them. */
export const VOUCHER_OWED: readonly Estado[] = ['cobrada', 'reembolso_parcial'];
/** States in which the customer's money is (at least partly) with the company. */
export const MONEY_KEPT: readonly Estado[] = ['cobrada', 'entregada', 'reembolso_parcial'];
/** States the gateway may still change by itself (reconcile / poll). */
export const OPEN: readonly Estado[] = ['iniciada', 'en_autenticacion', 'en_revision'];

/** The row facts a condition reads. */
export interface RowFacts {
  estado: string;
  errorCodigo?: string | null;
  estadoHotspot?: string | null;
}

export interface GuardOptions {
  /** The caller holds the row lock and read the gateway after taking it. */
  lecturaFresca?: boolean;
}

function conditionHolds(c: Condicion, row: RowFacts, opts: GuardOptions): boolean {
  switch (c) {
    case 'sin_cobro':
      return row.errorCodigo === 'sin_cobro';
    case 'lectura_fresca':
      return opts.lecturaFresca === true;
    case 'ficha_pendiente':
      return row.estadoHotspot !== 'active';
    case 'autenticacion_vencida':
      return row.errorCodigo === 'autenticacion_vencida';
  }
}

/** The transition `on` from this row, or null when the table forbids it. */
export function transitionFor(row: RowFacts, on: Evento, opts: GuardOptions = {}): Transition | null {
  return TRANSITIONS.find((t) => t.on === on && t.from === row.estado && (t.requires ?? []).every((c) => conditionHolds(c, row, opts))) ?? null;
}

/** May the purchase go from `row.estado` to `to` (by any event)? */
export function canMove(row: RowFacts, to: Estado, opts: GuardOptions = {}): boolean {
  return TRANSITIONS.some((t) => t.to === to && t.from === row.estado && (t.requires ?? []).every((c) => conditionHolds(c, row, opts)));
}

function conditionSql(c: Condicion, opts: GuardOptions): SQL {
  switch (c) {
    case 'sin_cobro':
      return sql`error_codigo = 'sin_cobro'`;
    case 'lectura_fresca':
      return opts.lecturaFresca === true ? sql`TRUE` : sql`FALSE`;
    case 'ficha_pendiente':
      return sql`coalesce(estado_hotspot, '') <> 'active'`;
    case 'autenticacion_vencida':
      return sql`error_codigo = 'autenticacion_vencida'`;
  }
}

/**
 * The WHERE predicate (unqualified columns of `transacciones`) that lets an UPDATE make the transition
 * `on`: `(estado = 'iniciada') OR (estado = 'rechazada' AND error_codigo = 'sin_cobro' AND …)`.
 */
export function guardSql(on: Evento, opts: GuardOptions = {}): SQL {
  const rows = TRANSITIONS.filter((t) => t.on === on);
  const parts = rows.map((t) => {
    const conds = (t.requires ?? []).map((c) => conditionSql(c, opts));
    return sql`(${sql.join([sql`estado = ${t.from}`, ...conds], sql` AND `)})`;
  });
  return parts.length === 0 ? sql`FALSE` : sql`(${sql.join(parts, sql` OR `)})`;
}
