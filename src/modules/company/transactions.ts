/**
 * The company's transactions: the legacy list plus filters (date range, state, router, product, text),
 * bounded paging, and a CSV export. Read with plain SQL because the payments module may add an `estado`
 * column (state machine) that older databases lack; it is used when present.
 */
import type { AppContext } from '../../context.js';
import { ValidationFailed } from '../../infra/errors.js';
import { dateToDb, naiveIso } from '../../infra/time.js';

export interface TransactionFilters {
  desde?: string;
  hasta?: string;
  estado?: string;
  router_id?: string;
  producto_id?: number;
  /** conekta | mercado_pago */
  pasarela?: string;
  q?: string;
}

const hasEstadoColumn = new WeakMap<object, Promise<boolean>>();

/** Whether `transacciones.estado` exists (checked once per database handle; migrations run before start). */
export function transactionsHaveEstado(ctx: AppContext): Promise<boolean> {
  let p = hasEstadoColumn.get(ctx.db);
  if (!p) {
    p = ctx.db
      .query<{ n: number }>(
        `SELECT count(*)::int AS n FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = 'transacciones' AND column_name = 'estado'`,
      )
      .then((rows) => Number(rows[0]?.n ?? 0) > 0);
    hasEstadoColumn.set(ctx.db, p);
    p.catch(() => hasEstadoColumn.delete(ctx.db));
  }
  return p;
}

/** SQL predicate for "money actually received" (both gateways; refunds and rejections excluded). */
export function paidPredicate(withEstado: boolean, alias = 't'): string {
  const legacy = `${alias}.estado_pago IN ('paid', 'approved')`;
  if (!withEstado) return `(${legacy})`;
  // Both must agree: the gateway said paid/approved and the sale was not refunded or rejected since. A
  // partial refund keeps the sale (and its voucher): it counts, for what was not given back (netAmountSql).
  return `(${alias}.estado_pago IN ('paid', 'approved', 'partially_refunded') AND ${alias}.estado IN ('cobrada', 'entregada', 'reembolso_parcial'))`;
}

/** SQL for the money a sale kept: its amount less what a partial refund gave back (legacy rows: the amount). */
export function netAmountSql(withEstado: boolean, alias = 't'): string {
  return withEstado ? `(${alias}.monto - coalesce(${alias}.reembolsado_centavos, 0) / 100.0)` : `${alias}.monto`;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z?$/;
export const DATE_PATTERN = '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?Z?)?$';

function parseBound(value: string, field: 'desde' | 'hasta'): { text: string; dateOnly: boolean; ms: number } {
  const dateOnly = DATE_ONLY.test(value);
  const ms = Date.parse((dateOnly ? `${value}T00:00:00` : value.replace(' ', 'T').replace(/Z$/, '')) + 'Z');
  if ((!dateOnly && !DATE_TIME.test(value)) || Number.isNaN(ms)) {
    throw new ValidationFailed([{ type: 'datetime_parsing', loc: ['query', field], msg: 'Fecha inválida (use AAAA-MM-DD o AAAA-MM-DDTHH:MM:SS, UTC)', input: value }]);
  }
  return { text: dateToDb(new Date(ms)), dateOnly, ms };
}

/** WHERE clause and parameters for the company's filtered transactions. */
export function buildWhere(empresaId: string, f: TransactionFilters, withEstado: boolean): { where: string; params: unknown[] } {
  const params: unknown[] = [empresaId];
  const parts = ['t.empresa_id = $1'];
  const add = (sqlText: (n: string) => string, value: unknown) => {
    params.push(value);
    parts.push(sqlText(`$${params.length}`));
  };
  const desde = f.desde ? parseBound(f.desde, 'desde') : null;
  const hasta = f.hasta ? parseBound(f.hasta, 'hasta') : null;
  if (desde && hasta && desde.ms > hasta.ms) {
    throw new ValidationFailed([{ type: 'value_error', loc: ['query', 'hasta'], msg: '"hasta" debe ser igual o posterior a "desde"', input: f.hasta }]);
  }
  if (desde) add((n) => `t.creada_en >= ${n}::timestamp`, desde.text);
  // A bare date as upper bound means "through the end of that day".
  if (hasta) add((n) => (hasta.dateOnly ? `t.creada_en < ${n}::timestamp + interval '1 day'` : `t.creada_en <= ${n}::timestamp`), hasta.text);
  if (f.estado) add((n) => (withEstado ? `(t.estado_pago = ${n} OR t.estado = ${n})` : `t.estado_pago = ${n}`), f.estado);
  if (f.router_id) add((n) => `t.router_id = ${n}`, f.router_id);
  if (f.producto_id !== undefined) add((n) => `t.producto_id = ${n}`, f.producto_id);
  if (f.pasarela) add((n) => `t.pasarela = ${n}`, f.pasarela);
  if (f.q && f.q.trim() !== '') {
    const like = `%${f.q.trim().replace(/[\\%_]/g, (c) => '\\' + c)}%`;
    add(
      (n) =>
        `(t.transaccion_id ILIKE ${n} OR t.external_reference ILIKE ${n} OR t.cliente_nombre ILIKE ${n} OR t.cliente_email ILIKE ${n}` +
        ` OR t.cliente_telefono ILIKE ${n} OR t.usuario_hotspot ILIKE ${n})`,
      like,
    );
  }
  return { where: parts.join(' AND '), params };
}

interface TxRow {
  id: number;
  transaccion_id: string | null;
  external_reference: string | null;
  monto: string | null;
  moneda: string | null;
  estado_pago: string | null;
  estado_hotspot: string | null;
  estado: string | null;
  cliente_nombre: string | null;
  cliente_email: string | null;
  cliente_telefono: string | null;
  usuario_hotspot: string | null;
  router_id: string;
  producto_id: number | null;
  creada_en: string | null;
  pagada_en: string | null;
}

function selectColumns(withEstado: boolean): string {
  return `t.id, t.transaccion_id, t.external_reference, t.monto::text AS monto, t.moneda, t.estado_pago, t.estado_hotspot,
    ${withEstado ? 't.estado' : 'NULL::text AS estado'}, t.cliente_nombre, t.cliente_email, t.cliente_telefono, t.usuario_hotspot,
    t.router_id, t.producto_id, t.creada_en, t.pagada_en`;
}

/** Legacy list item (id, transaccion_id, monto, estado_pago, cliente_nombre, creada_en) plus additive fields. */
function itemJson(r: TxRow, withEstado: boolean) {
  return {
    id: r.id,
    transaccion_id: r.transaccion_id,
    monto: r.monto === null ? null : Number(r.monto),
    estado_pago: r.estado_pago,
    cliente_nombre: r.cliente_nombre,
    creada_en: naiveIso(r.creada_en),
    external_reference: r.external_reference,
    moneda: r.moneda,
    estado_hotspot: r.estado_hotspot,
    ...(withEstado ? { estado: r.estado } : {}),
    router_id: r.router_id,
    producto_id: r.producto_id,
    cliente_email: r.cliente_email,
    usuario_hotspot: r.usuario_hotspot,
    pagada_en: naiveIso(r.pagada_en),
  };
}

export async function listTransactions(ctx: AppContext, empresaId: string, f: TransactionFilters, limit: number, offset: number) {
  const withEstado = await transactionsHaveEstado(ctx);
  const { where, params } = buildWhere(empresaId, f, withEstado);
  const [countRows, rows] = await Promise.all([
    ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones t WHERE ${where}`, params),
    ctx.db.query<TxRow>(
      `SELECT ${selectColumns(withEstado)} FROM transacciones t WHERE ${where}
        ORDER BY t.creada_en DESC NULLS LAST, t.id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, limit, offset],
    ),
  ]);
  return {
    empresa_id: empresaId,
    total: Number(countRows[0]?.n ?? 0),
    limit,
    offset,
    transacciones: rows.map((r) => itemJson(r, withEstado)),
  };
}

