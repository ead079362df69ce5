/**
 * Voucher batches for the counter (sold for cash): created in the database in one transaction, delivered
 * to the router by an outbox job in chunks (progress visible on the batch), printed as a PDF.
 *
 * Lengths (what resists guessing at the limits in force): our voucher checks (auto-reconnect,
 * profile-info) are rate-limited per device, per IP and per router, but the router's own login page is
 * not ours to limit, so we assume an attacker at 100 guesses per second there for a year (3.2e9 tries).
 * Names: 8 characters from a 31-symbol alphabet (A–Z and 2–9 without 0/O/1/I/L, so a printed voucher is
 * never misread) = 31^8 ≈ 8.5e11; passwords: 6 digits = 1e6 (numeric, as the contract keeps them). A
 * guess must hit a name and its password: 8.5e17 pairs; with 5,000 live vouchers on a router, each try
 * succeeds with probability 5.9e-15, and a year of tries with ≈ 1.9e-5. Knowing a name from a discarded
 * ticket still leaves 1e6 passwords: at 100/s that is under 3 hours, which is why the portal's checks are
 * rate-limited and the router's own `login-by` should keep CHAP with its per-device limits.
 */
import { randomInt } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../../infra/db/index.js';
import type { SecretBox } from '../../infra/crypto/secrets.js';
import { ApiError, notFound } from '../../infra/errors.js';
import { enqueue, enqueueSql, type JobResult, type Outbox, type OutboxJob } from '../../infra/outbox.js';
import { JOB } from '../payments/repository.js';
import { RouterUnreachableError, type HotspotService } from '../hotspot/service.js';
import { isHotspotDnsName } from '../company/validation.js';

export const BATCH_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const BATCH_NAME_LENGTH = 8;
export const BATCH_PASSWORD_LENGTH = 6;
export const MAX_BATCH = 5000;
const CHUNK = 100;
export const BATCH_JOB = 'lotes.entregar';
export const VOID_JOB = 'lotes.anular';

export interface BatchDeps {
  db: Database;
  outbox: Outbox;
  hotspot: HotspotService;
  secrets: SecretBox;
  logger: Logger;
}

export interface BatchView {
  id: number;
  producto_id: number;
  router_id: string;
  cantidad: number;
  prefijo: string;
  plan: string;
  precio: number;
  moneda: string;
  estado: string;
  en_router: number;
  progreso: number;
  /** Vouchers used at least once (vendido or expirado) / cantidad, 0–1. */
  vendido: number;
  fichas: { generado: number; vendido: number; expirado: number; anulado: number };
  creado_en: string;
}

export interface BatchVoucher {
  usuario: string;
  password: string;
}

function pick(n: number, alphabet: string): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

/**
 * A batch's state from its vouchers': anulado once voided; expirado when every voucher expired; vendido
 * when every voucher was used; generado while some wait at the counter.
 */
export function batchState(l: { estado: string; cantidad: number; generado: number; vendido: number; expirado: number }): string {
  if (l.estado === 'anulado') return 'anulado';
  if (l.cantidad > 0 && l.expirado === l.cantidad) return 'expirado';
  if (l.cantidad > 0 && l.vendido + l.expirado === l.cantidad) return 'vendido';
  return 'generado';
}

export const batchComment = (loteId: number) => `pagos-hotspot lote=${loteId}`;

export class BatchService {
  constructor(private readonly deps: BatchDeps) {
    deps.outbox.on(BATCH_JOB, (job) => this.deliver(job), { maxAttempts: 2000, maxBackoffMs: 5 * 60_000 });
    deps.outbox.on(VOID_JOB, (job) => this.removeVoided(job), { maxAttempts: 2000, maxBackoffMs: 5 * 60_000 });
  }

