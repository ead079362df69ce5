/**
 * Top-ups of counter (batch) vouchers (issue 15) through HTTP, the Conekta fake and the RouterOS simulator
 * on real PostgreSQL: a voucher sold for cash is proven by its printed password and extended on the SAME
 * hotspot user, charged once; its refund reverts the extension; voided, expired, wrongly proven or another
 * company's counter vouchers are refused before any charge. The money invariant holds on the results.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkMoneyInvariant } from '../../drill/invariant.js';
import { auth, conektaBody, createShop, routerUsers, txByRef, usePaymentsShop, type Shop } from './helpers.js';

describe('top-ups of counter vouchers (recargas de fichas de lote)', () => {
  const env = usePaymentsShop();
  const post = (url: string, payload: unknown, apiKey = env.shop.apiKey) =>
    env.t.request({ method: 'POST', url, headers: auth(apiKey), payload: payload as Record<string, unknown> });
  const topUp = (usuario: string, contrasena: string | null, extra: Record<string, unknown> = {}) =>
    post('/api/v1/payments/recargar-conekta', { ...conektaBody(env.shop.productId), usuario, contrasena, ...extra });
  const user = (name: string) => routerUsers(env.shop.sim, name);
  const paidOrders = (ref: string) => env.f.conekta.ordersFor(ref).filter((o) => ['paid', 'refunded', 'partially_refunded'].includes(String(o.payment_status)));
  const drainAll = async () => {
    for (let i = 0; i < 20; i++) {
      await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE done_at IS NULL AND kind <> 'pagos.purgar' AND kind NOT LIKE 'vigencias.%'`);
      if ((await env.t.ctx.payments.outbox.drain(10)) === 0) return;
    }
  };
  const invariant = (sims = [env.shop.sim]) => checkMoneyInvariant({ query: env.t.ctx.db.query, conekta: env.f.conekta, routers: sims });
  /** A batch of `cantidad` on the shop's router (delivered), and its printed credentials. */
  const batch = async (shop: Shop, cantidad: number, productoId = shop.productId) => {
    const res = await env.t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: { authorization: `Bearer ${shop.adminToken}` }, payload: { producto_id: productoId, cantidad, prefijo: 'CX-' } });
    assert.equal(res.statusCode, 201, res.body);
    await drainAll();
    const vouchers = await env.t.ctx.batches.vouchers(shop.empresaId, res.data.id);
    assert.equal(vouchers.length, cantidad);
    return { id: res.data.id as number, vouchers };
  };

  it('extends the batch voucher’s own user (same name, larger limit-uptime), charges once, creates no user; a refund reverts', async () => {
    const { id: lote, vouchers } = await batch(env.shop, 2);
    const [v] = vouchers;
    assert.equal(user(v.usuario)[0]['limit-uptime'], '1h', 'the batch put its plan on the router');
    const before = env.shop.sim.state.users.rows.length;
    const res = await topUp(v.usuario, v.password);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.estado, 'entregada');
    assert.equal(res.data.usuario_hotspot.usuario, v.usuario, 'same user');
    assert.deepEqual(res.data.recarga, { limite_minutos: 120, limite_bytes: null, vigencia_minutos: null });
    assert.equal(env.shop.sim.state.users.rows.length, before, 'no new user');
    const [u] = user(v.usuario);
    assert.equal(u['limit-uptime'], '2h');
    assert.equal(u.comment, `pagos-hotspot lote=${lote}`, 'still the batch’s user');
    assert.equal(paidOrders(res.data.referencia).length, 1, 'charged once');
    const [ficha] = await env.t.ctx.db.query<{ id: number }>(`SELECT id FROM fichas_lote WHERE lote_id = $1 AND usuario = $2`, [lote, v.usuario]);
    const row = await txByRef(env.t.ctx, res.data.referencia);
    assert.equal(row.recargaDe, -Number(ficha.id), 'names the counter voucher');
    assert.equal(row.recargaPrevioMinutos, 60, 'previous terms: the batch’s plan');
    assert.equal(row.recargaMinutos, 120);
    // The other voucher of the batch is untouched.
    assert.equal(user(vouchers[1].usuario)[0]['limit-uptime'], '1h');

    // A second top-up grows from the extended terms: 3 h.
    const again = await topUp(v.usuario, v.password);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(user(v.usuario)[0]['limit-uptime'], '3h');
    await drainAll();
    assert.deepEqual((await invariant()).violations, []);

    // Refunding the first keeps the second's hour: 2 h, the same user.
    const r = await env.t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${row.id}/reembolso`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
    assert.equal(r.statusCode, 202, r.body);
    await drainAll();
    assert.equal(user(v.usuario)[0]['limit-uptime'], '2h');
    assert.equal(user(v.usuario).length, 1);
    assert.deepEqual((await invariant()).violations, []);
  });

  it('voiding the batch of a topped-up, unused voucher refunds the top-up (the user leaves the router)', async () => {
    const { id: lote, vouchers } = await batch(env.shop, 1);
    const [v] = vouchers;
    const res = await topUp(v.usuario, v.password);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(user(v.usuario)[0]['limit-uptime'], '2h');
    const voided = await env.t.request({ method: 'POST', url: `/api/v1/admin/lotes/${lote}/anular`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
    assert.equal(voided.statusCode, 200, voided.body);
    await drainAll();
    assert.equal(user(v.usuario).length, 0, 'the unused voucher left the router');
    assert.equal((await txByRef(env.t.ctx, res.data.referencia)).estado, 'reembolsada');
    assert.equal(env.f.conekta.ordersFor(res.data.referencia)[0].payment_status, 'refunded');
    assert.deepEqual((await invariant()).violations, []);
  });

  it('validity: expira_en of a used batch voucher moves by the plan’s validity; its refund moves it back', async () => {
    const [p] = await env.t.ctx.db.query<{ id: number }>(
      `INSERT INTO productos (empresa_id, router_id, perfil_mikrotik_id, perfil_mikrotik_nombre, nombre_venta, precio, moneda, duracion_minutos, vigencia_minutos, vigencia_desde)
       VALUES ($1, $2, '*9', '1_HORA', 'Día', '19.99', 'MXN', 60, 120, 'primer_uso') RETURNING id`,
      [env.shop.empresaId, env.shop.routerId],
    );
    const { id: lote, vouchers } = await batch(env.shop, 1, p.id);
    const [v] = vouchers;
    // First login seen 10 minutes ago: sold, expiring in 110 minutes.
    await env.t.ctx.db.query(
      `UPDATE fichas_lote SET estado = 'vendido', primer_uso_en = (now() AT TIME ZONE 'utc') - interval '10 minutes', expira_en = (now() AT TIME ZONE 'utc') + interval '110 minutes' WHERE lote_id = $1`,
      [lote],
    );
    const expiry = async () => new Date(String((await env.t.ctx.db.query<{ e: string }>(`SELECT expira_en::text AS e FROM fichas_lote WHERE lote_id = $1`, [lote]))[0].e).replace(' ', 'T') + 'Z').getTime();
    const e0 = await expiry();
    const res = await topUp(v.usuario, v.password, { producto_id: p.id });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data.recarga, { limite_minutos: 120, limite_bytes: null, vigencia_minutos: 240 });
    assert.equal((await expiry()) - e0, 120 * 60_000 * (env.t.ctx.config.vigenciaMinuteSeconds / 60), 'expira_en moved by the validity added');
    const row = await txByRef(env.t.ctx, res.data.referencia);
    const r = await env.t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${row.id}/reembolso`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
    assert.equal(r.statusCode, 202, r.body);
    await drainAll();
    assert.equal(await expiry(), e0, 'back to the batch’s validity');
    assert.equal(user(v.usuario)[0]['limit-uptime'], '1h');
    assert.deepEqual((await invariant()).violations, []);
  });

  it('refused before any charge: wrong password (401), another company’s voucher (404), voided (409), expired (409)', async () => {
    const { id: lote, vouchers } = await batch(env.shop, 3);
    const orders = () => env.f.conekta.state.orders.size;
    const n0 = orders();
    const wrong = await topUp(vouchers[0].usuario, vouchers[0].password === '000000' ? '111111' : '000000');
    assert.equal(wrong.statusCode, 401, wrong.body);
    assert.equal(wrong.data.code, 'credenciales_invalidas');
    const none = await topUp(vouchers[0].usuario, null);
    assert.equal(none.statusCode, 401);

    // Another company's router key cannot see (nor extend) this company's counter voucher, and ours not theirs.
    const other = await createShop(env.t);
    try {
      const mine = await post('/api/v1/payments/recargar-conekta', { ...conektaBody(other.productId), usuario: vouchers[0].usuario, contrasena: vouchers[0].password }, other.apiKey);
      assert.equal(mine.statusCode, 404, mine.body);
      assert.equal(mine.data.code, 'ficha_no_encontrada');
      const theirs = (await batch(other, 1)).vouchers[0];
      const res = await topUp(theirs.usuario, theirs.password);
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.data.code, 'ficha_no_encontrada');
      assert.equal(routerUsers(other.sim, theirs.usuario)[0]['limit-uptime'], '1h');
      assert.deepEqual((await invariant([env.shop.sim, other.sim])).violations, []);
    } finally {
      await other.sim.close();
    }

    // Expired (the sweeper disabled it), then a voided batch.
    await env.t.ctx.db.query(`UPDATE fichas_lote SET estado = 'expirado', expirada_en = (now() AT TIME ZONE 'utc') WHERE lote_id = $1 AND usuario = $2`, [lote, vouchers[1].usuario]);
    const expired = await topUp(vouchers[1].usuario, vouchers[1].password);
    assert.equal(expired.statusCode, 409, expired.body);
    assert.equal(expired.data.code, 'ficha_vencida');
    const voided = await env.t.request({ method: 'POST', url: `/api/v1/admin/lotes/${lote}/anular`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
    assert.ok(voided.statusCode < 300, voided.body);
    const res = await topUp(vouchers[2].usuario, vouchers[2].password);
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.data.code, 'ficha_anulada');
    assert.equal(orders(), n0, 'no charge for any of them');
  });
});
