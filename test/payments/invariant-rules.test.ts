/**
 * The money invariant's issue-15 rules (drill/invariant.ts 5–7) catch real losses: each starts from a
 * correct state built through HTTP (a sale, a top-up, a counter batch) on which the invariant holds, then
 * breaks it the way a bug would (on the router, or in our rows) and the check must name the violation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkMoneyInvariant } from '../../drill/invariant.js';
import { auth, conektaBody, routerUsers, txByRef, usePaymentsShop } from './helpers.js';

describe('money invariant: top-ups, counter vouchers, expiry', () => {
  const env = usePaymentsShop();
  const post = (url: string, payload: unknown) => env.t.request({ method: 'POST', url, headers: auth(env.shop.apiKey), payload: payload as Record<string, unknown> });
  const check = () => checkMoneyInvariant({ query: env.t.ctx.db.query, conekta: env.f.conekta, routers: [env.shop.sim] });
  const drainAll = async () => {
    for (let i = 0; i < 20; i++) {
      await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE done_at IS NULL AND kind <> 'pagos.purgar' AND kind NOT LIKE 'vigencias.%'`);
      if ((await env.t.ctx.payments.outbox.drain(10)) === 0) return;
    }
  };
  /** Break the state, expect `pattern` among the violations, then restore it (the next case starts clean). */
  const expectViolation = async (pattern: RegExp, breakIt: () => Promise<void> | void, restore: () => Promise<void> | void) => {
    assert.deepEqual((await check()).violations, [], 'holds before');
    await breakIt();
    const report = await check();
    assert.equal(report.ok, false);
    assert.ok(report.violations.some((v) => pattern.test(v)), `expected ${pattern} in ${JSON.stringify(report.violations)}`);
    await restore();
    assert.deepEqual((await check()).violations, [], 'holds again once restored');
  };

  it('top-ups: a charge without its extension, an extension without a charge, a top-up with a user of its own', async () => {
    const sale = (await post('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId))).data;
    const up = await post('/api/v1/payments/recargar-conekta', { ...conektaBody(env.shop.productId), usuario: sale.usuario_hotspot.usuario, contrasena: sale.usuario_hotspot.contrasena });
    assert.equal(up.statusCode, 200, up.body);
    const [u] = routerUsers(env.shop.sim, sale.usuario_hotspot.usuario);
    assert.equal(u['limit-uptime'], '2h');
    // The top-up charged, the router never extended (or a refund reverted a paid one).
    await expectViolation(/recarga cobrada sin extensión/, () => void (u['limit-uptime'] = '1h'), () => void (u['limit-uptime'] = '2h'));
    // Extended twice ("add N" on a retried delivery), or a refunded top-up left in place.
    await expectViolation(/extensión sin cobro/, () => void (u['limit-uptime'] = '3h'), () => void (u['limit-uptime'] = '2h'));
    // A top-up that created a user (the duplicate-user bug).
    await expectViolation(
      /recarga con ficha propia/,
      () => void env.shop.sim.state.addUser({ name: 'PT-DUPE1', password: '1', profile: '1_HORA', comment: `pagos-hotspot tx=${up.data.referencia}`, disabled: 'false' }),
      () => {
        const row = env.shop.sim.state.findUser('PT-DUPE1')!;
        env.shop.sim.state.users.delete(row);
      },
    );
    // A top-up whose money is kept on a sale that was taken off the router.
    const saleRow = await txByRef(env.t.ctx, sale.referencia);
    await expectViolation(
      /recarga cobrada sobre una ficha dada de baja/,
      () => env.t.ctx.db.query(`UPDATE transacciones SET estado = 'reembolsada' WHERE id = $1`, [saleRow.id]).then(() => undefined),
      () => env.t.ctx.db.query(`UPDATE transacciones SET estado = 'entregada' WHERE id = $1`, [saleRow.id]).then(() => undefined),
    );
  });

  it('counter vouchers are live without gateway money: unknown batch, voided batch, expired voucher, a charge claiming one, one missing', async () => {
    const res = await env.t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: { producto_id: env.shop.productId, cantidad: 3, prefijo: 'MOS-' } });
    assert.equal(res.statusCode, 201, res.body);
    const lote = res.data.id as number;
    await drainAll();
    const users = env.shop.sim.state.users.rows.filter((x) => x.comment === `pagos-hotspot lote=${lote}`);
    assert.equal(users.length, 3, 'the batch is on the router');
    const [first] = users;

    // A user claiming a batch that never generated it (someone printing their own "counter" vouchers).
    await expectViolation(
      /ficha de lote sin lote/,
      () => void env.shop.sim.state.addUser({ name: 'MOS-FAKE2345', password: '123456', profile: '1_HORA', comment: `pagos-hotspot lote=${lote}`, disabled: 'false' }),
      () => void env.shop.sim.state.users.delete(env.shop.sim.state.findUser('MOS-FAKE2345')!),
    );
    // Voiding a batch must take its unused vouchers off the router.
    await expectViolation(
      /ficha de lote anulada y activa/,
      () => env.t.ctx.db.query(`UPDATE lotes SET estado = 'anulado' WHERE id = $1`, [lote]).then(() => undefined),
      () => env.t.ctx.db.query(`UPDATE lotes SET estado = 'generado' WHERE id = $1`, [lote]).then(() => undefined),
    );
    // An expired counter voucher must be disabled.
    await expectViolation(
      /ficha de lote activa tras vencer/,
      () => env.t.ctx.db.query(`UPDATE fichas_lote SET estado = 'expirado' WHERE lote_id = $1 AND usuario = $2`, [lote, first.name]).then(() => undefined),
      () => env.t.ctx.db.query(`UPDATE fichas_lote SET estado = 'generado' WHERE lote_id = $1 AND usuario = $2`, [lote, first.name]).then(() => undefined),
    );
    // A printed voucher that reached the router and vanished (the operator sold a dead ticket).
    const saved = { ...first };
    await expectViolation(
      /ficha de lote ausente del router/,
      () => void env.shop.sim.state.users.delete(env.shop.sim.state.findUser(first.name)!),
      () => void env.shop.sim.state.addUser(saved),
    );
    // Gateway money claiming a counter voucher (a sale "delivered" onto a printed ticket).
    const sale = (await post('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId))).data;
    const row = await txByRef(env.t.ctx, sale.referencia);
    await expectViolation(
      /ficha de lote reclamada por un cobro/,
      () => env.t.ctx.db.query(`UPDATE transacciones SET usuario_hotspot = $2 WHERE id = $1`, [row.id, first.name]).then(() => undefined),
      () => env.t.ctx.db.query(`UPDATE transacciones SET usuario_hotspot = $2 WHERE id = $1`, [row.id, row.usuarioHotspot]).then(() => undefined),
    );
  });

  it('a top-up charge extending a counter voucher is accepted; one not applied, applied twice, or on a voided voucher is caught', async () => {
    const res = await env.t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: { producto_id: env.shop.productId, cantidad: 1, prefijo: 'RCX-' } });
    assert.equal(res.statusCode, 201, res.body);
    const lote = res.data.id as number;
    await drainAll();
    const [v] = await env.t.ctx.batches.vouchers(env.shop.empresaId, lote);
    const up = await post('/api/v1/payments/recargar-conekta', { ...conektaBody(env.shop.productId), usuario: v.usuario, contrasena: v.password });
    assert.equal(up.statusCode, 200, up.body);
    const [u] = routerUsers(env.shop.sim, v.usuario);
    assert.equal(u['limit-uptime'], '2h');
    assert.equal(u.comment, `pagos-hotspot lote=${lote}`);
    // Accepted as it is: a charge without a voucher of its own, extending a live counter voucher.
    assert.deepEqual((await check()).violations, []);
    // Charged, never applied on the router (or a refund reverted a paid one).
    await expectViolation(/recarga cobrada sin extensión: ficha de lote/, () => void (u['limit-uptime'] = '1h'), () => void (u['limit-uptime'] = '2h'));
    // Applied twice ("add N" on a retried delivery).
    await expectViolation(/extensión sin cobro: ficha de lote/, () => void (u['limit-uptime'] = '3h'), () => void (u['limit-uptime'] = '2h'));
    // Money kept on a counter voucher that was voided.
    await expectViolation(
      /recarga cobrada sobre una ficha dada de baja/,
      () => env.t.ctx.db.query(`UPDATE fichas_lote SET estado = 'anulado' WHERE lote_id = $1`, [lote]).then(() => undefined),
      () => env.t.ctx.db.query(`UPDATE fichas_lote SET estado = 'generado' WHERE lote_id = $1`, [lote]).then(() => undefined),
    );
    // A top-up naming a counter voucher that does not exist.
    const row = await txByRef(env.t.ctx, up.data.referencia);
    await expectViolation(
      /recarga sin ficha de lote/,
      () => env.t.ctx.db.query(`UPDATE transacciones SET recarga_de = -999999 WHERE id = $1`, [row.id]).then(() => undefined),
      () => env.t.ctx.db.query(`UPDATE transacciones SET recarga_de = $2 WHERE id = $1`, [row.id, row.recargaDe]).then(() => undefined),
    );
  });

  it('an expired voucher was delivered and is now disabled: a live one after expiry is caught', async () => {
    const sale = (await post('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId))).data;
    const [u] = routerUsers(env.shop.sim, sale.usuario_hotspot.usuario);
    await env.t.ctx.db.query(`UPDATE transacciones SET expirada_en = (now() AT TIME ZONE 'utc') WHERE referencia = $1`, [sale.referencia]);
    u.disabled = 'true';
    await expectViolation(/ficha activa tras vencer/, () => void (u.disabled = 'false'), () => void (u.disabled = 'true'));
  });
});
