/** Paying on the checkout page (issue 13): the gateway's frame on the sandbox origin, filled like a person would. */
import type { Page } from 'playwright-core';

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
