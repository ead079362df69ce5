/**
 * Validity from the first login, enforced by the server (issue 15 acceptance): a plan valid 2 minutes from
 * first use (a validity minute lasts MINUTE_S seconds here: VIGENCIA_MINUTE_SECONDS, 60 in production,
 * the same code path); the device logs in through the portal's auto-reconnect (RouterOS `/ip/hotspot/active/login`
 * on the simulator); the sweeper disables the user and removes its session and MAC cookie within 30 s
 * after expiry; a router down at that moment is swept when it returns; a restart of the service in between
 * keeps the same `expira_en` and the router sees exactly one `disable`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import type { TestApp } from '../helpers/app.js';
import { checkMoneyInvariant } from '../../drill/invariant.js';
import { auth, conektaBody, createShop, routerDown, routerUp, startFakes, startPaymentsApp, txByRef, waitFor, type Fakes, type Shop } from '../payments/helpers.js';

const MINUTE_S = 5;
const FAST = { VIGENCIA_SWEEP_MS: '200', VIGENCIA_MAX_BACKOFF_MS: '400', VIGENCIA_MINUTE_SECONDS: String(MINUTE_S), ROUTEROS_BREAKER_THRESHOLD: '1000' };

describe('voucher validity (first use → expiry sweep)', () => {
  let f: Fakes;
  let database: TestDatabase;
  let t: TestApp;
  const shops: Shop[] = [];

  before(async () => {
    f = await startFakes();
    database = await createTestDatabase();
    t = await startPaymentsApp(f, { database, env: FAST });
  });
  after(async () => {
    await t.close();
    for (const s of shops) await s.sim.close();
    await database.drop();
    await f.close();
  });

  async function planShop(mac: string, ip: string, vigencia: { vigencia_minutos: number; vigencia_desde: string } = { vigencia_minutos: 2, vigencia_desde: 'primer_uso' }) {
    const shop = await createShop(t);
    shops.push(shop);
    shop.sim.state.addHost({ 'mac-address': mac, address: ip });
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/admin/products',
      headers: { authorization: `Bearer ${shop.adminToken}` },
      payload: { router_id: shop.routerId, perfil_mikrotik_id: '*9', perfil_mikrotik_nombre: '1_HORA', nombre_venta: 'Día', precio: 25, ...vigencia, limite_bytes: 500_000_000 },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.data.vigencia_minutos, vigencia.vigencia_minutos);
    assert.equal(res.data.vigencia_desde, vigencia.vigencia_desde);
    return { shop, productId: res.data.id as number, mac, ip };
  }

  const disables = (shop: Shop) => shop.sim.received('/ip/hotspot/user/disable').length;

  it('rejects a bad validity origin with a JSON 422', async () => {
    const shop = await createShop(t);
    shops.push(shop);
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/admin/products',
      headers: { authorization: `Bearer ${shop.adminToken}` },
      payload: { router_id: shop.routerId, perfil_mikrotik_id: '*8', perfil_mikrotik_nombre: '1_HORA', nombre_venta: 'X', precio: 5, vigencia_minutos: 1, vigencia_desde: 'manana' },
    });
    assert.equal(res.statusCode, 422);
    assert.ok(res.data.code);
  });

  it('first login sets expira_en once; expiry disables the user and removes session and cookie, across a restart and a router outage', async () => {
    await t.ctx.validity.start();
    await t.ctx.payments.startWorkers();
    const up = await planShop('AA:BB:CC:00:00:01', '10.5.50.31');
    const down = await planShop('AA:BB:CC:00:00:02', '10.5.50.32');
    const sold = [] as Array<{ env: typeof up; user: string; password: string; referencia: string }>;
    for (const env of [up, down]) {
      const res = await t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: auth(env.shop.apiKey), payload: conektaBody(env.productId) });
      assert.equal(res.statusCode, 200, res.body);
      sold.push({ env, user: res.data.usuario_hotspot.usuario, password: res.data.usuario_hotspot.contrasena, referencia: res.data.referencia });
    }
    for (const s of sold) {
      const u = s.env.shop.sim.state.findUser(s.user)!;
      assert.equal(u['limit-bytes-total'], '500000000', 'the data allowance is written as limit-bytes-total');
    }

    // Not used yet: a few sweeps go by and nothing is set (no session, no uptime).
    const sweepsBefore = up.shop.sim.received('/ip/hotspot/active/print').length;
    await waitFor('sweeps of the unused voucher', () => up.shop.sim.received('/ip/hotspot/active/print').length >= sweepsBefore + 2);
    assert.equal((await txByRef(t.ctx, sold[0].referencia)).expiraEn, null);
    const info0 = await t.request({ method: 'POST', url: '/api/v1/hotspot/user/profile-info', headers: auth(up.shop.apiKey), payload: { username: sold[0].user, password: sold[0].password } });
    assert.equal(info0.data.tiempo_restante, 2 * MINUTE_S, 'the whole validity while unused');

    // The devices log in (the portal's reconnect → /ip/hotspot/active/login on the router).
    for (const s of sold) {
      const res = await t.request({
        method: 'POST',
        url: '/api/v1/hotspot/auto-reconnect',
        headers: auth(s.env.shop.apiKey),
        payload: { username: s.user, password: s.password, current_mac: s.env.mac, current_ip: s.env.ip },
      });
      assert.equal(res.data.auto_conexion, 'conectado', res.body);
      assert.equal(s.env.shop.sim.state.cookies.rows.filter((c) => c.user === s.user).length, 1, 'the profile leaves a MAC cookie');
    }
    const firstExpiry: string[] = [];
    for (const s of sold) {
      const row = await waitFor('first use seen', async () => {
        const r = await txByRef(t.ctx, s.referencia);
        return r.expiraEn ? r : null;
      });
      assert.ok(row.primerUsoEn);
      const span = Date.parse(row.expiraEn! + 'Z') - Date.parse(row.primerUsoEn! + 'Z');
      assert.equal(span, 2 * MINUTE_S * 1000, 'expira_en = first use + 2 minutes');
      firstExpiry.push(row.expiraEn!);
    }
    const info = await t.request({ method: 'POST', url: '/api/v1/hotspot/user/profile-info', headers: auth(up.shop.apiKey), payload: { username: sold[0].user, password: sold[0].password } });
    assert.ok(info.data.tiempo_restante > 0 && info.data.tiempo_restante <= 2 * MINUTE_S, info.body);
    assert.equal(info.data.expira_en, firstExpiry[0].replace(' ', 'T'));
    assert.equal(info.data.limite_bytes, 500_000_000);

    // The second router goes down now, before its voucher expires (nothing can sweep it until it returns),
    // and the service restarts: this instance learned the first use; a new one on the same database
    // must sweep it, at the same expira_en, exactly once.
    routerDown(down.shop.sim);
    await t.close();
    t = await startPaymentsApp(f, { database, env: FAST });
    await t.ctx.validity.start();
    await t.ctx.payments.startWorkers();

    // The reachable router: disabled, session and cookie gone, within 30 s after expiry.
    const expiresAt = Date.parse(firstExpiry[0] + 'Z');
    const upUser = sold[0].user;
    await waitFor(
      'expired voucher swept on the reachable router',
      () => {
        const st = up.shop.sim.state;
        return st.findUser(upUser)?.disabled === 'true' && !st.active.rows.some((s) => s.user === upUser) && !st.cookies.rows.some((c) => c.user === upUser);
      },
      Math.max(1000, expiresAt + 30_000 - Date.now()),
    );
    const swept = await waitFor('expirada_en recorded', async () => (await txByRef(t.ctx, sold[0].referencia)).expiradaEn);
    assert.ok(Date.parse(swept + 'Z') >= expiresAt, 'never before expiry');
    assert.equal((await txByRef(t.ctx, sold[0].referencia)).expiraEn, firstExpiry[0], 'the restart kept expira_en');

    // The router that was down at expiry: nothing happened to it yet; swept once it is back.
    const downUser = sold[1].user;
    await waitFor('past the down router voucher expiry', () => Date.now() > Date.parse(firstExpiry[1] + 'Z') + 500, 70_000);
    assert.equal(down.shop.sim.state.findUser(downUser)?.disabled, 'false');
    await routerUp(down.shop.sim);
    await waitFor('swept when the router returned', () => {
      const st = down.shop.sim.state;
      return st.findUser(downUser)?.disabled === 'true' && !st.active.rows.some((s) => s.user === downUser) && !st.cookies.rows.some((c) => c.user === downUser);
    });
    await waitFor('expirada_en recorded (down router)', async () => (await txByRef(t.ctx, sold[1].referencia)).expiradaEn);
    assert.equal((await txByRef(t.ctx, sold[1].referencia)).expiraEn, firstExpiry[1]);

    // Each router saw exactly one disable (the swept vouchers leave the work list), and the money state is unchanged.
    assert.equal(disables(up.shop), 1);
    assert.equal(disables(down.shop), 1);
    for (const s of sold) assert.equal((await txByRef(t.ctx, s.referencia)).estado, 'entregada');
    // The money invariant: both purchases were charged once and delivered; their vouchers are now
    // disabled by expiry, which is legitimate (not "delivered without a voucher").
    const report = await checkMoneyInvariant({ query: t.ctx.db.query, conekta: f.conekta, routers: shops.map((s) => s.sim) });
    assert.deepEqual(report.violations, []);
    const info2 = await t.request({ method: 'POST', url: '/api/v1/hotspot/user/profile-info', headers: auth(up.shop.apiKey), payload: { username: sold[0].user, password: sold[0].password } });
    assert.equal(info2.data.tiempo_restante, 0);
  });

  it('a plan valid from the sale (vigencia_desde=venta): expira_en is set at delivery time plus the validity, and the voucher is swept without any login', async () => {
    const sale = await planShop('AA:BB:CC:00:00:03', '10.5.50.33', { vigencia_minutos: 1, vigencia_desde: 'venta' });
    const res = await t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: auth(sale.shop.apiKey), payload: conektaBody(sale.productId) });
    assert.equal(res.statusCode, 200, res.body);
    const user = res.data.usuario_hotspot.usuario as string;
    const referencia = res.data.referencia as string;
    const row = await waitFor('expira_en from the sale', async () => {
      const r = await txByRef(t.ctx, referencia);
      return r.expiraEn ? r : null;
    });
    assert.equal(row.primerUsoEn, null, 'nobody logged in');
    const from = row.usuarioCreadoEn ?? row.pagadaEn ?? row.creadaEn;
    assert.equal(Date.parse(row.expiraEn! + 'Z') - Date.parse(from! + 'Z'), MINUTE_S * 1000, 'expira_en = the sale + 1 minute');
    const info = await t.request({ method: 'POST', url: '/api/v1/hotspot/user/profile-info', headers: auth(sale.shop.apiKey), payload: { username: user, password: res.data.usuario_hotspot.contrasena } });
    assert.ok(info.data.tiempo_restante <= MINUTE_S, `counting down from the sale: ${info.body}`);
    const expiresAt = Date.parse(row.expiraEn! + 'Z');
    await waitFor('swept without a login', () => sale.shop.sim.state.findUser(user)?.disabled === 'true', Math.max(1000, expiresAt + 30_000 - Date.now()));
    const swept = await waitFor('expirada_en recorded', async () => (await txByRef(t.ctx, referencia)).expiradaEn);
    assert.ok(Date.parse(swept + 'Z') >= expiresAt, 'never before expiry');
    assert.equal(disables(sale.shop), 1);
    assert.equal(sale.shop.sim.received('/ip/hotspot/active/login').length, 0, 'no login ever happened');
    assert.equal((await txByRef(t.ctx, referencia)).estado, 'entregada');
  });
});
