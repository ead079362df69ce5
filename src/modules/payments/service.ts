/**
 * The payments module: gateways, the purchase flow, idempotency, workers and the operations behind the
 * payment, webhook and refund endpoints. Built once per context (ctx.payments).
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Database } from '../../infra/db/index.js';
import type { SecretBoxes } from '../../infra/crypto/secrets.js';
import { Outbox, enqueue, type OutboxOptions } from '../../infra/outbox.js';
import { ApiError } from '../../infra/errors.js';
import type { AuditActor, AuditLog } from '../tenants/audit.js';
import { ConektaGateway } from './gateways/conekta.js';
import { MercadoPagoGateway } from './gateways/mercadopago.js';
import { GatewayRefusedError, type GatewayName, type GatewayPayment, type WebhookInput, type WebhookNotice } from './gateways/types.js';
import { IdempotencyStore } from './idempotency.js';
import type { CatalogPort, CompaniesPort, HotspotPort, TelegramPort } from './ports.js';
import { JOB, findByGatewayId, findById, findByReferencia, type Transaccion } from './repository.js';
import { MONEY_KEPT, type Estado } from './transitions.js';
import { registerWorkers } from './workers.js';
import type { VoucherLengths } from './vouchers.js';

/** How long an admin's refund answer waits for a run another worker already started (the gateway call is bounded by its timeout). */
const REFUND_ANSWER_WAIT_MS = 20_000;

export interface PaymentsDeps {
  config: Config;
  logger: Logger;
  db: Database;
  secrets: SecretBoxes;
  audit: AuditLog;
  catalog: CatalogPort;
  companies: CompaniesPort;
  telegram: TelegramPort;
  /** Counters (dead jobs); optional for tools that build the service alone. */
  metrics?: { outboxDeadJobs: { inc(labels: { kind: string }): void } };
  /** Resolved lazily: the RouterOS module is built alongside this one. */
  hotspot: () => HotspotPort | undefined;
}

/** Test seams (e.g. die right after the charge is recorded). Never set in production. */
export interface PaymentHooks {
  /** Test seam: after the checks, just before the attempt is recorded (nothing charged yet). */
  beforeAttempt?: (info: { referencia: string }) => void | Promise<void>;
  afterChargeRecorded?: (info: { transaccionId: number; referencia: string; outcome: string }) => void | Promise<void>;
  /** Test seam: the router was written (voucher created, or a top-up's limits set), before that is recorded. */
  afterRouterWrite?: (info: { transaccionId: number; referencia: string; recarga: boolean }) => void | Promise<void>;
}

export type RefundOutcome = { kind: 'ok'; rawStatus: string; refundId: string | null } | { kind: 'refused'; message: string };

export class PaymentsService {
  readonly conekta: ConektaGateway;
  readonly mercadoPago: MercadoPagoGateway;
  readonly outbox: Outbox;
  readonly idempotency: IdempotencyStore;
  readonly voucherLengths: VoucherLengths;
  hooks: PaymentHooks = {};

  constructor(
    readonly deps: PaymentsDeps,
    outboxOptions: OutboxOptions = {},
  ) {
    const c = deps.config;
    this.conekta = new ConektaGateway({ apiBase: c.conektaApiBase, timeoutMs: c.gatewayTimeoutMs });
    this.mercadoPago = new MercadoPagoGateway({ apiBase: c.mercadoPagoApiBase, timeoutMs: c.gatewayTimeoutMs, publicBaseUrl: c.publicBaseUrl });
    this.outbox = new Outbox(deps.db, deps.logger, { pollMs: 500, concurrency: 8, leaseMs: 6_000, ...outboxOptions });
    this.outbox.onDeadMetric = (kind) => deps.metrics?.outboxDeadJobs.inc({ kind });
    this.idempotency = new IdempotencyStore(deps.db, deps.secrets.general, c.idempotencyWaitMs, c.idempotencyStaleMs);
    this.voucherLengths = { username: c.voucherUsernameLength, password: c.voucherPasswordLength, pin: c.voucherPinLength };
    registerWorkers(this);
  }

  hotspot(): HotspotPort {
    const h = this.deps.hotspot();
    if (!h) throw new Error('El módulo de routers (ctx.hotspot) no está disponible');
    return h;
  }

