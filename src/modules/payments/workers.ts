/**
 * Background work on the outbox: deliver vouchers (retrying until the deadline, then refunding), refund,
 * remove vouchers, reconcile unknown outcomes and pending payments, act on webhooks, notify Telegram.
 * Every handler re-reads the purchase and is safe to run twice.
 */
import { and, eq, sql } from 'drizzle-orm';
import { transacciones } from '../../infra/db/schema.js';
import { isUniqueViolation } from '../../infra/errors.js';
import { JOB_DONE, LeaseLostError, enqueue, enqueueSql, type JobResult, type OutboxJob } from '../../infra/outbox.js';
import type { GatewayPayment } from './gateways/types.js';
import { buildNotice } from './notifications.js';
import { isTelegramRejection, isVoucherNameTaken, telegramOn } from './ports.js';
import {
  JOB,
  NOW,
  challengeRemainingMs,
  enqueueRemoval,
  findByGatewayId,
  findById,
  markChallengeExpired,
  markDeclined,
  markDelivered,
  markRefunded,
  notify,
  type NoticeKind,
  type Transaccion,
} from './repository.js';
import type { PaymentsService } from './service.js';
import { paymentMatches, settle } from './settle.js';
import { MONEY_KEPT, OPEN, guardSql, transitionFor, type Estado } from './transitions.js';
import { generateVoucher, voucherComment, type TipoUsuario } from './vouchers.js';
import { counterFichaId, extendCounterSql, extendSaleSql, revertTopUp, undeliverable, writeTopUp } from './recargas.js';

const txId = (job: OutboxJob) => Number(job.payload.transaccionId);
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 500);

/** Caps and safe defaults per job kind: nothing retries forever, nothing is dropped silently. */
export function registerWorkers(svc: PaymentsService): void {
  const o = svc.outbox;
  const alertOnDead = (what: string) => async (job: OutboxJob, lastError: string | null) => {
    await alertCompany(svc, txId(job), `${what} (${lastError ?? 'sin detalle'})`);
  };
  // Delivery ends by its own deadline (then a refund); the cap is only a backstop that also refunds.
  o.on(JOB.deliver, (job) => deliver(svc, job), {
    maxAttempts: 2000,
    onDead: async (job, lastError) => {
      await enqueue(svc.deps.db.orm, JOB.refund, { transaccionId: txId(job), motivo: 'No se pudo entregar la ficha' }, { dedupeKey: `reembolsar:${txId(job)}` });
      await alertCompany(svc, txId(job), `La entrega se abandonó y se reembolsa (${lastError ?? ''})`);
    },
  });
  // Refunds keep trying for about a day (30-minute backoff), then a person is told.
  o.on(JOB.refund, (job) => refund(svc, job), { maxAttempts: 60, maxBackoffMs: 30 * 60_000, onDead: alertOnDead('No se pudo completar un reembolso; hágalo desde el panel de la pasarela') });
  o.on(JOB.removeVoucher, (job) => removeVoucher(svc, job), { maxAttempts: 300, maxBackoffMs: 15 * 60_000, onDead: alertOnDead('No se pudo quitar del router la ficha de un pago devuelto; bórrela a mano') });
  // The reconciler ends by its horizon (then sin_cobro); the cap is a backstop.
  o.on(JOB.reconcile, (job) => reconcile(svc, job), { maxAttempts: 5000, maxBackoffMs: 30 * 60_000, onDead: alertOnDead('No se pudo confirmar el resultado de un cobro') });
  // A gateway notice (refund, chargeback…) is re-read for days (30-minute backoff), never dropped after hours.
  o.on(JOB.applyPayment, (job) => applyPayment(svc, job), { maxAttempts: 500, maxBackoffMs: 30 * 60_000, onDead: alertOnDead('No se pudo leer en la pasarela un aviso de pago (posible reembolso o contracargo)') });
  o.on(JOB.webhookLookup, (job) => webhookLookup(svc, job), { maxAttempts: 200, maxBackoffMs: 30 * 60_000 });
  o.on(JOB.notify, (job) => sendNotice(svc, job), { maxAttempts: 8 });
  o.on(JOB.purge, (job) => purge(svc, job));
  o.on(JOB.lateChallenge, (job) => lateChallenge(svc, job), { maxAttempts: 200, maxBackoffMs: 30 * 60_000 });
  o.on(JOB.closeChallengePass, (job) => closeChallengePass(svc, job), {
    maxAttempts: 300,
    maxBackoffMs: 15 * 60_000,
    onDead: alertOnDead('No se pudo quitar del router el paso temporal (walled garden) de un pago 3-D Secure; bórrelo a mano'),
  });
}

