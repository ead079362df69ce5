import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { browserUnavailable, recordPurchases, startPortalWorld, type PortalWorld } from './harness.js';
import { checkoutOutcome, payOnCheckout } from './checkout-helpers.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);

/**
 * Mercado Pago's sandbox decides by the cardholder name, as its test users do (APRO, OTHE, ...). The router
 * page takes the buyer's data only; the card goes into the Brick on our checkout page (issue 13).
 */
async function buyFirstPlan(page: Page, apiUrl: string, holder: string) {
  await page.locator('#catalogo').waitFor({ state: 'visible' });
  await page.locator('.plan').first().getByRole('button', { name: /Comprar/ }).click();
  await page.fill('#f-nombre', 'Comprador Prueba');
  await page.fill('#f-email', 'comprador@example.com');
  await page.click('#pagar');
  await payOnCheckout(page, apiUrl, { number: '4509953566233704', name: holder, exp: '11/30' });
}

describe('captive portal in Chromium: paying with Mercado Pago', { skip: skip ?? false }, () => {
  let w: PortalWorld;
  before(async () => {
    w = await startPortalWorld({ gateway: 'mercado_pago' });
  });
  after(async () => w?.close());

  it('tokenizes with the Mercado Pago SDK, pays the product price and connects the device', async () => {
    const mac = '02:4D:50:00:00:01';
    const { context, page } = await w.phone();
    const answers = recordPurchases(page);
    try {
      await page.goto(w.web.pageUrl({ mac, ip: '10.5.50.61' }));
      await buyFirstPlan(page, w.apiUrl, 'APRO');
      const outcome = await checkoutOutcome(page);
      assert.ok('usuario' in outcome, JSON.stringify(outcome));
      const usuario = outcome.usuario;
      assert.match(usuario, /^PT-/);
      assert.match(String(await page.locator('#conexion').textContent()), /ya está conectado/);
      await w.shot(page, 'mercado-pago', 'credenciales');
      const payments = [...w.mercadoPago.state.payments.values()];
      assert.equal(payments.length, 1);
      assert.equal(payments[0].status, 'approved');
      assert.equal(payments[0].transaction_amount, 10);
      const create = w.mercadoPago.state.requests.find((r) => r.method === 'POST' && r.path.startsWith('/v1/payments'));
      assert.equal((create?.body as Record<string, unknown>).payment_method_id, 'visa');
      assert.equal(w.sim.state.active.rows.find((s) => s['mac-address'] === mac)?.user, usuario);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nrespuestas de compra: ${JSON.stringify(answers)}`, { cause: err });
    } finally {
      await context.close();
    }
  });

  it('shows a rejected payment its Spanish message', async () => {
    const { context, page } = await w.phone();
    const answers = recordPurchases(page);
    try {
      await page.goto(w.web.pageUrl({ mac: '02:4D:50:00:00:02', ip: '10.5.50.62' }));
      await buyFirstPlan(page, w.apiUrl, 'OTHE');
      assert.deepEqual(await checkoutOutcome(page), { error: '❌ Tarjeta rechazada. Contacte a su banco.' });
      await w.shot(page, 'mercado-pago', 'rechazo');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nrespuestas de compra: ${JSON.stringify(answers)}`, { cause: err });
    } finally {
      await context.close();
    }
  });

  it('follows a pending payment until Mercado Pago approves it, then logs the device in', async () => {
    const mac = '02:4D:50:00:00:03';
    const ip = '10.5.50.63';
    const { context, page } = await w.phone();
    const answers = recordPurchases(page);
    try {
      await page.goto(w.web.pageUrl({ mac, ip }));
      await page.locator('#catalogo').waitFor({ state: 'visible' });
      await page.locator('.plan').first().getByRole('button', { name: /Comprar/ }).click();
      await page.fill('#f-nombre', 'Comprador Prueba');
      await page.fill('#f-email', 'comprador@example.com');
      await page.click('#pagar');
      await payOnCheckout(page, w.apiUrl, { number: '4509953566233704', name: 'CONT', exp: '11/30' });
      // Not a sale yet: no credentials, our page waits on the purchase.
      await page.locator('#estado', { hasText: 'pendiente de confirmación' }).waitFor({ timeout: 60_000 });
      assert.equal(await page.locator('#listo').isVisible(), false);
      await w.shot(page, 'mercado-pago', 'pendiente');

      // From here on the service's background workers run (webhook processing, delivery).
      await w.t.ctx.payments.startWorkers();
      const pending = [...w.mercadoPago.state.payments.values()].find((p) => p.status === 'pending');
      assert.ok(pending);
      w.mercadoPago.setPaymentStatus(pending.id, 'approved', 'accredited');
      const hook = await w.mercadoPago.sendWebhook(pending.id, { url: `${w.apiUrl}/api/v1/webhook/mercado-pago` });
      assert.ok(hook.status < 300, `webhook ${hook.status} ${hook.body}`);

      // Approved and delivered: our page shows the voucher, then the router's pagado.html logs in (CHAP).
      await page.locator('#conectado').waitFor({ state: 'visible', timeout: 60_000 });
      const usuario = String(await page.locator('#usuario').textContent());
      assert.match(usuario, /^PT-/);
      await w.shot(page, 'mercado-pago', 'aprobado-conectado');
      assert.equal(w.sim.state.active.rows.find((s) => s['mac-address'] === mac)?.user, usuario);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nrespuestas de compra: ${JSON.stringify(answers)}`, { cause: err });
    } finally {
      await context.close();
    }
  });
});