  async startWorkers(): Promise<void> {
    // The recurring retention job (one per database, whichever instance runs it).
    await enqueue(this.deps.db.orm, JOB.purge, {}, { dedupeKey: 'pagos:purgar', delayMs: 60_000 }).catch((e: unknown) =>
      this.deps.logger.warn({ err: e }, 'pagos: no se pudo programar la depuración'),
    );
    if (!/^https:\/\//i.test(this.deps.config.publicBaseUrl)) {
      this.deps.logger.warn(
        { publicBaseUrl: this.deps.config.publicBaseUrl },
        'PUBLIC_BASE_URL no es https: los pagos de Mercado Pago se crean sin notification_url (Mercado Pago la rechazaría); configure el webhook de la cuenta en "Tus integraciones"',
      );
    }
    return this.outbox.start();
  }

  stopWorkers(): Promise<void> {
    return this.outbox.stop();
  }

  // --- Timing (all derived from the gateway timeout, so tests with short timeouts run fast) ---

  /** After an unknown outcome, when to ask the gateway first. */
  reconcileDelayMs(): number {
    return Math.min(10_000, this.deps.config.gatewayTimeoutMs);
  }

  /** A charge call started this long ago has certainly ended (answered or timed out). */
  notFoundGraceMs(): number {
    return 2 * this.deps.config.gatewayTimeoutMs + 2_000;
  }

  /** A purchase row older than this without a recorded outcome was abandoned (crash): reconcile it. */
  abandonedAfterMs(): number {
    return 2 * this.deps.config.gatewayTimeoutMs + 5_000;
  }

  /** Polling interval of a pending payment (grows to 30 minutes). */
  pendingPollMs(attempt: number): number {
    return Math.min(30 * 60_000, 2_000 * 2 ** Math.max(0, Math.min(20, attempt - 1)));
  }

  /** Pending for a week: stop polling (a late webhook still settles it). */
  pendingGaveUp(tx: Transaccion): boolean {
    const created = tx.creadaEn ? Date.parse(tx.creadaEn.replace(' ', 'T') + 'Z') : Date.now();
    return Date.now() - created > 7 * 24 * 3600_000;
  }

  // --- Gateway access with the company's credentials ---

  private async credentials(empresaId: string) {
    const creds = await this.deps.companies.getGatewayCredentials(empresaId);
    if (!creds) throw new Error(`empresa ${empresaId} no encontrada`);
    return creds;
  }

  async getPayment(tx: Transaccion, paymentId: string): Promise<GatewayPayment | null> {
    const creds = await this.credentials(tx.empresaId);
    if (tx.pasarela === 'conekta') return this.conekta.getPayment({ privateKey: creds.conekta.privateKey }, paymentId);
    return this.mercadoPago.getPayment({ accessToken: creds.mercadoPago.accessToken ?? '' }, paymentId);
  }

  /** The gateway's view of a purchase: by its payment id when known, else by our reference. */
  async lookupPayment(tx: Transaccion): Promise<GatewayPayment | null> {
    if (tx.transaccionId) {
      const p = await this.getPayment(tx, tx.transaccionId);
      if (p) return p;
    }
    if (!tx.referencia) return null;
    const creds = await this.credentials(tx.empresaId);
    if (tx.pasarela === 'conekta') {
      const at = tx.cobroIntentadoEn ?? tx.creadaEn;
      return this.conekta.findByReference({ privateKey: creds.conekta.privateKey }, tx.referencia, at ? new Date(at.replace(' ', 'T') + 'Z') : new Date());
    }
    return this.mercadoPago.findByReference({ accessToken: creds.mercadoPago.accessToken ?? '' }, tx.referencia);
  }

  /** Cents still with the company (what a refund gives back). */
  remainingCents(tx: Transaccion): number {
    return Math.max(0, (tx.montoCentavos ?? 0) - (tx.reembolsadoCentavos ?? 0));
  }

  /**
   * Refund what is left of the payment at the gateway, idempotent by its refund key (per purchase and
   * refunded-so-far amount: a retry after a lost answer reuses it). Throws GatewayUnavailableError to retry.
   */
  async refundAtGateway(tx: Transaccion): Promise<RefundOutcome> {
    const creds = await this.credentials(tx.empresaId);
    const already = tx.reembolsadoCentavos ?? 0;
    const key = `refund-${tx.referencia ?? tx.id}${already > 0 ? `-r${already}` : ''}`;
    const amount = this.remainingCents(tx);
    try {
      if (tx.pasarela === 'conekta') {
        const r = await this.conekta.refund({ privateKey: creds.conekta.privateKey }, tx.transaccionId!, key, amount);
        return { kind: 'ok', rawStatus: r.payment?.status === 'refunded' ? r.payment.rawStatus || 'refunded' : 'refunded', refundId: r.refundId };
      }
      const r = await this.mercadoPago.refund({ accessToken: creds.mercadoPago.accessToken ?? '' }, tx.transaccionId!, key, amount);
      return { kind: 'ok', rawStatus: 'refunded', refundId: r.refundId };
    } catch (e) {
      if (e instanceof GatewayRefusedError) return { kind: 'refused', message: e.message };
      throw e;
    }
  }

