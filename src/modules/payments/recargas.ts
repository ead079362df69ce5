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
 *
 * Counter (batch) vouchers, sold for cash, are topped up the same way (their holder proves them with the
 * printed password). Such a top-up names its voucher by `recarga_de = -fichas_lote.id` (negative: never a
 * `transacciones` id), so every top-up rule above (one in flight, SET targets, refund reverts) applies
 * unchanged. A batch voucher has no terms of its own: its terms are its batch's plus the deltas of its
 * top-ups still paid; its `expira_en` moves by the validity added. Validity grows only once `expira_en`
 * is known (first login seen): before that the sweeper counts the batch's validity from the first login.
 * A voided (`ficha_anulada`) or expired (`ficha_vencida`) counter voucher is refused before any charge.
 */
import { sql } from 'drizzle-orm';
import type { Executor } from '../../infra/db/index.js';
import { ApiError } from '../../infra/errors.js';
import { limitRules, type FailureLimiter } from '../../infra/failure-limiter.js';
import type { SellableProductView } from './ports.js';
import { rowToTransaccion, type Transaccion } from './repository.js';
import type { PaymentsService } from './service.js';
import { voucherComment } from './vouchers.js';
import { validitySpan } from '../vouchers/validity.js';
import { batchComment } from '../vouchers/batches.js';

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

/** The terms a top-up grows from: an online sale's row, or a counter voucher's (`id` = its `recarga_de`). */
export type VoucherTerms = Pick<Transaccion, 'id' | 'limiteMinutos' | 'limiteBytes' | 'vigenciaMinutos'>;

/** Where a top-up is written: the user, its comment (ours), and its terms now. */
export interface TopUpTarget extends VoucherTerms {
  routerId: string;
  usuario: string;
  comment: string;
}

/** A counter voucher's `recarga_de` (negative), and back (null: an online sale's). */
export const counterRef = (fichaId: number) => -fichaId;
export const counterFichaId = (recargaDe: number | null): number | null => (recargaDe !== null && recargaDe < 0 ? -recargaDe : null);

export interface CounterVoucher extends TopUpTarget {
  fichaId: number;
  loteId: number;
  empresaId: string;
  passwordCifrada: string;
  perfil: string;
  enRouter: boolean;
  /** The voucher or its batch was voided. */
  anulada: boolean;
  /** Expired (swept, or past `expira_en`), by the database clock. */
  vencida: boolean;
  /** `expira_en` is known (first login seen): its validity can grow. */
  conExpira: boolean;
}

const rows = (result: unknown) => (result as { rows?: Record<string, unknown>[] }).rows ?? [];
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * A purchase whose money was kept and whose user is on the router: a sale a top-up may extend, or a top-up
 * whose extension counts. As SQL on the row alias `t`, and on a loaded row.
 */
const keptSql = (t: string) => sql.raw(`${t}.estado IN ('entregada', 'reembolso_parcial') AND ${t}.estado_hotspot = 'active'`);
/** Validity over: swept, or past `expira_en` by the database clock (row alias `t`). */
const expiredSql = (t: string) => sql.raw(`(${t}.expirada_en IS NOT NULL OR coalesce(${t}.expira_en <= (now() AT TIME ZONE 'utc'), false))`);
const isKept = (row: Pick<Transaccion, 'estado' | 'estadoHotspot'>) => ['entregada', 'reembolso_parcial'].includes(row.estado) && row.estadoHotspot === 'active';

/** The sale a top-up of `usuario` on this router would extend: its own row (not a top-up), money kept, delivered. */
export async function findSale(ex: Executor, routerId: string, usuario: string, lock = false): Promise<Transaccion | null> {
  const result = await ex.execute(sql`SELECT * FROM transacciones s
    WHERE router_id = ${routerId} AND usuario_hotspot = ${usuario} AND recarga_de IS NULL AND referencia IS NOT NULL
      AND ${keptSql('s')}
    ORDER BY id DESC LIMIT 1 ${lock ? sql`FOR UPDATE` : sql``}`);
  const [raw] = rows(result);
  return raw ? rowToTransaccion(raw) : null;
}

