/**
 * Absolute validity of vouchers ("24 h from the first login"), which RouterOS local users cannot express
 * (`limit-uptime` counts connected time only). The server stores `expira_en` (UTC) once and a sweeper
 * disables the user at that moment, removing its sessions and cookies.
 *
 * First login detection: polling each router that has vouchers waiting for their first use (the active
 * list, and the user's own `uptime` for a login that already ended), with the outbox's backoff when the
 * router does not answer. Chosen over an `on-login` hook because the hook needs the router to reach us
 * (outbound HTTP, a secret stored on the router, a script policy on every profile) and silently loses the
 * login when we or the link are down, while polling needs nothing new on the router, catches up after
 * any outage from the router's own counters, and is the same read path as the sweep itself.
 *
 * Durable and idempotent: all state is in `transacciones` (`primer_uso_en`, `expira_en`, `expirada_en`,
 * each set once by a guarded UPDATE) and the work runs as outbox jobs. A planner job (one per database)
 * enqueues one sweep job per router with pending vouchers (deduplicated per router); a sweep job whose
 * router is down stays unfinished and retries with backoff, so the router is swept when it returns.
 *
 * Counter vouchers (`fichas_lote`) ride the same sweep: a batch voucher seen used for the first time becomes
 * `vendido` with its first-use time (the cash sale is counted on that day), and when its batch's plan has
 * a validity it expires like an online one (`expirado`). The counter sale itself is never seen by us, so a
 * batch's validity always counts from the first use, even for a plan whose online sales count from the sale.
 *
 * A validity "minute" lasts `vigenciaMinuteSeconds` (60; config refuses anything else in production):
 * tests shorten it so a 1-minute validity lasts seconds through this same code.
 *
 * The validity columns of `transacciones` (migration 0011) belong to this module; payments copies the
 * plan's terms into them at the sale and never reads them.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../../infra/db/index.js';
import { enqueue, enqueueSql, type JobResult, type Outbox, type OutboxJob } from '../../infra/outbox.js';
import { RouterUnreachableError, type HotspotService } from '../hotspot/service.js';
import { voucherComment } from '../payments/vouchers.js';
import { batchComment } from './batches.js';

export const VALIDITY_JOB = {
  plan: 'vigencias.planificar',
  sweep: 'vigencias.barrer',
} as const;

export interface ValidityDeps {
  db: Database;
  outbox: Outbox;
  hotspot: HotspotService;
  logger: Logger;
  config: { vigenciaSweepMs: number; vigenciaMaxBackoffMs: number; vigenciaMinuteSeconds: number };
}

/** Delivered vouchers whose validity the sweeper still owes (money states that keep a live voucher). */
const PENDING_TEXT = `vigencia_minutos IS NOT NULL AND expirada_en IS NULL AND estado IN ('entregada', 'reembolso_parcial') AND estado_hotspot = 'active'`;
const PENDING = sql.raw(PENDING_TEXT);
/**
 * Batch vouchers the sweeper still owes something: on the router and never used (their first use makes
 * them `vendido`), or sold under a plan with a validity and not yet expired.
 */
const BATCH_PENDING = sql`f.en_router AND f.expirada_en IS NULL
  AND (f.estado = 'generado' OR (f.estado = 'vendido' AND EXISTS (SELECT 1 FROM lotes l WHERE l.id = f.lote_id AND l.vigencia_minutos IS NOT NULL)))`;
const NOW_UTC = sql`(now() AT TIME ZONE 'utc')`;
/** How many rows of each kind one sweep looks at (the next sweep takes the rest). */
const SWEEP_LIMIT = 5000;

interface PendingRow {
  id: number;
  usuario_hotspot: string;
  referencia: string | null;
}

interface BatchRow {
  id: number;
  lote_id: number;
  usuario: string;
}

/**
 * `minutes` of validity as an SQL interval, a minute lasting `minuteSeconds` (config.vigenciaMinuteSeconds:
 * 60 in production). Whatever moves `expira_en` by a validity should use this, so tests that shorten the
 * minute stay consistent.
 */
export function validitySpan(minutes: SQL, minuteSeconds: number): SQL {
  return sql`make_interval(secs => (${minutes})::double precision * ${minuteSeconds}::double precision)`;
}

