/** Paying on the checkout page (issue 13): the gateway's frame on the sandbox origin, filled like a person would. */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { PortalWorld } from './harness.js';

export interface CardInput {
  number: string;
  name: string;
  exp?: string;
  cvc?: string;
}

/** Wait until the router page handed over to our checkout page, then pay in the gateway's frame. */
export async function payOnCheckout(page: Page, apiUrl: string, card: CardInput): Promise<void> {
  await page.waitForURL((u) => u.toString().startsWith(`${apiUrl}/pagar/`), { timeout: 60_000 });
  const frame = page.frameLocator('#card-fields iframe');
  await frame.locator('#number').waitFor({ state: 'visible', timeout: 60_000 });
  await frame.locator('#number').fill(card.number);
  await frame.locator('#exp').fill(card.exp ?? '12/30');
  await frame.locator('#cvc').fill(card.cvc ?? '123');
  await frame.locator('#name').fill(card.name);
  await frame.locator('#pay').click();
}

/** The checkout page's outcome: the credentials section, or the error it shows. */
export async function checkoutOutcome(page: Page): Promise<{ usuario: string; contrasena: string } | { error: string }> {
  await page.locator('#listo:visible, #estado.error').first().waitFor({ timeout: 60_000 });
  if (await page.locator('#estado.error').isVisible()) return { error: String(await page.locator('#estado').textContent()) };
  return { usuario: String(await page.locator('#usuario').textContent()), contrasena: String(await page.locator('#contrasena').textContent()) };
}

/** The router key the kit's login.html embeds. */
export function kitKey(w: PortalWorld): string {
  const m = /"apiKey":\s*"([^"]+)"/.exec(w.kitFiles['login.html']);
  if (!m) throw new Error('no apiKey in the kit');
  return m[1];
}

/** A checkout session for "Ficha 1 hora" made as the router page makes it (POST /checkout/sesiones with the kit's key); its url. */
export async function createCheckoutSession(
  w: PortalWorld,
  pasarela: 'conekta' | 'mercado_pago',
  device: { mac: string; ip: string },
  extra: Record<string, string> = {},
): Promise<string> {
  const catalog = await fetch(`${w.apiUrl}/api/v1/catalogo_perfiles_venta`, { headers: { 'x-api-key': kitKey(w) } });
  const products = (await catalog.json()) as Array<{ id: number; nombre_venta: string }>;
  const product = products.find((p) => p.nombre_venta === 'Ficha 1 hora')!;
  const res = await fetch(`${w.apiUrl}/api/v1/checkout/sesiones`, {
    method: 'POST',
    headers: { 'x-api-key': kitKey(w), 'content-type': 'application/json' },
    body: JSON.stringify({
      producto_id: product.id,
      pasarela,
      nombre_cliente: 'Ana López',
      email_cliente: 'ana@example.com',
      link_login_only: 'http://10.5.50.1/login',
      mac: device.mac,
      ip: device.ip,
      dst: 'http://www.example.com/',
      ...extra,
    }),
  });
  const body = (await res.json()) as { url: string; expira_en: string };
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.url;
}
