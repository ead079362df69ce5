/**
 * The panel in Chromium shows times in the company's zone (zona_horaria, set on the settings screen;
 * storage stays UTC) and the home screen counts cash (counter batch) sales apart from card sales.
 * Screens at 1280 and 360 px.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, heading, nav, signIn, startPanelWorld, seedSale, watchErrors, type PanelWorld } from './panel-helpers.js';
import { browserUnavailable } from './harness.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);

const norm = (s: string) => s.replace(/[\s\u202f\u00a0]+/g, ' ').trim();
const shown = (iso: string, zone: string) => norm(new Intl.DateTimeFormat('es-MX', { dateStyle: 'short', timeStyle: 'short', timeZone: zone }).format(new Date(iso)));

describe('operators panel in Chromium: company time zone, cash sales, counter batches', { skip: skip ?? false }, () => {
  let pw: PanelWorld;
  before(async () => {
    pw = await startPanelWorld();
  });
  after(async () => pw?.w.close());

  it("times in the company's zone on the panel; cash sales apart on the home screen (1280 and 360 px)", async () => {
    const { t, sim, routerId } = pw.w;
    const txId = await seedSale(pw);
    const [tx] = await t.ctx.db.query<{ creada_en: string }>(`SELECT creada_en::text AS creada_en FROM transacciones WHERE id = $1`, [txId]);
    const createdUtc = tx.creada_en.replace(' ', 'T') + 'Z';

    // A counter batch of the company's first plan: one voucher is used on the hotspot (cash sale today).
    const token = await t.login(pw.admin.email, pw.admin.password);
    const [plan] = await t.ctx.db.query<{ id: number; precio: string }>(`SELECT id, precio::text AS precio FROM productos WHERE empresa_id = $1 AND router_id = $2 ORDER BY id LIMIT 1`, [pw.w.empresa.id, routerId]);
    const lote = await t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: { authorization: `Bearer ${token}` }, payload: { producto_id: plan.id, cantidad: 2, prefijo: 'MOST-' } });
    assert.equal(lote.statusCode, 201, lote.body);
    const batch = async () => (await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${lote.data.id}`, headers: { authorization: `Bearer ${token}` } })).data;
    await eventually('batch on the router', async () => (await batch()).progreso === 1);
    const used = sim.state.users.rows.find((u) => u.name.startsWith('MOST-'))!;
    sim.state.addHost({ 'mac-address': '02:00:00:0C:00:01', address: '10.5.50.120' });
    sim.state.hotspotLogin({ user: used.name, password: used.password, ip: '10.5.50.120' });
    await t.ctx.validity.start();
    await eventually('voucher sold at first use', async () => (await batch()).fichas.vendido === 1);

    const money = (n: number) => norm(new Intl.NumberFormat('es-MX', { style: 'currency', currency: 'MXN' }).format(n));
    const zone = 'Asia/Tokyo';
    for (const width of [1280, 360]) {
      const context = await pw.w.browser.newContext({ viewport: { width, height: width === 360 ? 740 : 900 }, isMobile: width === 360, hasTouch: width === 360, locale: 'es-MX', timezoneId: 'America/Los_Angeles' });
      const page = await context.newPage();
      const errors = watchErrors(page);
      try {
        await signIn(page, pw.panelUrl, pw.admin.email, pw.admin.password);
        const group = `panel-zona-${width}`;
        if (width === 1280) {
          // Default zone: Mexico City (not the browser's Los Angeles).
          await page.goto(`${pw.panelUrl}#/transacciones`);
          await heading(page, 'Transacciones');
          const cell = page.getByRole('table', { name: 'Transacciones' }).getByRole('row').nth(1).getByRole('cell').first();
          assert.equal(norm(await cell.innerText()).replace(/^Fecha: ?/, ''), shown(createdUtc, 'America/Mexico_City'));
          await pw.w.shot(page, group, 'transacciones-mexico');
          // The admin sets the company's zone on the settings screen.
          await nav(page, 'Pagos y avisos').click();
          await heading(page, 'Pagos y avisos');
          const field = page.getByLabel('Zona horaria');
          await field.fill('Marte/Olympus');
          await page.getByRole('button', { name: 'Guardar horario' }).click();
          await page.getByRole('alert').filter({ hasText: /zona horaria/i }).waitFor();
          await field.fill(zone);
          await page.getByRole('button', { name: 'Guardar horario' }).click();
          await page.getByRole('status').filter({ hasText: /actualiz/i }).first().waitFor();
          await pw.w.shot(page, group, 'horario-guardado');
        }
        await page.goto(`${pw.panelUrl}#/transacciones`);
        await heading(page, 'Transacciones');
        await page.getByText('Horas en Asia/Tokyo.').waitFor();
        const cell = page.getByRole('table', { name: 'Transacciones' }).getByRole('row').nth(1).getByRole('cell').first();
        assert.equal(norm(await cell.innerText()).replace(/^Fecha: ?/, ''), shown(createdUtc, zone), 'the list shows the time in Tokyo');
        await pw.w.shot(page, group, 'transacciones-tokio');
        await page.goto(`${pw.panelUrl}#/transacciones/${txId}`);
        await heading(page, /Transacción \d+/);
        await page.getByText(shown(createdUtc, zone)).first().waitFor();
        await pw.w.shot(page, group, 'detalle-tokio');

        // The hotspot's login address for the printed QR codes, on the router's card (hostile input refused).
        await page.goto(`${pw.panelUrl}#/routers`);
        await heading(page, 'Routers');
        const address = page.getByLabel('Dirección de acceso del hotspot');
        if (width === 1280) {
          await address.fill('http://evil.example/x');
          await page.getByRole('button', { name: 'Guardar dirección' }).click();
          await page.getByRole('alert').filter({ hasText: /dns_name inválido/ }).waitFor();
          await address.fill('Wifi.Esquina.example');
          await page.getByRole('button', { name: 'Guardar dirección' }).click();
          await page.getByText('Dirección guardada: wifi.esquina.example').waitFor();
          const [r] = await t.ctx.db.query<{ dns_name: string | null }>(`SELECT dns_name FROM routers WHERE id = $1`, [routerId]);
          assert.equal(r.dns_name, 'wifi.esquina.example');
          await page.reload();
        }
        await heading(page, 'Routers');
        assert.equal(await page.getByLabel('Dirección de acceso del hotspot').inputValue(), 'wifi.esquina.example');
        await pw.w.shot(page, group, 'router-direccion');

        await page.goto(`${pw.panelUrl}#/inicio`);
        await heading(page, 'Inicio');
        await page.getByTestId('efectivo-hoy').waitFor();
        assert.equal(norm(await page.getByTestId('efectivo-hoy').innerText()), money(Number(plan.precio)), 'cash today: one voucher at the batch price');
        assert.equal(norm(await page.getByTestId('ventas-hoy').innerText()).length > 0, true);
        await page.getByText('Horario de Asia/Tokyo.', { exact: false }).waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `home at ${width}px scrolls sideways by ${overflow}px`);
        await page.getByText('Ver como tabla').click();
        await page.getByRole('table', { name: 'Ventas por día' }).waitFor();
        const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow2 <= 0, `home with its table open at ${width}px scrolls sideways by ${overflow2}px`);
        await pw.w.shot(page, group, 'inicio-efectivo');
        assert.deepEqual(errors.filter((e) => !/status of 422/.test(e)), [], `at ${width}px`); // 422s: the refused inputs above
      } finally {
        await context.close();
      }
    }
  });

  it('counter batches screen: create, follow delivery, print, void (1280 and 360 px)', async () => {
    const { sim } = pw.w;
    for (const width of [1280, 360]) {
      const context = await pw.w.browser.newContext({ viewport: { width, height: width === 360 ? 740 : 900 }, isMobile: width === 360, hasTouch: width === 360, locale: 'es-MX' });
      const page = await context.newPage();
      const errors = watchErrors(page);
      try {
        await signIn(page, pw.panelUrl, pw.admin.email, pw.admin.password);
        const group = `panel-lotes-${width}`;
        await nav(page, 'Lotes').click();
        await heading(page, 'Lotes para mostrador');
        const table = page.getByRole('table', { name: 'Lotes' });
        if (width === 1280) {
          await page.getByLabel('Cantidad').fill('3');
          await page.getByLabel('Prefijo').fill('MESA-');
          await page.getByRole('button', { name: 'Crear lote' }).click();
          await page.getByText(/Lote \d+ creado/).waitFor();
          const row = table.getByRole('row').filter({ hasText: 'MESA-' });
          await row.getByText('3 de 3').waitFor({ timeout: 30_000 });
          assert.equal(sim.state.users.rows.filter((u) => u.name.startsWith('MESA-')).length, 3);
          await pw.w.shot(page, group, 'lote-creado');
          const id = Number(await row.getAttribute('data-lote'));
          const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: `PDF Rollo 80 mm del lote ${id}` }).click()]);
          assert.equal(download.suggestedFilename(), `lote-${id}-80mm.pdf`);
          const file = await download.path();
          assert.ok(file);
          await row.getByRole('button', { name: 'Anular' }).click();
          await page.getByRole('dialog').getByRole('button', { name: 'Anular lote' }).click();
          await row.getByText('anulado').waitFor();
          await eventually('voided vouchers off the router', () => sim.state.users.rows.filter((u) => u.name.startsWith('MESA-')).length === 0);
        }
        // The first test's batch: one of two vouchers sold.
        await table.getByRole('row').filter({ hasText: 'MOST-' }).getByText('1 de 2').first().waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `batches at ${width}px scroll sideways by ${overflow}px`);
        await pw.w.shot(page, group, 'lotes');
        assert.deepEqual(errors, [], `at ${width}px`);
      } finally {
        await context.close();
      }
    }
  });
});
