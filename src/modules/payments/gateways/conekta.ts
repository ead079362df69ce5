/**
 * Conekta adapter: card orders (API 2.1.0, Basic auth with the private key), read-back by id or by our
 * reference (stored in the order metadata), refunds, and webhooks signed with the account's webhook key
 * (RSA-SHA256 of the raw body, base64 in the `digest` header).
 */
import { createPublicKey, verify as verifySignature } from 'node:crypto';
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
import {
  HTTP_STATUS_MAP,
  INTERNAL_MESSAGE,
  INVALID_TOKEN_MESSAGE,
  LEGACY_REFUSED_TOKEN,
  TIMEOUT_MESSAGE,
  errorMessage,
  extractError,
  paymentStatusMessage,
} from './conekta-tables.js';

export const CONEKTA_ACCEPT = 'application/vnd.conekta-v2.1.0+json';
const USER_AGENT = 'MikroTik-Payment-API/1.0';

export interface ConektaCredentials {
  privateKey: string;
}

/** Order payment_status → our status. */
const STATUS_MAP: Readonly<Record<string, PaymentStatus>> = {
  paid: 'approved',
  pending_payment: 'pending',
  pending: 'pending',
  pre_authorized: 'pending',
  declined: 'rejected',
  failed: 'rejected',
  expired: 'cancelled',
  canceled: 'cancelled',
  cancelled: 'cancelled',
  voided: 'cancelled',
  refunded: 'refunded',
  // The sale stands; only part of the money went back (order.amount_refunded).
  partially_refunded: 'partially_refunded',
  chargeback: 'charged_back',
  charged_back: 'charged_back',
};

/** Legacy phone rule: +52 + 10 digits, or the fixed placeholder Conekta accepts. */
export function conektaPhone(phone: string | null): string {
  const digits = (phone ?? '').replace(/\D/g, '');
  if (digits.length === 12 && digits.startsWith('52')) return `+${digits}`;
  if (digits.length === 10) return `+52${digits}`;
  return '+521234567890';
}

export function orderToPayment(order: Record<string, unknown>): GatewayPayment {
  const rawStatus = str(order.payment_status) ?? '';
  const metadata = isObject(order.metadata) ? order.metadata : {};
  const charges = isObject(order.charges) && Array.isArray(order.charges.data) ? order.charges.data : [];
  const charge = isObject(charges[0]) ? charges[0] : {};
  return {
    id: str(order.id) ?? '',
    status: STATUS_MAP[rawStatus.toLowerCase()] ?? 'unknown',
    rawStatus,
    statusDetail: str(charge.failure_code) ?? str(charge.status) ?? '',
    amountCents: typeof order.amount === 'number' ? order.amount : null,
    // conekta/openapi schemas/orders/order_response.yml: amount_refunded, "the total amount refunded in cents".
    refundedCents: typeof order.amount_refunded === 'number' ? order.amount_refunded : null,
    currency: str(order.currency),
    reference: str(metadata.referencia),
    raw: order,
  };
}

export class ConektaGateway implements PaymentGateway<ConektaCredentials> {
  readonly name = 'conekta' as const;

  constructor(private readonly opts: { apiBase: string; timeoutMs: number }) {}

  private headers(creds: ConektaCredentials, idempotencyKey?: string): Record<string, string> {
    const h: Record<string, string> = {
      accept: CONEKTA_ACCEPT,
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${creds.privateKey}:`).toString('base64')}`,
      'user-agent': USER_AGENT,
      'accept-language': 'es',
    };
    if (idempotencyKey) h['idempotency-key'] = idempotencyKey;
    return h;
  }

  private call(creds: ConektaCredentials, method: 'GET' | 'POST', path: string, body?: unknown, idempotencyKey?: string): Promise<HttpOutcome> {
    return requestJson({ method, url: `${this.opts.apiBase}${path}`, headers: this.headers(creds, idempotencyKey), body, timeoutMs: this.opts.timeoutMs });
  }

