/**
 * Background work on the outbox: deliver vouchers (retrying until the deadline, then refunding), refund,
 * remove vouchers, reconcile unknown outcomes and pending payments, act on webhooks, notify Telegram.
 * Every handler re-reads the purchase and is safe to run twice.
 */
import { and, eq, sql } from 'drizzle-orm';
import { transacciones } from '../../infra/db/schema.js';
import { JOB_DONE, enqueue, type JobResult, type OutboxJob } from '../../infra/outbox.js';
import type { GatewayPayment, WebhookInput } from './gateways/types.js';
import { buildNotice } from './notifications.js';
import { isTelegramRejection, isVoucherNameTaken } from './ports.js';
import { JOB, NOW, findById, markDeclined, markDelivered, markRefunded, notify, type NoticeKind, type Transaccion } from './repository.js';
import type { PaymentsService } from './service.js';
import { paymentMatches, settle } from './settle.js';
import { generateVoucher, voucherComment, type TipoUsuario } from './vouchers.js';

const txId = (job: OutboxJob) => Number(job.payload.transaccionId);
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 500);

export function registerWorkers(svc: PaymentsService): void {
  const o = svc.outbox;
  o.on(JOB.deliver, (job) => deliver(svc, job));
  o.on(JOB.refund, (job) => refund(svc, job));
  o.on(JOB.removeVoucher, (job) => removeVoucher(svc, job));
  o.on(JOB.reconcile, (job) => reconcile(svc, job));
  o.on(JOB.applyPayment, (job) => applyPayment(svc, job));
  o.on(JOB.webhookLookup, (job) => webhookLookup(svc, job));
  o.on(JOB.notify, (job) => sendNotice(svc, job));
}

/**
 * Put the purchase's voucher on its router. `known` is the row as the caller just committed it (the
 * purchase request, which runs the first attempt itself), saving a re-read; `onDelivered` receives the row
 * as delivered.
 */
export async function deliver(svc: PaymentsService, job: OutboxJob, known?: Transaccion, onDelivered?: (row: Transaccion) => void): Promise<JobResult> {
  const { db, secrets, logger } = svc.deps;
  let tx = known ?? (await findById(db.orm, txId(job)));
  if (!tx || tx.estado !== 'cobrada') return;
  for (let rename = 0; ; rename++) {
    const password = tx.passwordHotspot ? (secrets.general.decrypt(tx.passwordHotspot) ?? '') : '';
    try {
      await svc.hotspot().createVoucher(tx.routerId, {
        username: tx.usuarioHotspot ?? '',
        password,
        profile: tx.perfilHotspot ?? '',
        limitUptimeMinutes: tx.limiteMinutos,
        comment: voucherComment(tx.referencia ?? String(tx.id)),
      });
    } catch (e) {
      if (isVoucherNameTaken(e) && rename < 5) {
        tx = (await renameVoucher(svc, tx)) ?? tx;
        if (tx.estado !== 'cobrada') return;
        continue;
      }
      return deliveryFailed(svc, tx, job, e);
    }
    // One statement: the transition, the company's notice and this job's completion commit together.
    const delivered = await markDelivered(db.orm, tx.id, job.id);
    if (!delivered) {
      // Refunded while we were creating it: take it back (the removal job also does, whichever runs last).
      const now = await findById(db.orm, tx.id);
      if (now?.estado === 'reembolsada') await svc.hotspot().removeVoucher(tx.routerId, tx.usuarioHotspot ?? '').catch(() => undefined);
    }
    logger.info({ transaccion: tx.id, referencia: tx.referencia }, 'ficha entregada');
    if (!delivered) return;
    onDelivered?.(delivered);
    return JOB_DONE;
  }
}