  // --- Webhooks ---

  async findWebhookTransaction(gateway: GatewayName, notice: WebhookNotice): Promise<Transaccion | null> {
    if (notice.paymentId) {
      const tx = await findByGatewayId(this.deps.db.orm, gateway, notice.paymentId);
      if (tx) return tx;
    }
    if (notice.reference) {
      const tx = await findByReferencia(this.deps.db.orm, notice.reference);
      if (tx && tx.pasarela === gateway) return tx;
    }
    return null;
  }

  /**
   * Did the gateway send this notice? Conekta keeps its events (conekta/openapi resources/events/event.yml:
   * GET /events/{id}): the event must exist and be about this order. Mercado Pago has no such read; its
   * notice counts as confirmed once the payment read matched (and its signature, when configured, held).
   */
  async webhookEventConfirmed(tx: Transaccion, eventId: string | null, paymentId: string): Promise<boolean> {
    if (tx.pasarela !== 'conekta') return true;
    if (!eventId) return false;
    const creds = await this.credentials(tx.empresaId);
    const event = await this.conekta.getEvent({ privateKey: creds.conekta.privateKey }, eventId);
    return !!event && event.orderId === paymentId;
  }

  /**
   * Whose payment is this (a notice carries only its id)? Ask the gateway with the credentials of the
   * companies that have a purchase of this gateway without a gateway id (its answer was lost) or declared
   * unpaid, recently; at most `maxCompanies` reads. Returns the purchase the payment's reference names.
   */
  async findPaymentOwner(gateway: GatewayName, paymentId: string, maxCompanies = 20): Promise<Transaccion | null> {
    const horizonHours = Math.max(1, Math.ceil(this.deps.config.paymentNotFoundHorizonMs / 3600_000) * 4);
    const companies = await this.deps.db.query<{ empresa_id: string }>(
      `SELECT empresa_id FROM transacciones
        WHERE pasarela = $1 AND referencia IS NOT NULL AND creada_en > (now() AT TIME ZONE 'utc') - make_interval(hours => $2)
          AND (estado IN ('iniciada', 'en_revision') OR (estado = 'rechazada' AND error_codigo = 'sin_cobro'))
        GROUP BY empresa_id ORDER BY max(creada_en) DESC LIMIT $3`,
      [gateway, horizonHours, maxCompanies],
    );
    for (const { empresa_id } of companies) {
      const creds = await this.deps.companies.getGatewayCredentials(empresa_id);
      if (!creds) continue;
      const p =
        gateway === 'conekta'
          ? creds.conekta.privateKey
            ? await this.conekta.getPayment({ privateKey: creds.conekta.privateKey }, paymentId)
            : null
          : creds.mercadoPago.accessToken
            ? await this.mercadoPago.getPayment({ accessToken: creds.mercadoPago.accessToken }, paymentId)
            : null;
      if (!p?.reference) continue;
      const tx = await findByReferencia(this.deps.db.orm, p.reference);
      if (tx && tx.empresaId === empresa_id && tx.pasarela === gateway) return tx;
    }
    return null;
  }

  async conektaWebhookKey(empresaId: string): Promise<string | null> {
    const [row] = await this.deps.db.query<{ k: string | null }>('SELECT conekta_webhook_public_key AS k FROM empresas WHERE id = $1', [empresaId]);
    return row?.k && row.k.trim() !== '' ? row.k : null;
  }

  /** True when the company has no webhook secret/key configured, or the signature is valid. */
  async webhookSignatureOk(gateway: GatewayName, tx: Transaccion, input: WebhookInput, receivedAt = Date.now()): Promise<boolean> {
    if (gateway === 'conekta') {
      const key = await this.conektaWebhookKey(tx.empresaId);
      return !key || this.conekta.verifyWebhook(input, key);
    }
    const creds = await this.credentials(tx.empresaId);
    const secret = creds.mercadoPago.webhookSecret;
    return !secret || this.mercadoPago.verifyWebhook(input, secret, receivedAt);
  }

