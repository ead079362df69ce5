/**
 * The purchase state machine on `transacciones`. Every transition is one guarded UPDATE whose WHERE is
 * built from the one table in transitions.ts (`guardSql`), so concurrent actors (the request, workers on
 * several instances, webhooks, an admin) cannot move a purchase backwards or apply an effect twice; the
 * jobs a transition needs are enqueued in the same database transaction.
 */
import { and, eq, getTableColumns, inArray, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { Executor } from '../../infra/db/index.js';
import { ASYNC_COMMIT_CTE } from '../../infra/db/async-commit.js';
import { transacciones } from '../../infra/db/schema.js';
import { enqueue, enqueueSql, jobDoneSql, newLeaseToken, type OutboxJob } from '../../infra/outbox.js';
import type { Challenge, GatewayPayment } from './gateways/types.js';
import { OPEN, guardSql, type Evento } from './transitions.js';

export type Transaccion = typeof transacciones.$inferSelect;
export type { Estado } from './transitions.js';

export const NOW = sql`(now() AT TIME ZONE 'utc')`;

/** Job kinds (the outbox handlers live in workers.ts). */
export const JOB = {
  deliver: 'pagos.entregar',
  refund: 'pagos.reembolsar',
  removeVoucher: 'pagos.quitar_ficha',
  reconcile: 'pagos.conciliar',
  applyPayment: 'pagos.aplicar_pago',
  webhookLookup: 'pagos.webhook_pendiente',
  notify: 'pagos.telegram',
  purge: 'pagos.purgar',
  closeChallengePass: 'pagos.cerrar_paso_3ds',
  lateChallenge: 'pagos.reto_vencido',
} as const;

export type NoticeKind = 'aprobado' | 'rechazado' | 'reembolsado' | 'entrega_fallida' | 'alerta' | 'reembolso_parcial';

const COLUMNS = Object.entries(getTableColumns(transacciones));

/** A `transacciones` row as raw SQL returns it (column names, driver values) → the Drizzle shape. */
export function rowToTransaccion(raw: Record<string, unknown>): Transaccion {
  const out: Record<string, unknown> = {};
  for (const [key, col] of COLUMNS) {
    const v = raw[col.name];
    out[key] = v === null || v === undefined ? null : col.mapFromDriverValue(v);
  }
  return out as Transaccion;
}

/** A Drizzle query builder as bare SQL (embedding the builder itself would parenthesize it, which a CTE refuses). */
export const statementOf = (query: unknown): SQL => (query as SQLWrapper).getSQL();

const rowsOf = (result: unknown) => ((result as { rows?: Record<string, unknown>[] }).rows ?? []);

/**
 * Run a guarded transition (an UPDATE builder without RETURNING) and the job it needs as ONE statement (`WITH u AS (UPDATE … RETURNING *), j AS
 * (INSERT INTO outbox … FROM u) SELECT …`): atomic on its own, so it needs no BEGIN/COMMIT round trips and
 * may run outside a transaction; inside one it behaves like the two statements it replaces. The job is only
 * inserted when the UPDATE matched (the transition happened). `extra` adds more statements to the same
 * commit (e.g. marking the running job done). Returns the updated row and the job id, or null.
 */
async function transitionWithJob(
  ex: Executor,
  update: unknown,
  job: ((from: SQL) => SQL) | null,
  extra: SQL[] = [],
  opts: { asyncCommit?: boolean } = {},
): Promise<{ tx: Transaccion; jobId: number | null } | null> {
  const more = extra.map((e, i) => sql`, x${sql.raw(String(i))} AS (${e})`);
  const nowait = opts.asyncCommit ? [sql.raw(`, ${ASYNC_COMMIT_CTE}`), sql.raw(', nowait')] : [sql``, sql``];
  const j = job ? [sql`, j AS (${job(sql`FROM u`)})`, sql`(SELECT id FROM j LIMIT 1)`] : [sql``, sql`NULL`];
  // `RETURNING *` rather than Drizzle's `.returning()`: the row is mapped by column name (rowToTransaccion),
  // and Drizzle spends ~0.2 ms of CPU building the ~40-column list on every transition.
  const result = await ex.execute(sql`WITH u AS (${statementOf(update)} RETURNING *)${j[0]}${sql.join(more, sql``)}${nowait[0]}
    SELECT u.*, ${j[1]} AS "__job_id" FROM u${nowait[1]}`);
  const [raw] = rowsOf(result);
  if (!raw) return null;
  return { tx: rowToTransaccion(raw), jobId: raw.__job_id === null || raw.__job_id === undefined ? null : Number(raw.__job_id) };
}

const idPayload = sql`jsonb_build_object('transaccionId', u.id)`;
const keyFor = (prefix: string) => sql`${prefix} || u.id::text`;

/** The read by id, built once per executor as a named prepared statement (Drizzle spent ~0.3 ms of CPU building it). */
const prepareById = (ex: Executor) =>
  ex.select().from(transacciones).where(eq(transacciones.id, sql.placeholder('id'))).limit(1).prepare('transaccion_por_id');
const byIdQueries = new WeakMap<Executor, ReturnType<typeof prepareById>>();

export async function findById(ex: Executor, id: number): Promise<Transaccion | null> {
  let query = byIdQueries.get(ex);
  if (!query) byIdQueries.set(ex, (query = prepareById(ex)));
  const [row] = await query.execute({ id });
  return row ?? null;
}

export async function findByReferencia(ex: Executor, referencia: string): Promise<Transaccion | null> {
  const [row] = await ex.select().from(transacciones).where(eq(transacciones.referencia, referencia)).limit(1);
  return row ?? null;
}

export async function findByGatewayId(ex: Executor, pasarela: string, paymentId: string): Promise<Transaccion | null> {
  const [row] = await ex
    .select()
    .from(transacciones)
    .where(and(eq(transacciones.transaccionId, paymentId), eq(transacciones.pasarela, pasarela)))
    .limit(1);
  return row ?? null;
}

export async function notify(ex: Executor, tx: Pick<Transaccion, 'id'>, tipo: NoticeKind, motivo?: string): Promise<void> {
  await enqueue(ex, JOB.notify, { transaccionId: tx.id, tipo, motivo: motivo ?? null }, { dedupeKey: `telegram:${tx.id}:${tipo}` });
}

/**
 * The gateway took the money: record it and make delivery a durable job, in one statement. Returns the
 * updated row and the delivery job when this call made the transition (null otherwise). With `claimForMs`
 * the job is inserted already claimed by the caller, who runs it at once (`Outbox.runClaimed`); workers
 * take it over only if the caller dies (its lease runs out).
 */
export async function markCharged(
  ex: Executor,
  id: number,
  payment: GatewayPayment,
  deadlineMinutes: number,
  opts: {
    claimForMs?: number;
    lecturaFresca?: boolean;
    voucher?: { username: string; passwordEnc: string | null };
    /** Commit asynchronously (infra/db/async-commit.ts); only where a lost commit is a handled case (the purchase). */
    asyncCommit?: boolean;
  } = {},
): Promise<{ tx: Transaccion; job: OutboxJob | null } | null> {
  const update = ex
    .update(transacciones)
    .set({
      ...(opts.voucher ? { usuarioHotspot: opts.voucher.username, passwordHotspot: opts.voucher.passwordEnc } : {}),
      estado: 'cobrada',
      estadoPago: payment.rawStatus.slice(0, 20),
      estadoDetalle: payment.statusDetail.slice(0, 100) || null,
      transaccionId: payment.id,
      pagadaEn: NOW,
      entregaLimite: sql`(now() AT TIME ZONE 'utc') + make_interval(mins => ${deadlineMinutes})`,
      estadoHotspot: 'pending',
      errorCodigo: null,
      errorDetalle: null,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), guardSql('cobro_aprobado', { lecturaFresca: opts.lecturaFresca })));
  const leaseToken = opts.claimForMs !== undefined ? newLeaseToken() : undefined;
  const claimedAt = Date.now();
  const done = await transitionWithJob(ex, update, (from) => enqueueSql(JOB.deliver, idPayload, keyFor('entregar:'), { claimForMs: opts.claimForMs, leaseToken }, from), [], {
    asyncCommit: opts.asyncCommit,
  });
  if (!done) return null;
  const claimed = opts.claimForMs !== undefined;
  const job = done.jobId === null ? null : { id: done.jobId, kind: JOB.deliver, payload: { transaccionId: id }, attempts: claimed ? 1 : 0, leaseToken, ...(claimed ? { freshUntil: claimedAt + opts.claimForMs! / 3 } : {}) };
  return { tx: done.tx, job };
}