/** An error log line and, when configured, the company's Telegram chat. */
async function alertCompany(svc: PaymentsService, transaccionId: number, motivo: string): Promise<void> {
  svc.deps.logger.error({ transaccion: transaccionId, motivo }, 'pagos: alerta para la empresa');
  if (Number.isFinite(transaccionId) && transaccionId > 0) {
    await enqueue(svc.deps.db.orm, JOB.notify, { transaccionId, tipo: 'alerta', motivo: motivo.slice(0, 500) }, { dedupeKey: `telegram:${transaccionId}:alerta:${Date.now()}` });
  }
}

/** What the purchase request, which runs the first delivery itself, already knows. */
export interface DeliveryRun {
  /** The row as the caller just committed it, saving a re-read. */
  known?: Transaccion;
  /** Receives the row as delivered. */
  onDelivered?: (row: Transaccion) => void;
  /** False: the company's Telegram is off (just read by the caller), no notice to queue. Workers always queue it (the notice job checks). */
  notify?: boolean;
}

/**
 * Put the purchase's voucher on its router. The lease is confirmed before every router call, so a worker
 * whose lease was taken over stops before touching the router again.
 */
export async function deliver(svc: PaymentsService, job: OutboxJob, run: DeliveryRun = {}): Promise<JobResult> {
  const { db, secrets, logger } = svc.deps;
  const { known, onDelivered, notify } = run;
  let tx = known ?? (await findById(db.orm, txId(job)));
  if (!tx) return;
  if (tx.estado === 'reembolsada') {
    // An earlier run may have created the voucher and died before recording it: make sure it goes.
    await enqueueRemoval(db.orm, tx.id);
    return;
  }
  if (!transitionFor(tx, 'entrega')) return;
  if (tx.recargaDe !== null) return deliverTopUp(svc, job, tx, run);
  for (let rename = 0; ; rename++) {
    const password = tx.passwordHotspot ? (secrets.general.decrypt(tx.passwordHotspot) ?? '') : '';
    await job.lease?.confirm();
    try {
      await svc.hotspot().createVoucher(tx.routerId, {
        username: tx.usuarioHotspot ?? '',
        password,
        profile: tx.perfilHotspot ?? '',
        limitUptimeMinutes: tx.limiteMinutos,
        limitBytesTotal: tx.limiteBytes,
        comment: voucherComment(tx.referencia ?? String(tx.id)),
      });
      await svc.hooks.afterRouterWrite?.({ transaccionId: tx.id, referencia: tx.referencia ?? '', recarga: false });
    } catch (e) {
      if (isVoucherNameTaken(e) && rename < 5) {
        const next = await renameVoucher(svc, tx);
        if (!next || !transitionFor(next, 'entrega')) return;
        tx = next;
        continue;
      }
      return deliveryFailed(svc, tx, job, e);
    }
    // One statement: the transition, the company's notice and this job's completion commit together.
    const delivered = await markDelivered(db.orm, tx.id, job, { receipt: svc.deps.config.smtpUrl !== '', notify });
    if (!delivered) {
      // Refunded while we were creating it: its removal is a durable job of its own (after our creation).
      const now = await findById(db.orm, tx.id);
      if (now?.estado === 'reembolsada') await enqueueRemoval(db.orm, tx.id);
      return;
    }
    logger.info({ transaccion: tx.id, referencia: tx.referencia }, 'ficha entregada');
    onDelivered?.(delivered);
    return JOB_DONE;
  }
}

