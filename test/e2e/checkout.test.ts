/**
 * The checkout page in Chromium (issue 13): the router page's hand-off (a session made with the kit's
 * router key), our page with the gateway's own card fields in the sandbox's frame (another origin), the
 * purchase, the credentials, and the device online on the simulated router (v6 and v7), for both gateways.
 * After the scripts ran, every frame on our origin is walked for card inputs (none), and every document of
 * ours carries the strict CSP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { SANDBOX_CARDS } from '../../sandbox/tokenizers.js';
import { browserUnavailable, startPortalWorld, type PortalWorld } from './harness.js';
import { createCheckoutSession } from './checkout-helpers.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);



/** Every frame of our origin: no input of any kind after the scripts ran; the gateway's frame has the card fields. */
async function assertNoCardInputOnOurOrigin(page: Page, ourOrigin: string) {
  let ours = 0;
  let gatewayCardFields = 0;
  for (const frame of page.frames()) {
    const origin = new URL(frame.url()).origin;
    const found = await frame.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, [contenteditable]')].map((e) => `${e.tagName}#${e.id}[${e.getAttribute('autocomplete') ?? ''}]`),
    );
    if (origin === ourOrigin) {
      ours++;
      assert.deepEqual(found, [], `no input on our origin (${frame.url()})`);
    } else if (found.some((f) => f.includes('cc-number'))) {
      gatewayCardFields++;
    }
  }
  assert.ok(ours >= 1, 'our page was walked');
  assert.equal(gatewayCardFields, 1, 'the card number field is in the gateway frame');
}

function assertStrictCsp(csp: string | undefined, url: string) {
  assert.ok(csp, `CSP on ${url}`);
  assert.match(csp!, /frame-ancestors 'none'/, url);
  const script = /script-src ([^;]*)/.exec(csp!)?.[1] ?? /default-src ([^;]*)/.exec(csp!)?.[1] ?? '';
  assert.doesNotMatch(script, /unsafe-inline|unsafe-eval|\*/, `no inline script allowed on ${url}`);
}

for (const version of ['7', '6'] as const) {
  for (const gateway of ['conekta', 'mercado_pago'] as const) {
    describe(`checkout in Chromium: ${gateway}, RouterOS v${version}`, { skip: skip ?? false }, () => {
      let w: PortalWorld;
      before(async () => {
        w = await startPortalWorld({ gateway: gateway === 'mercado_pago' ? 'mercado_pago' : 'conekta', routerVersion: version });
      });
      after(async () => w?.close());

      it('router hand-off → our page → the gateway fields → approved → credentials → device online', async () => {
        const mac = gateway === 'conekta' ? '02:AA:BB:CC:DD:11' : '02:AA:BB:CC:DD:12';
        const ip = gateway === 'conekta' ? '10.5.50.31' : '10.5.50.32';
        // A device that is on the hotspot (the simulator knows it) as the router's login page would see it.
        await fetch(w.web.pageUrl({ mac, ip }));
        const url = await createCheckoutSession(w, gateway, { mac, ip }, {
          telefono_cliente: '5512345678',
          chap_id: '\\215',
          chap_challenge: '\\063\\341\\337\\133\\243\\032\\157\\152\\326\\071\\244\\306\\152\\364\\362\\236',
        });
        const ourOrigin = new URL(w.apiUrl).origin;
        assert.equal(new URL(url).origin, ourOrigin);

        const { context, page } = await w.phone();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        const docs: Array<{ url: string; csp: string | undefined }> = [];
        page.on('response', (r) => {
          if (r.request().resourceType() === 'document' && r.url().startsWith(ourOrigin)) docs.push({ url: r.url(), csp: r.headers()['content-security-policy'] });
        });
        const violations: string[] = [];
        page.on('console', (m) => {
          if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
        });
        try {
          await page.goto(url);
          const card = page.frameLocator('#card-fields iframe');
          await card.locator('#number').waitFor({ state: 'visible' });
          await assertNoCardInputOnOurOrigin(page, ourOrigin);
          await card.locator('#number').fill(gateway === 'conekta' ? SANDBOX_CARDS.approved : '4509953566233704');
          await card.locator('#exp').fill('12/30');
          await card.locator('#cvc').fill('123');
          await card.locator('#name').fill(gateway === 'conekta' ? 'Ana López' : 'APRO');
          await w.shot(page, `checkout-${gateway}-v${version}`, 'tarjeta-360');
          await card.locator('#pay').click();
          await page.locator('#listo').waitFor({ state: 'visible', timeout: 60_000 }).catch(async (e) => {
            throw new Error(`sin ficha: ${await page.locator('#estado').textContent()}`, { cause: e });
          });
          const usuario = String(await page.locator('#usuario').textContent());
          assert.match(usuario, /^PT-[A-Z0-9]{5,}$/);
          assert.match(String(await page.locator('#conexion').textContent()), /ya está conectado/);
          await w.shot(page, `checkout-${gateway}-v${version}`, 'ficha-360');
          await page.setViewportSize({ width: 1280, height: 900 });
          await w.shot(page, `checkout-${gateway}-v${version}`, 'ficha-1280');

          // Online on the simulated router, logged in by the server through the RouterOS API.
          const user = w.sim.state.findUser(usuario);
          assert.ok(user, 'voucher on the router');
          const session = w.sim.state.active.rows.find((s) => s['mac-address'] === mac);
          assert.ok(session, 'the device is online');
          assert.equal(session.user, usuario);

          // Charged once.
          const charges = gateway === 'conekta' ? w.conekta.state.orders.size : [...(w.mercadoPago.state.payments as Map<unknown, unknown>).values()].length;
          assert.equal(charges, 1);

          await assertNoCardInputOnOurOrigin(page, ourOrigin);
          assert.ok(docs.length >= 1);
          for (const d of docs) assertStrictCsp(d.csp, d.url);
          // The privacy notice, linked before paying, is one of our documents too.
          const notice = await page.context().request.get(String(await page.locator('#aviso-link').getAttribute('href')).replace(/^\//, `${ourOrigin}/`));
          assert.equal(notice.status(), 200);
          assertStrictCsp(notice.headers()['content-security-policy'], notice.url());
          assert.deepEqual(violations, []);
          assert.deepEqual(errors, []);
        } finally {
          await context.close();
        }
      });
    });
  }
}