  // --- Company admin refund ---

  /**
   * A company admin's refund is a durable job (the gateway call and its record both happen in the worker,
   * idempotent by the refund key), so a refund the gateway made is always recorded. The job is run at once
   * here; the answer is the job's state (done, or still pending/retrying with its last error).
   */
  async adminRefund(actor: AuditActor, empresaId: string, id: number, motivo: string | null): Promise<{ tx: Transaccion; job: RefundJobState }> {
    const tx = await findById(this.deps.db.orm, id);
    if (!tx || tx.empresaId !== empresaId) throw new ApiError(404, 'Transacción no encontrada', 'transaction_not_found');
    if (tx.estado === 'reembolsada') throw new ApiError(409, 'La transacción ya fue reembolsada', 'already_refunded');
    if (!MONEY_KEPT.includes(tx.estado as Estado)) {
      throw new ApiError(409, 'La transacción no tiene un cobro aprobado que reembolsar', 'not_refundable');
    }
    if (!tx.referencia || !tx.transaccionId || !tx.pasarela) {
      throw new ApiError(409, 'Esta transacción es anterior al sistema actual; reembólsela desde el panel de la pasarela', 'legacy_transaction');
    }
    const text = motivo?.trim() || 'Reembolso solicitado por la empresa';
    const jobId = await this.deps.db.transaction(async (t) => {
      const created = await enqueue(t, JOB.refund, { transaccionId: id, motivo: text, origen: 'empresa' }, { dedupeKey: `reembolsar:${id}` });
      await this.deps.audit.record(
        actor,
        { accion: 'transaccion.reembolso', empresaId, recurso: 'transaccion', recursoId: id, detalles: { referencia: tx.referencia, pasarela: tx.pasarela, monto: tx.monto, motivo: text } },
        t,
      );
      return created;
    });
    const job = jobId ?? (await this.openRefundJob(id).catch(() => null));
    if (job !== null) {
      try {
        // A worker woken by the enqueue may hold the job already: then wait for its run, not report it half-done.
        if (!(await this.outbox.runNow(job))) await this.outbox.awaitIdle(job, REFUND_ANSWER_WAIT_MS);
      } catch (e) {
        this.deps.logger.warn({ err: e, transaccion: id }, 'reembolso: primer intento falló');
      }
    }
    try {
      return { tx: (await findById(this.deps.db.orm, id))!, job: await this.refundJobState(id, job) };
    } catch (e) {
      // The job is committed; even if its state cannot be read now, the answer says it is on its way.
      this.deps.logger.warn({ err: e, transaccion: id }, 'reembolso: estado del trabajo no disponible');
      return { tx, job: { id: job, estado: 'reintentando', intentos: 1, ultimo_error: 'base de datos no disponible' } };
    }
  }

  private async openRefundJob(id: number): Promise<number | null> {
    const [row] = await this.deps.db.query<{ id: string | number }>(`SELECT id FROM outbox WHERE dedupe_key = $1 AND done_at IS NULL`, [`reembolsar:${id}`]);
    return row ? Number(row.id) : null;
  }

  /** The refund job's state as the company sees it. */
  async refundJobState(transaccionId: number, jobId: number | null): Promise<RefundJobState> {
    const rows = jobId
      ? await this.deps.db.query<{ id: string | number; attempts: number; last_error: string | null; done_at: unknown; dead_at: unknown; run_at: unknown }>(
          `SELECT id, attempts, last_error, done_at, dead_at, run_at FROM outbox WHERE id = $1`,
          [jobId],
        )
      : [];
    const j = rows[0];
    const tx = await findById(this.deps.db.orm, transaccionId);
    const estado: RefundJobState['estado'] =
      tx?.estado === 'reembolsada' ? 'completado' : !j ? 'pendiente' : j.dead_at ? 'fallido' : j.done_at ? 'completado' : j.attempts > 0 && j.last_error ? 'reintentando' : 'pendiente';
    return { id: j ? Number(j.id) : null, estado, intentos: j?.attempts ?? 0, ultimo_error: estado === 'completado' ? null : (j?.last_error ?? tx?.errorDetalle ?? null) };
  }
}

export interface RefundJobState {
  id: number | null;
  /** pendiente (not run yet, or running now) | reintentando (the gateway failed; retried with backoff) | completado | fallido (gave up: alerted) */
  estado: 'pendiente' | 'reintentando' | 'completado' | 'fallido';
  intentos: number;
  ultimo_error: string | null;
}
