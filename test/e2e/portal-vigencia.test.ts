/**
 * "Ya tengo una ficha" in Chromium (issue 15): a voucher of a plan with a validity shows how long it lasts
 * before its first login, and the time left once the router saw it used (the sweeper learns it); wrong
 * credentials are told apart. At 1280 and 360 px, screenshots looked at.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { bearer } from '../helpers/app.js';
import { browserUnavailable, startPortalWorld, type PortalWorld } from './harness.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);

describe('captive portal in Chromium: time left of a voucher with validity', { skip: skip ?? false }, () => {
  let w: PortalWorld;
  let voucher: { usuario: string; contrasena: string; referencia: string };
  before(async () => {
    w = await startPortalWorld({ workers: true });
    const product = await w.t.request({
      method: 'POST',
      url: '/api/v1/admin/products',
      headers: bearer(w.adminToken),
      payload: { router_id: w.routerId, perfil_mikrotik_id: '*7', perfil_mikrotik_nombre: '1_Dia', nombre_venta: 'Pase de 1 día', precio: 30, vigencia_minutos: 1440, vigencia_desde: 'primer_uso' },
    });
    assert.equal(product.statusCode, 201, product.body);
    const apiKey = /"apiKey": "([^"]+)"/.exec(w.kitFiles['login.html'])![1];
    const res = await w.t.request({
      method: 'POST',
      url: '/api/v1/payments/pagar-conekta',
      headers: bearer(apiKey),
      payload: { producto_id: product.data.id, token_tarjeta: 'tok_test_visa_4242_vig', nombre_cliente: 'Ana', email_cliente: 'ana@example.com' },
    });
    assert.equal(res.statusCode, 200, res.body);
    voucher = { usuario: res.data.usuario_hotspot.usuario, contrasena: res.data.usuario_hotspot.contrasena, referencia: res.data.referencia };
  });
  after(async () => w?.close());

  async function enterVoucher(page: Page, mac: string, ip: string, contrasena = voucher.contrasena) {
    await page.goto(w.web.pageUrl({ mac, ip }));
    await page.locator('#catalogo').waitFor({ state: 'visible' });
    await page.click('#tengo-ficha-detalles summary');
    await page.fill('#t-usuario', voucher.usuario);
    await page.fill('#t-contrasena', contrasena);
    await page.getByRole('button', { name: 'Conectar', exact: true }).click();
  }

  it('before the first login: the whole validity; wrong password: told so', async () => {
    for (const [width, height, name] of [[360, 740, '360px'], [1280, 800, '1280px']] as const) {
      const context = await w.browser.newContext({ viewport: { width, height }, locale: 'es-MX' });
      const page = await context.newPage();
      try {
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await enterVoucher(page, '02:11:22:33:55:01', '10.5.50.41', '0000x');
        await page.locator('#aviso').waitFor({ state: 'visible' });
        assert.match(String(await page.locator('#aviso').textContent()), /incorrectos/);
        await enterVoucher(page, '02:11:22:33:55:01', '10.5.50.41');
        await page.locator('#ficha-vigencia').waitFor({ state: 'visible' });
        assert.equal(await page.locator('#ficha-vigencia').textContent(), 'Su ficha dura 1 día desde que se conecte por primera vez.');
        assert.equal(await page.locator('#ficha-usuario').textContent(), voucher.usuario);
        assert.ok(await page.locator('#conectar').isVisible());
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.equal(overflow, 0);
        await w.shot(page, 'vigencia', `sin-usar-${name}`);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    }
  });

  it('after the first login: the time left', async () => {
    // The device logs in at the router; the sweeper sees the session and stores expira_en.
    w.sim.state.addHost({ 'mac-address': '02:11:22:33:55:02', address: '10.5.50.42' });
    w.sim.state.hotspotLogin({ user: voucher.usuario, password: voucher.contrasena, ip: '10.5.50.42' });
    await w.t.ctx.validity.start();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [row] = await w.t.ctx.db.query<{ expira_en: string | null }>('SELECT expira_en::text AS expira_en FROM transacciones WHERE referencia = $1', [voucher.referencia]);
      if (row?.expira_en) break;
      if (Date.now() > deadline) throw new Error('the sweeper never saw the first login');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const [width, height, name] of [[360, 740, '360px'], [1280, 800, '1280px']] as const) {
      const context = await w.browser.newContext({ viewport: { width, height }, locale: 'es-MX' });
      const page = await context.newPage();
      try {
        await enterVoucher(page, '02:11:22:33:55:03', '10.5.50.43');
        await page.locator('#ficha-vigencia').waitFor({ state: 'visible' });
        assert.match(String(await page.locator('#ficha-vigencia').textContent()), /^Le quedan (23 h 59 min|1 día)\.$/);
        await w.shot(page, 'vigencia', `usada-${name}`);
      } finally {
        await context.close();
      }
    }
  });
});