export async function markDeclined(
  ex: Executor,
  id: number,
  f: { rawStatus: string; detail?: string | null; paymentId?: string | null; code: string; message: string; notifyCompany: boolean; evento?: Extract<Evento, 'cobro_rechazado' | 'devuelto_sin_venta'> },
): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({
      estado: 'rechazada',
      estadoPago: f.rawStatus.slice(0, 20),
      estadoDetalle: f.detail?.slice(0, 100) ?? null,
      ...(f.paymentId ? { transaccionId: f.paymentId } : {}),
      errorCodigo: f.code.slice(0, 50),
      errorDetalle: f.message,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), guardSql(f.evento ?? 'cobro_rechazado')))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  if (f.notifyCompany) await notify(ex, { id }, 'rechazado', f.message);
  return true;
}

/** Outcome unknown (timeout, 5xx): the reconciler asks the gateway by our reference soon. */
export async function markUnknown(ex: Executor, id: number, code: string, message: string, reconcileInMs: number): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({ estado: 'en_revision', estadoPago: 'unknown', errorCodigo: code.slice(0, 50), errorDetalle: message, actualizadaEn: NOW })
    .where(and(eq(transacciones.id, id), guardSql('resultado_desconocido')))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  await scheduleReconcile(ex, id, reconcileInMs);
  return true;
}

