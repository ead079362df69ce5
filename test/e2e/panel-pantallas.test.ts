/** The operators' panel in Chromium: every screen of both roles at 1280 and 360 px, no console errors. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUPER_ADMIN } from '../helpers/app.js';
import { heading, signIn, startPanelWorld, watchErrors, seedSale, type PanelWorld } from './panel-helpers.js';
import { browserUnavailable } from './harness.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);

describe('operators panel in Chromium: every screen', { skip: skip ?? false }, () => {
  let pw: PanelWorld;
  before(async () => {
    pw = await startPanelWorld();
  });
  after(async () => pw?.w.close());

  it('every screen at 1280 and 360 px, with no console errors', async () => {
    const companyScreens: Array<[string, string | RegExp]> = [
      ['/inicio', 'Inicio'],
      ['/planes', 'Planes'],
      ['/transacciones', 'Transacciones'],
      ['/lotes', 'Lotes para mostrador'],
      ['/routers', 'Routers'],
      ['/sesiones', 'Sesiones activas'],
      ['/pagos', 'Pagos y avisos'],
      ['/cuenta', 'Mi cuenta'],
    ];
    const superScreens: Array<[string, string | RegExp]> = [
      ['/super', 'Resumen de la plataforma'],
      ['/super/empresas', 'Empresas'],
      [`/super/empresas/${encodeURIComponent(pw.w.empresa.id)}`, 'Café Internet La Esquina'],
      ['/super/usuarios', 'Administradores'],
      ['/super/auditoria', 'Auditoría'],
      ['/cuenta', 'Mi cuenta'],
    ];
    // A device on the hotspot, so the sessions screen has a row.
    pw.w.sim.state.addSession({ user: 'PT-DEMO1', address: '10.5.50.77', 'mac-address': '02:00:00:00:77:77', uptime: '12m' });
    const txA = { id: await seedSale(pw) };
    companyScreens.push([`/transacciones/${txA.id}`, /Transacción \d+/]);

    for (const [who, email, password, screens] of [
      ['empresa', pw.admin.email, pw.admin.password, companyScreens],
      ['super', SUPER_ADMIN.email, SUPER_ADMIN.password, superScreens],
    ] as const) {
      for (const width of [1280, 360]) {
        const context = await pw.w.browser.newContext({ viewport: { width, height: width === 360 ? 740 : 900 }, isMobile: width === 360, hasTouch: width === 360, locale: 'es-MX' });
        const page = await context.newPage();
        const errors = watchErrors(page);
        try {
          await page.goto(pw.panelUrl);
          await page.getByRole('button', { name: 'Entrar' }).waitFor();
          if (who === 'empresa') await pw.w.shot(page, `panel-pantallas-${width}`, 'entrar');
          await signIn(page, pw.panelUrl, email, password);
          for (const [path, title] of screens) {
            await page.goto(`${pw.panelUrl}#${path}`);
            await heading(page, title);
            // Let the screen's queries settle (no "Cargando…" left).
            await page.waitForFunction(() => !document.body.textContent?.includes('Cargando…') && !document.body.textContent?.includes('Leyendo perfiles'), null, { timeout: 30_000 });
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
            assert.ok(overflow <= 0, `${path} at ${width}px scrolls sideways by ${overflow}px`);
            await pw.w.shot(page, `panel-pantallas-${width}`, `${who}${path.replace(/[^a-z0-9]+/gi, '-')}`);
          }
          assert.deepEqual(errors, [], `${who} at ${width}px`);
        } finally {
          await context.close();
        }
      }
    }
  });

});