/**
 * A top-up (recargas.ts): SET its stored targets on its sale's user (never a new user), then record the
 * delivery and the sale's new terms in one statement. A top-up whose sale is gone, expired, or whose terms
 * moved since its targets were computed (a late revival after another top-up) is refunded instead.
 */
async function deliverTopUp(svc: PaymentsService, job: OutboxJob, tx: Transaccion, { onDelivered, notify }: DeliveryRun): Promise<JobResult> {
  const { db, logger } = svc.deps;
  const { target, motivo } = await undeliverable(db.orm, tx);
  const moved =
    target !== null &&
    ((tx.recargaMinutos !== null && target.limiteMinutos !== tx.recargaPrevioMinutos && target.limiteMinutos !== tx.recargaMinutos) ||
      (tx.recargaBytes !== null && target.limiteBytes !== tx.recargaPrevioBytes && target.limiteBytes !== tx.recargaBytes) ||
      (tx.recargaVigenciaMinutos !== null && target.vigenciaMinutos !== tx.recargaPrevioVigenciaMinutos && target.vigenciaMinutos !== tx.recargaVigenciaMinutos));
  if (motivo || moved || !target) {
    await giveBackTopUp(svc, tx, motivo ?? 'La ficha cambió desde que se calculó la recarga; se reembolsa');
    return JOB_DONE;
  }
  await job.lease?.confirm();
  try {
    await writeTopUp(svc, tx, target);
    await svc.hooks.afterRouterWrite?.({ transaccionId: tx.id, referencia: tx.referencia ?? '', recarga: true });
  } catch (e) {
    return deliveryFailed(svc, tx, job, e);
  }
  const minuteSeconds = svc.deps.config.vigenciaMinuteSeconds;
  const extendSale = counterFichaId(tx.recargaDe) !== null ? extendCounterSql(minuteSeconds) : extendSaleSql(minuteSeconds);
  const delivered = await markDelivered(db.orm, tx.id, job, { receipt: svc.deps.config.smtpUrl !== '', extendSale, notify });
  if (!delivered) {
    // Refunded while we were writing: its revert is a durable job of its own (after our write).
    const now = await findById(db.orm, tx.id);
    if (now?.estado === 'reembolsada') await enqueueRemoval(db.orm, tx.id);
    return;
  }
  logger.info({ transaccion: tx.id, referencia: tx.referencia, recarga_de: tx.recargaDe }, 'recarga entregada');
  onDelivered?.(delivered);
  return JOB_DONE;
}

/** A top-up that can no longer be delivered: refund it at once (the refund job tells the company). */
async function giveBackTopUp(svc: PaymentsService, tx: Transaccion, motivo: string): Promise<void> {
  await svc.deps.db.transaction(async (t) => {
    const rows = await t
      .update(transacciones)
      .set({ errorCodigo: 'recarga_no_aplicable', errorDetalle: motivo, actualizadaEn: NOW })
      .where(and(eq(transacciones.id, tx.id), guardSql('entrega')))
      .returning({ id: transacciones.id });
    if (rows.length === 0) return;
    await enqueue(t, JOB.refund, { transaccionId: tx.id, motivo }, { dedupeKey: `reembolsar:${tx.id}` });
  });
  svc.deps.logger.warn({ transaccion: tx.id, recarga_de: tx.recargaDe, motivo }, 'recarga no aplicable: se reembolsa');
}

/**
 * The name exists on the router and is not ours (someone made it by hand): pick another one, as a
 * compare-and-set on the name we tried, so two workers never rename one purchase twice (two vouchers).
 * Returns the row to go on with (renamed by us or by another worker), or null when it left the owed states.
 */
