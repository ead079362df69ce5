/**
 * Issue 15 acceptance: a top-up extends the same user (same name, larger limit) and charges once, across a
 * crash mid-delivery. The service process (real port, real workers) is SIGKILLed right after the top-up's
 * limits reached the router and before the delivery was recorded; a restarted process finishes the delivery
 * by SETTING the same stored target again (not adding), so the user ends with exactly the time paid for.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestApp } from '../helpers/app.js';
import { checkMoneyInvariant } from '../../drill/invariant.js';
import { conektaBody, createShop, paymentEnv, routerUsers, startFakes, startPaymentsApp, txByRef, waitFor, type Fakes, type Shop } from './helpers.js';
import { spawnService, type Child } from './child.js';

describe('top-up across a crash mid-delivery (child process)', () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  const children: Child[] = [];
  const env = () => ({ ...paymentEnv(f), DATABASE_URL: t.database.url });
  const post = (base: string, path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}` }, body: JSON.stringify(body) });
  /** A top-up of `usuario` on a child that kills itself after the router was extended, before that was recorded: its row. */
  const topUpCutMidDelivery = async (first: Child, usuario: string, contrasena: string | null) => {
    const answer = await post(first.url, '/api/v1/payments/recargar-conekta', { ...conektaBody(shop.productId), usuario, contrasena }).then(
      () => 'answered',
      () => 'connection lost',
    );
    assert.equal(answer, 'connection lost');
    assert.equal((await first.exited).signal, 'SIGKILL');
    const [row] = await t.ctx.db.query<{ referencia: string; estado: string }>(`SELECT referencia, estado FROM transacciones WHERE recarga_de IS NOT NULL ORDER BY id DESC LIMIT 1`);
    assert.equal(row.estado, 'cobrada', 'charged, delivery not recorded');
    assert.equal(routerUsers(shop.sim, usuario)[0]['limit-uptime'], '2h', 'the router was extended before the crash');
    return row;
  };

  before(async () => {
    f = await startFakes();
    t = await startPaymentsApp(f); // fixtures and inspection only (no workers)
    shop = await createShop(t);
  });
  after(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) await c.kill();
    await t.close();
    await shop.sim.close();
    await f.close();
  });

  it('SIGKILL after the router was extended, before it was recorded → after restart: same user, 2 h, one charge', async () => {
    const first = await spawnService({ ...env(), PAYMENTS_TEST_KILL_MID_TOPUP: '1' });
    children.push(first);
    const sale = (await (await post(first.url, '/api/v1/payments/pagar-conekta', conektaBody(shop.productId))).json()) as any;
    assert.equal(sale.estado, 'entregada');
    const name = sale.usuario_hotspot.usuario as string;
    assert.equal(routerUsers(shop.sim, name)[0]['limit-uptime'], '1h');
    const usersBefore = shop.sim.state.users.rows.length;

    const row = await topUpCutMidDelivery(first, name, sale.usuario_hotspot.contrasena);

    const second = await spawnService(env());
    children.push(second);
    const done = await waitFor('recarga entregada tras reiniciar', async () => {
      const r = await txByRef(t.ctx, row.referencia);
      return r.estado === 'entregada' ? r : null;
    }, 40_000);
    assert.equal(done.usuarioHotspot, name, 'same user');
    const users = routerUsers(shop.sim, name);
    assert.equal(users.length, 1);
    assert.equal(users[0]['limit-uptime'], '2h', 'extended once: SET, not add');
    assert.equal(users[0].comment, `pagos-hotspot tx=${sale.referencia}`);
    assert.equal(shop.sim.state.users.rows.length, usersBefore, 'no user created');
    assert.equal(shop.sim.received('/ip/hotspot/user/add').filter((c) => c.words.includes(`=name=${name}`)).length, 1, 'the user was created once, by the sale');
    const sets = shop.sim.received('/ip/hotspot/user/set').filter((c) => c.words.some((w) => w.startsWith('=limit-uptime=')));
    assert.ok(sets.length >= 2, 'the restarted worker wrote the target again');
    assert.ok(sets.every((c) => c.words.includes('=limit-uptime=2h')), 'always the same stored target');
    const orders = f.conekta.ordersFor(row.referencia);
    assert.equal(orders.length, 1, 'charged once');
    assert.equal(orders[0].payment_status, 'paid');
    assert.equal((await txByRef(t.ctx, sale.referencia)).limiteMinutos, 120);
    const report = await checkMoneyInvariant({ query: t.ctx.db.query, conekta: f.conekta, routers: [shop.sim] });
    assert.deepEqual(report.violations, []);
    await second.stop();
  });
  it('a counter (batch) voucher too: SIGKILL mid-delivery → after restart the same batch user has 2 h, one charge', async () => {
    const first = await spawnService({ ...env(), PAYMENTS_TEST_KILL_MID_TOPUP: '1' });
    children.push(first);
    const made = await fetch(`${first.url}/api/v1/admin/lotes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.adminToken}` },
      body: JSON.stringify({ producto_id: shop.productId, cantidad: 1, prefijo: 'KX-' }),
    });
    const lote = (await made.json()) as { id: number };
    assert.equal(made.status, 201, JSON.stringify(lote));
    const [v] = await waitFor('la ficha del lote en el router', async () => {
      const vs = await t.ctx.batches.vouchers(shop.empresaId, lote.id);
      return vs.length === 1 && routerUsers(shop.sim, vs[0].usuario).length === 1 ? vs : null;
    }, 30_000);
    assert.equal(routerUsers(shop.sim, v.usuario)[0]['limit-uptime'], '1h');
    const usersBefore = shop.sim.state.users.rows.length;

    const row = await topUpCutMidDelivery(first, v.usuario, v.password);

    const second = await spawnService(env());
    children.push(second);
    await waitFor('recarga de la ficha de lote entregada tras reiniciar', async () => ((await txByRef(t.ctx, row.referencia)).estado === 'entregada' ? true : null), 40_000);
    const users = routerUsers(shop.sim, v.usuario);
    assert.equal(users.length, 1);
    assert.equal(users[0]['limit-uptime'], '2h', 'extended once: SET, not add');
    assert.equal(users[0].comment, `pagos-hotspot lote=${lote.id}`, 'still the batch’s user');
    assert.equal(shop.sim.state.users.rows.length, usersBefore, 'no user created');
    const orders = f.conekta.ordersFor(row.referencia);
    assert.equal(orders.length, 1, 'charged once');
    assert.equal(orders[0].payment_status, 'paid');
    const report = await checkMoneyInvariant({ query: t.ctx.db.query, conekta: f.conekta, routers: [shop.sim] });
    assert.deepEqual(report.violations, []);
    await second.stop();
  });
});
