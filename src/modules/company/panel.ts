/**
 * What the operators' panel reads about a company beyond the legacy endpoints: a transaction's history,
 * sales by day and by plan in the company's time zone, and the alerts of its home screen. Plain SQL (the
 * history table and the outbox are not in the Drizzle schema); every query is scoped by the company.
 */
import type { AppContext } from '../../context.js';
import { notFound } from '../../infra/errors.js';
import { naiveIso } from '../../infra/time.js';
import { escapeHtml } from '../notifications/telegram.js';
import type { RouterRecord } from '../hotspot/service.js';
import { loadEmpresa } from './settings.js';
import { JOB } from '../payments/repository.js';
import { netAmountSql, paidPredicate, transactionsHaveEstado } from './transactions.js';

/** A company's zone when it has none set (the column's default). */
export const COMPANY_TIME_ZONE = 'America/Mexico_City';
const JOB_DELIVER = JOB.deliver;

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

export async function transactionDetail(ctx: AppContext, empresaId: string, id: number) {
  const [t] = await ctx.db.query<Record<string, unknown>>(
    `SELECT t.id, t.referencia, t.transaccion_id, t.external_reference, t.monto::text AS monto, t.moneda, t.estado, t.estado_pago,
            t.estado_hotspot, t.estado_detalle, t.pasarela, t.cliente_nombre, t.cliente_email, t.cliente_telefono, t.usuario_hotspot,
            t.perfil_hotspot, t.router_id, r.nombre AS router_nombre, t.producto_id, p.nombre_venta AS producto_nombre,
            t.error_codigo, t.error_detalle, t.reembolso_id, t.reembolsado_centavos, t.intentos_entrega,
            t.creada_en, t.pagada_en, t.reembolsada_en, t.webhook_received_at, t.actualizada_en
       FROM transacciones t
       LEFT JOIN routers r ON r.id = t.router_id
       LEFT JOIN productos p ON p.id = t.producto_id
      WHERE t.id = $1 AND t.empresa_id = $2`,
    [id, empresaId],
  );
  if (!t) throw notFound('Transacción no encontrada', 'transaction_not_found');
  const [history, jobs] = await Promise.all([
    ctx.db.query<{ en: Date; estado_anterior: string | null; estado_nuevo: string | null; estado_pago_anterior: string | null; estado_pago_nuevo: string | null; estado_hotspot: string | null; detalle: string | null }>(
      `SELECT en, estado_anterior, estado_nuevo, estado_pago_anterior, estado_pago_nuevo, estado_hotspot, detalle
         FROM transaccion_historial WHERE transaccion_id = $1 ORDER BY id LIMIT 500`,
      [id],
    ),
    // Jobs carry the transaction's id in their payload; the purge removes old finished ones.
    ctx.db.query<{ id: string; kind: string; attempts: number; last_error: string | null; created_at: Date; run_at: Date; done_at: Date | null; dead_at: Date | null }>(
      `SELECT id::text, kind, attempts, last_error, created_at, run_at, done_at, dead_at
         FROM outbox WHERE payload->>'transaccionId' = $1::text ORDER BY id LIMIT 200`,
      [String(id)],
    ),
  ]);
  const s = (k: string) => (t[k] === null || t[k] === undefined ? null : String(t[k]));
  return {
    transaccion: {
      id: Number(t.id),
      referencia: s('referencia'),
      transaccion_id: s('transaccion_id'),
      external_reference: s('external_reference'),
      monto: t.monto === null ? null : Number(t.monto),
      monto_reembolsado: Number(t.reembolsado_centavos ?? 0) / 100,
      moneda: s('moneda'),
      estado: s('estado'),
      estado_pago: s('estado_pago'),
      estado_hotspot: s('estado_hotspot'),
      estado_detalle: s('estado_detalle'),
      pasarela: s('pasarela'),
      cliente_nombre: s('cliente_nombre'),
      cliente_email: s('cliente_email'),
      cliente_telefono: s('cliente_telefono'),
      usuario_hotspot: s('usuario_hotspot'),
      perfil_hotspot: s('perfil_hotspot'),
      router_id: String(t.router_id),
      router_nombre: s('router_nombre'),
      producto_id: t.producto_id === null ? null : Number(t.producto_id),
      producto_nombre: s('producto_nombre'),
      error_codigo: s('error_codigo'),
      error_detalle: s('error_detalle'),
      reembolso_id: s('reembolso_id'),
      intentos_entrega: Number(t.intentos_entrega ?? 0),
      creada_en: naiveIso(t.creada_en as string | null),
      pagada_en: naiveIso(t.pagada_en as string | null),
      reembolsada_en: naiveIso(t.reembolsada_en as string | null),
      webhook_recibido_en: naiveIso(t.webhook_received_at as string | null),
    },
    // A change of `estado_pago` is what the gateway said (webhook or reconciliation read): shown as its own kind.
    historial: history.map((h) => ({
      en: iso(h.en)!,
      tipo: h.estado_pago_nuevo !== h.estado_pago_anterior && h.estado_nuevo === h.estado_anterior ? ('pasarela' as const) : ('estado' as const),
      estado_anterior: h.estado_anterior,
      estado_nuevo: h.estado_nuevo,
      estado_pago_anterior: h.estado_pago_anterior,
      estado_pago_nuevo: h.estado_pago_nuevo,
      estado_hotspot: h.estado_hotspot,
      detalle: h.detalle,
    })),
    trabajos: jobs.map((j) => ({
      id: j.id,
      tipo: j.kind,
      estado: j.dead_at ? 'fallido' : j.done_at ? 'terminado' : 'pendiente',
      intentos: Number(j.attempts),
      ultimo_error: j.last_error,
      creado_en: iso(j.created_at)!,
      programado_para: iso(j.run_at)!,
      terminado_en: iso(j.done_at ?? j.dead_at),
    })),
  };
}

