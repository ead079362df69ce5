/**
 * Fake Conekta API (2.x JSON) for tests, the drill and the demo: card orders with test tokens that script
 * the outcome, idempotency keys, single-use tokens, order read-back and search, refunds, scripted
 * failures (hangs, 5xx, non-JSON), and signed webhooks (`digest` header: RSA-SHA256 of the body).
 *
 * Test tokens (token_id):
 *   tok_test_visa_4242*            paid (any other `tok_…` too)
 *   tok_test_decline_<code>        402 processing_error with details[0].code = <code>
 *   tok_test_http_<status>_<code>  that HTTP status with details[0].code = <code>
 *   tok_test_status_<status>       200 with payment_status = <status>
 *   tok_test_timeout[_paid]        never answers (after creating a paid order with `_paid`)
 *   tok_test_500[_paid]            500 api_error (after creating a paid order with `_paid`)
 *   tok_test_badjson_paid          creates a paid order and answers 200 with a non-JSON body
 *   tok_test_3ds_challenge         the issuer wants a 3-D Secure challenge: with `three_ds_mode` (and a
 *                                  `return_url`) the order is `pending_payment` with `next_action.redirect_to_url`
 *                                  to this fake's challenge page (/3ds/{order}); without it, declined
 *   <token>~<anything>             the same as <token> (a unique, single-use token)
 *
 * 3-D Secure (conekta/openapi schemas/orders/order_request.yml `three_ds_mode` enum strict|not_strict|smart,
 * "sending an explicit null is rejected"; `return_url` format uri; schemas/orders/order_response.yml
 * `next_action: { type: "redirect_to_url", redirect_to_url: { url, return_url } }`). Not documented, so the least
 * convenient plausible behaviour: the order's payment_status stays `pending_payment` while the customer is on the
 * challenge (and forever if they abandon it: no expiry here), an approval makes it `paid`, a failure `declined`;
 * the browser comes back to return_url with `?order_id=` only (nothing to trust: the merchant reads the order).
 *
 * Strictness, each rule from Conekta's published OpenAPI (github.com/conekta/openapi), never friendlier:
 *   - GET /orders accepts only the documented filters (resources/orders/order.yml): `limit` 1–250
 *     (parameters/commons/query/limit.yml), `next` cursor (query/next_page.yml), `created_at.gte`/`.lte`
 *     in seconds (query/created_at_gte.yml, created_at_lte.yml), `payment_status`, and `search`, documented as a
 *     "general order search, e.g. by mail, reference" (query/search.yml): here it matches the order id and the
 *     customer's e-mail only, never metadata (the least convenient reading). Pages carry `has_more` and
 *     `next_page_url` (schemas/pagination/).
 *   - line item `name` 3–249 characters (schemas/orders/product.yml); metadata values scalar, strings ≤ 249.
 *   - refunds require `amount` (cents) and `reason` (requestBodies/orders/order_refunds_request.yml); a partial
 *     refund leaves `payment_status` `partially_refunded` with `amount_refunded` (schemas/orders/order_response.yml).
 *   - GET /events/{id} (resources/events/event.yml) knows only events Conekta really sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenSandbox } from './http.js';
import { challengeDone, challengePage, isChoice, readForm, sendHtml } from './three-ds.js';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export interface ConektaOrder extends Record<string, unknown> {
  id: string;
  payment_status: string;
  amount: number;
  currency: string;
  metadata: Record<string, unknown>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** One scripted answer for the next matching request, overriding the token's behaviour. */
export interface ConektaScript {
  /** Answer with this status and body. */
  status?: number;
  body?: unknown;
  /** Never answer. */
  hang?: boolean;
  /** Before answering (or hanging), create the order with this payment_status. */
  create?: string;
  /** Raw (non-JSON) body. */
  raw?: string;
  /** Called right after the answer is written: a drill's fault injection point (e.g. cut the database). */
  onAnswer?: () => void;
}