// ---- CSV ----

// Spreadsheets skip leading blanks before deciding that a cell is a formula (" =1+1" runs), and accept
// the full-width signs too; OWASP's list is = + - @ tab CR (LF added: it starts a quoted cell's line).
const FORMULA_START = /^[\s\u00a0\u2000-\u200b\u3000\ufeff]*[=+\-@\t\r\n\uff1d\uff0b\uff0d\uff20]/u;

/** One RFC 4180 cell; text that a spreadsheet would run as a formula is prefixed with `'`. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const CSV_COLUMNS: Array<[string, (r: TxRow) => unknown]> = [
  ['id', (r) => r.id],
  ['transaccion_id', (r) => r.transaccion_id],
  ['external_reference', (r) => r.external_reference],
  ['creada_en', (r) => naiveIso(r.creada_en)],
  ['pagada_en', (r) => naiveIso(r.pagada_en)],
  ['router_id', (r) => r.router_id],
  ['producto_id', (r) => r.producto_id],
  // Amounts stay the database's exact decimal text (a number, never a formula).
  ['monto', (r) => (r.monto === null ? null : Number(r.monto).toFixed(2))],
  ['moneda', (r) => r.moneda],
  ['estado_pago', (r) => r.estado_pago],
  ['estado_hotspot', (r) => r.estado_hotspot],
  ['estado', (r) => r.estado],
  ['cliente_nombre', (r) => r.cliente_nombre],
  ['cliente_email', (r) => r.cliente_email],
  ['cliente_telefono', (r) => r.cliente_telefono],
  ['usuario_hotspot', (r) => r.usuario_hotspot],
];

const CSV_BATCH = 1000;

/** The filtered transactions as CSV lines (header first), newest first, read in batches (keyset on id). */
export async function* transactionsCsv(ctx: AppContext, empresaId: string, f: TransactionFilters): AsyncGenerator<string> {
  const withEstado = await transactionsHaveEstado(ctx);
  const { where, params } = buildWhere(empresaId, f, withEstado);
  // UTF-8 BOM so spreadsheet programs read the accents right.
  yield '\uFEFF' + CSV_COLUMNS.map(([name]) => name).join(',') + '\r\n';
  let lastId = 2147483647;
  for (;;) {
    const rows = await ctx.db.query<TxRow>(
      `SELECT ${selectColumns(withEstado)} FROM transacciones t WHERE ${where} AND t.id < $${params.length + 1}
        ORDER BY t.id DESC LIMIT ${CSV_BATCH}`,
      [...params, lastId],
    );
    if (rows.length === 0) return;
    yield rows.map((r) => CSV_COLUMNS.map(([, get]) => csvCell(get(r))).join(',') + '\r\n').join('');
    lastId = rows[rows.length - 1].id;
    if (rows.length < CSV_BATCH) return;
  }
}

/** Validates the filters before the CSV response starts (errors must be a JSON 422, not a broken file). */
export async function checkFilters(ctx: AppContext, empresaId: string, f: TransactionFilters): Promise<void> {
  buildWhere(empresaId, f, await transactionsHaveEstado(ctx));
}
