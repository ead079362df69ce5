/**
 * Top-ups (issue 15): more time on the SAME hotspot user, bought through the same exactly-once purchase path.
 *
 * A top-up is a `transacciones` row of its own (referencia, charge, refund, Idempotency-Key) whose
 * `recarga_de` names the sale it extends and whose `usuario_hotspot` is that sale's user; it never creates
 * a user. Its targets (`recarga_minutos`, `recarga_bytes`, `recarga_vigencia_minutos`: totals) are computed
 * ONCE, when the attempt is recorded, from the sale's terms at that moment, under the sale's row lock.
 * Delivery SETS them (router: `limit-uptime`, `limit-bytes-total`; the sale's row: its limits, validity and
 * `expira_en`), never adds, so a retried or duplicated delivery cannot extend twice.
 *
 * Rules:
 * - Only the dimensions the voucher already limits grow (an unlimited one stays unlimited); a plan that adds
 *   nothing to the voucher is refused before any charge (`recarga_sin_efecto`).
 * - One top-up in flight per voucher (unique index): a second concurrent one is refused before any charge
 *   (`recarga_en_curso`), so targets never race.
 * - An expired voucher (validity over, or disabled by the sweeper) is not topped up: the buyer buys a new
 *   voucher (`ficha_vencida`). A top-up whose voucher expired or was refunded before its delivery is refunded.
 * - A refunded top-up removes exactly its own extension and keeps the user: the voucher goes back to its
 *   original terms plus the top-ups still paid — which is the stored previous target when no later top-up
 *   superseded it; a later top-up keeps the time it paid for. The revert waits while another top-up of the
 *   voucher is in flight, and runs under the sale's row lock (two reverts never interleave their writes).
 */
import { sql } from 'drizzle-orm';
import type { Executor } from '../../infra/db/index.js';
import { ApiError } from '../../infra/errors.js';
import { limitRules, type FailureLimiter } from '../../infra/failure-limiter.js';
import type { SellableProductView } from './ports.js';
import { rowToTransaccion, type Transaccion } from './repository.js';
import type { PaymentsService } from './service.js';
import { voucherComment } from './vouchers.js';

/** What identifies the voucher to extend; `verificada`: its proof was already checked (a checkout session). */
export interface TopUpRequest {
  usuario: string;
  contrasena: string | null;
  verificada?: boolean;
}

export interface TopUpTargets {
  recargaDe: number;
  recargaMinutos: number | null;
  recargaBytes: number | null;
  recargaVigenciaMinutos: number | null;
  recargaPrevioMinutos: number | null;
  recargaPrevioBytes: number | null;
  recargaPrevioVigenciaMinutos: number | null;
}

const rows = (result: unknown) => (result as { rows?: Record<string, unknown>[] }).rows ?? [];

/** The sale a top-up of `usuario` on this router would extend: its own row (not a top-up), money kept, delivered. */
export async function findSale(ex: Executor, routerId: string, usuario: string, lock = false): Promise<Transaccion | null> {
  const result = await ex.execute(sql`SELECT * FROM transacciones
    WHERE router_id = ${routerId} AND usuario_hotspot = ${usuario} AND recarga_de IS NULL AND referencia IS NOT NULL
      AND estado IN ('entregada', 'reembolso_parcial') AND estado_hotspot = 'active'
    ORDER BY id DESC LIMIT 1 ${lock ? sql`FOR UPDATE` : sql``}`);
  const [raw] = rows(result);
  return raw ? rowToTransaccion(raw) : null;
}

const NOT_FOUND = () => new ApiError(404, 'Ficha no encontrada en este hotspot', 'ficha_no_encontrada');

/** Is the sale's validity over (swept, or past `expira_en`)? By the database clock. */
async function expired(ex: Executor, saleId: number): Promise<boolean> {
  const [r] = rows(await ex.execute(sql`SELECT (expirada_en IS NOT NULL OR coalesce(expira_en <= (now() AT TIME ZONE 'utc'), false)) AS vencida FROM transacciones WHERE id = ${saleId}`));
  return r?.vencida === true;
}

/**
 * The buyer's proof that the voucher is theirs: its password (its name, the PIN, for a PIN voucher, which has
 * none), checked against the voucher as we sold it, through the voucher limiter exactly as profile-info is
 * (per device/name, per IP, per router). Another company's voucher is never on this router: "not found".
 */
