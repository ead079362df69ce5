/**
 * Regression tests of issue 11 ("exactly-once money under compound faults"): one test per defect,
 * each named after its scenario, on real PostgreSQL (through a cuttable TCP proxy) with the gateway fakes
 * and the RouterOS simulator. The workers are driven by `outbox.drain()` so each step is deterministic.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestApp } from '../helpers/app.js';
import { createTestDatabase, testDbKind, type TestDatabase } from '../helpers/db.js';
import { requestHash } from '../../src/modules/payments/idempotency.js';
import { settle } from '../../src/modules/payments/settle.js';
import { orderToPayment } from '../../src/modules/payments/gateways/conekta.js';
import {
  auth,
  conektaBody,
  createShop,
  listen,
  routerUsers,
  startFakes,
  startPaymentsApp,
  startProxy,
  txByRef,
  uniq,
  waitFor,
  type CuttableProxy,
  type Fakes,
  type Shop,
} from './helpers.js';

const CONEKTA = '/api/v1/payments/pagar-conekta';

describe('money under compound faults (issue 11)', { skip: testDbKind() === 'pglite' ? 'needs PostgreSQL over TCP' : false }, () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  let db: TestDatabase;
  let proxy: CuttableProxy;
  let base: string;
  const buy = (payload: Record<string, unknown>, headers: Record<string, string> = {}, s: Shop = shop) =>
    t.request({ method: 'POST', url: CONEKTA, headers: { ...auth(s.apiKey), ...headers }, payload });
  const drainUntil = <T>(what: string, check: () => Promise<T>) =>
    waitFor(what, async () => {
      await t.ctx.payments.outbox.drain();
      return check();
    });

  before(async () => {
    f = await startFakes();
    db = await createTestDatabase();
    const url = new URL(db.url);
    proxy = await startProxy(url.hostname, Number(url.port || 5432));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    t = await startPaymentsApp(f, { database: db, env: { DATABASE_URL: url.toString(), IDEMPOTENCY_WAIT_MS: '300', PAYMENT_NOT_FOUND_HORIZON_MS: '0' } });
    base = await listen(t);
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

  describe('defect 1: a charged purchase must never invite a second charge', () => {
    it('database cut during completion, then a same-key retry: the computed answer is sent, the retry answers 202 with the referencia at once, one charge', async () => {
      const key = uniq();
      const body = conektaBody(shop.productId);
      t.ctx.payments.hooks.afterChargeRecorded = () => proxy.cut();
      const ordersBefore = f.conekta.state.orders.size;
      const first = await buy(body, { 'idempotency-key': key });
      t.ctx.payments.hooks.afterChargeRecorded = undefined;
      await proxy.restore();
      assert.equal(first.statusCode, 503, first.body);
      assert.ok(first.data.referencia, 'referencia on the answer');
      assert.equal(first.data.estado, 'en_revision', `the purchase's own answer (with estado), not the generic 503: ${first.body}`);
      const retry = await buy(body, { 'idempotency-key': key });
      assert.equal(retry.statusCode, 202, retry.body);
      assert.equal(retry.data.referencia, first.data.referencia);
      assert.ok(['cobrada', 'entregada'].includes(retry.data.estado), retry.body);
      assert.equal(f.conekta.state.orders.size, ordersBefore + 1, 'charged once');
      await drainUntil('entregada', async () => (await txByRef(t.ctx, first.data.referencia))?.estado === 'entregada');
      assert.equal(f.conekta.state.orders.size, ordersBefore + 1, 'still charged once');
    });

    it('request killed between claim and completion: a same-key retry answers 202 from the transaction row at once, never 409', async () => {
      const sold = await buy(conektaBody(shop.productId));
      assert.equal(sold.statusCode, 200, sold.body);
      const key = uniq();
      const body = conektaBody(shop.productId);
      // What a SIGKILL after the attempt's commit leaves: the key `procesando` with the referencia, no answer.
      await t.ctx.db.query(`INSERT INTO idempotencia_solicitudes (router_id, clave, endpoint, hash_solicitud, referencia) VALUES ($1, $2, 'pagar-conekta', $3, $4)`, [
        shop.routerId,
        key,
        requestHash('pagar-conekta', body),
        sold.data.referencia,
      ]);
      const ordersBefore = f.conekta.state.orders.size;
      const retry = await buy(body, { 'idempotency-key': key });
      assert.equal(retry.statusCode, 202, retry.body);
      assert.equal(retry.data.referencia, sold.data.referencia);
      assert.equal(retry.data.estado, 'entregada');
      assert.equal(f.conekta.state.orders.size, ordersBefore, 'no charge');
    });

    it('same-key retry before the attempt is recorded: waits a bounded time, then 409 without any referencia', async () => {
      const key = uniq();
      const body = conektaBody(shop.productId);
      await t.ctx.db.query(`INSERT INTO idempotencia_solicitudes (router_id, clave, endpoint, hash_solicitud) VALUES ($1, $2, 'pagar-conekta', $3)`, [
        shop.routerId,
        key,
        requestHash('pagar-conekta', body),
      ]);
      const retry = await buy(body, { 'idempotency-key': key });
      assert.equal(retry.statusCode, 409, retry.body);
      assert.equal(retry.data.code, 'idempotency_in_progress');
      assert.equal(retry.data.referencia, undefined, retry.body);
    });
  });

  describe('defect 2: a refunded payment must not come back to life', () => {
    it('refund webhook marks the purchase, then an actor with a stale approved read commits: no revival, no voucher', async () => {
      // Conekta takes the money and the answer is lost: the purchase is en_revision.
      f.conekta.failNext({ status: 500, create: 'paid' });
      const res = await buy(conektaBody(shop.productId));
      assert.equal(res.data.estado, 'en_revision', res.body);
      const stale = await txByRef(t.ctx, res.data.referencia);
      const [order] = f.conekta.ordersFor(res.data.referencia);
      const staleApproved = orderToPayment(order as unknown as Record<string, unknown>);
      assert.equal(staleApproved.status, 'approved');
      // The customer is refunded at the gateway; its webhook is applied.
      f.conekta.setOrderStatus(order.id, 'refunded');
      const hook = await f.conekta.sendWebhook(`${base}/api/v1/webhook/conekta`, 'order.refunded', order.id);
      assert.equal(hook.status, 200, hook.body);
      await drainUntil('rechazada por devolución', async () => (await txByRef(t.ctx, res.data.referencia))?.estado === 'rechazada');
      // The stale actor (request, reconciler or webhook job) commits its old "approved".
      await settle(t.ctx.payments, stale, staleApproved);
      await t.ctx.payments.outbox.drain();
      const row = await txByRef(t.ctx, res.data.referencia);
      assert.equal(row.estado, 'rechazada', 'a refunded order never becomes cobrada/entregada');
      assert.equal(routerUsers(shop.sim, row.usuarioHotspot ?? '').length, 0, 'no voucher on the router');
    });
  });

  describe('defect 10: smaller holes', () => {
    it('same key with another body: 409 without the first purchase referencia', async () => {
      const key = uniq();
      const first = await buy(conektaBody(shop.productId), { 'idempotency-key': key });
      assert.equal(first.statusCode, 200, first.body);
      const other = await buy(conektaBody(shop.productId), { 'idempotency-key': key });
      assert.equal(other.statusCode, 409, other.body);
      assert.equal(other.data.code, 'idempotency_key_reused');
      assert.ok(!other.body.includes(first.data.referencia), `the 409 leaks the first referencia: ${other.body}`);
      assert.equal(other.data.referencia, undefined);
    });
  });
});
