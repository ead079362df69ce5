/**
 * Fake Mercado Pago API for tests, the drill and the demo: POST /v1/payments (Bearer token,
 * X-Idempotency-Key, single-use card tokens), GET /v1/payments/{id}, GET /v1/payments/search by
 * external_reference, POST /v1/payments/{id}/refunds, scripted failures, and signed notifications
 * (`x-signature: ts=…,v1=HMAC(id:<data.id>;request-id:<x-request-id>;ts:<ts>;)`).
 *
 * Card tokens script the outcome:
 *   anything else                  approved / accredited
 *   rej_<status_detail>            rejected with that detail (e.g. rej_cc_rejected_insufficient_amount)
 *   cancel_<status_detail>         cancelled
 *   pend_<status_detail>           pending (e.g. pend_pending_contingency)
 *   inproc_<status_detail>         in_process
 *   timeout[_approved]             never answers (after creating an approved payment with `_approved`)
 *   500[_approved]                 500 (after creating an approved payment with `_approved`)
 *   val400                         400 validation error
 *   3ds_challenge                  the issuer wants a 3-D Secure challenge (see below)
 *   <token>~<anything>             the same as <token> (a unique, single-use token)
 *
 * 3-D Secure (MP "How to integrate 3DS with Checkout API / Checkout Bricks",
 * mercadopago.com.mx/developers/en/docs/checkout-bricks/how-tos/integrate-3ds): `three_d_secure_mode`
 * `not_supported` (default) or `optional`, anything else 400. A challenge answers `status: pending`,
 * `status_detail: pending_challenge` and `three_ds_info: { external_resource_url, creq }`; the page POSTs
 * `creq` to external_resource_url in an iframe (this fake serves it on its own origin, and refuses a GET or a
 * wrong creq); when done the frame posts `{ status: "COMPLETE" }` to its parent; a failed challenge ends
 * `rejected` / `cc_rejected_3ds_challenge`. Least convenient where undocumented: without `optional` (or with
 * `binary_mode: true`, which admits no pending payment) the challenge card is rejected (cc_rejected_high_risk);
 * an abandoned challenge stays pending with no expiry here (the merchant must expire it).
 *
 * Strictness, each rule from Mercado Pago's official SDKs and docs, never friendlier:
 *   - POST /v1/payments and POST /v1/payments/{id}/refunds require `X-Idempotency-Key` (sdk-nodejs
 *     src/utils/restClient/index.ts sends it on every non-GET request; src/utils/config/index.ts:
 *     "Ensures write operations are executed at most once"); without it: 400.
 *   - `notification_url` must be https and at most 248 characters, else 400 `invalid_notification_url`.
 *     Without one, notifications go to the account-level Webhooks URL (`setAccountWebhook`), as the
 *     "Webhooks" setting of "Your integrations" does (mercadopago.com.mx/developers/es/docs/your-integrations/
 *     notifications/webhooks: URLs given at payment creation take precedence over the account's).
 *   - `/v1/payments/search` is an index that lags: a payment appears there only `searchLagMs` after its
 *     creation (default 1.5 s; `setSearchLag`), while GET /v1/payments/{id} sees it at once.
 *   - Refunds (sdk-nodejs src/clients/paymentRefund/create: `amount` optional = the whole remaining balance)
 *     add up in `transaction_amount_refunded`; a partial refund keeps `status` approved with `status_detail`
 *     partially_refunded (sdk-nodejs src/clients/payment/commonTypes.ts); more than what remains: 400.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenSandbox } from './http.js';
import { challengeDone, challengePage, isChoice, readForm, sendHtml } from './three-ds.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { signMercadoPagoNotification } from '../src/modules/payments/gateways/mercadopago.js';

export interface MpPayment extends Record<string, unknown> {
  id: number;
  status: string;
  status_detail: string;
  transaction_amount: number;
  external_reference: string | null;
}

export interface MpScript {
  status?: number;
  body?: unknown;
  hang?: boolean;
  /** Create the payment with this status (and detail) before answering or hanging. */
  create?: { status: string; detail?: string };
  raw?: string;
}