export interface ConektaFake {
  url: string;
  /** The public key (PEM) a company configures to verify this fake's webhooks. */
  webhookPublicKey: string;
  state: {
    orders: Map<string, ConektaOrder & { account: string }>;
    requests: RecordedRequest[];
    refunds: { orderId: string; amount: number; idempotencyKey: string | null }[];
  };
  /** Script the next POST /orders answers (in order). */
  failNext(...scripts: ConektaScript[]): void;
  /** Script the next POST /orders/{id}/refunds answers. */
  failNextRefund(...scripts: ConektaScript[]): void;
  /** Script the next GET requests (order read-back and search). */
  failNextRead(...scripts: ConektaScript[]): void;
  /** Change an order's status as Conekta would on a refund, chargeback or cancellation. */
  setOrderStatus(orderId: string, paymentStatus: string): void;
  /** What the customer does on the 3-D Secure challenge of an order (as the challenge page's buttons do). */
  completeChallenge(orderId: string, choice: 'aprobar' | 'rechazar'): void;
  /** Orders created for one of our references. */
  ordersFor(referencia: string): ConektaOrder[];
  /** POST a Conekta event about an order to `url`, signed (or forged/unsigned). */
  sendWebhook(url: string, type: string, orderId: string, opts?: { signature?: 'valid' | 'forged' | 'none' }): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const ACCEPT = /^application\/vnd\.conekta-v2\.\d+\.\d+\+json$/;

const rid = (prefix: string) => `${prefix}${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 17)}`;
const now = () => Math.floor(Date.now() / 1000);

function errorBody(type: string, code: string, message: string, debug = message) {
  return { object: 'error', type, log_id: randomBytes(12).toString('hex'), details: [{ code, message, debug_message: debug, param: null }] };
}

export async function startConektaFake(): Promise<ConektaFake> {
  const orders = new Map<string, ConektaOrder & { account: string }>();
  const requests: RecordedRequest[] = [];
  const refunds: ConektaFake['state']['refunds'] = [];
  const orderScripts: ConektaScript[] = [];
  const refundScripts: ConektaScript[] = [];
  const readScripts: ConektaScript[] = [];
  const idempotent = new Map<string, { status: number; body: unknown }>();
  const usedTokens = new Set<string>();
  const events = new Map<string, { account: string; event: unknown }>();
  let fakeUrl = '';
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const forgeKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/vnd.conekta-v2.1.0+json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  const createOrder = (account: string, body: Record<string, any>, paymentStatus: string, token: string): ConektaOrder & { account: string } => {
    const items: any[] = Array.isArray(body.line_items) ? body.line_items : [];
    const amount = items.reduce((s, i) => s + Number(i.unit_price ?? 0) * Number(i.quantity ?? 1), 0);
    const id = rid('ord_');
    const ts = now();
    const chargeStatus = paymentStatus === 'paid' ? 'paid' : paymentStatus;
    const order = {
      id,
      object: 'order',
      livemode: false,
      account,
      amount,
      amount_refunded: 0,
      currency: String(body.currency ?? 'MXN'),
      payment_status: paymentStatus,
      customer_info: { ...(body.customer_info ?? {}), object: 'customer_info' },
      line_items: { object: 'list', has_more: false, total: items.length, data: items.map((i) => ({ ...i, object: 'line_item', id: rid('line_item_'), parent_id: id })) },
      metadata: body.metadata ?? {},
      created_at: ts,
      updated_at: ts,
      charges: {
        object: 'list',
        has_more: false,
        total: 1,
        data: [
          {
            id: randomBytes(12).toString('hex'),
            object: 'charge',
            livemode: false,
            created_at: ts,
            currency: String(body.currency ?? 'MXN'),
            amount,
            status: chargeStatus,
            order_id: id,
            failure_code: paymentStatus === 'paid' ? null : `${paymentStatus}`,
            payment_method: { type: 'card', object: 'card_payment', last4: '4242', brand: 'visa', token_id: token },
            refunds: { object: 'list', has_more: false, total: 0, data: [] as unknown[] },
          },
        ],
      },
    };
    orders.set(id, order);
    return order;
  };

  const publicOrder = (o: ConektaOrder & { account: string }) => {
    const { account: _a, ...rest } = o;
    return rest;
  };

  const applyScript = (res: ServerResponse, s: ConektaScript, after?: () => unknown): boolean => {
    if (s.onAnswer) {
      const { onAnswer, ...rest } = s;
      const answered = applyScript(res, rest, after);
      onAnswer();
      return answered;
    }
    if (s.hang) return true;
    if (s.raw !== undefined) {
      res.writeHead(s.status ?? 200, { 'content-type': 'text/html' });
      res.end(s.raw);
      return true;
    }
    if (s.status !== undefined) {
      send(res, s.status, s.body ?? (s.status >= 500 ? errorBody('api_error', 'conekta.errors.api.system.general_failure', 'There was a runtime error and Conekta engineers have been notified.') : {}));
      return true;
    }
    if (after) send(res, 200, after());
    return true;
  };

  const handleCreate = (res: ServerResponse, account: string, body: Record<string, any>, idemKey: string | null) => {
    if (idemKey && idempotent.has(`${account}|${idemKey}`)) {
      const prev = idempotent.get(`${account}|${idemKey}`)!;
      return send(res, prev.status, prev.body);
    }
    const remember = (status: number, b: unknown) => {
      if (idemKey) idempotent.set(`${account}|${idemKey}`, { status, body: b });
      send(res, status, b);
    };
    const token = String(body?.charges?.[0]?.payment_method?.token_id ?? '');
    // `~anything` after a test token makes it unique without changing what it scripts.
    const kind = token.split('~')[0];
    const script = orderScripts.shift();
    if (script) {
      if (script.create) {
        const o = createOrder(account, body, script.create, token);
        if (idemKey) idempotent.set(`${account}|${idemKey}`, { status: 200, body: publicOrder(o) });
        return applyScript(res, script, () => publicOrder(o));
      }
      return applyScript(res, script);
    }
    if (!Array.isArray(body?.line_items) || body.line_items.length === 0 || !body.currency) {
      return remember(422, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.line_items.empty', 'La orden no tiene productos.'));
    }
    // schemas/orders/product.yml: name minLength 3, maxLength 249.
    if (body.line_items.some((i: any) => typeof i?.name !== 'string' || i.name.length < 3 || i.name.length > 249)) {
      return remember(422, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.line_items.name', 'El nombre del producto debe tener entre 3 y 249 caracteres.'));
    }
    // schemas/orders/product.yml (metadata): scalar values; strings of at most 249 characters.
    if (body.metadata && Object.values(body.metadata).some((v: any) => (typeof v === 'string' && v.length > 249) || (v !== null && typeof v === 'object'))) {
      return remember(422, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.metadata', 'Metadata inválida.'));
    }
    const threeDs = body.three_ds_mode;
    if ('three_ds_mode' in body && !['strict', 'not_strict', 'smart'].includes(threeDs)) {
      return remember(422, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.three_ds_mode', 'three_ds_mode inválido.'));
    }
    if (body.return_url !== undefined && !/^https?:\/\/[^\s/]+/i.test(String(body.return_url))) {
      return remember(422, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.return_url', 'return_url debe ser una URL.'));
    }
    if (!token.startsWith('tok_')) {
      return remember(402, errorBody('processing_error', 'conekta.errors.processing.tokenization.invalid', 'El token no es válido.', 'The token is invalid'));
    }
    if (usedTokens.has(token)) {
      return remember(402, errorBody('processing_error', 'conekta.errors.processing.tokenization.used', 'El token ya fue utilizado.', 'The token has already been used'));
    }
    usedTokens.add(token);
    let m: RegExpExecArray | null;
    if (kind.startsWith('tok_test_3ds_challenge')) {
      // Without 3-D Secure requested, an issuer that demands it declines the charge.
      if (!threeDs || !body.return_url) return remember(402, errorBody('processing_error', 'card_declined', 'La tarjeta fue declinada.', 'The issuer requires 3DS authentication'));
      const o = createOrder(account, body, 'pending_payment', token);
      o.three_ds_mode = threeDs;
      o.next_action = { type: 'redirect_to_url', redirect_to_url: { url: `${fakeUrl}/3ds/${o.id}`, return_url: String(body.return_url) } };
      return remember(200, publicOrder(o));
    }
    if ((m = /^tok_test_decline_(.+)$/.exec(kind))) {
      return remember(402, errorBody('processing_error', m[1], 'La tarjeta fue declinada.', 'The card was declined'));
    }
    if ((m = /^tok_test_http_(\d{3})_(.+)$/.exec(kind))) {
      return remember(Number(m[1]), errorBody(m[2], m[2], 'Error de prueba.', 'Test error'));
    }
    if ((m = /^tok_test_status_(.+)$/.exec(kind))) {
      return remember(200, publicOrder(createOrder(account, body, m[1], token)));
    }
    if (kind === 'tok_test_timeout' || kind === 'tok_test_timeout_paid') {
      if (kind.endsWith('_paid')) {
        const o = createOrder(account, body, 'paid', token);
        if (idemKey) idempotent.set(`${account}|${idemKey}`, { status: 200, body: publicOrder(o) });
      }
      return; // hang
    }
    if (kind === 'tok_test_500' || kind === 'tok_test_500_paid') {
      if (kind.endsWith('_paid')) createOrder(account, body, 'paid', token);
      return send(res, 500, errorBody('api_error', 'conekta.errors.api.system.general_failure', 'There was a runtime error and Conekta engineers have been notified.'));
    }
    if (kind === 'tok_test_badjson_paid') {
      createOrder(account, body, 'paid', token);
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html>upstream</html>');
    }
    return remember(200, publicOrder(createOrder(account, body, 'paid', token)));
  };

  const handleRefund = (res: ServerResponse, account: string, orderId: string, body: Record<string, any>, idemKey: string | null) => {
    const key = idemKey ? `${account}|refund|${idemKey}` : null;
    if (key && idempotent.has(key)) {
      const prev = idempotent.get(key)!;
      return send(res, prev.status, prev.body);
    }
    const script = refundScripts.shift();
    if (script) return applyScript(res, script);
    const o = orders.get(orderId);
    if (!o || o.account !== account) return send(res, 404, errorBody('resource_not_found_error', 'conekta.errors.resource_not_found.entity', 'El recurso no ha sido encontrado.'));
    if (o.payment_status !== 'paid' && o.payment_status !== 'partially_refunded') {
      return send(res, 422, errorBody('processing_error', 'conekta.errors.processing.refund.invalid_status', 'La orden no se puede reembolsar en su estado actual.'));
    }
    // requestBodies/orders/order_refunds_request.yml: `amount` and `reason` are required.
    if (!Number.isInteger(body?.amount) || body.amount <= 0 || typeof body?.reason !== 'string' || body.reason === '') {
      return send(res, 422, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.refund', 'El reembolso requiere amount y reason.'));
    }
    const amount = Number(body.amount);
    const refunded = Number(o.amount_refunded ?? 0);
    if (refunded + amount > o.amount) {
      return send(res, 422, errorBody('processing_error', 'conekta.errors.processing.refund.amount', 'El monto excede lo que queda por reembolsar.'));
    }
    o.amount_refunded = refunded + amount;
    o.payment_status = Number(o.amount_refunded) >= o.amount ? 'refunded' : 'partially_refunded';
    o.updated_at = now();
    const charge = (o.charges as any).data[0];
    charge.status = o.payment_status;
    charge.refunds.data.push({ id: rid('ref_'), object: 'refund', amount: -amount, reason: body.reason, created_at: now() });
    charge.refunds.total = charge.refunds.data.length;
    refunds.push({ orderId, amount, idempotencyKey: idemKey });
    const answer = publicOrder(o);
    if (key) idempotent.set(key, { status: 200, body: answer });
    send(res, 200, answer);
  };

  const settleChallenge = (o: ConektaOrder & { account: string }, choice: 'aprobar' | 'rechazar') => {
    o.payment_status = choice === 'aprobar' ? 'paid' : 'declined';
    o.updated_at = now();
    const charge = (o.charges as any).data[0];
    charge.status = o.payment_status;
    charge.failure_code = choice === 'aprobar' ? null : 'three_ds_authentication_failed';
    if (choice === 'aprobar') charge.paid_at = now();
    delete o.next_action;
  };

  /** The challenge page (a browser, no API key): GET shows it, POST records the customer's choice. */
  const handleChallenge = async (req: IncomingMessage, res: ServerResponse, orderId: string) => {
    const o = orders.get(orderId);
    const next = o?.next_action as { redirect_to_url?: { return_url?: string } } | undefined;
    if (!o || !next?.redirect_to_url) return sendHtml(res, 404, challengeDone('Esta verificación no existe o ya terminó.'));
    if (req.method === 'GET') {
      return sendHtml(res, 200, challengePage({ brand: 'Conekta', amount: `$${(o.amount / 100).toFixed(2)} ${o.currency}`, action: `/3ds/${o.id}` }));
    }
    const choice = (await readForm(req)).get('accion');
    if (!isChoice(choice)) return sendHtml(res, 400, challengeDone('Opción no válida.'));
    if (choice === 'abandonar') return sendHtml(res, 200, challengeDone('Cancelaste la verificación. Puedes cerrar esta página.'));
    const back = new URL(String(next.redirect_to_url.return_url));
    settleChallenge(o, choice);
    back.searchParams.set('order_id', o.id);
    res.writeHead(303, { location: back.toString() });
    res.end();
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const challenge = /^\/3ds\/([^/]+)$/.exec(new URL(req.url ?? '/', 'http://fake').pathname);
    if (challenge) {
      handleChallenge(req, res, decodeURIComponent(challenge[1])).catch(() => sendHtml(res, 500, challengeDone('Error')));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      let body: any;
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        return send(res, 400, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.json', 'JSON inválido.'));
      }
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });
      const auth = req.headers.authorization ?? '';
      const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : '';
      const account = decoded.endsWith(':') ? decoded.slice(0, -1) : '';
      if (!account.startsWith('key_')) {
        return send(res, 401, errorBody('authentication_error', 'conekta.errors.authentication.missing_key', 'Por favor incluye tu llave de acceso en tu petición.'));
      }
      if (!ACCEPT.test(String(req.headers.accept ?? ''))) {
        return send(res, 400, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.api_version', 'Versión de API inválida.'));
      }
      const idemKey = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && url.pathname === '/orders') return handleCreate(res, account, body ?? {}, idemKey);
      if (req.method === 'POST' && (m = /^\/orders\/([^/]+)\/refunds$/.exec(url.pathname))) return handleRefund(res, account, decodeURIComponent(m[1]), body ?? {}, idemKey);
      if (req.method === 'GET') {
        const script = readScripts.shift();
        if (script) return applyScript(res, script);
      }
      if (req.method === 'GET' && (m = /^\/orders\/([^/]+)$/.exec(url.pathname))) {
        const o = orders.get(decodeURIComponent(m[1]));
        if (!o || o.account !== account) return send(res, 404, errorBody('resource_not_found_error', 'conekta.errors.resource_not_found.entity', 'El recurso no ha sido encontrado.'));
        return send(res, 200, publicOrder(o));
      }
      if (req.method === 'GET' && (m = /^\/events\/([^/]+)$/.exec(url.pathname))) {
        const e = events.get(decodeURIComponent(m[1]));
        if (!e || e.account !== account) return send(res, 404, errorBody('resource_not_found_error', 'conekta.errors.resource_not_found.entity', 'El recurso no ha sido encontrado.'));
        return send(res, 200, e.event);
      }
      if (req.method === 'GET' && url.pathname === '/orders') {
        const allowed = new Set(['limit', 'next', 'previous', 'search', 'payment_status', 'created_at', 'created_at.gte', 'created_at.lte', 'updated_at.gte', 'updated_at.lte', 'last_payment_info.status']);
        for (const k of url.searchParams.keys()) {
          if (!allowed.has(k)) return send(res, 422, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.query', `Parámetro no soportado: ${k}`));
        }
        const rawLimit = url.searchParams.get('limit');
        const limit = rawLimit === null ? 20 : Number(rawLimit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 250) {
          return send(res, 422, errorBody('parameter_validation_error', 'conekta.errors.parameter_validation.limit', 'limit debe estar entre 1 y 250.'));
        }
        const q = url.searchParams.get('search');
        const num = (k: string) => (url.searchParams.has(k) ? Number(url.searchParams.get(k)) : null);
        const gte = num('created_at.gte');
        const lte = num('created_at.lte');
        const status = url.searchParams.get('payment_status');
        // Newest first; `next` is the id of the last order of the previous page.
        let list = [...orders.values()]
          .filter((o) => o.account === account)
          .filter((o) => !q || o.id === q || (o.customer_info as any)?.email === q)
          .filter((o) => (gte === null || Number(o.created_at) >= gte) && (lte === null || Number(o.created_at) <= lte))
          .filter((o) => !status || o.payment_status === status)
          .reverse();
        const next = url.searchParams.get('next');
        if (next) {
          const i = list.findIndex((o) => o.id === next);
          list = i < 0 ? [] : list.slice(i + 1);
        }
        const page = list.slice(0, limit);
        const hasMore = list.length > limit;
        const nextUrl = hasMore ? `${fakeUrl}/orders?${new URLSearchParams({ ...Object.fromEntries(url.searchParams), next: page[page.length - 1].id }).toString()}` : null;
        return send(res, 200, { object: 'list', has_more: hasMore, next_page_url: nextUrl, previous_page_url: null, data: page.map(publicOrder) });
      }
      send(res, 404, errorBody('resource_not_found_error', 'conekta.errors.resource_not_found.entity', 'El recurso no ha sido encontrado.'));
    });
  });
  const { port, close } = await listenSandbox(server);
  fakeUrl = `http://127.0.0.1:${port}`;

  return {
    url: fakeUrl,
    webhookPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    state: { orders, requests, refunds },
    failNext: (...s) => void orderScripts.push(...s),
    failNextRefund: (...s) => void refundScripts.push(...s),
    failNextRead: (...s) => void readScripts.push(...s),
    setOrderStatus(orderId, paymentStatus) {
      const o = orders.get(orderId);
      if (!o) throw new Error(`orden desconocida ${orderId}`);
      o.payment_status = paymentStatus;
      o.updated_at = now();
      (o.charges as any).data[0].status = paymentStatus;
    },
    completeChallenge(orderId, choice) {
      const o = orders.get(orderId);
      if (!o?.next_action) throw new Error(`orden sin verificación abierta ${orderId}`);
      settleChallenge(o, choice);
    },
    ordersFor: (referencia) => [...orders.values()].filter((o) => o.metadata?.referencia === referencia),
    async sendWebhook(url, type, orderId, opts = {}) {
      const o = orders.get(orderId);
      if (!o) throw new Error(`orden desconocida ${orderId}`);
      const event = {
        id: randomBytes(12).toString('hex'),
        object: 'event',
        type,
        livemode: false,
        created_at: now(),
        webhook_status: 'pending',
        data: { object: publicOrder(o), previous_attributes: {} },
      };
      const raw = JSON.stringify(event);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const signature = opts.signature ?? 'valid';
      // Only what Conekta really sent exists at GET /events/{id} (a forged post is someone else's).
      if (signature !== 'forged') events.set(event.id, { account: o.account, event });
      if (signature !== 'none') headers.digest = sign('sha256', Buffer.from(raw), signature === 'valid' ? privateKey : forgeKey).toString('base64');
      const res = await fetch(url, { method: 'POST', headers, body: raw });
      return { status: res.status, body: await res.text() };
    },
    close,
  };
}
