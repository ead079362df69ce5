/**
 * 3-D Secure on the checkout page in Chromium (issue 13), both gateways × approved / failed / abandoned. The
 * card is the sandbox's challenge card; the bank's challenge is the sandbox gateway's page on ITS origin
 * (Conekta: a redirect and back to our return_url; Mercado Pago: an iframe on our page, creq posted into it).
 * While the challenge is open the device has a TLS-only walled-garden pass on the simulated router; after it
 * there is none. Only the approved purchase puts a voucher on the router (and the device online).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { SANDBOX_CARDS } from '../../sandbox/tokenizers.js';
import { browserUnavailable, startPortalWorld, type PortalWorld } from './harness.js';
import { createCheckoutSession, payOnCheckout } from './checkout-helpers.js';
import { waitFor } from '../payments/helpers.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);



type Choice = 'aprobar' | 'rechazar' | 'abandonar';
const CASES: Array<{ choice: Choice; n: number }> = [
  { choice: 'aprobar', n: 1 },
  { choice: 'rechazar', n: 2 },
  { choice: 'abandonar', n: 3 },
];

for (const gateway of ['conekta', 'mercado_pago'] as const) {
  describe(`3-D Secure in Chromium: ${gateway}`, { skip: skip ?? false }, () => {
    let w: PortalWorld;
    before(async () => {
      w = await startPortalWorld({ gateway, workers: true, env: { THREE_DS_CHALLENGE_TIMEOUT_MS: '5000' } });
    });
    after(async () => w?.close());

    const passFor = (ip: string) => w.sim.state.walledGardenIp.rows.filter((r) => r['src-address'] === ip && /^Pagos Hotspot 3DS /.test(r.comment ?? ''));
    const vouchers = () => w.sim.state.users.rows.filter((u) => u.name?.startsWith('PT-')).map((u) => u.name);

    for (const { choice, n } of CASES) {
      it(`challenge ${choice}: ${choice === 'aprobar' ? 'delivers a voucher and the device goes online' : 'no voucher, a clear message'}; the pass exists only during the challenge`, async () => {
        const mac = `02:AA:BB:CC:3D:${gateway === 'conekta' ? '1' : '2'}${n}`;
        const ip = `10.5.50.${gateway === 'conekta' ? 140 + n : 150 + n}`;
        await fetch(w.web.pageUrl({ mac, ip }));
        const url = await createCheckoutSession(w, gateway, { mac, ip });
        const before = vouchers();
        const group = `checkout-3ds-${gateway}-${choice}`;
        const { context, page } = await w.phone();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        const violations: string[] = [];
        page.on('console', (m) => {
          if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
        });
        try {
          await page.goto(url);
          await payOnCheckout(page, new URL(url).origin, { number: SANDBOX_CARDS.threeDsChallenge, name: 'Ana López' });

          // The bank's challenge, on the sandbox gateway's origin.
          const bank = await challenge(page, w, gateway);
          await bank.locator('#aprobar').waitFor({ state: 'visible', timeout: 60_000 });
          assert.equal(passFor(ip).length, 1, 'TLS-only walled-garden pass while the challenge is open');
          assert.equal(passFor(ip)[0]['dst-port'], '443');
          await w.shot(page, group, 'reto-360');
          // During the challenge too, no frame of our origin holds an input (the bank's page is on its own origin).
          const ours = new URL(url).origin;
          for (const frame of page.frames()) {
            if (new URL(frame.url()).origin !== ours) continue;
            assert.equal(await frame.evaluate(() => document.querySelectorAll('input, select, textarea, [contenteditable]').length), 0, `no input on ${frame.url()}`);
          }
          if (choice === 'aprobar') {
            await page.setViewportSize({ width: 1280, height: 800 });
            await w.shot(page, group, 'reto-1280');
            await page.setViewportSize({ width: 360, height: 740 });
          }
          await bank.locator(`#${choice}`).click();
          if (choice === 'abandonar' && gateway === 'conekta') {
            // The person leaves the bank's page and comes back to ours (the tab's history).
            await page.locator('#resultado').waitFor();
            await page.goto(url);
          }

          if (choice === 'aprobar') {
            await page.locator('#listo').waitFor({ state: 'visible', timeout: 60_000 }).catch(async (e) => {
              throw new Error(`sin ficha: ${await page.locator('#estado').textContent()}`, { cause: e });
            });
            const usuario = String(await page.locator('#usuario').textContent());
            assert.match(usuario, /^PT-[A-Z0-9]{5,}$/);
            assert.match(String(await page.locator('#conexion').textContent()), /ya está conectado/);
            await w.shot(page, group, 'ficha-360');
            assert.ok(w.sim.state.findUser(usuario), 'voucher on the router');
            assert.equal(w.sim.state.active.rows.find((s) => s['mac-address'] === mac)?.user, usuario, 'the device is online');
            assert.deepEqual(vouchers().filter((v) => !before.includes(v)), [usuario], 'exactly one new voucher');
          } else {
            await page.locator('#estado.error').waitFor({ state: 'visible', timeout: 60_000 });
            const text = String(await page.locator('#estado').textContent());
            assert.match(text, choice === 'abandonar' ? /no se completó a tiempo/ : /banco/i, text);
            // Nothing was charged: the gateway's fields are offered again for another card.
            await page.frameLocator('#card-fields iframe').locator('#number').waitFor({ state: 'visible', timeout: 30_000 });
            await w.shot(page, group, 'resultado-360');
            assert.deepEqual(vouchers().filter((v) => !before.includes(v)), [], 'no voucher');
          }
          await waitFor('the pass is gone', () => (passFor(ip).length === 0 ? true : null), 20_000);
          assert.deepEqual(violations, []);
          assert.deepEqual(errors, []);
        } finally {
          await context.close();
        }
      });
    }
  });
}

/** Where the challenge's buttons are: the top page after Conekta's redirect, or the frame on our page (Mercado Pago). */
async function challenge(page: Page, w: PortalWorld, gateway: 'conekta' | 'mercado_pago') {
  if (gateway === 'conekta') {
    await page.waitForURL((u) => u.toString().startsWith(`${w.conekta.url}/3ds/`), { timeout: 60_000 });
    return page.locator('body');
  }
  await page.locator('#autenticacion').waitFor({ state: 'visible', timeout: 60_000 });
  return page.frameLocator('#reto iframe').locator('body');
}
