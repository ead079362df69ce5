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
 * The validity columns of `transacciones` (migration 0011) belong to this module; payments copies the
 * plan's terms into them at the sale and never reads them.
 */
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../../infra/db/index.js';
import { enqueue, enqueueSql, type JobResult, type Outbox, type OutboxJob } from '../../infra/outbox.js';
import { RouterUnreachableError, type HotspotService } from '../hotspot/service.js';
import { voucherComment } from '../payments/vouchers.js';

export const VALIDITY_JOB = {
  plan: 'vigencias.planificar',
  sweep: 'vigencias.barrer',
} as const;

export interface ValidityDeps {
  db: Database;
  outbox: Outbox;
  hotspot: HotspotService;
  logger: Logger;
  config: { vigenciaSweepMs: number; vigenciaMaxBackoffMs: number };
}

/** Delivered vouchers whose validity the sweeper still owes (money states that keep a live voucher). */
const PENDING = sql`vigencia_minutos IS NOT NULL AND expirada_en IS NULL AND estado IN ('entregada', 'reembolso_parcial') AND estado_hotspot = 'active'`;
const NOW_UTC = sql`(now() AT TIME ZONE 'utc')`;

interface PendingRow {
  id: number;
  usuario_hotspot: string;
  referencia: string | null;
  vigencia_desde: string | null;
  expira_en: string | null;
  vencida: boolean;
}

export class ValidityService {
  constructor(private readonly deps: ValidityDeps) {
    deps.outbox.on(VALIDITY_JOB.plan, () => this.plan());
    deps.outbox.on(VALIDITY_JOB.sweep, (job) => this.sweep(job));
  }

  /** Make sure the planner exists (idempotent: one per database, whichever instance runs it). */
  async start(): Promise<void> {
    await enqueue(this.deps.db.orm, VALIDITY_JOB.plan, {}, { dedupeKey: 'vigencias:planificador' });
  }

  /** One sweep job per router with pending vouchers (an unfinished one — e.g. backing off — is kept). */
  private async plan(): Promise<JobResult> {
    await this.deps.db.orm.execute(sql`WITH r AS (SELECT DISTINCT router_id FROM transacciones WHERE ${PENDING})
      ${enqueueSql(VALIDITY_JOB.sweep, sql`jsonb_build_object('routerId', r.router_id)`, sql`'vigencias:' || r.router_id`, {}, sql`FROM r`)}`);
    return { retryInMs: this.deps.config.vigenciaSweepMs };
  }

  /** Learn first logins, then disable what expired, on one router. */
  private async sweep(job: OutboxJob): Promise<JobResult> {
    const routerId = String(job.payload.routerId ?? '');
    const { db, hotspot, logger } = this.deps;
    // Counted from the sale: known without the router.
    await db.orm.execute(sql`UPDATE transacciones
      SET expira_en = coalesce(usuario_creado_en, pagada_en, creada_en) + make_interval(mins => vigencia_minutos)
      WHERE router_id = ${routerId} AND ${PENDING} AND vigencia_desde = 'venta' AND expira_en IS NULL`);
    try {
      let rows = await this.pending(routerId);
      const waiting = rows.filter((r) => r.expira_en === null);
      if (waiting.length > 0) {
        await job.lease?.confirm();
        const seen = await hotspot.firstUse(routerId, waiting.map((r) => r.usuario_hotspot));
        let learned = 0;
        for (const r of waiting) {
          const ago = seen.get(r.usuario_hotspot);
          if (ago === undefined) continue;
          // Set once: a second sweep (or another instance, or a restart) never moves it.
          await db.orm.execute(sql`UPDATE transacciones
            SET primer_uso_en = ${NOW_UTC} - make_interval(secs => ${ago}::double precision),
                expira_en = ${NOW_UTC} - make_interval(secs => ${ago}::double precision) + make_interval(mins => vigencia_minutos)
            WHERE id = ${r.id} AND expira_en IS NULL`);
          learned++;
        }
        if (learned > 0) rows = await this.pending(routerId);
      }
      for (const r of rows.filter((x) => x.vencida)) {
        await job.lease?.confirm();
        const result = await hotspot.expireVoucher(routerId, r.usuario_hotspot, voucherComment(r.referencia ?? String(r.id)));
        await db.orm.execute(sql`UPDATE transacciones SET expirada_en = ${NOW_UTC}, actualizada_en = ${NOW_UTC} WHERE id = ${r.id} AND expirada_en IS NULL`);
        logger.info({ transaccion: r.id, routerId, encontrada: result.found }, 'ficha vencida: deshabilitada en el router');
      }
    } catch (err) {
      if (!(err instanceof RouterUnreachableError)) throw err;
      // Stays unfinished (the planner adds no second job for this router) and is retried when it may be back.
      const wait = Math.min(this.deps.config.vigenciaMaxBackoffMs, this.deps.outbox.backoff(job.attempts, this.deps.config.vigenciaMaxBackoffMs));
      logger.warn({ routerId, retryInMs: wait, err: err.message }, 'vigencias: router sin respuesta; se reintentará');
      return { retryInMs: wait, note: err.message };
    }
  }

  private async pending(routerId: string): Promise<PendingRow[]> {
    return this.deps.db.query<PendingRow>(
      `SELECT id, usuario_hotspot, referencia, vigencia_desde, expira_en::text AS expira_en,
              coalesce(expira_en <= (now() AT TIME ZONE 'utc'), false) AS vencida
         FROM transacciones
        WHERE router_id = $1 AND vigencia_minutos IS NOT NULL AND expirada_en IS NULL
          AND estado IN ('entregada', 'reembolso_parcial') AND estado_hotspot = 'active' AND usuario_hotspot IS NOT NULL
        ORDER BY expira_en NULLS FIRST, id
        LIMIT 5000`,
      [routerId],
    );
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
                   WHEN expira_en IS NULL THEN vigencia_minutos * 60
                   ELSE greatest(0, floor(extract(epoch FROM expira_en - (now() AT TIME ZONE 'utc'))))::integer END AS segundos
         FROM transacciones
        WHERE router_id = $1 AND usuario_hotspot = $2 AND (vigencia_minutos IS NOT NULL OR limite_bytes IS NOT NULL)
          AND estado IN ('entregada', 'reembolso_parcial')
        ORDER BY id DESC LIMIT 1`,
      [routerId, username],
    );
    return row ? { expiraEn: row.expira_en, segundos: row.segundos, limiteBytes: row.limite_bytes === null ? null : Number(row.limite_bytes) } : null;
  }
}