export class ValidityService {
  constructor(private readonly deps: ValidityDeps) {
    deps.outbox.on(VALIDITY_JOB.plan, () => this.plan());
    deps.outbox.on(VALIDITY_JOB.sweep, (job) => this.sweep(job));
  }

  /** `minutes` of validity as an SQL interval (a minute lasts vigenciaMinuteSeconds). */
  private span(minutes: SQL): SQL {
    return validitySpan(minutes, this.deps.config.vigenciaMinuteSeconds);
  }

  /** Make sure the planner exists (idempotent: one per database, whichever instance runs it). */
  async start(): Promise<void> {
    await enqueue(this.deps.db.orm, VALIDITY_JOB.plan, {}, { dedupeKey: 'vigencias:planificador' });
  }

  /** One sweep job per router with pending vouchers (an unfinished one — e.g. backing off — is kept). */
  private async plan(): Promise<JobResult> {
    await this.deps.db.orm.execute(sql`WITH r AS (SELECT router_id FROM transacciones WHERE ${PENDING}
                                                  UNION SELECT f.router_id FROM fichas_lote f WHERE ${BATCH_PENDING})
      ${enqueueSql(VALIDITY_JOB.sweep, sql`jsonb_build_object('routerId', r.router_id)`, sql`'vigencias:' || r.router_id`, {}, sql`FROM r`)}`);
    return { retryInMs: this.deps.config.vigenciaSweepMs };
  }

  /** Learn first logins, then disable what expired, on one router. */
  private async sweep(job: OutboxJob): Promise<JobResult> {
    const routerId = String(job.payload.routerId ?? '');
    const { db, hotspot, logger } = this.deps;
    // Counted from the sale: known without the router.
    await db.orm.execute(sql`UPDATE transacciones
      SET expira_en = coalesce(usuario_creado_en, pagada_en, creada_en) + ${this.span(sql`vigencia_minutos`)}
      WHERE router_id = ${routerId} AND ${PENDING} AND vigencia_desde = 'venta' AND expira_en IS NULL`);
    // A batch voucher found used by the batch's voiding (it stays, sold) has its first use but no expiry yet.
    await db.orm.execute(sql`UPDATE fichas_lote f SET expira_en = f.primer_uso_en + ${this.span(sql`l.vigencia_minutos`)}
      FROM lotes l
      WHERE l.id = f.lote_id AND f.router_id = ${routerId} AND f.estado = 'vendido' AND f.primer_uso_en IS NOT NULL
        AND f.expira_en IS NULL AND l.vigencia_minutos IS NOT NULL`);
    try {
      const waiting = await db.query<PendingRow>(
        `SELECT id, usuario_hotspot, referencia FROM transacciones
          WHERE router_id = $1 AND ${PENDING_TEXT} AND expira_en IS NULL AND usuario_hotspot IS NOT NULL
          ORDER BY id LIMIT ${SWEEP_LIMIT}`,
        [routerId],
      );
      const unsold = await db.query<BatchRow>(
        `SELECT id, lote_id, usuario FROM fichas_lote WHERE router_id = $1 AND en_router AND expirada_en IS NULL AND estado = 'generado'
          ORDER BY id LIMIT ${SWEEP_LIMIT * 4}`,
        [routerId],
      );
      if (waiting.length > 0 || unsold.length > 0) {
        await job.lease?.confirm();
        const seen = await hotspot.firstUse(routerId, [...waiting.map((r) => r.usuario_hotspot), ...unsold.map((f) => f.usuario)]);
        for (const r of waiting) {
          const ago = seen.get(r.usuario_hotspot);
          if (ago === undefined) continue;
          // Set once: a second sweep (or another instance, or a restart) never moves it.
          await db.orm.execute(sql`UPDATE transacciones
            SET primer_uso_en = ${NOW_UTC} - make_interval(secs => ${ago}::double precision),
                expira_en = ${NOW_UTC} - make_interval(secs => ${ago}::double precision) + ${this.span(sql`vigencia_minutos`)}
            WHERE id = ${r.id} AND expira_en IS NULL`);
        }
        for (const f of unsold) {
          const ago = seen.get(f.usuario);
          if (ago === undefined) continue;
          // generado → vendido once (guarded: a voiding that won the race keeps it anulado).
          await db.orm.execute(sql`UPDATE fichas_lote f
            SET estado = 'vendido',
                primer_uso_en = ${NOW_UTC} - make_interval(secs => ${ago}::double precision),
                expira_en = CASE WHEN l.vigencia_minutos IS NULL THEN NULL
                                 ELSE ${NOW_UTC} - make_interval(secs => ${ago}::double precision) + ${this.span(sql`l.vigencia_minutos`)} END
            FROM lotes l
            WHERE f.id = ${f.id} AND l.id = f.lote_id AND f.estado = 'generado'`);
          logger.info({ ficha: f.id, lote: f.lote_id, routerId }, 'ficha de lote vendida: primer uso visto');
        }
      }
      const due = await db.query<PendingRow>(
        `SELECT id, usuario_hotspot, referencia FROM transacciones
          WHERE router_id = $1 AND ${PENDING_TEXT} AND expira_en <= (now() AT TIME ZONE 'utc') AND usuario_hotspot IS NOT NULL
          ORDER BY expira_en, id LIMIT ${SWEEP_LIMIT}`,
        [routerId],
      );
      for (const r of due) {
        await job.lease?.confirm();
        const result = await hotspot.expireVoucher(routerId, r.usuario_hotspot, voucherComment(r.referencia ?? String(r.id)));
        await db.orm.execute(sql`UPDATE transacciones SET expirada_en = ${NOW_UTC}, actualizada_en = ${NOW_UTC} WHERE id = ${r.id} AND expirada_en IS NULL`);
        logger.info({ transaccion: r.id, routerId, encontrada: result.found }, 'ficha vencida: deshabilitada en el router');
      }
      const dueBatch = await db.query<BatchRow>(
        `SELECT id, lote_id, usuario FROM fichas_lote
          WHERE router_id = $1 AND en_router AND estado = 'vendido' AND expirada_en IS NULL AND expira_en <= (now() AT TIME ZONE 'utc')
          ORDER BY expira_en, id LIMIT ${SWEEP_LIMIT}`,
        [routerId],
      );
      for (const f of dueBatch) {
        await job.lease?.confirm();
        const result = await hotspot.expireVoucher(routerId, f.usuario, batchComment(f.lote_id));
        await db.orm.execute(sql`UPDATE fichas_lote SET estado = 'expirado', expirada_en = ${NOW_UTC} WHERE id = ${f.id} AND expirada_en IS NULL`);
        logger.info({ ficha: f.id, lote: f.lote_id, routerId, encontrada: result.found }, 'ficha de lote vencida: deshabilitada en el router');
      }
    } catch (err) {
      if (!(err instanceof RouterUnreachableError)) throw err;
      // Stays unfinished (the planner adds no second job for this router) and is retried when it may be back.
      const wait = Math.min(this.deps.config.vigenciaMaxBackoffMs, this.deps.outbox.backoff(job.attempts, this.deps.config.vigenciaMaxBackoffMs));
      logger.warn({ routerId, retryInMs: wait, err: err.message }, 'vigencias: router sin respuesta; se reintentará');
      return { retryInMs: wait, note: err.message };
    }
  }

