/**
 * The world of a browser test: the real service on a real port (its own database), a simulated RouterOS v7
 * router, the fake gateways, the sandbox tokenizers, the captive-portal kit downloaded through the API and
 * served by the simulated router's web side — and Debian's Chromium driven by playwright-core.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** The purchase answers the page received (for failure messages). */
export function recordPurchases(page: Page): Array<{ status: number; body: string }> {
  const seen: Array<{ status: number; body: string }> = [];
  page.on('response', (res) => {
    if (/\/api\/v1\/payments\/(pagar-|transacciones\/)/.test(res.url())) void res.text().then((body) => seen.push({ status: res.status(), body }), () => undefined);
  });
  return seen;
}
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';
import { startConektaFake, type ConektaFake } from '../../sandbox/conekta.js';
import { startMercadoPagoFake, type MercadoPagoFake } from '../../sandbox/mercadopago.js';
import { startTokenizerServer, type TokenizerServer } from '../../sandbox/tokenizers.js';
import { startHotspotWeb, type HotspotWeb } from '../../sandbox/hotspot-web.js';
import { demoLogoPng } from '../../sandbox/demo-logo.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null. */
export function browserUnavailable(): string | null {
  if (!existsSync(CHROMIUM)) return `Chromium no está instalado en ${CHROMIUM} (apt-get install -y chromium); se omiten las pruebas en navegador`;
  return null;
}

export const PRODUCTS = [
  { perfil_mikrotik_id: '*1', perfil_mikrotik_nombre: '1_Hora', nombre_venta: 'Ficha 1 hora', descripcion: 'Ideal para revisar correo y redes', precio: 10, duracion_minutos: 60, orden_visual: 1, detalles: [{ texto: '• Velocidad de 10 Mbps' }, { texto: '• 1 dispositivo' }] },
  { perfil_mikrotik_id: '*2', perfil_mikrotik_nombre: '1_Dia', nombre_venta: 'Ficha 1 día', descripcion: 'Todo el día conectado', precio: 35.5, duracion_minutos: 1440, orden_visual: 2, destacado: true, detalles: ['• Velocidad de 20 Mbps', '• Videollamadas sin cortes'] },
  { perfil_mikrotik_id: '*3', perfil_mikrotik_nombre: '1_Semana', nombre_venta: 'Ficha 1 semana', precio: 149.99, duracion_minutos: 10080, orden_visual: 3, detalles: [{ texto: '• 7 días de Internet' }] },
];

export interface PortalWorld {
  t: TestApp;
  apiUrl: string;
  sim: RouterSimulator;
  conekta: ConektaFake;
  mercadoPago: MercadoPagoFake;
  tokenizers: TokenizerServer;
  web: HotspotWeb;
  empresa: { id: string; nombre: string };
  routerId: string;
  adminToken: string;
  kitFiles: Record<string, string>;
  browser: Browser;
  /** A phone-sized page (360 px wide) in a fresh browser context. */
  phone(): Promise<{ context: BrowserContext; page: Page }>;
  /** Save a screenshot under test-results/e2e/<group>/<n>-<step>.png. */
  shot(page: Page, group: string, step: string): Promise<string>;
  close(): Promise<void>;
}

export interface WorldOptions {
  companyName?: string;
  /** The kit's gateway (`pasarela`); `mercado_pago` also gives the company Mercado Pago credentials. */
  gateway?: 'auto' | 'conekta' | 'mercado_pago';
  /** Run the background workers (webhooks, delivery retries) in the service. */
  workers?: boolean;
  /** RouterOS version of the simulated router (default 7). */
  routerVersion?: '6' | '7';
  /** More service environment (e.g. a short THREE_DS_CHALLENGE_TIMEOUT_MS). */
  env?: Record<string, string>;
}