async function renameVoucher(svc: PaymentsService, tx: Transaccion): Promise<Transaccion | null> {
  for (let i = 0; i < 5; i++) {
    const creds = generateVoucher((tx.tipoUsuario as TipoUsuario) ?? 'usuario_contrasena', svc.voucherLengths);
    try {
      const [row] = await svc.deps.db.orm
        .update(transacciones)
        .set({ usuarioHotspot: creds.username, passwordHotspot: creds.password ? svc.deps.secrets.general.encrypt(creds.password) : null, actualizadaEn: NOW })
        .where(and(eq(transacciones.id, tx.id), guardSql('entrega'), eq(transacciones.usuarioHotspot, tx.usuarioHotspot ?? '')))
        .returning();
      return row ?? (await findById(svc.deps.db.orm, tx.id));
    } catch (e) {
      if (!isUniqueViolation(e, 'uq_transacciones_voucher_vivo')) throw e;
    }
  }
  return findById(svc.deps.db.orm, tx.id);
}

async function deliveryFailed(svc: PaymentsService, tx: Transaccion, job: OutboxJob, e: unknown): Promise<JobResult> {
  const { db, logger } = svc.deps;
  if (e instanceof LeaseLostError) throw e;
  const message = errorText(e);
  const [state] = await db.orm
    .update(transacciones)
    .set({ intentosEntrega: sql`${transacciones.intentosEntrega} + 1`, errorCodigo: 'entrega_pendiente', errorDetalle: message, actualizadaEn: NOW })
    .where(and(eq(transacciones.id, tx.id), guardSql('entrega')))
    .returning({ vencida: sql<boolean>`coalesce(${transacciones.entregaLimite} <= (now() AT TIME ZONE 'utc'), false)` });
  if (!state) return;
  if (!state.vencida) {
    logger.warn({ transaccion: tx.id, intento: job.attempts, err: message }, 'entrega pendiente, se reintentará');
    return { retryInMs: Math.min(30_000, 500 * 2 ** Math.min(10, job.attempts - 1)), note: message };
  }
  // Past the deadline: give the money back (the refund job removes any voucher and tells the company).
  await db.transaction(async (t) => {
    const rows = await t
      .update(transacciones)
      .set({ errorCodigo: 'entrega_fallida', actualizadaEn: NOW })
      .where(and(eq(transacciones.id, tx.id), guardSql('entrega')))
      .returning({ id: transacciones.id });
    if (rows.length === 0) return;
    await enqueue(t, JOB.refund, { transaccionId: tx.id, motivo: 'No se pudo entregar la ficha a tiempo' }, { dedupeKey: `reembolsar:${tx.id}` });
    await notify(t, tx, 'entrega_fallida', message);
  });
  logger.error({ transaccion: tx.id, referencia: tx.referencia }, 'entrega vencida: se reembolsa');
}

/**
 * A refund (the company's, or ours after a failed delivery) as a durable job: the gateway call and its
 * record both happen here, idempotent by the refund key, so a refund the gateway made is always recorded
 * (a failed record is retried, and the retried gateway call replays the same refund). What is refunded is
 * the rest of the payment (after any partial refund).
 */
async function refund(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const tx = await findById(svc.deps.db.orm, txId(job));
  // Money kept, or an approval that came after its 3-D Secure challenge expired (refunded, never delivered).
  if (!tx || !tx.transaccionId || !(MONEY_KEPT.includes(tx.estado as Estado) || transitionFor(tx, 'reembolso_total'))) return;
  const motivo = typeof job.payload.motivo === 'string' ? job.payload.motivo : 'Reembolso';
  if (svc.remainingCents(tx) > 0) {
    const result = await svc.refundAtGateway(tx);
    if (result.kind === 'refused') {
      await svc.deps.db.orm.update(transacciones).set({ errorCodigo: 'reembolso_rechazado', errorDetalle: result.message, actualizadaEn: NOW }).where(eq(transacciones.id, tx.id));
      return { retryInMs: 15 * 60_000, note: result.message };
    }
    await svc.deps.db.transaction((t) => markRefunded(t, tx.id, { rawStatus: result.rawStatus, refundId: result.refundId, motivo }));
    return;
  }
  await svc.deps.db.transaction((t) => markRefunded(t, tx.id, { rawStatus: 'refunded', motivo }));
}

