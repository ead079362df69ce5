/**
 * PostgreSQL becomes unreachable in the middle of a purchase (a restart, as the service sees it: every
 * connection dropped, new ones refused), through a TCP proxy in front of the real server. The customer gets
 * a 503 JSON answer with the purchase's referencia, never a 500; the recorded charge is delivered once the
 * database is back, without charging again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestApp } from '../helpers/app.js';
import { createTestDatabase, testDbKind, type TestDatabase } from '../helpers/db.js';
import { auth, conektaBody, createShop, startProxy, startFakes, startPaymentsApp, txByRef, uniq, waitFor, type CuttableProxy, type Fakes, type Shop } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('database outage during a purchase', { skip: testDbKind() === 'pglite' ? 'needs PostgreSQL over TCP' : false }, () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  let db: TestDatabase;
  let proxy: CuttableProxy;
  const buy = (headers: Record<string, string> = {}) =>
    t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: { ...auth(shop.apiKey), ...headers }, payload: conektaBody(shop.productId) });

  before(async () => {
    f = await startFakes();
    db = await createTestDatabase();
    const url = new URL(db.url);
    proxy = await startProxy(url.hostname, Number(url.port || 5432));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    t = await startPaymentsApp(f, { database: db, env: { DATABASE_URL: url.toString() } });
    shop = await createShop(t);
  });
  after(async () => {
    await proxy.restore().catch(() => undefined);
    await t.close();
    await proxy.close();
    await db.drop();
    await shop.sim.close();
    await f.close();
  });

  it('down right after the charge is recorded: 503 JSON with the referencia; delivered later, charged once', async () => {
    t.ctx.payments.hooks.afterChargeRecorded = () => proxy.cut();
    const ordersBefore = f.conekta.state.orders.size;
    const res = await buy({ 'idempotency-key': uniq() });
    t.ctx.payments.hooks.afterChargeRecorded = undefined;
    await proxy.restore();
    assert.equal(res.statusCode, 503, res.body);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.match(res.data.referencia, UUID);
    assert.equal(typeof res.data.detail, 'string');
    assert.equal(f.conekta.state.orders.size, ordersBefore + 1, 'charged once');
    // The recorded sale is finished by the delivery job once the database answers again (its lease runs out).
    const row = await waitFor('entrega tras el corte', async () => {
      await t.ctx.payments.outbox.drain();
      const r = await txByRef(t.ctx, res.data.referencia);
      return r?.estado === 'entregada' ? r : null;
    });
    assert.ok(row.transaccionId);
    assert.equal(f.conekta.state.orders.size, ordersBefore + 1, 'no second charge');
  });

  it('down while the gateway holds the charge: 503 (not 500) with the referencia; reconciled and delivered later', async () => {
    const ordersBefore = f.conekta.state.orders.size;
    // Conekta takes the money and never answers (the outcome is unknown after the gateway timeout).
    f.conekta.failNext({ hang: true, create: 'paid' });
    const pending = buy();
    await waitFor('cobro en la pasarela', () => f.conekta.state.orders.size > ordersBefore);
    await proxy.cut();
    const res = await pending;
    await proxy.restore();
    assert.equal(res.statusCode, 503, res.body);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.match(res.data.referencia, UUID);
    const row = await waitFor('conciliación tras el corte', async () => {
      await t.ctx.payments.outbox.drain();
      const r = await txByRef(t.ctx, res.data.referencia);
      return r?.estado === 'entregada' ? r : null;
    });
    assert.ok(row.transaccionId);
    assert.equal(f.conekta.state.orders.size, ordersBefore + 1, 'charged once');
  });

  it('down before the purchase starts: 503 JSON with a referencia, nothing charged', async () => {
    const ordersBefore = f.conekta.state.orders.size;
    await proxy.cut();
    const res = await buy();
    await proxy.restore();
    assert.equal(res.statusCode, 503, res.body);
    assert.match(res.data.referencia, UUID);
    assert.equal(f.conekta.state.orders.size, ordersBefore);
  });
});