/**
 * A counter voucher with its terms now: its batch's plus the deltas of its top-ups still paid (delivered,
 * not reverted). `lock`: its row FOR UPDATE first (top-ups of one voucher are targeted and reverted in turn).
 */
export async function findCounterVoucher(ex: Executor, by: { routerId: string; usuario: string } | { fichaId: number }, lock = false): Promise<CounterVoucher | null> {
  const where = 'fichaId' in by ? sql`f.id = ${by.fichaId}` : sql`f.router_id = ${by.routerId} AND f.usuario = ${by.usuario}`;
  if (lock) await ex.execute(sql`SELECT f.id FROM fichas_lote f WHERE ${where} FOR UPDATE`);
  const [r] = rows(await ex.execute(sql`SELECT f.id, f.lote_id, l.empresa_id, f.router_id, f.usuario, f.password_cifrada, l.perfil, f.en_router,
        (f.estado = 'anulado' OR l.estado = 'anulado') AS anulada,
        (f.estado = 'expirado' OR ${expiredSql('f')}) AS vencida,
        f.expira_en IS NOT NULL AS con_expira,
        l.limite_minutos + coalesce(p.minutos, 0) AS limite_minutos,
        l.limite_bytes + coalesce(p.bytes, 0) AS limite_bytes,
        l.vigencia_minutos + coalesce(p.vigencia, 0) AS vigencia_minutos
      FROM fichas_lote f JOIN lotes l ON l.id = f.lote_id
      LEFT JOIN LATERAL (SELECT sum(t.recarga_minutos - t.recarga_previo_minutos) AS minutos, sum(t.recarga_bytes - t.recarga_previo_bytes) AS bytes,
                                sum(t.recarga_vigencia_minutos - t.recarga_previo_vigencia_minutos) AS vigencia
                           FROM transacciones t WHERE t.recarga_de = -f.id AND ${keptSql('t')}) p ON true
      WHERE ${where}`));
  if (!r) return null;
  const fichaId = Number(r.id);
  return {
    id: counterRef(fichaId),
    fichaId,
    loteId: Number(r.lote_id),
    empresaId: String(r.empresa_id),
    routerId: String(r.router_id),
    usuario: String(r.usuario),
    comment: batchComment(Number(r.lote_id)),
    passwordCifrada: String(r.password_cifrada),
    perfil: String(r.perfil),
    enRouter: r.en_router === true,
    anulada: r.anulada === true,
    vencida: r.vencida === true,
    conExpira: r.con_expira === true,
    limiteMinutos: num(r.limite_minutos),
    limiteBytes: num(r.limite_bytes),
    vigenciaMinutos: num(r.vigencia_minutos),
  };
}

/** What a top-up of a counter voucher grows from: validity only once its expiry is known. */
const counterTerms = (v: CounterVoucher): VoucherTerms => ({ ...v, vigenciaMinutos: v.conExpira ? v.vigenciaMinutos : null });

const VOIDED = () => new ApiError(409, 'La ficha fue anulada; compre una ficha nueva', 'ficha_anulada');
const EXPIRED = () => new ApiError(409, 'La ficha ya venció; compre una ficha nueva', 'ficha_vencida');

const NOT_FOUND = () => new ApiError(404, 'Ficha no encontrada en este hotspot', 'ficha_no_encontrada');

