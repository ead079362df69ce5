/**
 * Mercado Pago adapter: card payments (`binary_mode`, our referencia as `X-Idempotency-Key` and
 * `external_reference`, device fingerprint as `X-meli-session-id`), read-back by id or by reference,
 * refunds, and webhooks signed with `x-signature` (HMAC-SHA256 over the documented manifest).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type ChargeRequest,
  type ChargeResult,
  type GatewayPayment,
  GatewayRefusedError,
  GatewayUnavailableError,
  type PaymentGateway,
  type PaymentStatus,
  type RefundResult,
  type WebhookInput,
  type WebhookNotice,
  header,
} from './types.js';
import { type HttpOutcome, isObject, requestJson, str } from './http.js';
import { INTERNAL_MESSAGE, statusDetailMessage } from './mercadopago-tables.js';

/** A gateway 429 on a charge: nothing was charged, the customer may retry shortly (with a new attempt). */
export const RATE_LIMITED_MESSAGE = 'La pasarela de pago está saturada en este momento. No se realizó ningún cargo; intente de nuevo en unos minutos.';

export interface MercadoPagoCredentials {
  accessToken: string;
}

/** How far a signed notification's `ts` may be from our clock. */
export const SIGNATURE_WINDOW_MS = 15 * 60 * 1000;

const STATUS_MAP: Readonly<Record<string, PaymentStatus>> = {
  approved: 'approved',
  pending: 'pending',
  in_process: 'pending',
  authorized: 'pending',
  rejected: 'rejected',
  cancelled: 'cancelled',
  refunded: 'refunded',
  charged_back: 'charged_back',
};

export const NOTIFICATION_URL_MAX = 248;

export function mercadoPagoNotificationUrl(publicBaseUrl: string): string | null {
  if (!/^https:\/\/[^/]/i.test(publicBaseUrl)) return null;
  const url = `${publicBaseUrl}/api/v1/webhook/mercado-pago?source_news=webhooks`;
  return url.length <= NOTIFICATION_URL_MAX ? url : null;
}

/** Digits for MP's phone: a 12-digit number starting with 52 loses the country code (legacy rule). */
export function mercadoPagoPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return digits.length === 12 && digits.startsWith('52') ? digits.slice(2) : digits;
}

export function toPayment(p: Record<string, unknown>): GatewayPayment {
  const rawStatus = str(p.status) ?? '';
  const amount = typeof p.transaction_amount === 'number' ? p.transaction_amount : null;
  // sdk-nodejs src/clients/payment/commonTypes.ts: transaction_amount_refunded. A partial refund keeps
  // status `approved` with status_detail `partially_refunded`.
  const refunded = typeof p.transaction_amount_refunded === 'number' ? Math.round(p.transaction_amount_refunded * 100) : null;
  const detail = str(p.status_detail) ?? '';
  const mapped = STATUS_MAP[rawStatus.toLowerCase()] ?? 'unknown';
  const partial = mapped === 'approved' && (detail === 'partially_refunded' || (refunded !== null && refunded > 0));
  return {
    id: str(p.id) ?? '',
    status: partial ? 'partially_refunded' : mapped,
    rawStatus: partial ? 'partially_refunded' : rawStatus,
    statusDetail: detail,
    amountCents: amount === null ? null : Math.round(amount * 100),
    refundedCents: refunded,
    currency: str(p.currency_id) ?? str(p.currency),
    reference: str(p.external_reference),
    raw: p,
  };
}

export class MercadoPagoGateway implements PaymentGateway<MercadoPagoCredentials> {
  readonly name = 'mercado_pago' as const;

  constructor(private readonly opts: { apiBase: string; timeoutMs: number; publicBaseUrl: string }) {}

  private call(creds: MercadoPagoCredentials, method: 'GET' | 'POST', path: string, body?: unknown, extra: Record<string, string> = {}): Promise<HttpOutcome> {
    return requestJson({
      method,
      url: `${this.opts.apiBase}${path}`,
      headers: { authorization: `Bearer ${creds.accessToken}`, accept: 'application/json', 'content-type': 'application/json', ...extra },
      body,
      timeoutMs: this.opts.timeoutMs,
    });
  }

