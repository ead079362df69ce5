/**
 * Top-ups (issue 15) through HTTP, the Conekta fake and the RouterOS simulator on real PostgreSQL: more time
 * on the SAME hotspot user, charged once, delivered by SETTING a stored target (a retried delivery does not
 * extend twice), refunded by reverting the extension (the user stays), concurrent top-ups consistent; the
 * money invariant holds on the result and fails on deliberately broken states.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkMoneyInvariant } from '../../drill/invariant.js';
import { auth, conektaBody, createShop, routerUsers, txByRef, usePaymentsShop } from './helpers.js';

describe('top-ups (recargas)', () => {
  const env = usePaymentsShop();
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}, apiKey = env.shop.apiKey) =>
    env.t.request({ method: 'POST', url, headers: { ...auth(apiKey), ...headers }, payload: payload as Record<string, unknown> });
  const buy = async () => {
    const res = await post('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId));
    assert.equal(res.statusCode, 200, res.body);
    return res.data as { referencia: string; usuario_hotspot: { usuario: string; contrasena: string } };
  };
  const topUp = (usuario: string, contrasena: string | null, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    post('/api/v1/payments/recargar-conekta', { ...conektaBody(env.shop.productId), usuario, contrasena, ...extra }, headers);
  const user = (name: string) => routerUsers(env.shop.sim, name);
  const paidOrders = (ref: string) => env.f.conekta.ordersFor(ref).filter((o) => ['paid', 'refunded', 'partially_refunded'].includes(String(o.payment_status)));
  /** Every due job now (retries included), until nothing is left to run. */
  const drainAll = async () => {
    for (let i = 0; i < 20; i++) {
      await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE done_at IS NULL AND kind <> 'pagos.purgar' AND kind NOT LIKE 'vigencias.%'`);
      const ran = await env.t.ctx.payments.outbox.drain(10);
      if (ran === 0) return;
    }
  };
  const invariant = () => checkMoneyInvariant({ query: env.t.ctx.db.query, conekta: env.f.conekta, routers: [env.shop.sim] });

  it('extends the same user (same name, larger limit-uptime), charges once, creates no user', async () => {
    const sale = await buy();
    const before = env.shop.sim.state.users.rows.length;
    const res = await topUp(sale.usuario_hotspot.usuario, sale.usuario_hotspot.contrasena);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.usuario_hotspot.usuario, sale.usuario_hotspot.usuario, 'same user');
    assert.equal(res.data.usuario_hotspot.contrasena, sale.usuario_hotspot.contrasena);
    assert.equal(res.data.estado, 'entregada');
    assert.deepEqual(res.data.recarga, { limite_minutos: 120, limite_bytes: null, vigencia_minutos: null });
    assert.notEqual(res.data.referencia, sale.referencia);
    assert.equal(env.shop.sim.state.users.rows.length, before, 'no new user');
    const [u] = user(sale.usuario_hotspot.usuario);
    assert.equal(u['limit-uptime'], '2h');
    assert.equal(u.comment, `pagos-hotspot tx=${sale.referencia}`, 'still the sale’s user');
    assert.equal(paidOrders(res.data.referencia).length, 1, 'charged once');
    assert.equal(env.f.conekta.ordersFor(res.data.referencia)[0].amount, 1999);
    const saleRow = await txByRef(env.t.ctx, sale.referencia);
    assert.equal(saleRow.limiteMinutos, 120, 'the sale carries its new terms');
    const row = await txByRef(env.t.ctx, res.data.referencia);
    assert.equal(row.recargaDe, saleRow.id);
    assert.equal(row.recargaPrevioMinutos, 60);
    assert.equal(row.recargaMinutos, 120);

    // A second top-up SETS from the new terms: 3 h.
    const again = await topUp(sale.usuario_hotspot.usuario, sale.usuario_hotspot.contrasena);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(user(sale.usuario_hotspot.usuario)[0]['limit-uptime'], '3h');
    await drainAll();
    const report = await invariant();
    assert.deepEqual(report.violations, []);
  });

  it('a plan with data and validity: limit-bytes-total and expira_en grow to the stored targets too', async () => {
    const [p] = await env.t.ctx.db.query<{ id: number }>(
      `INSERT INTO productos (empresa_id, router_id, perfil_mikrotik_id, perfil_mikrotik_nombre, nombre_venta, precio, moneda, duracion_minutos, limite_bytes, vigencia_minutos, vigencia_desde)
       VALUES ($1, $2, '*9', '1_HORA', 'Datos 1 GB', '19.99', 'MXN', 60, 1000000000, 120, 'primer_uso') RETURNING id`,
      [env.shop.empresaId, env.shop.routerId],
    );
    const s0 = await post('/api/v1/payments/pagar-conekta', conektaBody(p.id));
    assert.equal(s0.statusCode, 200, s0.body);
    const name = s0.data.usuario_hotspot.usuario;
    assert.equal(user(name)[0]['limit-bytes-total'], '1000000000');
    // The first login was seen 10 minutes ago: the validity ends in 110 minutes.
    await env.t.ctx.db.query(
      `UPDATE transacciones SET primer_uso_en = (now() AT TIME ZONE 'utc') - interval '10 minutes', expira_en = (now() AT TIME ZONE 'utc') + interval '110 minutes' WHERE referencia = $1`,
      [s0.data.referencia],
    );
    const before = await txByRef(env.t.ctx, s0.data.referencia);
    const res = await topUp(name, s0.data.usuario_hotspot.contrasena, { producto_id: p.id });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data.recarga, { limite_minutos: 120, limite_bytes: 2000000000, vigencia_minutos: 240 });
    const [u] = user(name);
    assert.equal(u['limit-bytes-total'], '2000000000');
    assert.equal(u['limit-uptime'], '2h');
    const after = await txByRef(env.t.ctx, s0.data.referencia);
    assert.equal(after.vigenciaMinutos, 240);
    assert.equal(after.limiteBytes, 2000000000);
    assert.equal(new Date(after.expiraEn!).getTime() - new Date(before.expiraEn!).getTime(), 120 * 60_000, 'expira_en moved by the plan’s validity');
    // profile-info (what the portal shows) carries the new time left and data.
    const info = await env.t.request({ method: 'POST', url: '/api/v1/hotspot/user/profile-info', headers: auth(env.shop.apiKey), payload: { username: name, password: s0.data.usuario_hotspot.contrasena } });
    assert.equal(info.data.limite_bytes, 2000000000);
    assert.ok(info.data.tiempo_restante > 200 * 60 && info.data.tiempo_restante <= 230 * 60, String(info.data.tiempo_restante));
    // Its refund puts every dimension back.
    const row = await txByRef(env.t.ctx, res.data.referencia);
    const r = await env.t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${row.id}/reembolso`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
    assert.equal(r.statusCode, 202, r.body);
    await drainAll();
    assert.equal(user(name)[0]['limit-bytes-total'], '1000000000');
    assert.equal(user(name)[0]['limit-uptime'], '1h');
    const back = await txByRef(env.t.ctx, s0.data.referencia);
    assert.equal(back.vigenciaMinutos, 120);
    assert.equal(new Date(back.expiraEn!).getTime(), new Date(before.expiraEn!).getTime());
    assert.deepEqual((await invariant()).violations, []);
  });

  it('the same Idempotency-Key replays the top-up without a second charge or extension', async () => {
    const sale = await buy();
    const key = `recarga-${sale.referencia}`;
    const body = { ...conektaBody(env.shop.productId, `tok_test_visa_4242_k${sale.referencia}`), usuario: sale.usuario_hotspot.usuario, contrasena: sale.usuario_hotspot.contrasena };
    const a = await post('/api/v1/payments/recargar-conekta', body, { 'idempotency-key': key });
    const b = await post('/api/v1/payments/recargar-conekta', body, { 'idempotency-key': key });
    assert.equal(a.statusCode, 200, a.body);
    assert.equal(b.statusCode, 200, b.body);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    assert.equal(b.data.referencia, a.data.referencia);
    assert.equal(paidOrders(a.data.referencia).length, 1);
    assert.equal(user(sale.usuario_hotspot.usuario)[0]['limit-uptime'], '2h');
  });

  it('a retried delivery (reply lost after the router applied it) does not extend twice', async () => {
    const sale = await buy();
    const hotspot = env.t.ctx.hotspot;
    const original = hotspot.setVoucherLimits.bind(hotspot);
    let first = true;
    hotspot.setVoucherLimits = async (...args) => {
      const out = await original(...args);
      if (first) {
        first = false;
        throw new Error('reply lost after the router applied the limits');
      }
      return out;
    };
    try {
      const res = await topUp(sale.usuario_hotspot.usuario, sale.usuario_hotspot.contrasena);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.data.estado, 'cobrada', 'delivery pending after the lost reply');
      assert.equal(user(sale.usuario_hotspot.usuario)[0]['limit-uptime'], '2h', 'the router did apply it');
      await drainAll();
      const row = await txByRef(env.t.ctx, res.data.referencia);
      assert.equal(row.estado, 'entregada');
      const sets = env.shop.sim.received('/ip/hotspot/user/set').filter((c) => c.words.some((w) => w.startsWith('=limit-uptime=')));
      assert.ok(sets.length >= 2, 'written again on the retry');
      assert.equal(user(sale.usuario_hotspot.usuario)[0]['limit-uptime'], '2h', 'still 2 h: SET, not add');
      assert.equal((await txByRef(env.t.ctx, sale.referencia)).limiteMinutos, 120);
      assert.equal(paidOrders(res.data.referencia).length, 1);
    } finally {
      hotspot.setVoucherLimits = original;
    }
  });

  it('a refunded top-up reverts its extension and keeps the user; a superseded one keeps the later top-up’s time', async () => {
    const sale = await buy();
    const name = sale.usuario_hotspot.usuario;
    const t1 = await topUp(name, sale.usuario_hotspot.contrasena);
    const t2 = await topUp(name, sale.usuario_hotspot.contrasena);
    assert.equal(t1.statusCode, 200, t1.body);
    assert.equal(t2.statusCode, 200, t2.body);
    assert.equal(user(name)[0]['limit-uptime'], '3h');
    const refund = async (ref: string) => {
      const row = await txByRef(env.t.ctx, ref);
      const res = await env.t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${row.id}/reembolso`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
      assert.equal(res.statusCode, 202, res.body);
      await drainAll();
    };
    // The earlier one (superseded by t2): only its own hour goes; t2's paid hour stays.
    await refund(t1.data.referencia);
    assert.equal(user(name).length, 1, 'the user stays');
    assert.equal(user(name)[0]['limit-uptime'], '2h');
    assert.equal((await txByRef(env.t.ctx, t1.data.referencia)).estado, 'reembolsada');
    // The latest: back to its stored previous target... minus t1, which is the original plan.
    await refund(t2.data.referencia);
    assert.equal(user(name).length, 1, 'the user stays');
    assert.equal(user(name)[0]['limit-uptime'], '1h');
    assert.equal(user(name)[0].disabled, 'false');
    assert.equal((await txByRef(env.t.ctx, sale.referencia)).limiteMinutos, 60);
    assert.equal((await txByRef(env.t.ctx, sale.referencia)).estado, 'entregada');
    const report = await invariant();
    assert.deepEqual(report.violations, []);
  });

  it('refunding the sale itself removes the user and refunds its top-ups', async () => {
    const sale = await buy();
    const t1 = await topUp(sale.usuario_hotspot.usuario, sale.usuario_hotspot.contrasena);
    assert.equal(t1.statusCode, 200, t1.body);
    const row = await txByRef(env.t.ctx, sale.referencia);
    const res = await env.t.request({ method: 'POST', url: `/api/v1/admin/mi-empresa/transacciones/${row.id}/reembolso`, headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: {} });
    assert.equal(res.statusCode, 202, res.body);
    await drainAll();
    assert.equal(user(sale.usuario_hotspot.usuario).length, 0);
    assert.equal((await txByRef(env.t.ctx, t1.data.referencia)).estado, 'reembolsada');
    assert.equal(String(env.f.conekta.ordersFor(t1.data.referencia)[0].payment_status), 'refunded');
    const report = await invariant();
    assert.deepEqual(report.violations, []);
  });

  it('one top-up in flight per voucher: while one is charged and not yet applied, another is refused before any charge', async () => {
    const sale = await buy();
    const name = sale.usuario_hotspot.usuario;
    const hotspot = env.t.ctx.hotspot;
    const original = hotspot.setVoucherLimits.bind(hotspot);
    hotspot.setVoucherLimits = async () => {
      throw Object.assign(new Error('failure: simulated trap'), { name: 'TrapError' });
    };
    let first;
    try {
      first = await topUp(name, sale.usuario_hotspot.contrasena);
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.data.estado, 'cobrada');
      const second = await topUp(name, sale.usuario_hotspot.contrasena);
      assert.equal(second.statusCode, 409, second.body);
      assert.equal(second.data.code, 'recarga_en_curso');
      assert.ok(second.data.detail);
      assert.equal(env.f.conekta.ordersFor(second.data.referencia).length, 0, 'nothing charged');
    } finally {
      hotspot.setVoucherLimits = original;
    }
    await drainAll();
    assert.equal((await txByRef(env.t.ctx, first.data.referencia)).estado, 'entregada');
    assert.equal(user(name)[0]['limit-uptime'], '2h');
    // Once it is applied, the next one is welcome and builds on it.
    const third = await topUp(name, sale.usuario_hotspot.contrasena);
    assert.equal(third.statusCode, 200, third.body);
    assert.equal(user(name)[0]['limit-uptime'], '3h');
  });

  it('concurrent top-ups of one voucher end consistent: each charged one extended it exactly once', async () => {
    const sale = await buy();
    const name = sale.usuario_hotspot.usuario;
    // A slow router keeps the first top-up in flight while the others arrive (more overlap; no timing asserted).
    env.shop.sim.slow(200);
    const answers = await Promise.all([0, 1, 2, 3].map(() => topUp(name, sale.usuario_hotspot.contrasena))).finally(() => env.shop.sim.slow(0));
    for (const a of answers) assert.ok(a.statusCode === 200 || (a.statusCode === 409 && a.data.code === 'recarga_en_curso'), a.body);
    const ok = answers.filter((a) => a.statusCode === 200);
    assert.ok(ok.length >= 1);
    for (const a of answers.filter((x) => x.statusCode === 409)) {
      assert.equal(env.f.conekta.ordersFor(a.data.referencia).length, 0, 'a refused top-up charged nothing');
    }
    await drainAll();
    const charged = ok.filter((a) => paidOrders(a.data.referencia).length === 1).length;
    assert.equal(charged, ok.length);
    assert.equal(user(name).length, 1);
    assert.equal(user(name)[0]['limit-uptime'], `${1 + charged}h`);
    assert.equal((await txByRef(env.t.ctx, sale.referencia)).limiteMinutos, 60 * (1 + charged));
    const report = await invariant();
    assert.deepEqual(report.violations, []);
  });

  it('clear errors before any charge: unknown voucher, wrong password, another company’s voucher, expired, no effect, rate limit', async () => {
    const sale = await buy();
    const orders = () => env.f.conekta.state.orders.size;
    const n0 = orders();
    const missing = await topUp('PT-NOPE9', '1234');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.data.code, 'ficha_no_encontrada');
    assert.ok(missing.data.detail);
    const wrong = await topUp(sale.usuario_hotspot.usuario, 'x' + sale.usuario_hotspot.contrasena);
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.data.code, 'credenciales_invalidas');
    const none = await topUp(sale.usuario_hotspot.usuario, null);
    assert.equal(none.statusCode, 401);

    // Another company's router key cannot see (nor extend) this voucher.
    const other = await createShop(env.t);
    try {
      const res = await post('/api/v1/payments/recargar-conekta', { ...conektaBody(other.productId), usuario: sale.usuario_hotspot.usuario, contrasena: sale.usuario_hotspot.contrasena }, {}, other.apiKey);
      assert.equal(res.statusCode, 404);
      assert.equal(res.data.code, 'ficha_no_encontrada');
    } finally {
      await other.sim.close();
    }

    // A plan that adds nothing the voucher limits (the PIN plan has no duration; the voucher has no validity).
    const noEffect = await topUp(sale.usuario_hotspot.usuario, sale.usuario_hotspot.contrasena, { producto_id: env.shop.pinProductId });
    assert.equal(noEffect.statusCode, 400, noEffect.body);
    assert.equal(noEffect.data.code, 'recarga_sin_efecto');

    // Expired (the validity is over): buy a new voucher instead.
    await env.t.ctx.db.query(`UPDATE transacciones SET vigencia_minutos = 60, vigencia_desde = 'venta', expira_en = (now() AT TIME ZONE 'utc') - interval '1 minute' WHERE referencia = $1`, [sale.referencia]);
    const expired = await topUp(sale.usuario_hotspot.usuario, sale.usuario_hotspot.contrasena);
    assert.equal(expired.statusCode, 409, expired.body);
    assert.equal(expired.data.code, 'ficha_vencida');
    assert.equal(orders(), n0, 'nothing was charged');
    assert.equal(user(sale.usuario_hotspot.usuario)[0]['limit-uptime'], '1h');

    // Wrong proofs are limited like profile-info: the device/name key locks.
    let limited = null;
    for (let i = 0; i < 30 && !limited; i++) {
      const r = await topUp(sale.usuario_hotspot.usuario, `bad${i}`);
      if (r.statusCode === 429) limited = r;
    }
    assert.ok(limited, 'rate-limited');
    assert.equal(limited.data.code, 'too_many_attempts');
    assert.ok(limited.headers['retry-after']);
  });

  it('through the checkout hand-off: the session proves the voucher, the page pays, the same user gets the time', async () => {
    const sale = await buy();
    const name = sale.usuario_hotspot.usuario;
    const session = (extra: Record<string, unknown>) =>
      post('/api/v1/checkout/sesiones', { producto_id: env.shop.productId, pasarela: 'conekta', nombre_cliente: 'Ana López', email_cliente: 'ana@example.com', ...extra });
    const bad = await session({ recarga_usuario: name, recarga_contrasena: 'nope' });
    assert.equal(bad.statusCode, 401, bad.body);
    assert.equal(bad.data.code, 'credenciales_invalidas');
    const missing = await session({ recarga_usuario: 'PT-ZZZZZ', recarga_contrasena: '1' });
    assert.equal(missing.statusCode, 404);
    const res = await session({ recarga_usuario: name, recarga_contrasena: sale.usuario_hotspot.contrasena });
    assert.equal(res.statusCode, 201, res.body);
    const id = new URL(res.data.url).pathname.split('/').pop()!;
    const page = await env.t.request({ method: 'GET', url: `/pagar/${id}` });
    assert.equal(page.statusCode, 200);
    assert.ok(page.body.includes(`para la ficha ${name}`), 'the page says it is a top-up of this voucher');
    const paid = await env.t.request({ method: 'POST', url: `/api/v1/checkout/sesiones/${id}/pago`, headers: { 'idempotency-key': `k-${sale.referencia}` }, payload: { token: `tok_test_visa_4242_s${sale.referencia}` } });
    assert.equal(paid.statusCode, 200, paid.body);
    assert.equal(paid.data.usuario_hotspot.usuario, name);
    assert.equal(user(name).length, 1);
    assert.equal(user(name)[0]['limit-uptime'], '2h');
    assert.equal(paidOrders(paid.data.referencia).length, 1);
    const estado = await env.t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
    assert.equal(estado.data.estado, 'entregada');
    assert.equal(estado.data.usuario_hotspot.usuario, name);
  });

  it('validation: a top-up needs the voucher name ({"detail","code"} style 422, nothing charged)', async () => {
    const res = await post('/api/v1/payments/recargar-conekta', conektaBody(env.shop.productId));
    assert.equal(res.statusCode, 422, res.body);
    assert.ok(!res.body.includes('    at '), 'no stack trace');
  });
});