export async function proveVoucher(
  svc: PaymentsService,
  limiter: FailureLimiter,
  limits: { maxPerClient: number; maxPerIp: number; routerBudget: number },
  c: { empresaId: string; routerId: string; ip: string; usuario: string; contrasena: string | null },
): Promise<Transaccion> {
  const rules = limitRules.voucher(c.routerId, `user:${c.usuario}`, c.ip, limits);
  const wait = await limiter.attempt(rules);
  if (wait > 0) throw new ApiError(429, `Demasiados intentos fallidos. Intenta de nuevo en ${wait} segundos.`, 'too_many_attempts', { 'retry-after': String(wait) });
  const sale = await findSale(svc.deps.db.orm, c.routerId, c.usuario);
  if (!sale || sale.empresaId !== c.empresaId) {
    await limiter.recordFailure(rules);
    throw NOT_FOUND();
  }
  const password = sale.passwordHotspot ? (svc.deps.secrets.general.decrypt(sale.passwordHotspot) ?? '') : '';
  const given = c.contrasena ?? '';
  if (!timingSafeEqualText(password, given)) {
    await limiter.recordFailure(rules);
    throw new ApiError(401, 'Usuario o contraseña de la ficha incorrectos', 'credenciales_invalidas');
  }
  await limiter.recordSuccess(limitRules.voucherSuccess(rules));
  if (await expired(svc.deps.db.orm, sale.id)) throw new ApiError(409, 'La ficha ya venció; compre una ficha nueva', 'ficha_vencida');
  return sale;
}

