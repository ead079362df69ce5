import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { browserUnavailable, startPortalWorld, type PortalWorld } from './harness.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);

describe('captive portal in Chromium: company and catalog at 360 px', { skip: skip ?? false }, () => {
  let w: PortalWorld;
  before(async () => {
    w = await startPortalWorld();
  });
  after(async () => w?.close());

  it('shows the company, its logo and the three plans with their details, without horizontal scroll', async () => {
    const { context, page } = await w.phone();
    try {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(w.web.pageUrl({ mac: '02:11:22:33:44:01', ip: '10.5.50.11' }));
      await page.locator('#catalogo').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#empresa-nombre').textContent(), 'Café Internet La Esquina');
      assert.equal(await page.locator('#router-ubicacion').textContent(), 'Terraza, planta alta');
      await page.waitForFunction(() => {
        const img = document.getElementById('logo') as HTMLImageElement;
        return !img.hidden && img.complete && img.naturalWidth > 0;
      });

      const plans = page.locator('.plan');
      assert.equal(await plans.count(), 3);
      const names = await page.locator('.plan-nombre').allTextContents();
      assert.deepEqual(names, ['Ficha 1 hora', 'Ficha 1 día', 'Ficha 1 semana']);
      const prices = (await page.locator('.plan-precio').allTextContents()).map((s) => s.replace(/\s/g, ' '));
      assert.deepEqual(prices, ['$10.00', '$35.50', '$149.99']);
      // detalles come as {texto} objects and as legacy strings ({value}); both are shown, bullets trimmed.
      assert.deepEqual(await plans.nth(0).locator('.plan-detalles li').allTextContents(), ['Velocidad de 10 Mbps', '1 dispositivo']);
      assert.deepEqual(await plans.nth(1).locator('.plan-detalles li').allTextContents(), ['Velocidad de 20 Mbps', 'Videollamadas sin cortes']);
      assert.equal(await plans.nth(1).locator('.etiqueta').textContent(), 'Recomendado');

      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, 'no horizontal scroll at 360 px');
      await w.shot(page, 'catalogo', 'catalogo-360px');

      // Choosing a plan opens the payment form with the plan and price.
      await plans.nth(0).getByRole('button', { name: /Comprar/ }).click();
      await page.locator('#pago').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#pagar').textContent(), 'Pagar $10.00');
      await w.shot(page, 'catalogo', 'formulario-pago');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('has no card field (issue 13), and tells the person when their data is wrong before any checkout starts', async () => {
    const { context, page } = await w.phone();
    try {
      await page.goto(w.web.pageUrl({ mac: '02:11:22:33:44:02', ip: '10.5.50.12' }));
      await page.locator('.plan').first().getByRole('button', { name: /Comprar/ }).click();
      // After the page's scripts ran: no card input anywhere in the router's page.
      const inputs = await page.evaluate(() => [...document.querySelectorAll('input')].map((i) => `${i.id}|${i.name}|${i.getAttribute('autocomplete') ?? ''}`));
      assert.equal(inputs.filter((i) => /cc-|tarjeta|numero|cvc|vence|card/i.test(i)).length, 0, inputs.join(', '));
      const requested: string[] = [];
      page.on('request', (r) => void requested.push(r.url()));
      await page.fill('#f-nombre', 'Ana López');
      await page.fill('#f-email', 'ana@example');
      await page.click('#pagar');
      await page.locator('#error-pago').waitFor({ state: 'visible' });
      assert.match(String(await page.locator('#error-pago').textContent()), /Revise: correo electrónico/);
      assert.equal(await page.locator('#f-email').getAttribute('aria-invalid'), 'true');
      await w.shot(page, 'catalogo', 'datos-invalidos');
      assert.equal(requested.filter((u) => u.includes('/api/v1/checkout/')).length, 0, 'no checkout session was requested');
      assert.equal(w.conekta.state.requests.length, 0, 'the gateway was never called');
    } finally {
      await context.close();
    }
  });
});
