/**
 * The payments module: gateways, the purchase flow, idempotency, workers and the operations behind the
 * payment, webhook and refund endpoints. Built once per context (ctx.payments).
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Database } from '../../infra/db/index.js';
import type { SecretBoxes } from '../../infra/crypto/secrets.js';
import { Outbox, type OutboxOptions } from '../../infra/outbox.js';
import { ApiError } from '../../infra/errors.js';
import type { AuditActor, AuditLog } from '../tenants/audit.js';
import { ConektaGateway } from './gateways/conekta.js';
import { MercadoPagoGateway } from './gateways/mercadopago.js';
import { GatewayRefusedError, type GatewayName, type GatewayPayment, type WebhookInput, type WebhookNotice } from './gateways/types.js';
import { IdempotencyStore } from './idempotency.js';
import type { CatalogPort, CompaniesPort, HotspotPort, TelegramPort } from './ports.js';
import { findByGatewayId, findById, findByReferencia, markRefunded, type Transaccion } from './repository.js';
import { registerWorkers } from './workers.js';
import type { VoucherLengths } from './vouchers.js';

export interface PaymentsDeps {
  config: Config;
  logger: Logger;
  db: Database;
  secrets: SecretBoxes;
  audit: AuditLog;
  catalog: CatalogPort;
  companies: CompaniesPort;
  telegram: TelegramPort;
  /** Resolved lazily: the RouterOS module is built alongside this one. */
  hotspot: () => HotspotPort | undefined;
}

/** Test seams (e.g. die right after the charge is recorded). Never set in production. */
export interface PaymentHooks {
  afterChargeRecorded?: (info: { transaccionId: number; referencia: string; outcome: string }) => void | Promise<void>;
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
    this.idempotency = new IdempotencyStore(deps.db, deps.secrets.general, c.idempotencyWaitMs);
    this.voucherLengths = { username: c.voucherUsernameLength, password: c.voucherPasswordLength, pin: c.voucherPinLength };
    registerWorkers(this);
  }

  hotspot(): HotspotPort {
    const h = this.deps.hotspot();
    if (!h) throw new Error('El módulo de routers (ctx.hotspot) no está disponible');
    return h;
  }

  startWorkers(): Promise<void> {
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
    if (tx.pasarela === 'conekta') return this.conekta.findByReference({ privateKey: creds.conekta.privateKey }, tx.referencia);
    return this.mercadoPago.findByReference({ accessToken: creds.mercadoPago.accessToken ?? '' }, tx.referencia);
  }

  /** Full refund at the gateway (idempotent per purchase). Throws GatewayUnavailableError to retry. */
  async refundAtGateway(tx: Transaccion): Promise<RefundOutcome> {
    const creds = await this.credentials(tx.empresaId);
    const key = `refund-${tx.referencia ?? tx.id}`;
    try {
      if (tx.pasarela === 'conekta') {
        const r = await this.conekta.refund({ privateKey: creds.conekta.privateKey }, tx.transaccionId!, key);
        return { kind: 'ok', rawStatus: r.payment?.rawStatus || 'refunded', refundId: r.refundId };
      }
      const r = await this.mercadoPago.refund({ accessToken: creds.mercadoPago.accessToken ?? '' }, tx.transaccionId!, key);
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

  async adminRefund(actor: AuditActor, empresaId: string, id: number, motivo: string | null): Promise<Transaccion> {
    const tx = await findById(this.deps.db.orm, id);
    if (!tx || tx.empresaId !== empresaId) throw new ApiError(404, 'Transacción no encontrada', 'transaction_not_found');
    if (tx.estado === 'reembolsada') throw new ApiError(409, 'La transacción ya fue reembolsada', 'already_refunded');
    if (tx.estado !== 'cobrada' && tx.estado !== 'entregada') {
      throw new ApiError(409, 'La transacción no tiene un cobro aprobado que reembolsar', 'not_refundable');
    }
    if (!tx.referencia || !tx.transaccionId || !tx.pasarela) {
      throw new ApiError(409, 'Esta transacción es anterior al sistema actual; reembólsela desde el panel de la pasarela', 'legacy_transaction');
    }
    let result: RefundOutcome;
    try {
      result = await this.refundAtGateway(tx);
    } catch (e) {
      this.deps.logger.warn({ err: e, transaccion: id }, 'reembolso: pasarela no disponible');
      throw new ApiError(502, 'La pasarela de pago no respondió; intente de nuevo en unos minutos', 'gateway_unavailable');
    }
    if (result.kind === 'refused') throw new ApiError(502, `La pasarela rechazó el reembolso: ${result.message}`, 'refund_refused');
    const text = motivo?.trim() || 'Reembolso solicitado por la empresa';
    await this.deps.db.transaction(async (t) => {
      await markRefunded(t, id, { rawStatus: result.rawStatus, refundId: result.refundId, motivo: text });
      await this.deps.audit.record(
        actor,
        { accion: 'transaccion.reembolso', empresaId, recurso: 'transaccion', recursoId: id, detalles: { referencia: tx.referencia, pasarela: tx.pasarela, monto: tx.monto, motivo: text } },
        t,
      );
    });
    return (await findById(this.deps.db.orm, id))!;
  }
}