  /**
   * The webhook URL MP should notify, or null when it would be refused: MP answers 400
   * `invalid_notification_url` unless it is https and at most 248 characters. `source_news=webhooks` asks
   * for signed Webhooks only (no unsigned IPN posts). Without it, the account-level Webhooks setting applies
   * (MP docs, "Webhooks": URLs set at payment creation take precedence over those of "Your integrations").
   */
  notificationUrl(): string | null {
    return mercadoPagoNotificationUrl(this.opts.publicBaseUrl);
  }

  buildPayload(req: ChargeRequest): Record<string, unknown> {
    const mp = req.mercadoPago!;
    const name = req.customer.name.trim();
    const space = name.indexOf(' ');
    const payer: Record<string, unknown> = { email: req.customer.email, first_name: space < 0 ? name : name.slice(0, space) };
    if (space >= 0 && name.slice(space + 1).trim() !== '') payer.last_name = name.slice(space + 1).trim();
    if (req.customer.phone) payer.phone = { area_code: '', number: mercadoPagoPhone(req.customer.phone) };
    const amount = req.amountCents / 100;
    const payload: Record<string, unknown> = {
      transaction_amount: amount,
      token: req.cardToken,
      description: `Acceso Hotspot - ${req.productName}`,
      payment_method_id: mp.paymentMethodId,
      installments: mp.installments,
      external_reference: req.referencia,
      statement_descriptor: 'HOTSPOT WIFI',
      payer,
      // No router address here (the legacy leaked it to MP).
      metadata: { ...req.metadata, referencia: req.referencia, product_name: req.productName },
      additional_info: {
        items: [
          {
            id: String(req.productId),
            title: req.productName,
            description: `Acceso WiFi - ${req.productName}`,
            category_id: 'services',
            quantity: 1,
            unit_price: amount,
          },
        ],
        ip_address: req.clientIp,
      },
    };
    if (req.threeDs) {
      // MP "How to integrate 3DS with Checkout API/Bricks": three_d_secure_mode "optional" (the default is
      // not_supported). binary_mode rejects every pending payment, and a challenge is one: it stays off here.
      payload.three_d_secure_mode = 'optional';
    } else {
      // Legacy endpoints: approved or rejected at once, never pending.
      payload.binary_mode = true;
    }
    const url = this.notificationUrl();
    if (url) payload.notification_url = url;
    if (mp.issuerId && mp.mode !== 'test') payload.issuer_id = mp.issuerId;
    return payload;
  }

  async charge(creds: MercadoPagoCredentials, req: ChargeRequest): Promise<ChargeResult> {
    const extra: Record<string, string> = { 'x-idempotency-key': req.referencia };
    if (req.mercadoPago?.deviceId) extra['x-meli-session-id'] = req.mercadoPago.deviceId;
    const r = await this.call(creds, 'POST', '/v1/payments', this.buildPayload(req), extra);
    if (r.kind === 'timeout') return { outcome: 'unknown', reason: 'timeout', httpStatus: 500, message: INTERNAL_MESSAGE, code: 'gateway_timeout' };
    if (r.kind === 'network') return { outcome: 'unknown', reason: 'network', httpStatus: 500, message: INTERNAL_MESSAGE, code: 'gateway_unreachable' };
    const body = isObject(r.json) ? r.json : null;
    if (r.status === 400 || body?.status === 400) {
      const m = str(body?.message) || 'Error de validación';
      return { outcome: 'declined', payment: null, httpStatus: 400, message: `Error de validación: ${m}`, code: 'mp_validation_error' };
    }
    if (r.status >= 500) return { outcome: 'unknown', reason: 'server_error', httpStatus: 500, message: INTERNAL_MESSAGE, code: 'gateway_error' };
    // 429: refused before anything was created (sdk-nodejs src/utils/errors: MPTooManyRequestsError, retryable): not a decline.
    if (r.status === 429) return { outcome: 'declined', payment: null, httpStatus: 429, message: RATE_LIMITED_MESSAGE, code: 'gateway_rate_limited', retryable: true };
    if (r.status >= 400) {
      // MP refused before creating anything (bad credentials, unknown resource): no money moved.
      return { outcome: 'declined', payment: null, httpStatus: 502, message: `Estado de pago no manejado: ${r.status}`, code: 'mp_refused' };
    }
    if (!body || !str(body.id) || typeof body.status !== 'string') {
      return { outcome: 'unknown', reason: 'bad_response', httpStatus: 500, message: INTERNAL_MESSAGE, code: 'gateway_bad_response' };
    }
    const payment = toPayment(body);
    if (payment.status === 'approved') return { outcome: 'approved', payment };
    if (payment.status === 'pending') {
      const challenge = req.threeDs ? iframeChallenge(body) : null;
      if (challenge) return { outcome: 'challenge', payment, challenge };
      return { outcome: 'pending', payment };
    }
    if (payment.status === 'rejected' || payment.status === 'cancelled') {
      return { outcome: 'declined', payment, httpStatus: 402, message: statusDetailMessage(payment.statusDetail), code: 'mp_rejected' };
    }
    return {
      outcome: 'unknown',
      reason: 'bad_response',
      httpStatus: 500,
      message: `Estado de pago no manejado: ${payment.rawStatus.toLowerCase()}`,
      code: 'gateway_unexpected_status',
    };
  }