/** Is the sale's validity over (swept, or past `expira_en`)? By the database clock. */
async function expired(ex: Executor, saleId: number): Promise<boolean> {
  const [r] = rows(await ex.execute(sql`SELECT ${expiredSql('s')} AS vencida FROM transacciones s WHERE s.id = ${saleId}`));
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
): Promise<VoucherTerms> {
  const rules = limitRules.voucher(c.routerId, `user:${c.usuario}`, c.ip, limits);
  const wait = await limiter.attempt(rules);
  if (wait > 0) throw new ApiError(429, `Demasiados intentos fallidos. Intenta de nuevo en ${wait} segundos.`, 'too_many_attempts', { 'retry-after': String(wait) });
  const { orm } = svc.deps.db;
  const sale = await findSale(orm, c.routerId, c.usuario);
  // Not an online sale: a counter voucher (on the router), whose proof is its printed password.
  const counter = sale ? null : await findCounterVoucher(orm, { routerId: c.routerId, usuario: c.usuario });
  const owned = sale ? sale.empresaId === c.empresaId : !!counter && counter.empresaId === c.empresaId && counter.enRouter;
  if (!owned) {
    await limiter.recordFailure(rules);
    throw NOT_FOUND();
  }
  const stored = sale ? sale.passwordHotspot : counter!.passwordCifrada;
  const password = stored ? (svc.deps.secrets.general.decrypt(stored) ?? '') : '';
  const given = c.contrasena ?? '';
  if (!timingSafeEqualText(password, given)) {
    await limiter.recordFailure(rules);
    throw new ApiError(401, 'Usuario o contraseña de la ficha incorrectos', 'credenciales_invalidas');
  }
  await limiter.recordSuccess(limitRules.voucherSuccess(rules));
  if (counter) {
    if (counter.anulada) throw VOIDED();
    if (counter.vencida) throw EXPIRED();
    return counterTerms(counter);
  }
  if (await expired(orm, sale!.id)) throw EXPIRED();
  return sale!;
}

/** A retry delay while another top-up of the voucher is in flight (growing, up to a minute: the other one ends by its delivery deadline at the latest), else null. */
const inFlightWait = async (ex: Executor, tx: Transaccion, attempts: number): Promise<number | null> => {
  const [busy] = rows(await ex.execute(sql`SELECT count(*)::int AS n FROM transacciones
    WHERE recarga_de = ${tx.recargaDe} AND id <> ${tx.id} AND estado IN ('iniciada', 'en_revision', 'cobrada', 'en_autenticacion')`));
  return Number(busy?.n ?? 0) > 0 ? Math.min(60_000, 1_000 * Math.max(1, attempts)) : null;
};

/**
 * A refunded top-up of a counter voucher, under the voucher's row lock: the router gets its terms without
 * this top-up (its batch's plus the top-ups still paid: this one, refunded, no longer counts), and its
 * `expira_en` loses the validity this one added, when its delivery had recorded it.
 */
async function revertCounterTopUp(svc: PaymentsService, tx: Transaccion, fichaId: number, confirmLease: () => Promise<void>, attempts: number): Promise<number | null> {
  return svc.deps.db.transaction(async (t) => {
    const v = await findCounterVoucher(t, { fichaId }, true);
    const [self] = rows(await t.execute(sql`SELECT estado_hotspot, usuario_creado_en IS NOT NULL AS aplicada FROM transacciones WHERE id = ${tx.id}`));
    if (self?.estado_hotspot === 'disabled') return null; // reverted already (by an earlier run)
    const wait = await inFlightWait(t, tx, attempts);
    if (wait !== null) return wait;
    if (v && v.enRouter && !v.anulada) {
      await confirmLease();
      await svc.hotspot().setVoucherLimits(v.routerId, v.usuario, v.comment, { limitUptimeMinutes: v.limiteMinutos, limitBytesTotal: v.limiteBytes });
    }
    if (self?.aplicada === true && tx.recargaVigenciaMinutos !== null && tx.recargaPrevioVigenciaMinutos !== null) {
      await t.execute(sql`UPDATE fichas_lote SET expira_en = expira_en - ${validitySpan(sql`${tx.recargaVigenciaMinutos - tx.recargaPrevioVigenciaMinutos}::int`, svc.deps.config.vigenciaMinuteSeconds)}
        WHERE id = ${fichaId} AND expira_en IS NOT NULL`);
    }
    await t.execute(sql`UPDATE transacciones SET estado_hotspot = 'disabled', actualizada_en = (now() AT TIME ZONE 'utc') WHERE id = ${tx.id}`);
    return null;
  });
}