async function removeVoucher(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const tx = await findById(svc.deps.db.orm, txId(job));
  if (!tx || tx.estado !== 'reembolsada' || !tx.usuarioHotspot) return;
  if (tx.recargaDe !== null) {
    // A refunded top-up takes its extension back and keeps the user.
    if (tx.estadoHotspot === 'disabled') return;
    const wait = await revertTopUp(svc, tx, async () => job.lease?.confirm(), job.attempts);
    return wait === null ? undefined : { retryInMs: wait, note: 'otra recarga de la ficha está en curso' };
  }
  // The sale's own top-ups bought time on a user that goes now: their money goes back too.
  await svc.deps.db.orm.execute(sql`
    ${enqueueSql(JOB.refund, sql`jsonb_build_object('transaccionId', r.id, 'motivo', 'Se reembolsó la ficha que esta recarga extendía')`, sql`'reembolsar:' || r.id::text`, {}, sql`FROM transacciones r WHERE r.recarga_de = ${tx.id} AND r.estado IN ('cobrada', 'entregada', 'reembolso_parcial')`)}`);
  const hotspot = svc.hotspot();
  await job.lease?.confirm();
  const user = await hotspot.findUser(tx.routerId, tx.usuarioHotspot);
  // Only our own voucher (by comment) is removed.
  if (user && (!user.comment || user.comment === voucherComment(tx.referencia ?? String(tx.id)))) {
    await job.lease?.confirm();
    await hotspot.removeVoucher(tx.routerId, tx.usuarioHotspot);
  }
  await svc.deps.db.orm.update(transacciones).set({ estadoHotspot: 'disabled', actualizadaEn: NOW }).where(eq(transacciones.id, tx.id));
}

async function reconcile(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const { db } = svc.deps;
  const tx = await findById(db.orm, txId(job));
  if (!tx || !OPEN.includes(tx.estado as Estado)) return;
  let payment: GatewayPayment | null;
  try {
    payment = await svc.lookupPayment(tx);
  } catch (e) {
    return { retryInMs: svc.outbox.backoff(job.attempts, 30 * 60_000), note: errorText(e) };
  }
  if (payment) {
    const effect = await settle(svc, tx, payment, job.attempts);
    if (tx.estado === 'en_autenticacion' && (effect === 'pending' || effect === 'none') && (payment.status === 'pending' || payment.status === 'unknown')) {
      return challengeStillOpen(svc, tx, job);
    }
    if (effect === 'pending' || (payment.status === 'pending' && effect === 'none')) {
      if (svc.pendingGaveUp(tx)) return;
      return { retryInMs: svc.pendingPollMs(job.attempts), note: `pago ${payment.rawStatus}` };
    }
    if (payment.status === 'unknown') return { retryInMs: svc.pendingPollMs(job.attempts), note: `estado ${payment.rawStatus}` };
    return;
  }
  // Nothing at the gateway under our reference (yet: Mercado Pago's search is an index that lags). Keep
  // asking, with backoff, until the horizon; only then is it declared unpaid (and a later approval, e.g. a
  // webhook, still revives it: `sin_cobro`).
  const [age] = await db.query<{ ms: number | string }>(
    `SELECT EXTRACT(EPOCH FROM ((now() AT TIME ZONE 'utc') - coalesce(cobro_intentado_en, creada_en))) * 1000 AS ms FROM transacciones WHERE id = $1`,
    [tx.id],
  );
  const waited = Number(age?.ms ?? 0);
  const grace = tx.cobroIntentadoEn ? Math.max(svc.notFoundGraceMs(), svc.deps.config.paymentNotFoundHorizonMs) : svc.abandonedAfterMs();
  if (waited < grace) {
    const backoff = Math.max(svc.notFoundGraceMs() - waited, svc.pendingPollMs(job.attempts));
    return { retryInMs: Math.max(200, Math.min(grace - waited, backoff)), note: 'sin pago todavía' };
  }
  await db.transaction((t) =>
    markDeclined(t, tx.id, {
      rawStatus: 'not_found',
      code: 'sin_cobro',
      message: 'La pasarela no registró ningún cobro para esta compra',
      notifyCompany: false,
    }),
  );
}

/**
 * The customer's bank has not answered (the read just taken still says pending): poll again, never past the
 * challenge's deadline; once past it, the purchase expires (never delivered; a later approval is refunded).
 */