/** The name exists on the router and is not ours (someone made it by hand): pick another one. */
async function renameVoucher(svc: PaymentsService, tx: Transaccion): Promise<Transaccion | null> {
  const creds = generateVoucher((tx.tipoUsuario as TipoUsuario) ?? 'usuario_contrasena', svc.voucherLengths);
  try {
    const [row] = await svc.deps.db.orm
      .update(transacciones)
      .set({ usuarioHotspot: creds.username, passwordHotspot: creds.password ? svc.deps.secrets.general.encrypt(creds.password) : null, actualizadaEn: NOW })
      .where(and(eq(transacciones.id, tx.id), eq(transacciones.estado, 'cobrada')))
      .returning();
    return row ?? (await findById(svc.deps.db.orm, tx.id));
  } catch {
    return null;
  }
}

async function deliveryFailed(svc: PaymentsService, tx: Transaccion, job: OutboxJob, e: unknown): Promise<JobResult> {
  const { db, logger } = svc.deps;
  const message = errorText(e);
  const [state] = await db.orm
    .update(transacciones)
    .set({ intentosEntrega: sql`${transacciones.intentosEntrega} + 1`, errorCodigo: 'entrega_pendiente', errorDetalle: message, actualizadaEn: NOW })
    .where(and(eq(transacciones.id, tx.id), eq(transacciones.estado, 'cobrada')))
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
      .where(and(eq(transacciones.id, tx.id), eq(transacciones.estado, 'cobrada')))
      .returning({ id: transacciones.id });
    if (rows.length === 0) return;
    await enqueue(t, JOB.refund, { transaccionId: tx.id, motivo: 'No se pudo entregar la ficha a tiempo' }, { dedupeKey: `reembolsar:${tx.id}` });
    await notify(t, tx, 'entrega_fallida', message);
  });
  logger.error({ transaccion: tx.id, referencia: tx.referencia }, 'entrega vencida: se reembolsa');
}

async function refund(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const tx = await findById(svc.deps.db.orm, txId(job));
  if (!tx || (tx.estado !== 'cobrada' && tx.estado !== 'entregada') || !tx.transaccionId) return;
  const motivo = typeof job.payload.motivo === 'string' ? job.payload.motivo : 'Reembolso';
  const result = await svc.refundAtGateway(tx);
  if (result.kind === 'refused') {
    await svc.deps.db.orm.update(transacciones).set({ errorCodigo: 'reembolso_rechazado', errorDetalle: result.message, actualizadaEn: NOW }).where(eq(transacciones.id, tx.id));
    return { retryInMs: 15 * 60_000, note: result.message };
  }
  await svc.deps.db.transaction((t) => markRefunded(t, tx.id, { rawStatus: result.rawStatus, refundId: result.refundId, motivo }));
}

async function removeVoucher(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const tx = await findById(svc.deps.db.orm, txId(job));
  if (!tx || tx.estado !== 'reembolsada' || !tx.usuarioHotspot) return;
  const hotspot = svc.hotspot();
  const user = await hotspot.findUser(tx.routerId, tx.usuarioHotspot);
  // Only our own voucher (by comment) is removed.
  if (user && (!user.comment || user.comment === voucherComment(tx.referencia ?? String(tx.id)))) {
    await hotspot.removeVoucher(tx.routerId, tx.usuarioHotspot);
  }
  await svc.deps.db.orm.update(transacciones).set({ estadoHotspot: 'disabled', actualizadaEn: NOW }).where(eq(transacciones.id, tx.id));
}