function timingSafeEqualText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The targets of a top-up of `sale` with `product` (from the sale's terms now), or a refusal. */
export function computeTargets(sale: VoucherTerms, product: SellableProductView): TopUpTargets {
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
export async function lockAndTarget(
  ex: Executor,
  routerId: string,
  empresaId: string,
  usuario: string,
  product: SellableProductView,
): Promise<{ voucher: { usuario: string; passwordEnc: string | null; tipoUsuario: string | null; perfil: string | null }; targets: TopUpTargets }> {
  const sale = await findSale(ex, routerId, usuario, true);
  if (sale) {
    if (sale.empresaId !== empresaId) throw NOT_FOUND();
    if (await expired(ex, sale.id)) throw EXPIRED();
    const voucher = { usuario: sale.usuarioHotspot ?? usuario, passwordEnc: sale.passwordHotspot, tipoUsuario: sale.tipoUsuario, perfil: sale.perfilHotspot };
    return { voucher, targets: computeTargets(sale, product) };
  }
  const counter = await findCounterVoucher(ex, { routerId, usuario }, true);
  if (!counter || counter.empresaId !== empresaId || !counter.enRouter) throw NOT_FOUND();
  if (counter.anulada) throw VOIDED();
  if (counter.vencida) throw EXPIRED();
  const voucher = { usuario: counter.usuario, passwordEnc: counter.passwordCifrada, tipoUsuario: 'usuario_contrasena', perfil: counter.perfil };
  return { voucher, targets: computeTargets(counterTerms(counter), product) };
}

/**
 * The extended sale's new terms, SET from the top-up row `u` in the statement that records the delivery
 * (`expira_en` moves by the validity added, a minute lasting `minuteSeconds`: vouchers' validitySpan).
 */
export const extendSaleSql = (minuteSeconds: number) => sql`UPDATE transacciones s SET
    limite_minutos = coalesce(u.recarga_minutos, s.limite_minutos),
    limite_bytes = coalesce(u.recarga_bytes, s.limite_bytes),
    expira_en = CASE WHEN s.expira_en IS NULL OR u.recarga_vigencia_minutos IS NULL THEN s.expira_en
                     ELSE s.expira_en + ${validitySpan(sql`u.recarga_vigencia_minutos - s.vigencia_minutos`, minuteSeconds)} END,
    vigencia_minutos = coalesce(u.recarga_vigencia_minutos, s.vigencia_minutos),
    actualizada_en = (now() AT TIME ZONE 'utc')
  FROM u WHERE s.id = u.recarga_de AND u.recarga_de IS NOT NULL`;

/**
 * A counter voucher's `expira_en` moves by the validity its top-up `u` added, in the statement that records
 * the delivery (its limits need no write: they follow from its delivered top-ups).
 */
export const extendCounterSql = (minuteSeconds: number) => sql`UPDATE fichas_lote f SET
    expira_en = f.expira_en + ${validitySpan(sql`u.recarga_vigencia_minutos - u.recarga_previo_vigencia_minutos`, minuteSeconds)}
  FROM u WHERE f.id = -u.recarga_de AND u.recarga_de < 0 AND f.expira_en IS NOT NULL
    AND u.recarga_vigencia_minutos IS NOT NULL AND u.recarga_previo_vigencia_minutos IS NOT NULL`;

/** Put a top-up on the router: SET the stored targets on the voucher's user. Throws when the user is not there. */
export async function writeTopUp(svc: PaymentsService, tx: Transaccion, target: TopUpTarget): Promise<void> {
  const { found } = await svc.hotspot().setVoucherLimits(tx.routerId, target.usuario, target.comment, {
    limitUptimeMinutes: tx.recargaMinutos,
    limitBytesTotal: tx.recargaBytes,
  });
  if (!found) throw new Error(`la ficha ${target.usuario} no está en el router`);
}

/** The voucher a top-up extends, as it is now, and why it cannot be delivered any more (then it is refunded), or null. */
export async function undeliverable(ex: Executor, tx: Transaccion): Promise<{ target: TopUpTarget | null; motivo: string | null }> {
  const gone = 'La ficha que se recargaba ya no está vigente (reembolsada, anulada o dada de baja)';
  const late = 'La ficha venció antes de que se aplicara la recarga';
  const fichaId = counterFichaId(tx.recargaDe);
  if (fichaId !== null) {
    const v = await findCounterVoucher(ex, { fichaId });
    if (!v || !v.enRouter || v.anulada) return { target: v, motivo: gone };
    return { target: v, motivo: v.vencida ? late : null };
  }
  const [raw] = rows(await ex.execute(sql`SELECT * FROM transacciones WHERE id = ${tx.recargaDe}`));
  const sale = raw ? rowToTransaccion(raw) : null;
  const target = sale ? { ...sale, routerId: sale.routerId, usuario: sale.usuarioHotspot ?? '', comment: voucherComment(sale.referencia ?? String(sale.id)) } : null;
  if (!sale || !isKept(sale)) return { target, motivo: gone };
  if (await expired(ex, sale.id)) return { target, motivo: late };
  return { target, motivo: null };
}

/**
 * A refunded top-up: take its extension back, keep the user. Under the sale's row lock: the terms become the
 * original ones plus the top-ups still paid (delivered, not refunded). Returns a retry delay while another
 * top-up of the voucher is in flight (its target may include this one's time), or null when done.
 */
export async function revertTopUp(svc: PaymentsService, tx: Transaccion, confirmLease: () => Promise<void>, attempts = 1): Promise<number | null> {
  const { db } = svc.deps;
  const fichaId = counterFichaId(tx.recargaDe);
  if (fichaId !== null) return revertCounterTopUp(svc, tx, fichaId, confirmLease, attempts);
  return db.transaction(async (t) => {
    const [saleRaw] = rows(await t.execute(sql`SELECT * FROM transacciones WHERE id = ${tx.recargaDe} FOR UPDATE`));
    const sale = saleRaw ? rowToTransaccion(saleRaw) : null;
    const wait = await inFlightWait(t, tx, attempts);
    if (wait !== null) return wait;
    if (sale && isKept(sale)) {
      // Original terms (the first top-up's previous ones) plus the deltas of the top-ups still paid.
      const [e] = rows(await t.execute(sql`WITH all_t AS (SELECT * FROM transacciones WHERE recarga_de = ${tx.recargaDe}),
          first AS (SELECT * FROM all_t ORDER BY id LIMIT 1),
          paid AS (SELECT * FROM all_t p WHERE p.id <> ${tx.id} AND ${keptSql('p')})
        SELECT (SELECT recarga_previo_minutos FROM first) + coalesce((SELECT sum(recarga_minutos - recarga_previo_minutos) FROM paid), 0) AS minutos,
               (SELECT recarga_previo_bytes FROM first) + coalesce((SELECT sum(recarga_bytes - recarga_previo_bytes) FROM paid), 0) AS bytes,
               (SELECT recarga_previo_vigencia_minutos FROM first) + coalesce((SELECT sum(recarga_vigencia_minutos - recarga_previo_vigencia_minutos) FROM paid), 0) AS vigencia`));
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
                           ELSE s.expira_en + ${validitySpan(sql`${vigencia}::int - s.vigencia_minutos`, svc.deps.config.vigenciaMinuteSeconds)} END,
          vigencia_minutos = coalesce(${vigencia}::int, s.vigencia_minutos),
          actualizada_en = (now() AT TIME ZONE 'utc')
        WHERE s.id = ${sale.id}`);
    }
    await t.execute(sql`UPDATE transacciones SET estado_hotspot = 'disabled', actualizada_en = (now() AT TIME ZONE 'utc') WHERE id = ${tx.id}`);
    return null;
  });
}
