/**
 * The operators' panel in Chromium: the super admin sets up a company (router, admin); that admin sees only
 * its company and cannot reach another company's screens by editing the URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUPER_ADMIN } from '../helpers/app.js';
import { heading, nav, signIn, startPanelWorld, seedSale, type PanelWorld } from './panel-helpers.js';
import { browserUnavailable } from './harness.js';

const skip = browserUnavailable();
if (skip) console.log(`# OMITIDO: ${skip}`);

describe('operators panel in Chromium: super admin and tenant isolation', { skip: skip ?? false }, () => {
  let pw: PanelWorld;
  before(async () => {
    pw = await startPanelWorld();
  });
  after(async () => pw?.w.close());

  it('super admin creates a company, its router and its admin; that admin sees only its company and cannot reach another by URL', async () => {
    const sa = await pw.desktop();
    const adminB = { email: `admin-playa-${Date.now()}@example.com`, password: 'PlayaSegura2026' };
    let empresaB: string;
    try {
      await signIn(sa.page, pw.panelUrl, SUPER_ADMIN.email, SUPER_ADMIN.password);
      await heading(sa.page, 'Resumen de la plataforma');
      await nav(sa.page, 'Empresas').click();
      await heading(sa.page, 'Empresas');
      await sa.page.getByLabel('Nombre', { exact: true }).fill('Hotel Playa Azul');
      await sa.page.getByLabel('Correo de contacto').fill('contacto@playa.example.com');
      await sa.page.getByRole('button', { name: 'Crear empresa' }).click();
      await heading(sa.page, 'Hotel Playa Azul');
      empresaB = decodeURIComponent(new URL(sa.page.url()).hash.split('/').pop()!);

      await sa.page.getByLabel('Nombre del router').fill('Router Lobby');
      await sa.page.getByLabel('Host (IP o nombre)').fill(pw.w.sim.host);
      await sa.page.getByLabel('Puerto API').fill(String(pw.w.sim.port));
      await sa.page.getByLabel('Usuario RouterOS').fill(pw.w.sim.credentials.username);
      await sa.page.getByLabel('Contraseña RouterOS').fill(pw.w.sim.credentials.password);
      await sa.page.getByRole('button', { name: 'Crear router' }).click();
      await sa.page.locator('code.secret').waitFor();
      assert.match(String(await sa.page.locator('code.secret').textContent()), /^jwt_/);
      await sa.page.locator('.subcard strong').getByText('Router Lobby', { exact: true }).waitFor();
      // The super admin tests the new router's connection (the simulated RouterOS answers).
      await sa.page.locator('.subcard').getByRole('button', { name: 'Probar conexión' }).click();
      await sa.page.getByRole('status').filter({ hasText: /Conexión exitosa/ }).waitFor();

      await sa.page.getByLabel('Nombre del administrador').fill('Pedro Playa');
      await sa.page.getByLabel('Correo del administrador').fill(adminB.email);
      await sa.page.getByLabel('Contraseña inicial').fill(adminB.password);
      await sa.page.getByRole('button', { name: 'Crear administrador' }).click();
      await sa.page.getByRole('region', { name: 'Administradores de la empresa' }).getByText(adminB.email).waitFor();
      await pw.w.shot(sa.page, 'panel-super', 'empresa-configurada');
      assert.deepEqual(sa.errors, []);
    } finally {
      await sa.context.close();
    }

    // The new admin: its own company only.
    const b = await pw.desktop();
    try {
      await signIn(b.page, pw.panelUrl, adminB.email, adminB.password);
      await heading(b.page, 'Inicio');
      assert.equal(await nav(b.page, 'Empresas').count(), 0, 'no super-admin navigation');
      await nav(b.page, 'Routers').click();
      await heading(b.page, 'Routers');
      await b.page.getByRole('heading', { name: 'Router Lobby' }).waitFor();
      assert.equal(await b.page.getByRole('heading', { name: 'Router Terraza' }).count(), 0, "company A's router is not listed");
      await nav(b.page, 'Transacciones').click();
      await heading(b.page, 'Transacciones');
      await b.page.getByText('No hay transacciones con estos filtros.').waitFor();

      // Editing the URL to company A's transaction, or to super-admin screens, shows nothing of A.
      const txA = { id: await seedSale(pw) };
      await b.page.goto(`${pw.panelUrl}#/transacciones/${txA.id}`);
      await b.page.getByRole('alert').filter({ hasText: 'Transacción no encontrada' }).waitFor();
      assert.equal(await b.page.getByText('Mario Ruiz').count(), 0);
      await b.page.goto(`${pw.panelUrl}#/super/empresas/${encodeURIComponent(pw.w.empresa.id)}`);
      await b.page.getByRole('heading', { name: 'Página no disponible' }).waitFor();
      assert.equal(await b.page.getByText('Café Internet La Esquina').count(), 0);
      await pw.w.shot(b.page, 'panel-super', 'otra-empresa-por-url');
      assert.notEqual(empresaB!, pw.w.empresa.id);
    } finally {
      await b.context.close();
    }
  });

});