export async function startPortalWorld(opts: WorldOptions = {}): Promise<PortalWorld> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const tokenizers = await startTokenizerServer();
    cleanups.push(() => tokenizers.close());
    const conekta = await startConektaFake();
    cleanups.push(() => conekta.close());
    const mercadoPago = await startMercadoPagoFake();
    cleanups.push(() => mercadoPago.close());
    const sim = await startRouterSimulator({
      version: opts.routerVersion ?? '7',
      identity: 'Hotspot-Prueba',
      profiles: PRODUCTS.map((p) => ({ name: p.perfil_mikrotik_nombre })),
    });
    cleanups.push(() => sim.close());

    const t = await startTestApp({
      env: {
        CONEKTA_API_BASE: conekta.url,
        MERCADO_PAGO_API_BASE: mercadoPago.url,
        PORTAL_CONEKTA_JS_URL: tokenizers.conektaJsUrl,
        PORTAL_MERCADO_PAGO_JS_URL: tokenizers.mercadoPagoJsUrl,
        CHECKOUT_CONEKTA_JS_URL: tokenizers.checkoutConektaJsUrl,
        CHECKOUT_MERCADO_PAGO_JS_URL: tokenizers.checkoutMercadoPagoJsUrl,
        HOTSPOT_LOGIN_SETTLE_MS: '50',
        ROUTEROS_CONNECT_TIMEOUT_MS: '3000',
        ROUTEROS_COMMAND_TIMEOUT_MS: '3000',
        WORKERS_ENABLED: opts.workers ? 'true' : 'false',
        ...opts.env,
      },
    });
    cleanups.push(() => t.close());
    // startTestApp builds the context only; the service starts the workers itself (start() is idempotent).
    if (opts.workers) await t.ctx.payments.startWorkers();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    const apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    // Kits need PUBLIC_BASE_URL; the port is known only now (the portal kit reads it per request).
    t.ctx.config.publicBaseUrl = apiUrl;

    // The company, its router (pointing at the simulator) and its admin; products through the API.
    const empresa = await createEmpresa(t.ctx, {
      nombre: opts.companyName ?? 'Café Internet La Esquina',
      conektaPrivateKey: t.ctx.secrets.general.encrypt('key_sandbox_private_e2e')!,
      conektaPublicKey: 'key_sandbox_public_e2e',
      ...(opts.gateway === 'mercado_pago'
        ? { mercadoPagoAccessToken: t.ctx.secrets.mercadoPago.encrypt('TEST-e2e-access-token'), mercadoPagoPublicKey: 'TEST-e2e-public-key' }
        : {}),
    });
    const router = await createRouter(t.ctx, empresa.id, {
      nombre: 'Router Terraza',
      ubicacion: 'Terraza, planta alta',
      host: sim.host,
      puerto: sim.port,
      usuario: sim.credentials.username,
      password: sim.credentials.password,
    });
    const admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId: empresa.id });
    const adminToken = await t.login(admin.email, admin.password);
    for (const p of PRODUCTS) {
      const res = await t.request({ method: 'POST', url: '/api/v1/admin/products', headers: bearer(adminToken), payload: { router_id: router.id, ...p } });
      if (res.statusCode !== 201) throw new Error(`producto: ${res.statusCode} ${res.body}`);
    }
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(demoLogoPng())], { type: 'image/png' }), 'logo.png');
    const logo = await fetch(`${apiUrl}/api/v1/admin/mi-empresa/logo`, { method: 'POST', headers: bearer(adminToken), body: form });
    if (!logo.ok) throw new Error(`logo: ${logo.status} ${await logo.text()}`);

    // The kit, downloaded over HTTP as an operator would, served by the simulated router.
    const kitRes = await fetch(`${apiUrl}/api/v1/admin/routers/${router.id}/portal-kit?pasarela=${opts.gateway ?? 'auto'}`, { headers: bearer(adminToken) });
    if (kitRes.status !== 200) throw new Error(`kit: ${kitRes.status} ${await kitRes.text()}`);
    const kitFiles = Object.fromEntries(Object.entries(unzipSync(new Uint8Array(await kitRes.arrayBuffer()))).map(([n, b]) => [n, strFromU8(b)]));
    // Shorter pauses than a person needs, so the tests do not wait on timers meant for humans.
    kitFiles['login.html'] = kitFiles['login.html'].replace('</head>', '<script>window.PORTAL_CONFIG.routerLoginDelayMs = 300; window.PORTAL_CONFIG.pollIntervalMs = 300;</script>\n</head>');
    const web = await startHotspotWeb({ files: kitFiles, state: sim.state });
    cleanups.push(() => web.close());

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    cleanups.push(() => browser.close());

    const shots = new Map<string, number>();
    return {
      t,
      apiUrl,
      sim,
      conekta,
      mercadoPago,
      tokenizers,
      web,
      empresa,
      routerId: router.id,
      adminToken,
      kitFiles,
      browser,
      async phone() {
        const context = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'es-MX' });
        const page = await context.newPage();
        return { context, page };
      },
      async shot(page, group, step) {
        const dir = join('test-results', 'e2e', group);
        mkdirSync(dir, { recursive: true });
        const n = (shots.get(group) ?? 0) + 1;
        shots.set(group, n);
        const file = join(dir, `${String(n).padStart(2, '0')}-${step}.png`);
        await page.screenshot({ path: file, fullPage: true });
        return file;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