/** Mercado Pago pending / in_process: no sale yet; the reconciler polls it and webhooks may settle it. */
export async function markPending(ex: Executor, id: number, payment: GatewayPayment, pollInMs: number): Promise<void> {
  await ex
    .update(transacciones)
    .set({
      estadoPago: payment.rawStatus.slice(0, 20),
      estadoDetalle: payment.statusDetail.slice(0, 100) || null,
      transaccionId: payment.id,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), inArray(transacciones.estado, [...OPEN])));
  await scheduleReconcile(ex, id, pollInMs);
}

/** The challenge as stored with the purchase (metadata_json.autenticacion) and shown to the page again on reload. */
export interface StoredChallenge {
  tipo: Challenge['kind'];
  url: string;
  creq?: string;
  /** The device's TLS-only walled-garden pass was opened on the router. */
  paso_wifi?: boolean;
}

/**
 * The gateway wants a 3-D Secure challenge: the purchase waits for the customer's bank (`en_autenticacion`),
 * polled by its reconcile job (which also expires it), and its pass job (which closes the device's walled-
 * garden pass) is queued now, due at the deadline. Returns the updated row, or null when the table forbade it.
 */
export async function markChallenge(
  ex: Executor,
  id: number,
  payment: GatewayPayment,
  challenge: StoredChallenge,
  t: { pollInMs: number; timeoutMs: number },
): Promise<Transaccion | null> {
  const [row] = await ex
    .update(transacciones)
    .set({
      estado: 'en_autenticacion',
      estadoPago: payment.rawStatus.slice(0, 20),
      estadoDetalle: payment.statusDetail.slice(0, 100) || null,
      transaccionId: payment.id,
      metadataJson: sql`coalesce(${transacciones.metadataJson}, '{}'::jsonb) || jsonb_build_object('autenticacion', ${JSON.stringify(challenge)}::jsonb)`,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), guardSql('autenticacion_requerida')))
    .returning();
  if (!row) return null;
  await scheduleReconcile(ex, id, Math.min(t.pollInMs, t.timeoutMs));
  await enqueue(ex, JOB.closeChallengePass, { transaccionId: id }, { dedupeKey: `paso3ds:${id}`, delayMs: t.timeoutMs });
  return row;
}

/** Record whether the device's walled-garden pass is open (the page tells the customer when it is not). */
export async function recordChallengePass(ex: Executor, id: number, open: boolean): Promise<void> {
  await ex.execute(sql`UPDATE transacciones SET metadata_json = jsonb_set(metadata_json, '{autenticacion,paso_wifi}', to_jsonb(${open}::boolean))
    WHERE id = ${id} AND metadata_json ? 'autenticacion'`);
}