  async charge(creds: ConektaCredentials, req: ChargeRequest): Promise<ChargeResult> {
    if (!req.cardToken || req.cardToken === LEGACY_REFUSED_TOKEN) {
      return { outcome: 'declined', payment: null, httpStatus: 400, message: INVALID_TOKEN_MESSAGE, code: 'invalid_card_token' };
    }
    const body = {
      currency: req.currency.toUpperCase(),
      customer_info: { name: req.customer.name, email: req.customer.email, phone: conektaPhone(req.customer.phone) },
      // conekta/openapi schemas/orders/product.yml: name 3–249 characters.
      line_items: [{ name: lineItemName(req.productName), unit_price: req.amountCents, quantity: 1 }],
      charges: [{ payment_method: { type: 'card', token_id: req.cardToken } }],
      metadata: conektaMetadata({ ...req.metadata, referencia: req.referencia }),
      // conekta/openapi schemas/orders/order_request.yml: three_ds_mode enum strict|not_strict|smart ("smart":
      // risk-based, challenged only when Conekta deems it risky); return_url: "the redirection callback upon
      // completion of the 3DS2 flow".
      ...(req.threeDs ? { three_ds_mode: 'smart', return_url: req.threeDs.returnUrl } : {}),
    };
    const r = await this.call(creds, 'POST', '/orders', body, req.referencia);
    if (r.kind === 'timeout') return { outcome: 'unknown', reason: 'timeout', httpStatus: 504, message: TIMEOUT_MESSAGE, code: 'gateway_timeout' };
    if (r.kind === 'network') return { outcome: 'unknown', reason: 'network', httpStatus: 500, message: INTERNAL_MESSAGE, code: 'gateway_unreachable' };
    if (r.status === 200) {
      // A 200 without an order we can read (the legacy crashed here after a possible charge): find out later.
      if (!isObject(r.json) || typeof r.json.payment_status !== 'string' || !str(r.json.id)) {
        return { outcome: 'unknown', reason: 'bad_response', httpStatus: 500, message: INTERNAL_MESSAGE, code: 'gateway_bad_response' };
      }
      const payment = orderToPayment(r.json);
      if (payment.rawStatus.toLowerCase() === 'paid') return { outcome: 'approved', payment };
      const challenge = req.threeDs ? redirectChallenge(r.json) : null;
      if (challenge && payment.status === 'pending') return { outcome: 'challenge', payment, challenge };
      return { outcome: 'declined', payment, httpStatus: 402, message: paymentStatusMessage(payment.rawStatus), code: 'payment_not_paid' };
    }
    const { code, technical } = extractError(r.json);
    const mapped = errorMessage(code, technical);
    // 429: refused before any order exists; "not charged, retry later", never a card decline.
    // (The legacy status and message stay: 429 "Límite de solicitudes excedido".)
    if (r.status === 429) return { outcome: 'declined', payment: null, httpStatus: 429, message: mapped.message, code: 'gateway_rate_limited', retryable: true };
    const status = HTTP_STATUS_MAP[r.status];
    if (status !== undefined) return { outcome: 'declined', payment: null, httpStatus: status, message: mapped.message, code: `conekta_${mapped.key}` };
    // 5xx (or an unexpected status): Conekta may have created the order.
    return { outcome: 'unknown', reason: 'server_error', httpStatus: 500, message: mapped.message, code: 'gateway_error' };
  }

  async getPayment(creds: ConektaCredentials, orderId: string): Promise<GatewayPayment | null> {
    const r = await this.call(creds, 'GET', `/orders/${encodeURIComponent(orderId)}`);
    if (r.kind === 'response' && r.status === 200 && isObject(r.json)) return orderToPayment(r.json);
    if (r.kind === 'response' && r.status === 404) return null;
    throw unavailable(r);
  }

  /**
   * Our order among those created around the attempt. Conekta documents `search` as a general search
   * (e-mail, reference…), not a metadata match (conekta/openapi parameters/commons/query/search.yml), so the
   * list is filtered by the documented `created_at.gte`/`created_at.lte` (query/created_at_gte.yml,
   * created_at_lte.yml; seconds), `limit` up to 250 (query/limit.yml), paged with `next`
   * (query/next_page.yml; the list's `has_more`/`next_page_url`, schemas/pagination/), and
   * `metadata.referencia` is matched here.
   */
  async findByReference(creds: ConektaCredentials, referencia: string, attemptedAt: Date = new Date()): Promise<GatewayPayment | null> {
    const at = Math.floor(attemptedAt.getTime() / 1000);
    // Clocks differ and the charge may start a while after the attempt row: a generous window.
    const params = new URLSearchParams({ 'created_at.gte': String(at - 15 * 60), 'created_at.lte': String(at + 6 * 3600), limit: '250' });
    const found: GatewayPayment[] = [];
    for (let page = 0; page < 40; page++) {
      const r = await this.call(creds, 'GET', `/orders?${params.toString()}`);
      if (r.kind !== 'response' || r.status !== 200 || !isObject(r.json)) throw unavailable(r);
      const data = Array.isArray(r.json.data) ? r.json.data.filter(isObject) : [];
      found.push(...data.map(orderToPayment).filter((p) => p.reference === referencia));
      const last = data.length > 0 ? str(data[data.length - 1].id) : null;
      if (r.json.has_more !== true || !last) break;
      params.set('next', last);
    }
    return found.find((p) => p.status !== 'rejected' && p.status !== 'unknown') ?? found[0] ?? null;
  }