  async getPayment(creds: MercadoPagoCredentials, paymentId: string): Promise<GatewayPayment | null> {
    const r = await this.call(creds, 'GET', `/v1/payments/${encodeURIComponent(paymentId)}`);
    if (r.kind === 'response' && r.status === 200 && isObject(r.json) && str(r.json.id)) return toPayment(r.json);
    if (r.kind === 'response' && r.status === 404) return null;
    throw unavailable(r);
  }

  /**
   * Our payment by external_reference through `/v1/payments/search` (sdk-nodejs
   * src/clients/payment/search). The search is an index that lags behind payment creation: a miss is not
   * proof that no charge exists (the reconciler keeps asking for a long horizon).
   */
  async findByReference(creds: MercadoPagoCredentials, referencia: string): Promise<GatewayPayment | null> {
    const r = await this.call(creds, 'GET', `/v1/payments/search?external_reference=${encodeURIComponent(referencia)}&sort=date_created&criteria=desc`);
    if (r.kind !== 'response' || r.status !== 200 || !isObject(r.json)) throw unavailable(r);
    const results = Array.isArray(r.json.results) ? r.json.results : [];
    const found = results.filter(isObject).map(toPayment).filter((p) => p.reference === referencia);
    return found.find((p) => p.status !== 'rejected' && p.status !== 'cancelled') ?? found[0] ?? null;
  }

  /**
   * Refund `amountCents` (sdk-nodejs src/clients/paymentRefund/create: POST /v1/payments/{id}/refunds,
   * `amount` optional, omitted = the whole remaining balance). Every write carries `X-Idempotency-Key`
   * (sdk-nodejs src/utils/restClient/index.ts adds it to every non-GET request).
   */
  async refund(creds: MercadoPagoCredentials, paymentId: string, idempotencyKey: string, amountCents: number): Promise<RefundResult> {
    const r = await this.call(creds, 'POST', `/v1/payments/${encodeURIComponent(paymentId)}/refunds`, { amount: amountCents / 100 }, { 'x-idempotency-key': idempotencyKey });
    if (r.kind === 'response' && (r.status === 200 || r.status === 201) && isObject(r.json)) {
      return { refundId: str(r.json.id), payment: null };
    }
    if (r.kind === 'response' && r.status >= 400 && r.status < 500 && r.status !== 429) {
      const current = await this.getPayment(creds, paymentId);
      if (current?.status === 'refunded') return { refundId: null, payment: current };
      const m = isObject(r.json) ? (str(r.json.message) ?? '') : '';
      throw new GatewayRefusedError(`Mercado Pago rechazó el reembolso (${r.status}${m ? `: ${m}` : ''})`, r.status);
    }
    throw unavailable(r);
  }