/** Milliseconds left in the purchase's challenge (negative once past), counted from the charge attempt. */
export async function challengeRemainingMs(ex: Executor, id: number, timeoutMs: number): Promise<number> {
  const result = await ex.execute(sql`SELECT EXTRACT(EPOCH FROM (coalesce(cobro_intentado_en, creada_en) + make_interval(secs => ${timeoutMs / 1000}::double precision)
      - (now() AT TIME ZONE 'utc'))) * 1000 AS ms FROM transacciones WHERE id = ${id}`);
  const [r] = rowsOf(result);
  return r ? Number(r.ms) : -1;
}

/**
 * The challenge stayed open past its deadline (the caller's gateway read still said pending): the purchase is
 * declined for good (`autenticacion_vencida`: never revived, never delivered; a later approval is refunded).
 */
export async function markChallengeExpired(ex: Executor, id: number, timeoutMs: number): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({
      estado: 'rechazada',
      errorCodigo: 'autenticacion_vencida',
      errorDetalle: 'La verificación de tu banco no se completó a tiempo. No se hizo ningún cargo.',
      actualizadaEn: NOW,
    })
    .where(
      and(
        eq(transacciones.id, id),
        guardSql('autenticacion_vencida'),
        sql`coalesce(${transacciones.cobroIntentadoEn}, ${transacciones.creadaEn}) + make_interval(secs => ${timeoutMs / 1000}::double precision) <= (now() AT TIME ZONE 'utc')`,
      ),
    )
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  await closePassNow(ex, id);
  // The bank may still approve it (a customer finishing late): keep reading the gateway for a while, so such an
  // approval is refunded even if no webhook and no return ever tell us.
  await enqueue(ex, JOB.lateChallenge, { transaccionId: id }, { dedupeKey: `reto_tardio:${id}`, delayMs: 2_000 });
  return true;
}

/**
 * The bank approved a challenge we had already expired: record the payment and refund it in full (a durable
 * job; the refund moves the purchase to `reembolsada`). Returns true when this call queued the refund.
 */
export async function markLateApproval(ex: Executor, id: number, payment: GatewayPayment): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({ transaccionId: payment.id, estadoPago: payment.rawStatus.slice(0, 20), actualizadaEn: NOW })
    .where(and(eq(transacciones.id, id), guardSql('reembolso_total'), eq(transacciones.estado, 'rechazada')))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  const queued = await enqueue(ex, JOB.refund, { transaccionId: id, motivo: 'El banco aprobó el pago después de vencer la verificación 3-D Secure' }, { dedupeKey: `reembolsar:${id}` });
  if (queued !== null) await notify(ex, { id }, 'alerta', 'Aprobación 3-D Secure tardía: se reembolsa completa, sin ficha');
  return queued !== null;
}

/** The challenge ended (approved, failed, expired): close the device's walled-garden pass now. */
export async function closePassNow(ex: Executor, id: number): Promise<void> {
  await ex.execute(sql`UPDATE outbox SET run_at = LEAST(run_at, now()) WHERE dedupe_key = ${`paso3ds:${id}`} AND done_at IS NULL`);
}

/** Bring the purchase's reconcile job forward (or create it). */
export async function scheduleReconcile(ex: Executor, id: number, delayMs: number): Promise<void> {
  const created = await enqueue(ex, JOB.reconcile, { transaccionId: id }, { dedupeKey: `conciliar:${id}`, delayMs });
  if (created === null) {
    await ex.execute(sql`
      UPDATE outbox SET run_at = LEAST(run_at, now() + make_interval(secs => ${delayMs / 1000}::double precision))
       WHERE dedupe_key = ${`conciliar:${id}`} AND done_at IS NULL`);
  }
}

/**
 * The voucher is on the router: record it and queue the company's notice, in one statement. `jobId` (the
 * running delivery job) is marked done in the same commit, saving the outbox its own round trip. Returns
 * the updated row when this call made the transition. With a fenced job, a worker whose lease was taken
 * over still records the delivery (the voucher IS on the router) but does not close the other's job.
 * `notify: false` (the purchase request, which read the company's Telegram settings moments ago and found
 * them off) queues no notice: the job would only read the purchase and the company again to send nothing.
 */
/** The buyer's e-mail receipt (vouchers/receipts.ts), queued in the delivery's own statement. */
export const RECEIPT_JOB = 'fichas.recibo';

