/** Idempotency-Key on purchases: one charge per key, also under concurrent duplicates on two instances. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { testDbKind } from '../helpers/db.js';
import { auth, conektaBody, createShop, mpBody, paymentEnv, routerUsers, startFakes, startPaymentsApp, uniq, type Fakes, type Shop } from './helpers.js';

describe('Idempotency-Key', () => {
  let f: Fakes;
  let a: TestApp;
  let b: TestApp;
  let shop: Shop;
  const buy = (t: TestApp, url: string, payload: unknown, key?: string) =>
    t.request({ method: 'POST', url, headers: { ...auth(shop.apiKey), ...(key ? { 'idempotency-key': key } : {}) }, payload: payload as Record<string, unknown> });

  before(async () => {
    f = await startFakes();
    a = await startPaymentsApp(f);
    // A second instance on the same database, as behind a load balancer (an in-memory PGlite cannot be shared).
    b = testDbKind() === 'pglite' ? a : await startTestApp({ database: a.database, env: paymentEnv(f) });
    shop = await createShop(a);
  });
  after(async () => {
    if (b !== a) await b.close();
    await a.close();
    await shop.sim.close();
    await f.close();
  });

  it('the same key and body twice: the stored response, one charge', async () => {
    const key = `key-${uniq()}`;
    const body = conektaBody(shop.productId);
    const first = await buy(a, '/api/v1/payments/pagar-conekta', body, key);
    assert.equal(first.statusCode, 200);
    const second = await buy(a, '/api/v1/payments/pagar-conekta', body, key);
    assert.equal(second.statusCode, 200);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.deepEqual(second.data, first.data);
    assert.equal(f.conekta.ordersFor(first.data.referencia).length, 1);
    const posts = f.conekta.state.requests.filter((r) => r.method === 'POST' && (r.body as any)?.charges?.[0]?.payment_method?.token_id === body.token_tarjeta);
    assert.equal(posts.length, 1, 'the gateway was called once');
    // The stored response (it holds the voucher password) is encrypted at rest.
    const [row] = await a.ctx.db.query<{ respuesta_cifrada: string }>('SELECT respuesta_cifrada FROM idempotencia_solicitudes WHERE clave = $1', [key]);
    assert.ok(!row.respuesta_cifrada.includes(first.data.usuario_hotspot.contrasena));
  });

  it('the same key with another body is a 409', async () => {
    const key = `key-${uniq()}`;
    const first = await buy(a, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId), key);
    assert.equal(first.statusCode, 200);
    const other = await buy(a, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId), key);
    assert.equal(other.statusCode, 409);
    assert.equal(other.data.code, 'idempotency_key_reused');
    assert.equal(other.data.detail, 'La clave de idempotencia ya se usó con otra solicitud');
    const otherEndpoint = await buy(a, '/api/v1/payments/pagar-mercado-pago', mpBody(shop.productId), key);
    assert.equal(otherEndpoint.statusCode, 409);
  });

  it('20 concurrent identical requests over two instances: exactly one charge, one voucher, one answer', async () => {
    const key = `key-${uniq()}`;
    const body = mpBody(shop.productId);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => buy(i % 2 ? b : a, '/api/v1/payments/pagar-mercado-pago', body, key)));
    // The owner's answer (or its replay) is a 200; a duplicate that arrives while the attempt is recorded
    // but not answered yet gets 202 with the same referencia at once (issue 11), never a second charge.
    for (const r of results) assert.ok(r.statusCode === 200 || (r.statusCode === 202 && r.data.code === 'purchase_in_progress'), r.body);
    assert.ok(results.some((r) => r.statusCode === 200));
    const refs = new Set(results.map((r) => r.data.referencia));
    assert.equal(refs.size, 1);
    const users = new Set(results.filter((r) => r.statusCode === 200).map((r) => r.data.usuario_hotspot.usuario));
    assert.equal(users.size, 1);
    const [ref] = refs;
    assert.equal(f.mp.paymentsFor(ref).length, 1);
    assert.equal(f.mp.state.requests.filter((r) => r.method === 'POST' && (r.body as any)?.token === body.token).length, 1);
    assert.equal(routerUsers(shop.sim, [...users][0]).length, 1);
    const [{ n }] = await a.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM transacciones WHERE cliente_email = $1 AND metadata_json->>\'referencia\' = $2', [body.email_cliente, ref]);
    assert.equal(n, 1);
  });

  it('a decline is stored too (the card token is spent); a failure before charging frees the key', async () => {
    const key = `key-${uniq()}`;
    const declined = conektaBody(shop.productId, `tok_test_decline_card_declined~${uniq()}`);
    const d1 = await buy(a, '/api/v1/payments/pagar-conekta', declined, key);
    const d2 = await buy(a, '/api/v1/payments/pagar-conekta', declined, key);
    assert.equal(d1.statusCode, 402);
    assert.deepEqual(d2.data, d1.data);

    const key2 = `key-${uniq()}`;
    const fresh = await createShop(a);
    const body = conektaBody(fresh.productId);
    await fresh.sim.refuse();
    const send = () => a.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: { ...auth(fresh.apiKey), 'idempotency-key': key2 }, payload: body });
    const down = await send();
    assert.equal(down.statusCode, 503);
    await fresh.sim.accept();
    const up = await send();
    await fresh.sim.close();
    assert.equal(up.statusCode, 200, 'the retry after the router came back is a new attempt');
  });

  it('an invalid key is refused', async () => {
    const r = await buy(a, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId), 'x'.repeat(300));
    assert.equal(r.statusCode, 400);
    assert.equal(r.data.code, 'invalid_idempotency_key');
  });
});