async function challengeStillOpen(svc: PaymentsService, tx: Transaccion, job: OutboxJob): Promise<JobResult> {
  const timeoutMs = svc.deps.config.threeDsChallengeTimeoutMs;
  const left = await challengeRemainingMs(svc.deps.db.orm, tx.id, timeoutMs);
  if (left > 0) return { retryInMs: Math.max(200, Math.min(svc.pendingPollMs(job.attempts), left + 50)), note: 'esperando al banco (3-D Secure)' };
  if (await markChallengeExpired(svc.deps.db.orm, tx.id, timeoutMs)) {
    svc.deps.logger.info({ transaccion: tx.id, referencia: tx.referencia }, '3-D Secure vencido: no se entrega');
  }
}

/** How long an expired challenge's payment is still read back (a bank approving after that is past any customer). */
export const LATE_CHALLENGE_HORIZON_MS = 24 * 3600_000;

/**
 * An expired challenge: read its payment back (backing off) until the gateway settles it one way or the other;
 * an approval is refunded in full (settle → markLateApproval), never delivered.
 */
async function lateChallenge(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const tx = await findById(svc.deps.db.orm, txId(job));
  if (!tx || tx.estado !== 'rechazada' || tx.errorCodigo !== 'autenticacion_vencida' || !tx.transaccionId) return;
  let payment: GatewayPayment | null;
  try {
    payment = await svc.getPayment(tx, tx.transaccionId);
  } catch (e) {
    return { retryInMs: svc.outbox.backoff(job.attempts, 30 * 60_000), note: errorText(e) };
  }
  if (!payment) return;
  if (payment.status === 'pending' || payment.status === 'unknown') {
    const left = await challengeRemainingMs(svc.deps.db.orm, tx.id, LATE_CHALLENGE_HORIZON_MS);
    if (left <= 0) return;
    return { retryInMs: svc.pendingPollMs(job.attempts), note: 'pago vencido aún pendiente en la pasarela' };
  }
  await settle(svc, tx, payment);
}

/**
 * The device's TLS-only walled-garden pass (3-D Secure) goes once the challenge ended or its time is up,
 * whichever comes first; a router that cannot be reached is retried (the outbox backs off).
 */
async function closeChallengePass(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const tx = await findById(svc.deps.db.orm, txId(job));
  if (!tx) return;
  if (tx.estado === 'en_autenticacion') {
    const left = await challengeRemainingMs(svc.deps.db.orm, tx.id, svc.deps.config.threeDsChallengeTimeoutMs);
    if (left > 0) return { retryInMs: left + 50, note: 'reto abierto' };
  }
  await job.lease?.confirm();
  await svc.hotspot().closeChallengePass(tx.routerId, challengePassComment(tx.referencia ?? String(tx.id)));
}

/** The comment that names a purchase's walled-garden pass on the router. */
export function challengePassComment(referencia: string): string {
  return `Pagos Hotspot 3DS ${referencia}`;
}

/**
 * A gateway notice about a known purchase: re-read the payment (a failed read is retried for days) and
 * apply it. The webhook fields (`webhook_processed`, `notification_id`) are written only once the gateway
 * confirmed the notice (the payment matches; for Conekta, the event exists at Conekta for this order).
 */
async function applyPayment(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const tx = await findById(svc.deps.db.orm, txId(job));
  if (!tx) return;
  const paymentId = typeof job.payload.paymentId === 'string' && job.payload.paymentId ? job.payload.paymentId : null;
  const eventId = typeof job.payload.eventId === 'string' && job.payload.eventId ? job.payload.eventId.slice(0, 100) : null;
  let payment: GatewayPayment | null;
  let confirmed = false;
  try {
    payment = paymentId ? await svc.getPayment(tx, paymentId) : await svc.lookupPayment(tx);
    if (payment && paymentMatches(tx, payment) && job.payload.source === 'webhook') confirmed = await svc.webhookEventConfirmed(tx, eventId, payment.id);
  } catch (e) {
    return { retryInMs: svc.outbox.backoff(job.attempts, 30 * 60_000), note: errorText(e) };
  }
  if (!payment || !paymentMatches(tx, payment)) return;
  if (confirmed) {
    await svc.deps.db.orm
      .update(transacciones)
      .set({ webhookProcessed: true, webhookReceivedAt: NOW, ...(eventId ? { notificationId: eventId } : {}) })
      .where(eq(transacciones.id, tx.id));
  }
  await settle(svc, tx, payment);
}

