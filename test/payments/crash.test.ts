/**
 * The service process is SIGKILLed right after a charge is recorded (before the voucher exists). After a
 * restart, with no further request, the voucher is delivered exactly once. Also: a graceful shutdown
 * (SIGTERM) in the middle of a purchase finishes it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestApp } from '../helpers/app.js';
import { conektaBody, createShop, mpBody, paymentEnv, routerUsers, startFakes, startPaymentsApp, txByRef, waitFor, type Fakes, type Shop } from './helpers.js';
import { spawnService, type Child } from './child.js';
import { transacciones } from '../../src/infra/db/schema.js';
import { desc, eq } from 'drizzle-orm';

describe('crash recovery (child process)', () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  const children: Child[] = [];
  const env = () => ({ ...paymentEnv(f), DATABASE_URL: t.database.url });

  before(async () => {
    f = await startFakes();
    t = await startPaymentsApp(f); // for fixtures and inspection only (no workers)
    shop = await createShop(t);
  });
  after(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) await c.kill();
    await t.close();
    await shop.sim.close();
    await f.close();
  });

  it('SIGKILL right after the charge → after restart the voucher is delivered exactly once', async () => {
    const first = await spawnService({ ...env(), PAYMENTS_TEST_KILL_AFTER_CHARGE: '1' });
    children.push(first);
    const body = conektaBody(shop.productId);
    const answer = await fetch(`${first.url}/api/v1/payments/pagar-conekta`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}` },
      body: JSON.stringify(body),
    }).then(
      () => 'answered',
      () => 'connection lost',
    );
    assert.equal(answer, 'connection lost');
    const exit = await first.exited;
    assert.equal(exit.signal, 'SIGKILL');

    // The money was taken and recorded; nothing is on the router yet.
    const [row] = await t.ctx.db.orm.select().from(transacciones).where(eq(transacciones.clienteEmail, 'Ana@example.com')).orderBy(desc(transacciones.id)).limit(1);
    assert.equal(row.estado, 'cobrada');
    assert.equal(f.conekta.ordersFor(row.referencia!).length, 1);
    assert.equal(f.conekta.ordersFor(row.referencia!)[0].payment_status, 'paid');
    assert.equal(routerUsers(shop.sim, row.usuarioHotspot!).length, 0);

    const second = await spawnService(env());
    children.push(second);
    const done = await waitFor('entregada tras reiniciar', async () => {
      const r = await txByRef(t.ctx, row.referencia!);
      return r.estado === 'entregada' ? r : null;
    }, 30_000);
    assert.equal(done.usuarioHotspot, row.usuarioHotspot);
    const users = shop.sim.state.users.rows.filter((u) => u.comment === `pagos-hotspot tx=${row.referencia}`);
    assert.equal(users.length, 1, 'exactly one voucher');
    const adds = shop.sim.received('/ip/hotspot/user/add').filter((c) => c.words.includes(`=name=${row.usuarioHotspot}`));
    assert.equal(adds.length, 1, 'created once');
    assert.equal(f.conekta.ordersFor(row.referencia!).length, 1, 'charged once');

    // The customer's portal recovers the credentials by reference.
    const look = await fetch(`${second.url}/api/v1/payments/transacciones/${row.referencia}`, { headers: { authorization: `Bearer ${shop.apiKey}` } });
    const data = (await look.json()) as any;
    assert.equal(data.estado, 'entregada');
    assert.equal(data.usuario_hotspot.usuario, row.usuarioHotspot);
    await second.stop();
  });

  it('SIGTERM during a purchase: the purchase finishes and is answered before the process exits', async () => {
    const child = await spawnService(env());
    children.push(child);
    shop.sim.slow(400); // the router answers slowly, so the purchase is in flight when SIGTERM arrives
    const checks = shop.sim.received('/ip/hotspot/user/profile/print').length;
    const pending = fetch(`${child.url}/api/v1/payments/pagar-mercado-pago`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}` },
      body: JSON.stringify(mpBody(shop.productId)),
    });
    await waitFor('compra en curso', () => shop.sim.received('/ip/hotspot/user/profile/print').length > checks);
    child.proc.kill('SIGTERM');
    const res = await pending;
    const data = (await res.json()) as any;
    shop.sim.slow(0);
    assert.equal(res.status, 200, JSON.stringify(data));
    assert.equal(data.success, true);
    // The answer closes its connection, so the kept-alive socket does not hold the closing server open.
    assert.equal(res.headers.get('connection'), 'close');
    const exit = await child.exited;
    assert.equal(exit.code, 0);
    const row = await txByRef(t.ctx, data.referencia);
    assert.equal(row.estado, 'entregada');
  });
});