export async function markDelivered(
  ex: Executor,
  id: number,
  job?: Pick<OutboxJob, 'id' | 'leaseToken'>,
  opts: { receipt?: boolean; extendSale?: SQL; notify?: boolean } = {},
): Promise<Transaccion | null> {
  const update = ex
    .update(transacciones)
    // A partly refunded purchase keeps its state (the voucher was still owed).
    .set({ estado: sql`CASE WHEN estado = 'cobrada' THEN 'entregada' ELSE estado END`, estadoHotspot: 'active', usuarioCreadoEn: NOW, errorCodigo: null, errorDetalle: null, actualizadaEn: NOW })
    .where(and(eq(transacciones.id, id), guardSql('entrega')));
  const done = await transitionWithJob(
    ex,
    update,
    opts.notify === false
      ? null
      : (from) => enqueueSql(JOB.notify, sql`jsonb_build_object('transaccionId', u.id, 'tipo', 'aprobado', 'motivo', NULL)`, keyFor('telegram:').append(sql` || ':aprobado'`), {}, from),
    // Only when the transition happened (the handler's other outcomes let the outbox record the run).
    [
      ...(job !== undefined ? [jobDoneSql(job, sql`EXISTS (SELECT 1 FROM u)`)] : []),
      // A top-up: the sale it extends takes the targets in the same commit (recargas.ts extendSaleSql).
      ...(opts.extendSale ? [opts.extendSale] : []),
      ...(opts.receipt ? [enqueueSql(RECEIPT_JOB, idPayload, keyFor('recibo:'), {}, sql`FROM u WHERE u.cliente_email IS NOT NULL AND u.cliente_email <> ''`)] : []),
    ],
    // Asynchronous commit (infra/db/async-commit.ts): lost to a database crash, the delivery job (committed
    // with the charge) is still leased, and its next run finds the voucher already on the router (same name
    // and comment: created once) and records the delivery again, notices and receipt included.
    { asyncCommit: true },
  );
  return done?.tx ?? null;
}

/**
 * Money went back to the customer (our refund, the gateway's refund, a chargeback, a cancellation):
 * the voucher must go. Returns true when this call made the transition.
 */
export async function markRefunded(
  ex: Executor,
  id: number,
  f: { rawStatus: string; refundId?: string | null; motivo: string },
): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({
      estado: 'reembolsada',
      estadoPago: f.rawStatus.slice(0, 20),
      reembolsoId: f.refundId ?? sql`${transacciones.reembolsoId}`,
      reembolsadoCentavos: sql`coalesce(${transacciones.montoCentavos}, ${transacciones.reembolsadoCentavos})`,
      reembolsadaEn: NOW,
      errorDetalle: f.motivo,
      actualizadaEn: NOW,
    })
    .where(and(eq(transacciones.id, id), guardSql('reembolso_total')))
    .returning({ id: transacciones.id });
  if (rows.length === 0) return false;
  await enqueueRemoval(ex, id);
  await notify(ex, { id }, 'reembolsado', f.motivo);
  return true;
}

/** Every removal of a voucher from its router is its own durable job (deduplicated per purchase). */
export async function enqueueRemoval(ex: Executor, id: number): Promise<void> {
  await enqueue(ex, JOB.removeVoucher, { transaccionId: id }, { dedupeKey: `quitar:${id}` });
}

/**
 * Part of the money went back (the gateway says so: never taken from a webhook body): record the refunded
 * cents, which only grow and stay below the whole amount; the voucher stays. Returns true when recorded.
 */
export async function markPartiallyRefunded(ex: Executor, id: number, f: { rawStatus: string; refundedCents: number; refundId?: string | null }): Promise<boolean> {
  const rows = await ex
    .update(transacciones)
    .set({
      estado: 'reembolso_parcial',
      estadoPago: f.rawStatus.slice(0, 20),
      reembolsadoCentavos: f.refundedCents,
      reembolsoId: f.refundId ?? sql`${transacciones.reembolsoId}`,
      actualizadaEn: NOW,
    })
    .where(
      and(
        eq(transacciones.id, id),
        guardSql('reembolso_parcial'),
        sql`${transacciones.reembolsadoCentavos} < ${f.refundedCents}`,
        sql`${f.refundedCents} < coalesce(${transacciones.montoCentavos}, 2147483647)`,
      ),
    )
    .returning({ id: transacciones.id });
  return rows.length > 0;
}