/** The zone a company's screens and tickets use (IANA name, validated when set; storage stays UTC). */
export async function companyTimeZone(ctx: AppContext, empresaId: string): Promise<string> {
  const [row] = await ctx.db.query<{ zona_horaria: string | null }>(`SELECT zona_horaria FROM empresas WHERE id = $1`, [empresaId]);
  return row?.zona_horaria || COMPANY_TIME_ZONE;
}

/** Money a sale kept and when it was paid, as the company's local day (stored timestamps are naive UTC; $zone). */
function localDay(zone: string, alias = 't') {
  return `((coalesce(${alias}.pagada_en, ${alias}.creada_en) AT TIME ZONE 'UTC') AT TIME ZONE ${zone})::date`;
}

/**
 * Card (online) sales and cash (counter batch) sales, apart. A counter voucher is a cash sale on the
 * company's local day of its first use, at the price its batch copied from the plan when it was made
 * (a later price change does not move cash already counted).
 */
export async function salesSummary(ctx: AppContext, empresaId: string, days: number) {
  const zona = await companyTimeZone(ctx, empresaId);
  const withEstado = await transactionsHaveEstado(ctx);
  const paid = paidPredicate(withEstado);
  const net = netAmountSql(withEstado);
  // $2 is the zone in every query below (a bound parameter, never spliced).
  const day = localDay('$2::text');
  const today = `(now() AT TIME ZONE $2::text)::date`;
  const cashDay = `((f.primer_uso_en AT TIME ZONE 'UTC') AT TIME ZONE $2::text)::date`;
  const cash = `FROM fichas_lote f JOIN lotes l ON l.id = f.lote_id WHERE l.empresa_id = $1 AND f.primer_uso_en IS NOT NULL`;
  const [totals] = await ctx.db.query<{ hoy: string; hoy_n: number; mes: string; mes_n: number; hoy_fecha: string }>(
    `SELECT coalesce(sum(${net}) FILTER (WHERE ${day} = ${today}), 0)::text AS hoy,
            (count(*) FILTER (WHERE ${day} = ${today}))::int AS hoy_n,
            coalesce(sum(${net}) FILTER (WHERE date_trunc('month', ${day}) = date_trunc('month', ${today})), 0)::text AS mes,
            (count(*) FILTER (WHERE date_trunc('month', ${day}) = date_trunc('month', ${today})))::int AS mes_n,
            to_char(${today}, 'YYYY-MM-DD') AS hoy_fecha
       FROM transacciones t WHERE t.empresa_id = $1 AND ${paid}`,
    [empresaId, zona],
  );
  const [cashTotals] = await ctx.db.query<{ hoy: number; hoy_n: number; mes: number; mes_n: number }>(
    `SELECT coalesce(sum(l.precio_centavos) FILTER (WHERE ${cashDay} = ${today}), 0)::bigint AS hoy,
            (count(*) FILTER (WHERE ${cashDay} = ${today}))::int AS hoy_n,
            coalesce(sum(l.precio_centavos) FILTER (WHERE date_trunc('month', ${cashDay}) = date_trunc('month', ${today})), 0)::bigint AS mes,
            (count(*) FILTER (WHERE date_trunc('month', ${cashDay}) = date_trunc('month', ${today})))::int AS mes_n
       ${cash}`,
    [empresaId, zona],
  );
  const byDay = await ctx.db.query<{ fecha: string; monto: string; ventas: number; efectivo: number; efectivo_n: number }>(
    `SELECT to_char(d, 'YYYY-MM-DD') AS fecha, coalesce(s.monto, 0)::text AS monto, coalesce(s.ventas, 0)::int AS ventas,
            coalesce(c.monto, 0)::bigint AS efectivo, coalesce(c.ventas, 0)::int AS efectivo_n
       FROM generate_series(${today} - ($3::int - 1), ${today}, interval '1 day') AS d
       LEFT JOIN (SELECT ${day} AS dia, sum(${net}) AS monto, count(*) AS ventas
                    FROM transacciones t WHERE t.empresa_id = $1 AND ${paid} AND ${day} > ${today} - $3::int
                   GROUP BY 1) s ON s.dia = d::date
       LEFT JOIN (SELECT ${cashDay} AS dia, sum(l.precio_centavos) AS monto, count(*) AS ventas
                    ${cash} AND ${cashDay} > ${today} - $3::int
                   GROUP BY 1) c ON c.dia = d::date
      ORDER BY d`,
    [empresaId, zona, days],
  );
  const byPlan = await ctx.db.query<{ producto_id: number | null; nombre: string | null; monto: string; ventas: number }>(
    `SELECT t.producto_id, coalesce(p.nombre_venta, t.perfil_hotspot, 'Sin plan') AS nombre, sum(${net})::text AS monto, count(*)::int AS ventas
       FROM transacciones t LEFT JOIN productos p ON p.id = t.producto_id AND p.empresa_id = t.empresa_id
      WHERE t.empresa_id = $1 AND ${paid} AND ${day} > ${today} - $3::int
      GROUP BY t.producto_id, 2 ORDER BY sum(${net}) DESC LIMIT 50`,
    [empresaId, zona, days],
  );
  const cents = (v: number | string) => Number(v) / 100;
  return {
    zona_horaria: zona,
    hoy: { fecha: totals.hoy_fecha, monto: Number(totals.hoy), ventas: Number(totals.hoy_n) },
    mes: { monto: Number(totals.mes), ventas: Number(totals.mes_n) },
    efectivo: {
      hoy: { monto: cents(cashTotals.hoy), ventas: Number(cashTotals.hoy_n) },
      mes: { monto: cents(cashTotals.mes), ventas: Number(cashTotals.mes_n) },
    },
    dias: days,
    por_dia: byDay.map((r) => ({ fecha: r.fecha, monto: Number(r.monto), ventas: Number(r.ventas), efectivo_monto: cents(r.efectivo), efectivo_ventas: Number(r.efectivo_n) })),
    por_plan: byPlan.map((r) => ({ producto_id: r.producto_id === null ? null : Number(r.producto_id), nombre: String(r.nombre), monto: Number(r.monto), ventas: Number(r.ventas) })),
  };
}