function timingSafeEqualText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The targets of a top-up of `sale` with `product` (from the sale's terms now), or a refusal. */
export function computeTargets(sale: Transaccion, product: SellableProductView): TopUpTargets {
  const grow = (current: number | null, add: number | null | undefined) => (current !== null && add ? current + add : null);
  const t: TopUpTargets = {
    recargaDe: sale.id,
    recargaMinutos: grow(sale.limiteMinutos, product.duracionMinutos),
    recargaBytes: grow(sale.limiteBytes, product.limiteBytes),
    recargaVigenciaMinutos: grow(sale.vigenciaMinutos, product.vigenciaMinutos),
    recargaPrevioMinutos: sale.limiteMinutos,
    recargaPrevioBytes: sale.limiteBytes,
    recargaPrevioVigenciaMinutos: sale.vigenciaMinutos,
  };
  if (t.recargaMinutos === null && t.recargaBytes === null && t.recargaVigenciaMinutos === null) {
    throw new ApiError(400, 'Este plan no agrega tiempo ni datos a su ficha (su ficha no tiene ese límite)', 'recarga_sin_efecto');
  }
  return t;
}

/**
 * Inside the attempt's transaction: lock the sale, re-check it, compute the targets from its terms as they
 * are now (a delivery of an earlier top-up, which updates the sale, waits for this lock or is seen by it).
 */
export async function lockAndTarget(ex: Executor, routerId: string, empresaId: string, usuario: string, product: SellableProductView): Promise<{ sale: Transaccion; targets: TopUpTargets }> {
  const sale = await findSale(ex, routerId, usuario, true);
  if (!sale || sale.empresaId !== empresaId) throw NOT_FOUND();
  if (await expired(ex, sale.id)) throw new ApiError(409, 'La ficha ya venció; compre una ficha nueva', 'ficha_vencida');
  return { sale, targets: computeTargets(sale, product) };
}

/** The extended sale's new terms, SET from the top-up row `u` in the statement that records the delivery. */
export const extendSaleSql = sql`UPDATE transacciones s SET
    limite_minutos = coalesce(u.recarga_minutos, s.limite_minutos),
    limite_bytes = coalesce(u.recarga_bytes, s.limite_bytes),
    expira_en = CASE WHEN s.expira_en IS NULL OR u.recarga_vigencia_minutos IS NULL THEN s.expira_en
                     ELSE s.expira_en + make_interval(mins => u.recarga_vigencia_minutos - s.vigencia_minutos) END,
    vigencia_minutos = coalesce(u.recarga_vigencia_minutos, s.vigencia_minutos),
    actualizada_en = (now() AT TIME ZONE 'utc')
  FROM u WHERE s.id = u.recarga_de AND u.recarga_de IS NOT NULL`;

/** Put a top-up on the router: SET the stored targets on the sale's user. Throws when the user is not there. */
export async function writeTopUp(svc: PaymentsService, tx: Transaccion, sale: Transaccion): Promise<void> {
  const { found } = await svc.hotspot().setVoucherLimits(tx.routerId, sale.usuarioHotspot ?? '', voucherComment(sale.referencia ?? String(sale.id)), {
    limitUptimeMinutes: tx.recargaMinutos,
    limitBytesTotal: tx.recargaBytes,
  });
  if (!found) throw new Error(`la ficha ${sale.usuarioHotspot} no está en el router`);
}

/** Why a top-up cannot be delivered any more (then it is refunded), or null. */
export async function undeliverable(ex: Executor, tx: Transaccion): Promise<{ sale: Transaccion | null; motivo: string | null }> {
  const [raw] = rows(await ex.execute(sql`SELECT * FROM transacciones WHERE id = ${tx.recargaDe}`));
  const sale = raw ? rowToTransaccion(raw) : null;
  if (!sale || !['entregada', 'reembolso_parcial'].includes(sale.estado) || sale.estadoHotspot !== 'active') return { sale, motivo: 'La ficha que se recargaba ya no está vigente (reembolsada o dada de baja)' };
  if (await expired(ex, sale.id)) return { sale, motivo: 'La ficha venció antes de que se aplicara la recarga' };
  return { sale, motivo: null };
}

/**
 * A refunded top-up: take its extension back, keep the user. Under the sale's row lock: the terms become the
 * original ones plus the top-ups still paid (delivered, not refunded). Returns a retry delay while another
 * top-up of the voucher is in flight (its target may include this one's time), or null when done.
 */
export async function revertTopUp(svc: PaymentsService, tx: Transaccion, confirmLease: () => Promise<void>, attempts = 1): Promise<number | null> {
  const { db } = svc.deps;
  return db.transaction(async (t) => {
    const [saleRaw] = rows(await t.execute(sql`SELECT * FROM transacciones WHERE id = ${tx.recargaDe} FOR UPDATE`));
    const sale = saleRaw ? rowToTransaccion(saleRaw) : null;
    const [busy] = rows(await t.execute(sql`SELECT count(*)::int AS n FROM transacciones
      WHERE recarga_de = ${tx.recargaDe} AND id <> ${tx.id} AND estado IN ('iniciada', 'en_revision', 'cobrada', 'en_autenticacion')`));
    // Growing waits (up to a minute): the other one ends by its delivery deadline at the latest.
    if (Number(busy?.n ?? 0) > 0) return Math.min(60_000, 1_000 * Math.max(1, attempts));
    const live = sale && ['entregada', 'reembolso_parcial'].includes(sale.estado) && sale.estadoHotspot === 'active';
    if (live) {
      // Original terms (the first top-up's previous ones) plus the deltas of the top-ups still paid.
      const [e] = rows(await t.execute(sql`WITH all_t AS (SELECT * FROM transacciones WHERE recarga_de = ${tx.recargaDe}),
          first AS (SELECT * FROM all_t ORDER BY id LIMIT 1),
          paid AS (SELECT * FROM all_t WHERE id <> ${tx.id} AND estado IN ('entregada', 'reembolso_parcial') AND estado_hotspot = 'active')
        SELECT (SELECT recarga_previo_minutos FROM first) + coalesce((SELECT sum(recarga_minutos - recarga_previo_minutos) FROM paid), 0) AS minutos,
               (SELECT recarga_previo_bytes FROM first) + coalesce((SELECT sum(recarga_bytes - recarga_previo_bytes) FROM paid), 0) AS bytes,
               (SELECT recarga_previo_vigencia_minutos FROM first) + coalesce((SELECT sum(recarga_vigencia_minutos - recarga_previo_vigencia_minutos) FROM paid), 0) AS vigencia`));
      const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      const minutos = num(e?.minutos);
      const bytes = num(e?.bytes);
      const vigencia = num(e?.vigencia);
      await confirmLease();
      await svc.hotspot().setVoucherLimits(sale.routerId, sale.usuarioHotspot ?? '', voucherComment(sale.referencia ?? String(sale.id)), {
        limitUptimeMinutes: minutos,
        limitBytesTotal: bytes,
      });
      await t.execute(sql`UPDATE transacciones s SET
          limite_minutos = coalesce(${minutos}::int, s.limite_minutos),
          limite_bytes = coalesce(${bytes}::bigint, s.limite_bytes),
          expira_en = CASE WHEN s.expira_en IS NULL OR ${vigencia}::int IS NULL THEN s.expira_en
                           ELSE s.expira_en + make_interval(mins => ${vigencia}::int - s.vigencia_minutos) END,
          vigencia_minutos = coalesce(${vigencia}::int, s.vigencia_minutos),
          actualizada_en = (now() AT TIME ZONE 'utc')
        WHERE s.id = ${sale.id}`);
    }
    await t.execute(sql`UPDATE transacciones SET estado_hotspot = 'disabled', actualizada_en = (now() AT TIME ZONE 'utc') WHERE id = ${tx.id}`);
    return null;
  });
}