/**
 * A notice about a payment we do not know by id (only its id was stored). The purchase may still be
 * committing, or our row lacks the gateway id (its charge answer was lost): ask the gateway for the
 * payment with the credentials of the companies that have such purchases open (bounded), learn its
 * reference, and apply it.
 */
async function webhookLookup(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const gateway = job.payload.gateway === 'conekta' ? 'conekta' : 'mercado_pago';
  const paymentId = typeof job.payload.paymentId === 'string' ? job.payload.paymentId : '';
  const eventId = typeof job.payload.eventId === 'string' ? job.payload.eventId : '';
  if (!paymentId) return;
  const known = await findByGatewayId(svc.deps.db.orm, gateway, paymentId);
  if (known) {
    await enqueue(svc.deps.db.orm, JOB.applyPayment, { transaccionId: known.id, paymentId, source: 'webhook', eventId }, { dedupeKey: `aplicar:${known.id}:${eventId || paymentId}` });
    return;
  }
  let tx: Transaccion | null;
  try {
    tx = await svc.findPaymentOwner(gateway, paymentId);
  } catch (e) {
    return { retryInMs: svc.outbox.backoff(job.attempts, 30 * 60_000), note: errorText(e) };
  }
  if (!tx) return { retryInMs: Math.min(30 * 60_000, 15_000 * 2 ** Math.min(10, job.attempts - 1)), note: 'transacción aún desconocida' };
  await enqueue(svc.deps.db.orm, JOB.applyPayment, { transaccionId: tx.id, paymentId, source: 'webhook', eventId }, { dedupeKey: `aplicar:${tx.id}:${eventId || paymentId}` });
}

/** Retention: stored answers lose their credentials, finished jobs go (hourly; recurring). */
async function purge(svc: PaymentsService, _job: OutboxJob): Promise<JobResult> {
  const hours = svc.deps.config.paymentsRetentionHours;
  const keys = await svc.idempotency.purge(hours);
  const jobs = await svc.outbox.purge(hours);
  if (keys.stripped + keys.deleted + jobs > 0) svc.deps.logger.info({ ...keys, trabajos: jobs }, 'pagos: depuración por retención');
  return { retryInMs: 3600_000 };
}

async function sendNotice(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const { db, secrets, logger } = svc.deps;
  const tx = await findById(db.orm, txId(job));
  if (!tx) return;
  const creds = await svc.deps.companies.getGatewayCredentials(tx.empresaId);
  if (!telegramOn(creds)) return;
  const tg = creds.telegram;
  const kind = job.payload.tipo as NoticeKind;
  const productoNombre =
    (tx.metadataJson as Record<string, unknown> | null)?.producto_nombre ??
    (await db.query<{ nombre_venta: string }>('SELECT nombre_venta FROM productos WHERE id = $1', [tx.productoId]))[0]?.nombre_venta ??
    '';
  const html = buildNotice(
    kind,
    tx,
    {
      empresaNombre: creds.nombre,
      productoNombre: String(productoNombre),
      password: tx.passwordHotspot ? (secrets.general.decrypt(tx.passwordHotspot) ?? '') : '',
    },
    typeof job.payload.motivo === 'string' ? job.payload.motivo : null,
  );
  try {
    await svc.deps.telegram.send(tg.botToken, tg.chatId, html);
  } catch (e) {
    // A message Telegram refuses (400) will be refused again; anything else is retried (capped: then dead).
    if (isTelegramRejection(e)) {
      logger.warn({ transaccion: tx.id, tipo: kind, err: errorText(e) }, 'aviso de Telegram no enviado');
      return;
    }
    throw e;
  }
}