  /**
   * Refund `amountCents` of the order. conekta/openapi requestBodies/orders/order_refunds_request.yml
   * requires both `amount` (cents) and `reason`.
   */
  async refund(creds: ConektaCredentials, orderId: string, idempotencyKey: string, amountCents: number, reason = 'requested_by_client'): Promise<RefundResult> {
    const r = await this.call(creds, 'POST', `/orders/${encodeURIComponent(orderId)}/refunds`, { amount: amountCents, reason }, idempotencyKey);
    if (r.kind === 'response' && r.status === 200 && isObject(r.json)) {
      const payment = orderToPayment(r.json);
      const refunds = isObject(r.json.charges) && Array.isArray(r.json.charges.data) && isObject(r.json.charges.data[0]) ? r.json.charges.data[0].refunds : null;
      const list = isObject(refunds) && Array.isArray(refunds.data) ? refunds.data : [];
      const last = isObject(list[list.length - 1]) ? (list[list.length - 1] as Record<string, unknown>) : null;
      return { refundId: last ? str(last.id) : null, payment };
    }
    if (r.kind === 'response' && r.status >= 400 && r.status < 500) {
      // Already refunded (a retry after a lost answer) counts as done.
      const current = await this.getPayment(creds, orderId);
      if (current?.status === 'refunded') return { refundId: null, payment: current };
      const { code, technical } = extractError(r.json);
      throw new GatewayRefusedError(errorMessage(code, technical).message, r.status);
    }
    throw unavailable(r);
  }

  /** An event as Conekta keeps it (conekta/openapi resources/events/event.yml), or null when it has none by that id. */
  async getEvent(creds: ConektaCredentials, eventId: string): Promise<{ id: string; type: string; orderId: string | null } | null> {
    const r = await this.call(creds, 'GET', `/events/${encodeURIComponent(eventId)}`);
    if (r.kind === 'response' && r.status === 404) return null;
    if (r.kind !== 'response' || r.status !== 200 || !isObject(r.json)) throw unavailable(r);
    const notice = this.parseWebhook({ rawBody: r.text, headers: {}, query: {} });
    return notice ? { id: notice.eventId, type: notice.type, orderId: notice.paymentId } : null;
  }

  parseWebhook(input: WebhookInput): WebhookNotice | null {
    let body: unknown;
    try {
      body = JSON.parse(input.rawBody);
    } catch {
      return null;
    }
    if (!isObject(body)) return null;
    const data = isObject(body.data) ? body.data : {};
    const object = isObject(data.object) ? data.object : {};
    // Order events carry the order; charge events carry the charge with its order_id.
    const orderId = str(object.object) === 'order' ? str(object.id) : (str(object.order_id) ?? null);
    const metadata = isObject(object.metadata) ? object.metadata : {};
    return {
      eventId: str(body.id) ?? '',
      type: str(body.type) ?? 'unknown',
      action: str(body.type),
      paymentId: orderId,
      reference: str(metadata.referencia),
    };
  }

  verifyWebhook(input: WebhookInput, publicKeyPem: string): boolean {
    const digest = header(input.headers, 'digest');
    if (!digest) return false;
    try {
      const key = createPublicKey(publicKeyPem);
      return verifySignature('sha256', Buffer.from(input.rawBody, 'utf8'), key, Buffer.from(digest, 'base64'));
    } catch {
      return false;
    }
  }
}

/**
 * conekta/openapi schemas/orders/order_response.yml `next_action`: `{ type: "redirect_to_url", redirect_to_url:
 * { url (pay.conekta.com/{id}, "the url of the Conekta component to authenticate the flow through 3DS2"),
 * return_url } }`. Only an http(s) URL is followed.
 */
export function redirectChallenge(order: Record<string, unknown>): { kind: 'redirect'; url: string } | null {
  const next = isObject(order.next_action) ? order.next_action : null;
  const redirect = next && isObject(next.redirect_to_url) ? next.redirect_to_url : null;
  const url = redirect ? str(redirect.url) : null;
  if (!url || (next && str(next.type) && str(next.type) !== 'redirect_to_url')) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? { kind: 'redirect', url: u.toString() } : null;
  } catch {
    return null;
  }
}

/** conekta/openapi schemas/orders/product.yml: a line item's `name` is 3 to 249 characters. */
export function lineItemName(name: string): string {
  const n = name.trim().slice(0, 249);
  return n.length >= 3 ? n : `${n} WiFi`.trim().padEnd(3, '.');
}

/** conekta/openapi schemas/orders/product.yml (metadata): scalar values, strings of at most 249 characters. */
function conektaMetadata(m: Record<string, string | number | boolean | null>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(m)) out[k] = typeof v === 'string' ? v.slice(0, 249) : v === null ? '' : v;
  return out;
}

function unavailable(r: HttpOutcome): GatewayUnavailableError {
  if (r.kind === 'timeout') return new GatewayUnavailableError('Conekta no respondió a tiempo');
  if (r.kind === 'network') return new GatewayUnavailableError(`No se pudo conectar con Conekta (${r.message})`);
  return new GatewayUnavailableError(`Conekta respondió ${r.status}`);
}