export interface Alert {
  tipo: 'router_sin_conexion' | 'compras_en_revision' | 'entregas_fallidas';
  mensaje: string;
  cantidad: number;
  router_id: string | null;
}

export async function companyAlerts(ctx: AppContext, empresaId: string): Promise<Alert[]> {
  const alerts: Alert[] = [];
  const routerRows = await ctx.db.query<{ id: string }>(`SELECT id FROM routers WHERE empresa_id = $1 AND activo IS NOT FALSE ORDER BY id LIMIT 500`, [empresaId]);
  for (const { id } of routerRows) {
    const router = await ctx.hotspot.loadRouter(id);
    if (!router) continue;
    const st = ctx.hotspot.status(router);
    if (st.unreachable) alerts.push({ tipo: 'router_sin_conexion', mensaje: `El router ${router.nombre} no responde${st.lastError ? `: ${st.lastError}` : ''}`, cantidad: 1, router_id: id });
  }
  if (await transactionsHaveEstado(ctx)) {
    const [rev] = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE empresa_id = $1 AND estado = 'en_revision'`, [empresaId]);
    if (Number(rev.n) > 0) alerts.push({ tipo: 'compras_en_revision', mensaje: `${rev.n} compra(s) esperan revisión`, cantidad: Number(rev.n), router_id: null });
  }
  // A delivery job that exhausted its retries (kept visible by the outbox, never dropped).
  const [failed] = await ctx.db.query<{ n: number }>(
    `SELECT count(DISTINCT t.id)::int AS n FROM transacciones t
      WHERE t.empresa_id = $1
        AND EXISTS (SELECT 1 FROM outbox o WHERE o.kind = '${JOB_DELIVER}' AND o.dead_at IS NOT NULL AND o.payload->>'transaccionId' = t.id::text)`,
    [empresaId],
  );
  if (Number(failed.n) > 0) alerts.push({ tipo: 'entregas_fallidas', mensaje: `${failed.n} entrega(s) de ficha fallaron`, cantidad: Number(failed.n), router_id: null });
  return alerts;
}

/** Tell the company by Telegram (when it turned notifications on) that a router stopped answering. */
export async function announceOutage(ctx: AppContext, router: RouterRecord, error: string): Promise<void> {
  const e = await loadEmpresa(ctx, router.empresaId);
  if (e.notificacionesTelegram !== true || !e.telegramChatId) return;
  const token = ctx.secrets.general.decrypt(e.telegramBotToken);
  if (!token) return;
  const text = ['🔴 <b>Router sin conexión</b>', `🏢 ${escapeHtml(e.nombre)}`, `📡 ${escapeHtml(router.nombre)}`, `⚠️ ${escapeHtml(error.slice(0, 300))}`].join('\n');
  await ctx.telegram.send(token, e.telegramChatId, text);
}
