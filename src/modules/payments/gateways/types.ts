/**
 * One interface over every payment gateway. The purchase flow, the workers and the webhooks only see
 * this: charge once (our referencia is the gateway idempotency key), read a payment back by id or by our
 * reference, refund, and turn a webhook into "payment X changed" (the payment itself is always re-read).
 */

export type GatewayName = 'conekta' | 'mercado_pago';

/** A payment in our vocabulary, whatever the gateway calls it. */
/** `partially_refunded`: approved, part of the money went back (`refundedCents`), the sale stands. */
export type PaymentStatus = 'approved' | 'pending' | 'rejected' | 'cancelled' | 'partially_refunded' | 'refunded' | 'charged_back' | 'unknown';

export interface GatewayPayment {
  /** Conekta order id (`ord_…`) or Mercado Pago payment id (as text). */
  id: string;
  status: PaymentStatus;
  /** The gateway's own word (`paid`, `approved`, `in_process`…), stored in `estado_pago`. */
  rawStatus: string;
  statusDetail: string;
  amountCents: number | null;
  /** Cents given back so far (partial or full refunds), when the gateway says. */
  refundedCents: number | null;
  currency: string | null;
  /** Our referencia as the gateway stored it (metadata / external_reference). */
  reference: string | null;
  /** The gateway object, for fields a caller needs (card, payment method…). Never sent to a browser whole. */
  raw: Record<string, unknown>;
}

export interface ChargeCustomer {
  name: string;
  email: string;
  phone: string | null;
}

export interface ChargeRequest {
  /** Our transaction reference: idempotency key and external reference at the gateway. */
  referencia: string;
  amountCents: number;
  currency: string;
  productId: number;
  productName: string;
  cardToken: string;
  customer: ChargeCustomer;
  /** Safe, non-secret context stored with the payment at the gateway. */
  metadata: Record<string, string | number | boolean | null>;
  clientIp: string | null;
  /**
   * Ask for 3-D Secure (only the checkout page, which can show the bank's challenge, sets it; the legacy
   * endpoints never do). `returnUrl`: where Conekta's redirect flow comes back to (our checkout page).
   */
  threeDs?: { returnUrl: string };
  /** Mercado Pago only. */
  mercadoPago?: {
    paymentMethodId: string;
    issuerId: string | null;
    installments: number;
    deviceId: string | null;
    mode: string;
  };
}

/** What the customer is told, in the legacy status and Spanish text, plus a stable code. */
export interface GatewayError {
  httpStatus: number;
  message: string;
  code: string;
}

/** What the customer's bank needs the customer to do (3-D Secure challenge). */
export type Challenge =
  /** Conekta: send the browser to `url` (next_action.redirect_to_url.url); it comes back to our return_url. */
  | { kind: 'redirect'; url: string }
  /** Mercado Pago: POST `creq` to `url` in an iframe (three_ds_info.external_resource_url / creq). */
  | { kind: 'iframe'; url: string; creq: string };

export type ChargeResult =
  /** No money yet: the bank wants a 3-D Secure challenge; the outcome comes by poll, webhook or the customer's return. */
  | { outcome: 'challenge'; payment: GatewayPayment; challenge: Challenge }
  /** Money taken (approved) or promised later (pending: not a sale yet). */
  | { outcome: 'approved' | 'pending'; payment: GatewayPayment }
  /** Definitely no money taken. `retryable`: not a decline of the card (e.g. the gateway's 429): nothing charged, try again later. */
  | ({ outcome: 'declined'; payment: GatewayPayment | null; retryable?: boolean } & GatewayError)
  /** Timeout, transport failure, 5xx, unreadable answer: the charge may or may not exist. */
  | ({ outcome: 'unknown'; reason: 'timeout' | 'network' | 'server_error' | 'bad_response' } & GatewayError);

export interface RefundResult {
  /** Gateway refund id when it gives one. */
  refundId: string | null;
  payment: GatewayPayment | null;
}

/** The gateway could not be asked (timeout, network, 5xx): try again later. */
export class GatewayUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayUnavailableError';
  }
}

/** The gateway refused the operation for good (4xx): retrying will not help. */
export class GatewayRefusedError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'GatewayRefusedError';
  }
}

/** A webhook request as received: raw body (signatures cover bytes), lower-cased headers, query. */
export interface WebhookInput {
  rawBody: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string | undefined>;
}

/** What a webhook says happened; the payment is re-read from the gateway before acting. */
export interface WebhookNotice {
  eventId: string;
  type: string;
  action: string | null;
  /** Gateway payment/order id, when the notice names one. */
  paymentId: string | null;
  /** Our referencia, when the notice carries it (never trusted for anything but the lookup). */
  reference: string | null;
}

export interface PaymentGateway<Credentials> {
  readonly name: GatewayName;
  charge(credentials: Credentials, request: ChargeRequest): Promise<ChargeResult>;
  /** null when the gateway does not know the id. Throws GatewayUnavailableError when it cannot be asked. */
  getPayment(credentials: Credentials, paymentId: string): Promise<GatewayPayment | null>;
  /** The payment created with our reference (around `attemptedAt`), or null when there is none (yet: indexes lag). */
  findByReference(credentials: Credentials, referencia: string, attemptedAt?: Date): Promise<GatewayPayment | null>;
  /** Refund `amountCents` (the rest of the payment); idempotent under `idempotencyKey`; an already refunded payment counts as success. */
  refund(credentials: Credentials, paymentId: string, idempotencyKey: string, amountCents: number, reason?: string): Promise<RefundResult>;
  parseWebhook(input: WebhookInput): WebhookNotice | null;
  /** True when the webhook carries a valid signature for `secret` (and, where the gateway dates it, a fresh one). */
  verifyWebhook(input: WebhookInput, secret: string, nowMs?: number): boolean;
}

export function header(headers: WebhookInput['headers'], name: string): string | null {
  const v = headers[name.toLowerCase()];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s !== '' ? s : null;
}
