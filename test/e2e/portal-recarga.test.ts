/**
 * "Recargar tiempo" in Chromium (issue 15): from "Ya tengo una ficha" the buyer sees the voucher's time,
 * picks a plan and pays on the checkout page; the SAME user on the simulated router gets the larger
 * limit-uptime (no new user), charged once per top-up. At 360 and 1280 px, screenshots looked at.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bearer } from '../helpers/app.js';
import { SANDBOX_CARDS } from '../../sandbox/tokenizers.js';
import { browserUnavailable, startPortalWorld, type PortalWorld } from './harness.js';
import { checkoutOutcome, payOnCheckout } from './checkout-helpers.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);

describe('captive portal in Chromium: topping up a voucher', { skip: skip ?? false }, () => {
  let w: PortalWorld;
  let voucher: { usuario: string; contrasena: string; referencia: string };
  before(async () => {
    w = await startPortalWorld();
    const [p] = await w.t.ctx.db.query<{ id: number }>(`SELECT id FROM productos WHERE nombre_venta = 'Ficha 1 hora'`);
    const apiKey = /"apiKey": "([^"]+)"/.exec(w.kitFiles['login.html'])![1];
    const res = await w.t.request({
      method: 'POST',
      url: '/api/v1/payments/pagar-conekta',
      headers: bearer(apiKey),
      payload: { producto_id: p.id, token_tarjeta: 'tok_test_visa_4242_recarga', nombre_cliente: 'Ana', email_cliente: 'ana@example.com' },
    });
    assert.equal(res.statusCode, 200, res.body);
    voucher = { usuario: res.data.usuario_hotspot.usuario, contrasena: res.data.usuario_hotspot.contrasena, referencia: res.data.referencia };
  });
  after(async () => w?.close());

  it('"Ya tengo una ficha" → "Recargar tiempo" → plan → checkout: the same user gets one more hour each time', async () => {
    let hours = 1;
    for (const [width, height, name] of [[360, 740, '360px'], [1280, 800, '1280px']] as const) {
      const context = await w.browser.newContext({ viewport: { width, height }, locale: 'es-MX' });
      const page = await context.newPage();
      try {
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        const usersBefore = w.sim.state.users.rows.length;
        await page.goto(w.web.pageUrl({ mac: `02:11:22:33:66:0${hours}`, ip: `10.5.50.6${hours}` }));
        await page.locator('#catalogo').waitFor({ state: 'visible' });
        await page.click('#tengo-ficha-detalles summary');
        await page.fill('#t-usuario', voucher.usuario);
        await page.fill('#t-contrasena', voucher.contrasena);
        await page.getByRole('button', { name: 'Conectar', exact: true }).click();
        await page.locator('#ficha-vigencia').waitFor({ state: 'visible' });
        assert.equal(await page.locator('#ficha-vigencia').textContent(), `Tiempo de conexión de su ficha: ${hours} h.`);
        assert.equal(await page.locator('#ficha-usuario').textContent(), voucher.usuario);
        const recargar = page.getByRole('button', { name: 'Recargar tiempo' });
        assert.ok(await recargar.isVisible());
        const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.equal(await overflow(), 0);
        await w.shot(page, 'recarga', `ficha-${name}`);

        await recargar.click();
        await page.locator('#recarga-aviso').waitFor({ state: 'visible' });
        assert.match(String(await page.locator('#recarga-aviso').textContent()), new RegExp(`Recargar tiempo a la ficha ${voucher.usuario}`));
        assert.equal(await page.locator('#catalogo-titulo').textContent(), 'Elija cuánto tiempo agregar');
        assert.ok(await page.locator('#tengo-ficha').isHidden());
        assert.equal(await overflow(), 0);
        await w.shot(page, 'recarga', `planes-${name}`);

        await page.locator('.plan', { hasText: 'Ficha 1 hora' }).getByRole('button', { name: /Comprar/ }).click();
        await page.locator('#pago').waitFor({ state: 'visible' });
        assert.match(String(await page.locator('#resumen').textContent()), new RegExp(`Recarga: Ficha 1 hora para ${voucher.usuario}`));
        await page.fill('#f-nombre', 'Ana López');
        await page.fill('#f-email', 'ana@example.com');
        await w.shot(page, 'recarga', `pago-${name}`);
        await page.click('#pagar');
        await payOnCheckout(page, w.apiUrl, { number: SANDBOX_CARDS.approved, name: 'Ana López' });
        const outcome = await checkoutOutcome(page);
        assert.ok('usuario' in outcome, JSON.stringify(outcome));
        assert.equal(outcome.usuario, voucher.usuario, 'the same user');
        assert.equal(outcome.contrasena, voucher.contrasena);
        hours++;
        await w.shot(page, 'recarga', `listo-${name}`);

        // The router: the same user, one more hour, no new user.
        const user = w.sim.state.findUser(voucher.usuario)!;
        assert.equal(user['limit-uptime'], `${hours}h`);
        assert.equal(user.comment, `pagos-hotspot tx=${voucher.referencia}`);
        assert.equal(w.sim.state.users.rows.length, usersBefore);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    }
    // One charge per top-up (plus the sale), each of the plan's price.
    const orders = [...w.conekta.state.orders.values()].filter((o) => o.payment_status === 'paid');
    assert.equal(orders.length, 3);
    assert.ok(orders.every((o) => o.amount === 1000));
  });

  it('a wrong password at "Ya tengo una ficha" offers no top-up', async () => {
    const { context, page } = await w.phone();
    try {
      await page.goto(w.web.pageUrl({ mac: '02:11:22:33:66:09', ip: '10.5.50.69' }));
      await page.locator('#catalogo').waitFor({ state: 'visible' });
      await page.click('#tengo-ficha-detalles summary');
      await page.fill('#t-usuario', voucher.usuario);
      await page.fill('#t-contrasena', 'mal');
      await page.getByRole('button', { name: 'Conectar', exact: true }).click();
      await page.locator('#aviso').waitFor({ state: 'visible' });
      assert.match(String(await page.locator('#aviso').textContent()), /incorrectos/);
      assert.ok(await page.locator('#recargar').isHidden());
    } finally {
      await context.close();
    }
  });
});