  parseWebhook(input: WebhookInput): WebhookNotice | null {
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(input.rawBody);
      if (isObject(parsed)) body = parsed;
    } catch {
      /* legacy IPN posts carry everything in the query string */
    }
    const data = isObject(body.data) ? body.data : {};
    const q = input.query;
    const topic = q.topic ?? null;
    const paymentId = q['data.id'] ?? str(data.id) ?? (topic === 'payment' ? (q.id ?? null) : null);
    const type = str(body.type) ?? q.type ?? topic ?? 'unknown';
    if (!paymentId && Object.keys(body).length === 0) return null;
    return {
      eventId: str(body.id) ?? q.id ?? '',
      type,
      action: str(body.action),
      paymentId: paymentId ?? null,
      reference: str(body.external_reference) ?? str(data.external_reference),
    };
  }

  /** MP's manifest: `id:<data.id>;request-id:<x-request-id>;ts:<ts>;` (data.id from the URL, lower-cased). */
  verifyWebhook(input: WebhookInput, secret: string, nowMs = Date.now()): boolean {
    const signature = header(input.headers, 'x-signature');
    const requestId = header(input.headers, 'x-request-id');
    if (!signature) return false;
    let ts: string | null = null;
    let v1: string | null = null;
    for (const part of signature.split(',')) {
      const [k, v] = part.trim().split('=', 2);
      if (k === 'ts') ts = v ?? null;
      if (k === 'v1') v1 = v ?? null;
    }
    if (!ts || !v1 || !/^\d+$/.test(ts) || !/^[0-9a-f]{64}$/i.test(v1)) return false;
    const tsMs = ts.length >= 13 ? Number(ts) : Number(ts) * 1000;
    if (Math.abs(nowMs - tsMs) > SIGNATURE_WINDOW_MS) return false;
    let dataId = input.query['data.id'] ?? null;
    if (!dataId) {
      try {
        const b: unknown = JSON.parse(input.rawBody);
        dataId = isObject(b) && isObject(b.data) ? str(b.data.id) : null;
      } catch {
        dataId = null;
      }
    }
    if (dataId && /^[a-z0-9]+$/i.test(dataId)) dataId = dataId.toLowerCase();
    let manifest = '';
    if (dataId) manifest += `id:${dataId};`;
    if (requestId) manifest += `request-id:${requestId};`;
    manifest += `ts:${ts};`;
    const expected = createHmac('sha256', secret).update(manifest).digest();
    return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
  }
}

/**
 * A payment waiting for the customer's bank: MP "How to integrate 3DS" — `status: pending`, `status_detail:
 * pending_challenge`, and `three_ds_info: { external_resource_url, creq }`: the page POSTs `creq` to
 * `external_resource_url` inside an iframe; the final status is read back (GET /v1/payments/{id}) or notified.
 */
export function iframeChallenge(p: Record<string, unknown>): { kind: 'iframe'; url: string; creq: string } | null {
  if (str(p.status_detail) !== 'pending_challenge' || !isObject(p.three_ds_info)) return null;
  const url = str(p.three_ds_info.external_resource_url);
  const creq = str(p.three_ds_info.creq);
  if (!url || !creq) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? { kind: 'iframe', url: u.toString(), creq } : null;
  } catch {
    return null;
  }
}

/** The signature header MP would send for a notification (used by the fake and by tests). */
export function signMercadoPagoNotification(secret: string, dataId: string, requestId: string, ts: string): string {
  const id = /^[a-z0-9]+$/i.test(dataId) ? dataId.toLowerCase() : dataId;
  const v1 = createHmac('sha256', secret).update(`id:${id};request-id:${requestId};ts:${ts};`).digest('hex');
  return `ts=${ts},v1=${v1}`;
}

function unavailable(r: HttpOutcome): GatewayUnavailableError {
  if (r.kind === 'timeout') return new GatewayUnavailableError('Mercado Pago no respondió a tiempo');
  if (r.kind === 'network') return new GatewayUnavailableError(`No se pudo conectar con Mercado Pago (${r.message})`);
  return new GatewayUnavailableError(`Mercado Pago respondió ${r.status}`);
}