  async create(empresaId: string, input: { producto_id: number; cantidad: number; prefijo?: string }): Promise<BatchView> {
    const prefijo = input.prefijo ?? 'PT-';
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,9}$/.test(prefijo)) throw new ApiError(422, 'prefijo inválido: de 1 a 10 letras, dígitos, - o _', 'validation_error');
    const [p] = await this.deps.db.query<{ id: number; router_id: string; nombre_venta: string; perfil: string; precio: string; moneda: string | null; duracion_minutos: number | null; vigencia_minutos: number | null; vigencia_desde: string | null; limite_bytes: number | null }>(
      `SELECT p.id, p.router_id, p.nombre_venta, p.perfil_mikrotik_nombre AS perfil, p.precio::text AS precio, p.moneda, p.duracion_minutos,
              p.vigencia_minutos, p.vigencia_desde, p.limite_bytes
         FROM productos p JOIN routers r ON r.id = p.router_id AND r.empresa_id = p.empresa_id
        WHERE p.id = $1 AND p.empresa_id = $2 AND p.activo IS NOT FALSE`,
      [input.producto_id, empresaId],
    );
    if (!p) throw notFound('Producto no encontrado o no pertenece a esta empresa', 'product_not_found');
    const cents = Math.round(Number(p.precio) * 100);
    const id = await this.deps.db.transaction(async (tx) => {
      const res = await tx.execute(sql`INSERT INTO lotes (empresa_id, router_id, producto_id, cantidad, prefijo, nombre_plan, perfil, precio_centavos, moneda, limite_minutos, vigencia_minutos, vigencia_desde, limite_bytes)
        VALUES (${empresaId}, ${p.router_id}, ${p.id}, ${input.cantidad}, ${prefijo}, ${p.nombre_venta}, ${p.perfil}, ${cents}, ${p.moneda ?? 'MXN'}, ${p.duracion_minutos}, ${p.vigencia_minutos},
                ${p.vigencia_minutos ? (p.vigencia_desde ?? 'primer_uso') : null}, ${p.limite_bytes}) RETURNING id`);
      const loteId = Number((res as unknown as { rows: { id: number }[] }).rows[0].id);
      const names = new Set<string>();
      while (names.size < input.cantidad) names.add(prefijo + pick(BATCH_NAME_LENGTH, BATCH_ALPHABET));
      const rows = [...names].map((usuario) => ({ usuario, pass: this.deps.secrets.encrypt(pick(BATCH_PASSWORD_LENGTH, '0123456789'))! }));
      for (let i = 0; i < rows.length; i += 500) {
        const part = rows.slice(i, i + 500);
        // A name already used on this router (another batch) is skipped and drawn again below.
        await tx.execute(sql`INSERT INTO fichas_lote (lote_id, router_id, usuario, password_cifrada)
          SELECT ${loteId}, ${p.router_id}, x.usuario, x.pass FROM jsonb_to_recordset(${JSON.stringify(part)}::jsonb) AS x(usuario text, pass text)
          ON CONFLICT (router_id, usuario) DO NOTHING`);
      }
      for (;;) {
        const counted = await tx.execute(sql`SELECT count(*)::int AS n FROM fichas_lote WHERE lote_id = ${loteId}`);
        const n = Number((counted as unknown as { rows: { n: number }[] }).rows[0].n);
        if (n >= input.cantidad) break;
        await tx.execute(sql`INSERT INTO fichas_lote (lote_id, router_id, usuario, password_cifrada)
          VALUES (${loteId}, ${p.router_id}, ${prefijo + pick(BATCH_NAME_LENGTH, BATCH_ALPHABET)}, ${this.deps.secrets.encrypt(pick(BATCH_PASSWORD_LENGTH, '0123456789'))!})
          ON CONFLICT (router_id, usuario) DO NOTHING`);
      }
      await enqueue(tx, BATCH_JOB, { loteId }, { dedupeKey: `lote:${loteId}` });
      return loteId;
    });
    return (await this.view(empresaId, id))!;
  }

  async view(empresaId: string, id: number): Promise<BatchView | null> {
    const [l] = await this.rows(empresaId, 'l.id = $2', [id]);
    return l ?? null;
  }

  /** The company's batches, newest first, and how many there are. */
  async list(empresaId: string, limit: number, offset: number): Promise<{ total: number; lotes: BatchView[] }> {
    const [{ n }] = await this.deps.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lotes WHERE empresa_id = $1`, [empresaId]);
    const lotes = await this.rows(empresaId, 'true', [], `ORDER BY l.id DESC LIMIT ${Math.trunc(limit)} OFFSET ${Math.trunc(offset)}`);
    return { total: Number(n), lotes };
  }

  /** Batches of the company ($1) matching `where` (its parameters from $2), with their vouchers counted by state. */
  private async rows(empresaId: string, where: string, params: unknown[], tail = ''): Promise<BatchView[]> {
    const rows = await this.deps.db.query<{
      id: number; producto_id: number; router_id: string; cantidad: number; prefijo: string; nombre_plan: string; precio_centavos: number; moneda: string; estado: string; creado_en: string;
      en_router: number; generado: number; vendido: number; expirado: number; anulado: number;
    }>(
      `SELECT l.id, l.producto_id, l.router_id, l.cantidad, l.prefijo, l.nombre_plan, l.precio_centavos, l.moneda, l.estado, l.creado_en::text AS creado_en,
              count(f.id) FILTER (WHERE f.en_router)::int AS en_router,
              count(f.id) FILTER (WHERE f.estado = 'generado')::int AS generado,
              count(f.id) FILTER (WHERE f.estado = 'vendido')::int AS vendido,
              count(f.id) FILTER (WHERE f.estado = 'expirado')::int AS expirado,
              count(f.id) FILTER (WHERE f.estado = 'anulado')::int AS anulado
         FROM lotes l LEFT JOIN fichas_lote f ON f.lote_id = l.id
        WHERE l.empresa_id = $1 AND ${where}
        GROUP BY l.id ${tail}`,
      [empresaId, ...params],
    );
    return rows.map((l) => ({
      id: l.id,
      producto_id: l.producto_id,
      router_id: l.router_id,
      cantidad: l.cantidad,
      prefijo: l.prefijo,
      plan: l.nombre_plan,
      precio: l.precio_centavos / 100,
      moneda: l.moneda,
      estado: batchState(l),
      en_router: l.en_router,
      progreso: l.cantidad === 0 ? 1 : Math.round((l.en_router / l.cantidad) * 1000) / 1000,
      vendido: l.cantidad === 0 ? 0 : Math.round(((l.vendido + l.expirado) / l.cantidad) * 1000) / 1000,
      fichas: { generado: l.generado, vendido: l.vendido, expirado: l.expirado, anulado: l.anulado },
      creado_en: l.creado_en.replace(' ', 'T'),
    }));
  }

  /** The batch's credentials in order (for printing; passwords decrypted, never logged). */
  async vouchers(empresaId: string, id: number): Promise<BatchVoucher[]> {
    const rows = await this.deps.db.query<{ usuario: string; password_cifrada: string }>(
      `SELECT f.usuario, f.password_cifrada FROM fichas_lote f JOIN lotes l ON l.id = f.lote_id WHERE l.id = $1 AND l.empresa_id = $2 ORDER BY f.id`,
      [id, empresaId],
    );
    return rows.map((r) => ({ usuario: r.usuario, password: this.deps.secrets.decrypt(r.password_cifrada) ?? '' }));
  }

  /**
   * Void a batch: its unused vouchers leave the router (a durable job); one already used stays and counts
   * as sold. Returns null when the batch is not the company's; voiding twice is a no-op.
   */
  async void(empresaId: string, id: number): Promise<BatchView | null> {
    await this.deps.db.transaction(async (tx) => {
      const res = await tx.execute(sql`UPDATE lotes SET estado = 'anulado', anulado_en = (now() AT TIME ZONE 'utc') WHERE id = ${id} AND empresa_id = ${empresaId} AND estado = 'generado' RETURNING id`);
      if ((res as unknown as { rows: unknown[] }).rows.length === 0) return false;
      await tx.execute(sql`UPDATE fichas_lote SET estado = 'anulado' WHERE lote_id = ${id} AND estado = 'generado'`);
      // Top-ups paid on the vouchers voided now bought time on users that go: their money goes back
      // (a counter voucher's top-up names it as recarga_de = -fichas_lote.id, payments/recargas.ts).
      await tx.execute(sql`${enqueueSql(
        JOB.refund,
        sql`jsonb_build_object('transaccionId', r.id, 'motivo', 'Se anuló la ficha de lote que esta recarga extendía')`,
        sql`'reembolsar:' || r.id::text`,
        {},
        sql`FROM transacciones r JOIN fichas_lote f ON r.recarga_de = -f.id
             WHERE f.lote_id = ${id} AND f.estado = 'anulado' AND r.estado IN ('cobrada', 'entregada', 'reembolso_parcial')`,
      )}`);
      await enqueue(tx, VOID_JOB, { loteId: id }, { dedupeKey: `lote-anular:${id}` });
      return true;
    });
    return this.view(empresaId, id);
  }

  /** Remove the voided, never-used vouchers from the router; a used one (uptime or a session) is sold. */
  private async removeVoided(job: OutboxJob): Promise<JobResult> {
    const loteId = Number(job.payload.loteId);
    const rows = await this.deps.db.query<{ id: number; router_id: string; usuario: string }>(
      `SELECT id, router_id, usuario FROM fichas_lote WHERE lote_id = $1 AND estado = 'anulado' AND en_router ORDER BY id LIMIT ${CHUNK}`,
      [loteId],
    );
    if (rows.length === 0) return;
    try {
      const used = await this.deps.hotspot.firstUse(rows[0].router_id, rows.map((r) => r.usuario));
      for (const r of rows) {
        await job.lease?.confirm();
        if (used.has(r.usuario)) {
          await this.deps.db.query(`UPDATE fichas_lote SET estado = 'vendido', primer_uso_en = coalesce(primer_uso_en, (now() AT TIME ZONE 'utc') - make_interval(secs => $2::double precision)) WHERE id = $1`, [r.id, used.get(r.usuario)]);
          continue;
        }
        const user = await this.deps.hotspot.findUser(r.router_id, r.usuario);
        if (user && user.comment === batchComment(loteId)) await this.deps.hotspot.removeVoucher(r.router_id, r.usuario);
        await this.deps.db.query(`UPDATE fichas_lote SET en_router = false WHERE id = $1`, [r.id]);
      }
    } catch (err) {
      if (!(err instanceof RouterUnreachableError)) throw err;
      return { retryInMs: this.deps.outbox.backoff(job.attempts, 60_000), note: err.message };
    }
    return { retryInMs: 0, note: 'siguiente tramo' };
  }

  /** One chunk per run onto the router (idempotent by comment), then the next run at once. */
  private async deliver(job: OutboxJob): Promise<JobResult> {
    const loteId = Number(job.payload.loteId);
    const [l] = await this.deps.db.query<{ router_id: string; perfil: string; limite_minutos: number | null; limite_bytes: number | null; estado: string }>(
      `SELECT router_id, perfil, limite_minutos, limite_bytes, estado FROM lotes WHERE id = $1`,
      [loteId],
    );
    if (!l || l.estado !== 'generado') return;
    const chunk = await this.deps.db.query<{ id: number; usuario: string; password_cifrada: string }>(
      `SELECT id, usuario, password_cifrada FROM fichas_lote WHERE lote_id = $1 AND NOT en_router AND estado = 'generado' ORDER BY id LIMIT ${CHUNK}`,
      [loteId],
    );
    if (chunk.length === 0) return;
    try {
      for (const f of chunk) {
        await job.lease?.confirm();
        await this.deps.hotspot.createVoucher(l.router_id, {
          username: f.usuario,
          password: this.deps.secrets.decrypt(f.password_cifrada) ?? '',
          profile: l.perfil,
          limitUptimeMinutes: l.limite_minutos,
          limitBytesTotal: l.limite_bytes === null ? null : Number(l.limite_bytes),
          comment: batchComment(loteId),
        });
        await this.deps.db.query(`UPDATE fichas_lote SET en_router = true WHERE id = $1`, [f.id]);
      }
      // Voided while this chunk was being created: its removal runs again over what we just added.
      const [now] = await this.deps.db.query<{ estado: string }>(`SELECT estado FROM lotes WHERE id = $1`, [loteId]);
      if (now?.estado === 'anulado') await enqueue(this.deps.db.orm, VOID_JOB, { loteId }, { dedupeKey: `lote-anular:${loteId}` });
    } catch (err) {
      if (!(err instanceof RouterUnreachableError)) throw err;
      return { retryInMs: this.deps.outbox.backoff(job.attempts, 60_000), note: err.message };
    }
    return { retryInMs: 0, note: 'siguiente tramo' };
  }

  /**
   * Where the QR codes send the device: the router's `dns_name` setting, else the hotspot server
   * profile's `dns-name` read from the router (its address when no profile has one). What the router
   * answers is hostile: only a plain host name or address is used.
   */
  async loginBase(routerId: string): Promise<string> {
    const [r] = await this.deps.db.query<{ dns_name: string | null }>(`SELECT dns_name FROM routers WHERE id = $1`, [routerId]);
    if (r?.dns_name && isHotspotDnsName(r.dns_name)) return `http://${r.dns_name}/login`;
    const profiles = await this.deps.hotspot.withRouter(routerId, (conn) => conn.command('/ip/hotspot/profile/print', { proplist: ['name', 'dns-name', 'hotspot-address'] }));
    const p = profiles.rows.find((x) => x['dns-name']) ?? profiles.rows.find((x) => x['hotspot-address']);
    const host = p?.['dns-name'] || p?.['hotspot-address'] || '';
    if (!isHotspotDnsName(host)) return '';
    return `http://${host}/login`;
  }
}