export interface MpRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface MercadoPagoFake {
  url: string;
  state: {
    payments: Map<number, MpPayment & { collector: string }>;
    requests: MpRecordedRequest[];
    refunds: { paymentId: number; amount: number; idempotencyKey: string | null }[];
  };
  failNext(...scripts: MpScript[]): void;
  /** Milliseconds before a new payment shows in /v1/payments/search. */
  setSearchLag(ms: number): void;
  /** The account-level Webhooks URL (and secret) of an access token's account ("Your integrations"). */
  setAccountWebhook(accessToken: string, url: string | null, secret?: string): void;
  failNextRefund(...scripts: MpScript[]): void;
  failNextRead(...scripts: MpScript[]): void;
  setPaymentStatus(id: number | string, status: string, detail?: string): void;
  paymentsFor(externalReference: string): MpPayment[];
  /** What the customer does on a payment's 3-D Secure challenge (as the challenge page's buttons do). */
  completeChallenge(id: number | string, choice: 'aprobar' | 'rechazar'): void;
  /** POST a notification about a payment (to its notification_url unless `url` is given). */
  sendWebhook(
    paymentId: number | string,
    opts?: { url?: string; secret?: string; signature?: 'valid' | 'forged' | 'none'; ts?: string; requestId?: string; notificationId?: number },
  ): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const iso = () => new Date().toISOString().replace('Z', '-00:00');

export async function startMercadoPagoFake(): Promise<MercadoPagoFake> {
  const payments = new Map<number, MpPayment & { collector: string }>();
  const requests: MpRecordedRequest[] = [];
  const refunds: MercadoPagoFake['state']['refunds'] = [];
  const createScripts: MpScript[] = [];
  const refundScripts: MpScript[] = [];
  const readScripts: MpScript[] = [];
  const idempotent = new Map<string, { status: number; body: unknown }>();
  const usedTokens = new Set<string>();
  let nextId = 1_300_000_001;
  let nextRefund = 900_000_001;
  let nextNotification = 120_000_000_001;
  let searchLagMs = 1500;
  const accountWebhooks = new Map<string, { url: string; secret?: string }>();
  const createdAt = new Map<number, number>();
  let fakeUrl = '';

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const err = (status: number, error: string, message: string, cause: unknown[] = []) => ({ message, error, status, cause });
  const pub = (p: MpPayment & { collector: string }) => {
    const { collector: _c, ...rest } = p;
    return rest;
  };

  const create = (collector: string, body: Record<string, any>, status: string, detail: string): MpPayment & { collector: string } => {
    const id = nextId++;
    const t = iso();
    const p = {
      id,
      collector,
      date_created: t,
      date_approved: status === 'approved' ? t : null,
      date_last_updated: t,
      operation_type: 'regular_payment',
      issuer_id: body.issuer_id ?? '160',
      payment_method_id: body.payment_method_id,
      payment_type_id: String(body.payment_method_id ?? '').startsWith('deb') ? 'debit_card' : 'credit_card',
      status,
      status_detail: detail,
      currency_id: 'MXN',
      description: body.description ?? null,
      live_mode: false,
      transaction_amount: body.transaction_amount,
      transaction_amount_refunded: 0,
      installments: body.installments ?? 1,
      statement_descriptor: body.statement_descriptor ?? null,
      external_reference: body.external_reference ?? null,
      notification_url: body.notification_url ?? null,
      binary_mode: body.binary_mode ?? false,
      metadata: body.metadata ?? {},
      additional_info: body.additional_info ?? {},
      payer: { id: '123456789', email: body.payer?.email ?? null, first_name: body.payer?.first_name ?? null, last_name: body.payer?.last_name ?? null, type: null },
      card: { first_six_digits: '450995', last_four_digits: '3704', cardholder: { name: 'APRO' } },
      refunds: [] as unknown[],
    };
    payments.set(id, p);
    createdAt.set(id, Date.now());
    return p;
  };

  const apply = (res: ServerResponse, s: MpScript, created?: MpPayment & { collector: string }) => {
    if (s.hang) return;
    if (s.raw !== undefined) {
      res.writeHead(s.status ?? 200, { 'content-type': 'text/html' });
      return res.end(s.raw);
    }
    if (s.status !== undefined) return send(res, s.status, s.body ?? err(s.status, s.status >= 500 ? 'internal_error' : 'bad_request', s.status >= 500 ? 'internal_error' : 'error'));
    if (created) return send(res, 201, pub(created));
    send(res, 500, err(500, 'internal_error', 'internal_error'));
  };

  const handleCreate = (res: ServerResponse, collector: string, body: Record<string, any>, idemKey: string | null) => {
    if (!idemKey) return send(res, 400, err(400, 'bad_request', "Header X-Idempotency-Key can't be null"));
    if (body.notification_url !== undefined && body.notification_url !== null) {
      const u = String(body.notification_url);
      if (!/^https:\/\/[^/\s]+/i.test(u) || u.length > 248) {
        return send(res, 400, err(400, 'invalid_notification_url', 'notification_url attribute must be url valid', [{ code: 4020, description: 'notification_url attribute must be url valid' }]));
      }
    }
    const key = idemKey ? `${collector}|${idemKey}` : null;
    if (key && idempotent.has(key)) {
      const prev = idempotent.get(key)!;
      return send(res, prev.status, prev.body);
    }
    const remember = (status: number, b: unknown) => {
      if (key) idempotent.set(key, { status, body: b });
      send(res, status, b);
    };
    const script = createScripts.shift();
    if (script) {
      let created: (MpPayment & { collector: string }) | undefined;
      if (script.create) {
        created = create(collector, body, script.create.status, script.create.detail ?? (script.create.status === 'approved' ? 'accredited' : ''));
        if (key) idempotent.set(key, { status: 201, body: pub(created) });
      }
      return apply(res, script, created);
    }
    if (typeof body.transaction_amount !== 'number' || !(body.transaction_amount > 0)) {
      return remember(400, err(400, 'bad_request', 'Invalid transaction_amount', [{ code: 4037, description: 'Invalid transaction_amount' }]));
    }
    if (!body.token || !body.payment_method_id || !body.payer?.email) {
      return remember(400, err(400, 'bad_request', 'Invalid parameters', [{ code: 2002, description: 'Missing required parameters' }]));
    }
    const token = String(body.token);
    // `~anything` after a test token makes it unique without changing what it scripts.
    const kind = token.split('~')[0];
    if (kind === 'val400') return remember(400, err(400, 'bad_request', 'Invalid card_token_id', [{ code: 3003, description: 'Invalid card_token_id' }]));
    if (usedTokens.has(token)) return remember(400, err(400, 'bad_request', 'Card Token not found', [{ code: 2006, description: 'Card Token not found' }]));
    usedTokens.add(token);
    if (kind === 'timeout' || kind === 'timeout_approved') {
      if (kind.endsWith('_approved')) {
        const p = create(collector, body, 'approved', 'accredited');
        if (key) idempotent.set(key, { status: 201, body: pub(p) });
      }
      return; // hang
    }
    if (kind === '500' || kind === '500_approved') {
      if (kind.endsWith('_approved')) create(collector, body, 'approved', 'accredited');
      return send(res, 500, err(500, 'internal_error', 'internal_error'));
    }
    const mode = body.three_d_secure_mode;
    if (mode !== undefined && mode !== 'not_supported' && mode !== 'optional') {
      return remember(400, err(400, 'bad_request', 'Invalid three_d_secure_mode', [{ code: 4000, description: 'three_d_secure_mode must be not_supported or optional' }]));
    }
    if (kind === '3ds_challenge') {
      if (mode !== 'optional' || body.binary_mode === true) return remember(201, pub(create(collector, body, 'rejected', 'cc_rejected_high_risk')));
      const p = create(collector, body, 'pending', 'pending_challenge');
      const creq = Buffer.from(JSON.stringify({ threeDSServerTransID: randomUUID(), messageType: 'CReq', messageVersion: '2.1.0', acsTransID: randomUUID() })).toString('base64url');
      p.three_ds_info = { external_resource_url: `${fakeUrl}/3ds/challenge/${p.id}`, creq };
      return remember(201, pub(p));
    }
    let m: RegExpExecArray | null;
    let status = 'approved';
    let detail = 'accredited';
    if ((m = /^rej_(.+)$/.exec(kind))) [status, detail] = ['rejected', m[1]];
    else if ((m = /^cancel_(.+)$/.exec(kind))) [status, detail] = ['cancelled', m[1]];
    else if ((m = /^pend_(.+)$/.exec(kind))) [status, detail] = ['pending', m[1]];
    else if ((m = /^inproc_(.+)$/.exec(kind))) [status, detail] = ['in_process', m[1]];
    remember(201, pub(create(collector, body, status, detail)));
  };

  const handleRefund = (res: ServerResponse, collector: string, id: number, body: Record<string, any>, idemKey: string | null) => {
    if (!idemKey) return send(res, 400, err(400, 'bad_request', "Header X-Idempotency-Key can't be null"));
    const key = idemKey ? `${collector}|refund|${idemKey}` : null;
    if (key && idempotent.has(key)) {
      const prev = idempotent.get(key)!;
      return send(res, prev.status, prev.body);
    }
    const script = refundScripts.shift();
    if (script) return apply(res, script);
    const p = payments.get(id);
    if (!p || p.collector !== collector) return send(res, 404, err(404, 'not_found', 'Payment not found'));
    if (p.status !== 'approved') return send(res, 400, err(400, 'bad_request', 'Payment not refundable in its current status'));
    const cents = (v: number) => Math.round(v * 100);
    const refundedBefore = cents(Number(p.transaction_amount_refunded ?? 0));
    const remaining = cents(p.transaction_amount) - refundedBefore;
    const amountCents = typeof body?.amount === 'number' ? cents(body.amount) : remaining;
    if (!(amountCents > 0) || amountCents > remaining) return send(res, 400, err(400, 'bad_request', 'Invalid refund amount'));
    const amount = amountCents / 100;
    p.transaction_amount_refunded = (refundedBefore + amountCents) / 100;
    p.status = refundedBefore + amountCents >= cents(p.transaction_amount) ? 'refunded' : 'approved';
    p.status_detail = p.status === 'refunded' ? 'refunded' : 'partially_refunded';
    p.date_last_updated = iso();
    const refund = { id: nextRefund++, payment_id: id, amount, status: 'approved', date_created: iso(), source: { type: 'collector' } };
    (p.refunds as unknown[]).push(refund);
    refunds.push({ paymentId: id, amount, idempotencyKey: idemKey });
    if (key) idempotent.set(key, { status: 201, body: refund });
    send(res, 201, refund);
  };

  const settleChallenge = (p: MpPayment & { collector: string }, choice: 'aprobar' | 'rechazar') => {
    p.status = choice === 'aprobar' ? 'approved' : 'rejected';
    p.status_detail = choice === 'aprobar' ? 'accredited' : 'cc_rejected_3ds_challenge';
    p.date_last_updated = iso();
    if (choice === 'aprobar') p.date_approved = iso();
    delete p.three_ds_info;
  };

  /** The ACS stand-in: POST creq (from the merchant's page, in its iframe) shows the challenge; POST resultado records the choice. */
  const handleChallenge = async (req: IncomingMessage, res: ServerResponse, id: number, step: string | undefined) => {
    const p = payments.get(id);
    const info = p?.three_ds_info as { creq?: string } | undefined;
    if (!p || !info?.creq) return sendHtml(res, 404, challengeDone('Esta verificación no existe o ya terminó.'));
    if (req.method !== 'POST') return sendHtml(res, 405, challengeDone('Método no permitido.'));
    const form = await readForm(req);
    if (form.get('creq') !== info.creq) return sendHtml(res, 400, challengeDone('Solicitud de verificación inválida.'));
    if (!step) {
      return sendHtml(res, 200, challengePage({ brand: 'Mercado Pago', amount: `$${Number(p.transaction_amount).toFixed(2)} MXN`, action: `/3ds/challenge/${id}/resultado`, fields: { creq: info.creq } }));
    }
    const choice = form.get('accion');
    if (!isChoice(choice)) return sendHtml(res, 400, challengeDone('Opción no válida.'));
    if (choice === 'abandonar') return sendHtml(res, 200, challengeDone('Cancelaste la verificación.'));
    settleChallenge(p, choice);
    sendHtml(res, 200, challengeDone(choice === 'aprobar' ? 'Compra confirmada.' : 'Compra no confirmada.', `parent.postMessage({ status: 'COMPLETE' }, '*');`));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const challenge = /^\/3ds\/challenge\/(\d+)(?:\/(resultado))?$/.exec(new URL(req.url ?? '/', 'http://fake').pathname);
    if (challenge) {
      handleChallenge(req, res, Number(challenge[1]), challenge[2]).catch(() => sendHtml(res, 500, challengeDone('Error')));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        return send(res, 400, err(400, 'bad_request', 'JSON inválido'));
      }
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });
      const auth = req.headers.authorization ?? '';
      const collector = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!/^(TEST|APP_USR)-/.test(collector)) return send(res, 401, err(401, 'unauthorized', 'invalid access token'));
      const idemKey = typeof req.headers['x-idempotency-key'] === 'string' ? req.headers['x-idempotency-key'] : null;
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && url.pathname === '/v1/payments') return handleCreate(res, collector, body ?? {}, idemKey);
      if (req.method === 'POST' && (m = /^\/v1\/payments\/(\d+)\/refunds$/.exec(url.pathname))) return handleRefund(res, collector, Number(m[1]), body ?? {}, idemKey);
      if (req.method === 'GET') {
        const script = readScripts.shift();
        if (script) return apply(res, script);
      }
      if (req.method === 'GET' && url.pathname === '/v1/payments/search') {
        const ref = url.searchParams.get('external_reference');
        const results = [...payments.values()]
          .filter((p) => p.collector === collector && (!ref || p.external_reference === ref))
          // The search index lags behind creation.
          .filter((p) => Date.now() - (createdAt.get(p.id) ?? 0) >= searchLagMs)
          .reverse()
          .map(pub);
        return send(res, 200, { paging: { total: results.length, limit: 30, offset: 0 }, results });
      }
      if (req.method === 'GET' && (m = /^\/v1\/payments\/([^/]+)$/.exec(url.pathname))) {
        const p = /^\d+$/.test(m[1]) ? payments.get(Number(m[1])) : undefined;
        if (!p || p.collector !== collector) return send(res, 404, err(404, 'not_found', 'Payment not found'));
        return send(res, 200, pub(p));
      }
      send(res, 404, err(404, 'not_found', 'resource not found'));
    });
  });
  const { port, close } = await listenSandbox(server);
  fakeUrl = `http://127.0.0.1:${port}`;

  return {
    url: fakeUrl,
    state: { payments, requests, refunds },
    failNext: (...s) => void createScripts.push(...s),
    setSearchLag(ms) {
      searchLagMs = ms;
    },
    setAccountWebhook(accessToken, url, secret) {
      if (url) accountWebhooks.set(accessToken, { url, secret });
      else accountWebhooks.delete(accessToken);
    },
    failNextRefund: (...s) => void refundScripts.push(...s),
    failNextRead: (...s) => void readScripts.push(...s),
    setPaymentStatus(id, status, detail) {
      const p = payments.get(Number(id));
      if (!p) throw new Error(`pago desconocido ${id}`);
      p.status = status;
      p.status_detail = detail ?? (status === 'approved' ? 'accredited' : status);
      p.date_last_updated = iso();
      if (status === 'approved' && !p.date_approved) p.date_approved = iso();
    },
    completeChallenge(id, choice) {
      const p = payments.get(Number(id));
      if (!p?.three_ds_info) throw new Error(`pago sin verificación abierta ${id}`);
      settleChallenge(p, choice);
    },
    paymentsFor: (ref) => [...payments.values()].filter((p) => p.external_reference === ref),
    async sendWebhook(paymentId, opts = {}) {
      const p = payments.get(Number(paymentId));
      const account = p ? accountWebhooks.get(p.collector) : undefined;
      const target = opts.url ?? (p?.notification_url as string | null) ?? account?.url ?? null;
      if (!target) throw new Error('sin notification_url ni webhook de la cuenta');
      if (!opts.secret && account?.secret && !p?.notification_url) opts = { ...opts, secret: account.secret };
      const dataId = String(paymentId);
      const notificationId = opts.notificationId ?? nextNotification++;
      const body = JSON.stringify({
        action: 'payment.updated',
        api_version: 'v1',
        data: { id: dataId },
        date_created: iso(),
        id: notificationId,
        live_mode: false,
        type: 'payment',
        user_id: '2079614828',
      });
      const requestId = opts.requestId ?? randomUUID();
      const ts = opts.ts ?? String(Date.now());
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
      const mode = opts.signature ?? (opts.secret ? 'valid' : 'none');
      if (mode === 'valid') headers['x-signature'] = signMercadoPagoNotification(opts.secret ?? '', dataId, requestId, ts);
      if (mode === 'forged') headers['x-signature'] = signMercadoPagoNotification(randomBytes(16).toString('hex'), dataId, requestId, ts);
      const sep = target.includes('?') ? '&' : '?';
      const res = await fetch(`${target}${sep}data.id=${encodeURIComponent(dataId)}&type=payment`, { method: 'POST', headers, body });
      return { status: res.status, body: await res.text() };
    },
    close,
  };
}
