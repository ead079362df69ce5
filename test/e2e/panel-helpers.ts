/** Shared world and steps of the operators' panel browser tests (test/e2e/panel-*.test.ts). */
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { createUser } from '../helpers/fixtures.js';
import { transacciones } from '../../src/infra/db/schema.js';
import { ensurePanelBuilt } from '../../scripts/panel-build.js';
import { startPortalWorld, type PortalWorld } from './harness.js';

export interface PanelWorld {
  w: PortalWorld;
  /** A company admin of the world's company (with its password, for signing in). */
  admin: { email: string; password: string };
  panelUrl: string;
  desktop(): Promise<{ context: BrowserContext; page: Page; errors: string[] }>;
}

export async function startPanelWorld(): Promise<PanelWorld> {
  // Built before the service starts (it serves web/dist); concurrent test files share one build.
  await ensurePanelBuilt();
  const w = await startPortalWorld({ workers: true, companyName: 'Café Internet La Esquina' });
  try {
    const admin = await createUser(w.t.ctx, { rol: 'cliente_admin', empresaId: w.empresa.id, nombre: 'Laura Gómez' });
    // A profile of the router that no plan sells yet: the plan the admin creates.
    w.sim.state.addProfile({ name: '2_Horas', 'rate-limit': '5M/5M' });
    return {
      w,
      admin,
      panelUrl: `${w.apiUrl}/panel/`,
      async desktop() {
        const context = await w.browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'es-MX' });
        const page = await context.newPage();
        return { context, page, errors: watchErrors(page) };
      },
    };
  } catch (err) {
    await w.close();
    throw err;
  }
}

/** Page errors and console errors (CSP violations and failed requests are console errors). */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

export async function signIn(page: Page, panelUrl: string, email: string, password: string) {
  await page.goto(panelUrl);
  await page.getByLabel('Correo electrónico').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.getByRole('navigation', { name: 'Principal' }).waitFor();
}

export const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Principal' }).getByRole('link', { name, exact: true });
export const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();

/** Wait (bounded) for something the service does in the background (a job run by its workers). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`no ocurrió a tiempo: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A delivered sale of the world's company made an hour ago (for screens that need one), its id. */
export async function seedSale(pw: PanelWorld): Promise<number> {
  const [product] = await pw.w.t.ctx.db.query<{ id: number; precio: string }>('SELECT id, precio::text AS precio FROM productos WHERE empresa_id = $1 ORDER BY id LIMIT 1', [pw.w.empresa.id]);
  const at = new Date(Date.now() - 3600_000).toISOString().replace('T', ' ').replace('Z', '');
  const [row] = await pw.w.t.ctx.db.orm
    .insert(transacciones)
    .values({
      empresaId: pw.w.empresa.id,
      routerId: pw.w.routerId,
      productoId: product.id,
      monto: product.precio,
      moneda: 'MXN',
      estadoPago: 'paid',
      estado: 'entregada',
      estadoHotspot: 'active',
      pasarela: 'conekta',
      referencia: `seed-${Date.now()}`,
      transaccionId: `ord_seed_${Date.now()}`,
      clienteNombre: 'Mario Ruiz',
      clienteEmail: 'mario@example.com',
      usuarioHotspot: 'PT-SEED1',
      creadaEn: at,
      pagadaEn: at,
    })
    .returning({ id: transacciones.id });
  return row.id;
}