async function reconcile(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const { db } = svc.deps;
  const tx = await findById(db.orm, txId(job));
  if (!tx || (tx.estado !== 'iniciada' && tx.estado !== 'en_revision')) return;
  let payment: GatewayPayment | null;
  try {
    payment = await svc.lookupPayment(tx);
  } catch (e) {
    return { retryInMs: svc.outbox.backoff(job.attempts), note: errorText(e) };
  }
  if (payment) {
    const effect = await settle(svc, tx, payment, job.attempts);
    if (effect === 'pending' || (payment.status === 'pending' && effect === 'none')) {
      if (svc.pendingGaveUp(tx)) return;
      return { retryInMs: svc.pendingPollMs(job.attempts), note: `pago ${payment.rawStatus}` };
    }
    if (payment.status === 'unknown') return { retryInMs: svc.pendingPollMs(job.attempts), note: `estado ${payment.rawStatus}` };
    return;
  }
  // Nothing at the gateway under our reference. Wait until the charge call has certainly ended.
  const [age] = await db.query<{ ms: number | string }>(
    `SELECT EXTRACT(EPOCH FROM ((now() AT TIME ZONE 'utc') - coalesce(cobro_intentado_en, creada_en))) * 1000 AS ms FROM transacciones WHERE id = $1`,
    [tx.id],
  );
  const waited = Number(age?.ms ?? 0);
  const grace = tx.cobroIntentadoEn ? svc.notFoundGraceMs() : svc.abandonedAfterMs();
  if (waited < grace) return { retryInMs: Math.max(200, grace - waited), note: 'sin pago todavía' };
  await db.transaction((t) =>
    markDeclined(t, tx.id, {
      rawStatus: 'not_found',
      code: 'sin_cobro',
      message: 'La pasarela no registró ningún cobro para esta compra',
      notifyCompany: false,
    }),
  );
}

async function applyPayment(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const tx = await findById(svc.deps.db.orm, txId(job));
  if (!tx) return;
  const paymentId = typeof job.payload.paymentId === 'string' && job.payload.paymentId ? job.payload.paymentId : null;
  let payment: GatewayPayment | null;
  try {
    payment = paymentId ? await svc.getPayment(tx, paymentId) : await svc.lookupPayment(tx);
  } catch (e) {
    if (job.attempts >= 30) return;
    return { retryInMs: svc.outbox.backoff(job.attempts), note: errorText(e) };
  }
  if (job.payload.source === 'webhook') {
    await svc.deps.db.orm
      .update(transacciones)
      .set({
        webhookProcessed: true,
        webhookReceivedAt: NOW,
        notificationId: typeof job.payload.eventId === 'string' && job.payload.eventId ? job.payload.eventId.slice(0, 100) : tx.notificationId,
      })
      .where(eq(transacciones.id, tx.id));
  }
  if (!payment || !paymentMatches(tx, payment)) return;
  await settle(svc, tx, payment);
}

/** A webhook that arrived before we knew its payment (or before the purchase committed): look again. */
async function webhookLookup(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const gateway = job.payload.gateway === 'conekta' ? 'conekta' : 'mercado_pago';
  const input = job.payload.input as WebhookInput;
  const receivedAt = Number(job.payload.receivedAt) || Date.now();
  const notice = (gateway === 'conekta' ? svc.conekta : svc.mercadoPago).parseWebhook(input);
  if (!notice) return;
  const tx = await svc.findWebhookTransaction(gateway, notice);
  if (!tx) return job.attempts >= 20 ? undefined : { retryInMs: 15_000, note: 'transacción aún desconocida' };
  if (!(await svc.webhookSignatureOk(gateway, tx, input, receivedAt))) {
    svc.deps.logger.warn({ transaccion: tx.id, gateway }, 'webhook con firma inválida descartado');
    return;
  }
  await enqueue(svc.deps.db.orm, JOB.applyPayment, { transaccionId: tx.id, paymentId: notice.paymentId, source: 'webhook', eventId: notice.eventId });
}

async function sendNotice(svc: PaymentsService, job: OutboxJob): Promise<JobResult> {
  const { db, secrets, logger } = svc.deps;
  const tx = await findById(db.orm, txId(job));
  if (!tx) return;
  const creds = await svc.deps.companies.getGatewayCredentials(tx.empresaId);
  const tg = creds?.telegram;
  if (!creds || !tg?.enabled || !tg.botToken || !tg.chatId) return;
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
    // A message Telegram refuses (400) will be refused again; anything else is retried a while.
    if (isTelegramRejection(e) || job.attempts >= 8) {
      logger.warn({ transaccion: tx.id, tipo: kind, err: errorText(e) }, 'aviso de Telegram no enviado');
      return;
    }
    throw e;
  }
}

