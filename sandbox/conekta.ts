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
 *   <token>~<anything>             the same as <token> (a unique, single-use token)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenSandbox } from './http.js';
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
    if (!token.startsWith('tok_')) {
      return remember(402, errorBody('processing_error', 'conekta.errors.processing.tokenization.invalid', 'El token no es válido.', 'The token is invalid'));
    }
    if (usedTokens.has(token)) {
      return remember(402, errorBody('processing_error', 'conekta.errors.processing.tokenization.used', 'El token ya fue utilizado.', 'The token has already been used'));
    }
    usedTokens.add(token);
    let m: RegExpExecArray | null;
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
    if (o.payment_status !== 'paid') {
      return send(res, 422, errorBody('processing_error', 'conekta.errors.processing.refund.invalid_status', 'La orden no se puede reembolsar en su estado actual.'));
    }
    const amount = Number.isInteger(body?.amount) ? Number(body.amount) : o.amount;
    o.payment_status = amount >= o.amount ? 'refunded' : 'partially_refunded';
    o.amount_refunded = amount;
    o.updated_at = now();
    const charge = (o.charges as any).data[0];
    charge.status = o.payment_status;
    charge.refunds.data.push({ id: rid('ref_'), object: 'refund', amount: -amount, reason: body?.reason ?? 'requested_by_client', created_at: now() });
    charge.refunds.total = charge.refunds.data.length;
    refunds.push({ orderId, amount, idempotencyKey: idemKey });
    const answer = publicOrder(o);
    if (key) idempotent.set(key, { status: 200, body: answer });
    send(res, 200, answer);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
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
      if (req.method === 'GET' && url.pathname === '/orders') {
        const q = url.searchParams.get('search');
        const limit = Math.min(Number(url.searchParams.get('limit') ?? 20) || 20, 250);
        const data = [...orders.values()]
          .filter((o) => o.account === account)
          .filter((o) => !q || o.id === q || (o.customer_info as any)?.email === q || Object.values(o.metadata ?? {}).some((v) => String(v) === q))
          .reverse()
          .slice(0, limit)
          .map(publicOrder);
        return send(res, 200, { object: 'list', has_more: false, data });
      }
      send(res, 404, errorBody('resource_not_found_error', 'conekta.errors.resource_not_found.entity', 'El recurso no ha sido encontrado.'));
    });
  });
  const { port, close } = await listenSandbox(server);

  return {
    url: `http://127.0.0.1:${port}`,
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
      if (signature !== 'none') headers.digest = sign('sha256', Buffer.from(raw), signature === 'valid' ? privateKey : forgeKey).toString('base64');
      const res = await fetch(url, { method: 'POST', headers, body: raw });
      return { status: res.status, body: await res.text() };
    },
    close,
  };
}
