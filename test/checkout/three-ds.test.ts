/**
 * 3-D Secure on the checkout (issue 13) through HTTP, both gateways, with the workers running: the purchase
 * waits for the customer's bank (`en_autenticacion`), the device gets a TLS-only walled-garden pass on the
 * (simulated) router while the challenge is open, and the outcome is read from the gateway: approved →
 * delivered; failed → declined; abandoned → expired (never delivered); approved after expiry → refunded in full.
 * The pass is gone afterwards in every case.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { auth, createShop, routerUsers, startFakes, startPaymentsApp, txByRef, uniq, waitFor, type Fakes, type Shop } from '../payments/helpers.js';
import type { TestApp } from '../helpers/app.js';

const DEVICE_IP = '10.5.50.77';
const LOGIN = { link_login_only: 'http://10.5.50.1/login', mac: 'AA:BB:CC:DD:EE:77', ip: DEVICE_IP, dst: 'http://example.com/' };
const TIMEOUT_MS = 2500;

describe('3-D Secure on the checkout', () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  before(async () => {
    f = await startFakes();
    t = await startPaymentsApp(f, { env: { THREE_DS_CHALLENGE_TIMEOUT_MS: String(TIMEOUT_MS) } });
    shop = await createShop(t);
    await t.ctx.db.query(`UPDATE empresas SET mercado_pago_public_key = 'TEST-public-3ds' WHERE id = $1`, [shop.empresaId]);
    await t.ctx.payments.startWorkers();
  });
  after(async () => {
    await t.ctx.payments.stopWorkers();
    await t.close();
    await shop.sim.close();
    await f.close();
  });

  const session = async (pasarela: 'conekta' | 'mercado_pago') => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/checkout/sesiones',
      headers: auth(shop.apiKey),
      payload: { producto_id: shop.productId, pasarela, nombre_cliente: 'Ana López', email_cliente: 'ana@example.com', ...LOGIN },
    });
    assert.equal(res.statusCode, 201, res.body);
    return new URL(res.data.url).pathname.split('/').pop()!;
  };
  const pay = async (pasarela: 'conekta' | 'mercado_pago', id: string) => {
    const payload = pasarela === 'conekta' ? { token: `tok_test_3ds_challenge_${uniq()}` } : { token: `3ds_challenge~${uniq()}`, payment_method_id: 'visa', issuer_id: '1', installments: 1 };
    const res = await t.request({ method: 'POST', url: `/api/v1/checkout/sesiones/${id}/pago`, headers: { 'idempotency-key': `k-${uniq()}` }, payload });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.data.estado, 'en_autenticacion');
    return res.data as { referencia: string; autenticacion: { tipo: string; url: string; creq?: string; paso_wifi: boolean } };
  };
  const back = (id: string) => t.request({ method: 'POST', url: `/api/v1/checkout/sesiones/${id}/autenticacion` });
  const passes = (referencia: string) => shop.sim.state.walledGardenIp.rows.filter((r) => r.comment === `Pagos Hotspot 3DS ${referencia}`);
  const paymentOf = async (pasarela: 'conekta' | 'mercado_pago', referencia: string) => {
    const row = await txByRef(t.ctx, referencia);
    return { row, gatewayId: row.transaccionId! };
  };
  const complete = (pasarela: 'conekta' | 'mercado_pago', gatewayId: string, choice: 'aprobar' | 'rechazar') =>
    pasarela === 'conekta' ? f.conekta.completeChallenge(gatewayId, choice) : f.mp.completeChallenge(gatewayId, choice);

  for (const pasarela of ['conekta', 'mercado_pago'] as const) {
    it(`${pasarela}: asks the bank with 3-D Secure, opens a TLS-only pass for the device, delivers once the bank approves`, async () => {
      const id = await session(pasarela);
      const r = await pay(pasarela, id);
      const { row, gatewayId } = await paymentOf(pasarela, r.referencia);
      assert.equal(row.estado, 'en_autenticacion');
      // What we asked the gateway for.
      if (pasarela === 'conekta') {
        const req = f.conekta.state.requests.find((q) => q.method === 'POST' && q.path === '/orders' && (q.body as any)?.metadata?.referencia === r.referencia)!;
        assert.equal((req.body as any).three_ds_mode, 'smart');
        assert.equal((req.body as any).return_url, `https://pagos.example.com/pagar/${id}`);
        assert.equal(r.autenticacion.tipo, 'redirect');
        assert.equal(new URL(r.autenticacion.url).origin, f.conekta.url);
      } else {
        const req = f.mp.state.requests.find((q) => q.method === 'POST' && q.path === '/v1/payments' && (q.body as any)?.external_reference === r.referencia)!;
        assert.equal((req.body as any).three_d_secure_mode, 'optional');
        assert.equal('binary_mode' in (req.body as any), false, 'binary_mode would reject the pending challenge');
        assert.equal(r.autenticacion.tipo, 'iframe');
        assert.equal(new URL(r.autenticacion.url).origin, f.mp.url);
        assert.ok(r.autenticacion.creq);
      }
      // The device's pass, on the router, while the challenge is open.
      assert.equal(r.autenticacion.paso_wifi, true);
      const [pass] = passes(r.referencia);
      assert.ok(pass, 'walled-garden ip entry during the challenge');
      assert.equal(pass['src-address'], DEVICE_IP);
      assert.equal(pass.protocol, 'tcp');
      assert.equal(pass['dst-port'], '443');
      assert.equal(pass.action, 'accept');
      // The page's status shows the challenge again (a reload).
      const estado = await t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
      assert.equal(estado.data.estado, 'en_autenticacion');
      assert.equal(estado.data.autenticacion.url, r.autenticacion.url);
      // Nothing from the browser is trusted: before the bank answers, coming back changes nothing.
      assert.equal((await back(id)).data.estado, 'en_autenticacion');
      complete(pasarela, gatewayId, 'aprobar');
      const after = await back(id);
      assert.ok(['cobrada', 'entregada'].includes(after.data.estado), after.body);
      const done = await waitFor('entregada', async () => ((await txByRef(t.ctx, r.referencia)).estado === 'entregada' ? true : null));
      assert.ok(done);
      const delivered = await txByRef(t.ctx, r.referencia);
      assert.equal(routerUsers(shop.sim, delivered.usuarioHotspot!).length, 1);
      await waitFor('pass removed', () => (passes(r.referencia).length === 0 ? true : null));
      const shown = await t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
      assert.equal(shown.data.usuario_hotspot.usuario, delivered.usuarioHotspot);
    });

    it(`${pasarela}: a failed challenge is declined, no voucher, the pass goes`, async () => {
      const id = await session(pasarela);
      const r = await pay(pasarela, id);
      const { gatewayId } = await paymentOf(pasarela, r.referencia);
      assert.equal(passes(r.referencia).length, 1);
      complete(pasarela, gatewayId, 'rechazar');
      assert.equal((await back(id)).data.estado, 'rechazada');
      const row = await txByRef(t.ctx, r.referencia);
      assert.equal(routerUsers(shop.sim, row.usuarioHotspot!).length, 0);
      await waitFor('pass removed', () => (passes(r.referencia).length === 0 ? true : null));
      const estado = await t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
      assert.equal(estado.data.estado, 'rechazada');
      assert.ok(estado.data.mensaje);
    });

    it(`${pasarela}: an abandoned challenge expires (never delivered, pass gone); the bank's approval after that is refunded in full`, async () => {
      const id = await session(pasarela);
      const r = await pay(pasarela, id);
      const { gatewayId } = await paymentOf(pasarela, r.referencia);
      assert.equal(passes(r.referencia).length, 1);
      // Nobody answers: the reconciler expires it after THREE_DS_CHALLENGE_TIMEOUT_MS.
      const expired = await waitFor('expired', async () => {
        const row = await txByRef(t.ctx, r.referencia);
        return row.estado === 'rechazada' ? row : null;
      });
      assert.equal(expired.errorCodigo, 'autenticacion_vencida');
      await waitFor('pass removed on expiry', () => (passes(r.referencia).length === 0 ? true : null));
      assert.equal(routerUsers(shop.sim, expired.usuarioHotspot!).length, 0);
      // The customer finishes on the bank's page late: the money goes back, whole. Conekta: they come back to
      // our return_url; Mercado Pago: nobody tells us (no webhook, no return), the late-challenge job finds it.
      complete(pasarela, gatewayId, 'aprobar');
      if (pasarela === 'conekta') await back(id);
      const refunded = await waitFor('refunded', async () => {
        const row = await txByRef(t.ctx, r.referencia);
        return row.estado === 'reembolsada' ? row : null;
      });
      assert.equal(refunded.reembolsadoCentavos, 1999);
      const gatewayRefunds =
        pasarela === 'conekta'
          ? f.conekta.state.refunds.filter((x) => x.orderId === gatewayId).map((x) => x.amount)
          : f.mp.state.refunds.filter((x) => String(x.paymentId) === gatewayId).map((x) => Math.round(x.amount * 100));
      assert.deepEqual(gatewayRefunds, [1999], 'one full refund at the gateway');
      assert.equal(routerUsers(shop.sim, refunded.usuarioHotspot!).length, 0, 'never delivered');
      const estado = await t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
      assert.equal(estado.data.usuario_hotspot, null);
    });
  }

  it('without a device address (or a reachable router) no pass is opened, and the answer says so for the page', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/checkout/sesiones',
      headers: auth(shop.apiKey),
      payload: { producto_id: shop.productId, pasarela: 'conekta', nombre_cliente: 'Ana López', email_cliente: 'ana@example.com', link_login_only: LOGIN.link_login_only },
    });
    const id = new URL(res.data.url).pathname.split('/').pop()!;
    const before = shop.sim.state.walledGardenIp.rows.length;
    const r = await pay('conekta', id);
    assert.equal(r.autenticacion.paso_wifi, false);
    assert.equal(shop.sim.state.walledGardenIp.rows.length, before);
    const estado = await t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
    assert.equal(estado.data.autenticacion.paso_wifi, false, 'a reload still shows the message');
    const page = await t.request({ method: 'GET', url: `/pagar/${id}` });
    assert.match(page.body, /id="paso-wifi"[^>]*hidden>No pudimos abrir el acceso a la página de tu banco/);
  });

  it('the legacy endpoints never ask for 3-D Secure (Mercado Pago keeps binary_mode)', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/payments/pagar-mercado-pago',
      headers: auth(shop.apiKey),
      payload: { producto_id: shop.productId, payment_method_id: 'visa', token: `apro_${uniq()}`, monto: 19.99, nombre_cliente: 'Beto Pérez', email_cliente: 'beto@example.com' },
    });
    const req = f.mp.state.requests.filter((q) => q.method === 'POST' && q.path === '/v1/payments').pop()!;
    assert.equal((req.body as any).binary_mode, true, res.body);
    assert.equal('three_d_secure_mode' in (req.body as any), false);
  });
});