  /**
   * Seconds left of a voucher's validity on that router: from `expira_en` once known, the whole validity
   * while it waits for its first login; null when the voucher has no validity (or is not ours).
   */
  async secondsLeft(routerId: string, username: string): Promise<{ expiraEn: string | null; segundos: number | null; limiteBytes: number | null } | null> {
    const [row] = await this.deps.db.query<{ expira_en: string | null; segundos: number | null; limite_bytes: number | string | null }>(
      `SELECT expira_en::text AS expira_en, limite_bytes,
              CASE WHEN vigencia_minutos IS NULL THEN NULL
                   WHEN expirada_en IS NOT NULL THEN 0
                   WHEN expira_en IS NULL THEN vigencia_minutos * $3::int
                   ELSE greatest(0, floor(extract(epoch FROM expira_en - (now() AT TIME ZONE 'utc'))))::integer END AS segundos
         FROM transacciones
        WHERE router_id = $1 AND usuario_hotspot = $2 AND (vigencia_minutos IS NOT NULL OR limite_bytes IS NOT NULL)
          AND estado IN ('entregada', 'reembolso_parcial')
        ORDER BY id DESC LIMIT 1`,
      [routerId, username, this.deps.config.vigenciaMinuteSeconds],
    );
    return row ? { expiraEn: row.expira_en, segundos: row.segundos, limiteBytes: row.limite_bytes === null ? null : Number(row.limite_bytes) } : null;
  }
}
