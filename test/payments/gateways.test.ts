/** The gateway adapters against the fake Conekta and Mercado Pago servers (real HTTP, same code path). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startConektaFake, type ConektaFake } from '../../sandbox/conekta.js';
import { startMercadoPagoFake, type MercadoPagoFake } from '../../sandbox/mercadopago.js';
import { ConektaGateway, conektaPhone } from '../../src/modules/payments/gateways/conekta.js';
import { ERROR_CODE_MESSAGES, PAYMENT_STATUS_MESSAGES, errorMessage } from '../../src/modules/payments/gateways/conekta-tables.js';
import { MercadoPagoGateway, signMercadoPagoNotification } from '../../src/modules/payments/gateways/mercadopago.js';
import { STATUS_DETAIL_MESSAGES, statusDetailMessage } from '../../src/modules/payments/gateways/mercadopago-tables.js';
import type { ChargeRequest } from '../../src/modules/payments/gateways/types.js';

let n = 0;
function request(token: string, extra: Partial<ChargeRequest> = {}): ChargeRequest {
  return {
    referencia: randomUUID(),
    amountCents: 1999,
    currency: 'mxn',
    productId: 7,
    productName: '1 Hora',
    cardToken: token,
    customer: { name: 'Ana María López', email: 'ana@example.com', phone: '55 1234 5678' },
    metadata: { empresa_id: 'EMP_1', router_id: 'RTR_1', producto_id: 7 },
    clientIp: '10.0.0.5',
    mercadoPago: { paymentMethodId: 'visa', issuerId: '160', installments: 1, deviceId: 'dev-123', mode: 'live' },
    ...extra,
  };
}

describe('Conekta adapter', () => {
  let fake: ConektaFake;
  let gw: ConektaGateway;
  const creds = { privateKey: 'key_test_private' };
  before(async () => {
    fake = await startConektaFake();
    gw = new ConektaGateway({ apiBase: fake.url, timeoutMs: 400 });
  });
  after(async () => fake.close());

  it('creates a paid order with the legacy headers, integer cents and our reference as idempotency key', async () => {
    const req = request('tok_test_visa_4242_a');
    const r = await gw.charge(creds, req);
    assert.equal(r.outcome, 'approved');
    assert.ok(r.outcome === 'approved' && r.payment.id.startsWith('ord_'));
    const sent = fake.state.requests.at(-1)!;
    assert.equal(sent.headers.accept, 'application/vnd.conekta-v2.1.0+json');
    assert.equal(sent.headers.authorization, `Basic ${Buffer.from('key_test_private:').toString('base64')}`);
    assert.equal(sent.headers['idempotency-key'], req.referencia);
    assert.equal(sent.headers['user-agent'], 'MikroTik-Payment-API/1.0');
    const body = sent.body as any;
    assert.equal(body.line_items[0].unit_price, 1999);
    assert.equal(body.currency, 'MXN');
    assert.equal(body.customer_info.phone, '+525512345678');
    assert.equal(body.charges[0].payment_method.token_id, 'tok_test_visa_4242_a');
    assert.equal(body.metadata.referencia, req.referencia);
  });

  it('a retry with the same reference returns the same order (no second charge)', async () => {
    const req = request('tok_test_visa_4242_b');
    const a = await gw.charge(creds, req);
    const b = await gw.charge(creds, req);
    assert.ok(a.outcome === 'approved' && b.outcome === 'approved');
    assert.equal(a.payment.id, b.payment.id);
    assert.equal(fake.ordersFor(req.referencia).length, 1);
  });

  it('normalises phones like the legacy', () => {
    assert.equal(conektaPhone('525512345678'), '+525512345678');
    assert.equal(conektaPhone('(55) 1234-5678'), '+525512345678');
    assert.equal(conektaPhone('123'), '+521234567890');
    assert.equal(conektaPhone(null), '+521234567890');
  });

  it('maps every decline code of the legacy table to its message (402)', async () => {
    for (const [key, message] of ERROR_CODE_MESSAGES) {
      const r = await gw.charge(creds, request(`tok_test_decline_${key}`));
      assert.equal(r.outcome, 'declined', key);
      assert.ok(r.outcome === 'declined');
      assert.equal(r.httpStatus, 402, key);
      assert.equal(r.message, message, key);
    }
  });

  it('derives the message from the technical text when no code matches (legacy worked examples)', async () => {
    const r = await gw.charge(creds, request('tok_test_decline_conekta.errors.processing.bank.declined'));
    assert.ok(r.outcome === 'declined');
    assert.equal(r.message, 'Tarjeta declinada. Contacte a su banco.');
    const f = await gw.charge(creds, request('tok_test_decline_conekta.errors.processing.bank.insufficient_funds'));
    assert.ok(f.outcome === 'declined');
    assert.equal(f.message, 'Fondos insuficientes en la tarjeta.');
    assert.equal(errorMessage('', null).message, 'Error al procesar el pago. Intente nuevamente.');
    assert.equal(errorMessage('x.unknown', 'Token already used').message, 'El token de tarjeta ya fue utilizado. Genere un nuevo token.');
    assert.equal(errorMessage('x.unknown', 'Missing parameter amount').message, 'Datos inválidos en la solicitud.');
  });

  it('keeps the legacy HTTP status mapping for 400/401/404/422/429', async () => {
    const cases: [number, string, string][] = [
      [400, 'parameter_validation_error', 'Datos inválidos en la solicitud.'],
      [401, 'authentication_error', 'Error de autenticación. Contacte al administrador.'],
      [404, 'resource_not_found', 'Recurso no encontrado.'],
      [422, 'invalid_amount', 'Monto inválido.'],
      [429, 'rate_limit_exceeded', 'Límite de solicitudes excedido. Espere un momento.'],
    ];
    for (const [status, code, message] of cases) {
      const r = await gw.charge(creds, request(`tok_test_http_${status}_${code}`));
      assert.ok(r.outcome === 'declined', String(status));
      assert.equal(r.httpStatus, status);
      assert.equal(r.message, message);
    }
  });

  it('a 200 that is not paid is a 402 with the legacy payment_status message', async () => {
    for (const [status, message] of Object.entries(PAYMENT_STATUS_MESSAGES)) {
      const r = await gw.charge(creds, request(`tok_test_status_${status}`));
      assert.ok(r.outcome === 'declined', status);
      assert.equal(r.httpStatus, 402);
      assert.equal(r.message, message);
    }
    const other = await gw.charge(creds, request('tok_test_status_weird'));
    assert.ok(other.outcome === 'declined');
    assert.equal(other.message, 'El pago no fue aprobado.');
  });

  it('refuses the legacy test token and empty tokens without calling Conekta', async () => {
    const before = fake.state.requests.length;
    for (const token of ['', 'tok_2zD9Phs4sGnJN9ckc']) {
      const r = await gw.charge(creds, request(token));
      assert.ok(r.outcome === 'declined');
      assert.equal(r.httpStatus, 400);
      assert.equal(r.message, 'Token de tarjeta inválido o ya utilizado.');
    }
    assert.equal(fake.state.requests.length, before);
  });

  it('a reused card token is refused by Conekta', async () => {
    await gw.charge(creds, request('tok_test_visa_4242_reuse'));
    const r = await gw.charge(creds, request('tok_test_visa_4242_reuse'));
    assert.ok(r.outcome === 'declined');
    assert.equal(r.message, 'El token de tarjeta ya fue utilizado. Genere un nuevo token.');
  });

  it('timeouts, 5xx and unreadable answers are unknown outcomes, and the reference finds what happened', async () => {
    const t = request('tok_test_timeout_paid');
    const r = await gw.charge(creds, t);
    assert.ok(r.outcome === 'unknown');
    assert.equal(r.reason, 'timeout');
    assert.equal(r.httpStatus, 504);
    assert.equal(r.message, 'Tiempo de espera agotado. Intente nuevamente.');
    const found = await gw.findByReference(creds, t.referencia);
    assert.equal(found?.status, 'approved');

    const s = request('tok_test_500');
    const r5 = await gw.charge(creds, s);
    assert.ok(r5.outcome === 'unknown' && r5.reason === 'server_error');
    assert.equal(await gw.findByReference(creds, s.referencia), null);

    const b = request('tok_test_badjson_paid');
    const rb = await gw.charge(creds, b);
    assert.ok(rb.outcome === 'unknown' && rb.reason === 'bad_response');
    assert.equal((await gw.findByReference(creds, b.referencia))?.status, 'approved');
  });

  it('reads an order back and refunds it once, idempotently', async () => {
    const req = request('tok_test_visa_4242_refund');
    const r = await gw.charge(creds, req);
    assert.ok(r.outcome === 'approved');
    const id = r.payment.id;
    assert.equal((await gw.getPayment(creds, id))?.status, 'approved');
    assert.equal(await gw.getPayment(creds, 'ord_nope'), null);
    const a = await gw.refund(creds, id, `refund-${req.referencia}`, 1999);
    const b = await gw.refund(creds, id, `refund-${req.referencia}`, 1999);
    assert.equal(a.payment?.status, 'refunded');
    assert.equal(b.payment?.status, 'refunded');
    assert.equal(fake.state.refunds.filter((x) => x.orderId === id).length, 1);
    // Without the key (another caller), an already refunded order still counts as refunded.
    const c = await gw.refund(creds, id, `other-${n++}`, 1999);
    assert.equal(c.payment?.status, 'refunded');
  });

  it('verifies the webhook digest signature and parses the order id', async () => {
    const r = await gw.charge(creds, request('tok_test_visa_4242_wh'));
    assert.ok(r.outcome === 'approved');
    const captured: { body: string; headers: Record<string, string> }[] = [];
    const { createServer } = await import('node:http');
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        captured.push({ body, headers: req.headers as Record<string, string> });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(srv.address() as any).port}/`;
    await fake.sendWebhook(url, 'order.paid', r.payment.id);
    await fake.sendWebhook(url, 'order.paid', r.payment.id, { signature: 'forged' });
    await fake.sendWebhook(url, 'order.paid', r.payment.id, { signature: 'none' });
    srv.close();
    const inputs = captured.map((c) => ({ rawBody: c.body, headers: c.headers, query: {} }));
    assert.equal(gw.verifyWebhook(inputs[0], fake.webhookPublicKey), true);
    assert.equal(gw.verifyWebhook(inputs[1], fake.webhookPublicKey), false);
    assert.equal(gw.verifyWebhook(inputs[2], fake.webhookPublicKey), false);
    assert.equal(gw.verifyWebhook({ ...inputs[0], rawBody: inputs[0].rawBody.replace('order.paid', 'order.pain') }, fake.webhookPublicKey), false);
    const notice = gw.parseWebhook(inputs[0]);
    assert.equal(notice?.paymentId, r.payment.id);
    assert.equal(notice?.type, 'order.paid');
  });
});

describe('Mercado Pago adapter', () => {
  let fake: MercadoPagoFake;
  let gw: MercadoPagoGateway;
  const creds = { accessToken: 'TEST-123-abc' };
  before(async () => {
    fake = await startMercadoPagoFake();
    gw = new MercadoPagoGateway({ apiBase: fake.url, timeoutMs: 400, publicBaseUrl: 'https://pagos.example.com' });
  });
  after(async () => fake.close());

  it('creates an approved payment with binary_mode, idempotency key, device id and notification url', async () => {
    const req = request('card-ok-1');
    const r = await gw.charge(creds, req);
    assert.ok(r.outcome === 'approved');
    const sent = fake.state.requests.at(-1)!;
    assert.equal(sent.headers.authorization, 'Bearer TEST-123-abc');
    assert.equal(sent.headers['x-idempotency-key'], req.referencia);
    assert.equal(sent.headers['x-meli-session-id'], 'dev-123');
    const body = sent.body as any;
    assert.equal(body.binary_mode, true);
    assert.equal(body.transaction_amount, 19.99);
    assert.equal(body.external_reference, req.referencia);
    assert.equal(body.notification_url, 'https://pagos.example.com/api/v1/webhook/mercado-pago?source_news=webhooks');
    assert.equal(body.payer.first_name, 'Ana');
    assert.equal(body.payer.last_name, 'María López');
    assert.equal(body.payer.phone.number, '5512345678');
    assert.equal(body.issuer_id, '160');
    assert.equal(body.metadata.router_host, undefined);
    assert.equal(r.payment.reference, req.referencia);
  });

  it('the same reference twice is one payment', async () => {
    const req = request('card-ok-2');
    const a = await gw.charge(creds, req);
    const b = await gw.charge(creds, req);
    assert.ok(a.outcome === 'approved' && b.outcome === 'approved');
    assert.equal(a.payment.id, b.payment.id);
    assert.equal(fake.paymentsFor(req.referencia).length, 1);
  });

  it('maps every status_detail of the legacy table (402)', async () => {
    for (const [detail, message] of STATUS_DETAIL_MESSAGES) {
      const r = await gw.charge(creds, request(`rej_${detail}`));
      assert.ok(r.outcome === 'declined', detail);
      assert.equal(r.httpStatus, 402);
      assert.equal(r.message, message, detail);
    }
    const c = await gw.charge(creds, request('cancel_expired'));
    assert.ok(c.outcome === 'declined');
    assert.equal(c.message, '❌ Error al procesar el pago. Intente nuevamente.');
    assert.equal(statusDetailMessage('cc_rejected'), '❌ Fondos insuficientes en la tarjeta.');
    assert.equal(statusDetailMessage(''), '❌ Error al procesar el pago. Intente nuevamente.');
  });

  it('pending and in_process are not sales yet', async () => {
    for (const t of ['pend_pending_contingency', 'inproc_pending_review_manual']) {
      const r = await gw.charge(creds, request(t));
      assert.equal(r.outcome, 'pending', t);
    }
  });

  it('a validation error is a 400 with the MP message; refused credentials a 502', async () => {
    const v = await gw.charge(creds, request('val400'));
    assert.ok(v.outcome === 'declined');
    assert.equal(v.httpStatus, 400);
    assert.equal(v.message, 'Error de validación: Invalid card_token_id');
    const a = await gw.charge({ accessToken: 'bogus' }, request('card-ok-3'));
    assert.ok(a.outcome === 'declined');
    assert.equal(a.httpStatus, 502);
  });

  it('timeouts and 5xx are unknown outcomes; search by reference tells what happened', async () => {
    const t = request('timeout_approved');
    const r = await gw.charge(creds, t);
    assert.ok(r.outcome === 'unknown' && r.reason === 'timeout');
    // The search is an index that lags: right after the charge it does not show it yet.
    fake.setSearchLag(60_000);
    assert.equal(await gw.findByReference(creds, t.referencia), null);
    fake.setSearchLag(0);
    assert.equal((await gw.findByReference(creds, t.referencia))?.status, 'approved');
    const s = request('500');
    const r5 = await gw.charge(creds, s);
    assert.ok(r5.outcome === 'unknown' && r5.reason === 'server_error');
    assert.equal(await gw.findByReference(creds, s.referencia), null);
  });

  it('refunds once under one idempotency key', async () => {
    const req = request('card-ok-4');
    const r = await gw.charge(creds, req);
    assert.ok(r.outcome === 'approved');
    await gw.refund(creds, r.payment.id, `refund-${req.referencia}`, 1999);
    await gw.refund(creds, r.payment.id, `refund-${req.referencia}`, 1999);
    await gw.refund(creds, r.payment.id, 'another-key', 1999);
    assert.equal(fake.state.refunds.filter((x) => x.paymentId === Number(r.payment.id)).length, 1);
    assert.equal((await gw.getPayment(creds, r.payment.id))?.status, 'refunded');
  });

  it('verifies x-signature over the documented manifest with a timestamp window', () => {
    const secret = 'whsec-test';
    const ts = String(Date.now());
    const input = (sig: string | undefined, q: Record<string, string> = { 'data.id': '123456', type: 'payment' }) => ({
      rawBody: JSON.stringify({ type: 'payment', data: { id: '123456' } }),
      headers: { 'x-signature': sig, 'x-request-id': 'req-1' },
      query: q,
    });
    assert.equal(gw.verifyWebhook(input(signMercadoPagoNotification(secret, '123456', 'req-1', ts)), secret), true);
    assert.equal(gw.verifyWebhook(input(signMercadoPagoNotification('other', '123456', 'req-1', ts)), secret), false);
    assert.equal(gw.verifyWebhook(input(undefined), secret), false);
    const old = String(Date.now() - 60 * 60 * 1000);
    assert.equal(gw.verifyWebhook(input(signMercadoPagoNotification(secret, '123456', 'req-1', old)), secret), false);
    // Seconds-resolution timestamps are accepted too.
    const secs = String(Math.floor(Date.now() / 1000));
    assert.equal(gw.verifyWebhook(input(signMercadoPagoNotification(secret, '123456', 'req-1', secs)), secret), true);
    // The id signed is data.id of the URL: a body naming another payment does not verify.
    assert.equal(gw.verifyWebhook(input(signMercadoPagoNotification(secret, '999', 'req-1', ts)), secret), false);
  });
});

describe('fakes as strict as the real APIs (issue 11)', () => {
  let conekta: ConektaFake;
  let mp: MercadoPagoFake;
  before(async () => {
    [conekta, mp] = await Promise.all([startConektaFake(), startMercadoPagoFake()]);
  });
  after(async () => Promise.all([conekta.close(), mp.close()]));

  const cHeaders = { accept: 'application/vnd.conekta-v2.1.0+json', 'content-type': 'application/json', authorization: `Basic ${Buffer.from('key_strict:').toString('base64')}` };
  const mHeaders = (extra: Record<string, string> = {}) => ({ authorization: 'Bearer TEST-strict', 'content-type': 'application/json', ...extra });

  it('Conekta: line item names of 3–249 characters only; the adapter always sends a valid one', async () => {
    const order = (name: string) => ({ currency: 'MXN', line_items: [{ name, unit_price: 100, quantity: 1 }], charges: [{ payment_method: { type: 'card', token_id: `tok_test_visa_4242~${randomUUID()}` } }] });
    for (const name of ['ab', 'x'.repeat(250)]) {
      const r = await fetch(`${conekta.url}/orders`, { method: 'POST', headers: cHeaders, body: JSON.stringify(order(name)) });
      assert.equal(r.status, 422, name.length.toString());
    }
    const gw = new ConektaGateway({ apiBase: conekta.url, timeoutMs: 2000 });
    for (const productName of ['1h', 'y'.repeat(300)]) {
      const r = await gw.charge({ privateKey: 'key_strict' }, request(`tok_test_visa_4242~${randomUUID()}`, { productName }));
      assert.equal(r.outcome, 'approved', productName.length.toString());
    }
  });

  it('Conekta: refunds need amount and reason; a partial refund is partially_refunded with amount_refunded', async () => {
    const gw = new ConektaGateway({ apiBase: conekta.url, timeoutMs: 2000 });
    const r = await gw.charge({ privateKey: 'key_strict' }, request(`tok_test_visa_4242~${randomUUID()}`));
    assert.ok(r.outcome === 'approved');
    const bare = await fetch(`${conekta.url}/orders/${r.payment.id}/refunds`, { method: 'POST', headers: cHeaders, body: JSON.stringify({ reason: 'requested_by_client' }) });
    assert.equal(bare.status, 422);
    const part = await gw.refund({ privateKey: 'key_strict' }, r.payment.id, `p-${randomUUID()}`, 500);
    assert.equal(part.payment?.status, 'partially_refunded');
    assert.equal(part.payment?.refundedCents, 500);
    const rest = await gw.refund({ privateKey: 'key_strict' }, r.payment.id, `r-${randomUUID()}`, 1499);
    assert.equal(rest.payment?.status, 'refunded');
  });

  it('Conekta: `search` is not a metadata match; the adapter finds our order by created_at window, limit 250 and next pages', async () => {
    const gw = new ConektaGateway({ apiBase: conekta.url, timeoutMs: 5000 });
    const ours = request(`tok_test_visa_4242~${randomUUID()}`);
    const first = await gw.charge({ privateKey: 'key_strict' }, ours);
    assert.ok(first.outcome === 'approved');
    // 260 later orders push ours to the second page.
    for (let i = 0; i < 260; i++) await gw.charge({ privateKey: 'key_strict' }, request(`tok_test_visa_4242~${randomUUID()}`));
    const bySearch = await fetch(`${conekta.url}/orders?search=${ours.referencia}`, { headers: cHeaders });
    assert.equal(((await bySearch.json()) as { data: unknown[] }).data.length, 0, 'search does not match metadata');
    const tooMany = await fetch(`${conekta.url}/orders?limit=251`, { headers: cHeaders });
    assert.equal(tooMany.status, 422);
    const before = conekta.state.requests.length;
    const found = await gw.findByReference({ privateKey: 'key_strict' }, ours.referencia, new Date());
    assert.equal(found?.id, first.payment.id);
    const lists = conekta.state.requests.slice(before).map((x) => x.path);
    assert.ok(lists.length >= 2 && lists.every((p) => /created_at\.gte=\d+/.test(p) && /created_at\.lte=\d+/.test(p) && /limit=250/.test(p)), lists.join(' '));
    assert.ok(lists.some((p) => /[?&]next=ord_/.test(p)), 'paged with next');
  });

  it('Mercado Pago: X-Idempotency-Key is required on payments and refunds', async () => {
    const body = { transaction_amount: 10, token: `card~${randomUUID()}`, payment_method_id: 'visa', payer: { email: 'a@b.co' } };
    const r = await fetch(`${mp.url}/v1/payments`, { method: 'POST', headers: mHeaders(), body: JSON.stringify(body) });
    assert.equal(r.status, 400);
    const ok = await fetch(`${mp.url}/v1/payments`, { method: 'POST', headers: mHeaders({ 'x-idempotency-key': randomUUID() }), body: JSON.stringify(body) });
    assert.equal(ok.status, 201);
    const id = ((await ok.json()) as { id: number }).id;
    const refund = await fetch(`${mp.url}/v1/payments/${id}/refunds`, { method: 'POST', headers: mHeaders(), body: '{}' });
    assert.equal(refund.status, 400);
  });

  it('Mercado Pago: notification_url must be https and at most 248 characters; the adapter omits it otherwise and adds source_news=webhooks', async () => {
    const body = (notification_url: string) => ({ transaction_amount: 10, token: `card~${randomUUID()}`, payment_method_id: 'visa', payer: { email: 'a@b.co' }, notification_url });
    for (const url of ['http://pagos.example.com/hook', `https://pagos.example.com/${'x'.repeat(230)}`]) {
      const r = await fetch(`${mp.url}/v1/payments`, { method: 'POST', headers: mHeaders({ 'x-idempotency-key': randomUUID() }), body: JSON.stringify(body(url)) });
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { error: string }).error, 'invalid_notification_url');
    }
    const plain = new MercadoPagoGateway({ apiBase: mp.url, timeoutMs: 2000, publicBaseUrl: 'http://pagos.example.com' });
    assert.equal(plain.buildPayload(request('card')).notification_url, undefined);
    const long = new MercadoPagoGateway({ apiBase: mp.url, timeoutMs: 2000, publicBaseUrl: `https://pagos.example.com/${'x'.repeat(200)}` });
    assert.equal(long.buildPayload(request('card')).notification_url, undefined);
    const r = await plain.charge({ accessToken: 'TEST-strict' }, request(`card~${randomUUID()}`));
    assert.equal(r.outcome, 'approved');
    const tls = new MercadoPagoGateway({ apiBase: mp.url, timeoutMs: 2000, publicBaseUrl: 'https://pagos.example.com' });
    assert.equal(tls.buildPayload(request('card')).notification_url, 'https://pagos.example.com/api/v1/webhook/mercado-pago?source_news=webhooks');
  });

  it('Mercado Pago: a partial refund keeps status approved with status_detail partially_refunded; the adapter reads it as a partial refund', async () => {
    const gw = new MercadoPagoGateway({ apiBase: mp.url, timeoutMs: 2000, publicBaseUrl: '' });
    const r = await gw.charge({ accessToken: 'TEST-strict' }, request(`card~${randomUUID()}`));
    assert.ok(r.outcome === 'approved');
    await gw.refund({ accessToken: 'TEST-strict' }, r.payment.id, randomUUID(), 500);
    const p = await gw.getPayment({ accessToken: 'TEST-strict' }, r.payment.id);
    assert.equal(p?.raw.status, 'approved');
    assert.equal(p?.statusDetail, 'partially_refunded');
    assert.equal(p?.status, 'partially_refunded');
    assert.equal(p?.refundedCents, 500);
  });
});
