/** Shared set-up of the payment tests: fake gateways, fake Telegram, router simulators, shops. */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before } from 'node:test';
import { eq } from 'drizzle-orm';
import { startTestApp, type TestApp, type TestAppOptions } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { productos, transacciones } from '../../src/infra/db/schema.js';
import { startConektaFake, type ConektaFake } from '../../sandbox/conekta.js';
import { startMercadoPagoFake, type MercadoPagoFake } from '../../sandbox/mercadopago.js';
import { startTelegramFake, type TelegramFake } from '../../sandbox/telegram.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';
import type { AppContext } from '../../src/context.js';

export interface Fakes {
  conekta: ConektaFake;
  mp: MercadoPagoFake;
  telegram: TelegramFake;
  close(): Promise<void>;
}

export async function startFakes(): Promise<Fakes> {
  const [conekta, mp, telegram] = await Promise.all([startConektaFake(), startMercadoPagoFake(), startTelegramFake()]);
  return {
    conekta,
    mp,
    telegram,
    async close() {
      await Promise.all([conekta.close(), mp.close(), telegram.close()]);
    },
  };
}

/** Service environment pointing at the fakes, with short timeouts so failure paths run fast. */
export function paymentEnv(f: Fakes, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CONEKTA_API_BASE: f.conekta.url,
    MERCADO_PAGO_API_BASE: f.mp.url,
    TELEGRAM_API_BASE: f.telegram.url,
    PUBLIC_BASE_URL: 'https://pagos.example.com',
    GATEWAY_TIMEOUT_MS: '600',
    ROUTEROS_CONNECT_TIMEOUT_MS: '800',
    ROUTEROS_COMMAND_TIMEOUT_MS: '800',
    ROUTEROS_BREAKER_THRESHOLD: '1000',
    ROUTEROS_BREAKER_COOLDOWN_MS: '0',
    HOTSPOT_LOGIN_SETTLE_MS: '10',
    // A lookup miss is final at once here (the search-lag tests set a horizon of their own).
    PAYMENT_NOT_FOUND_HORIZON_MS: '0',
    IDEMPOTENCY_WAIT_MS: '2000',
    ...extra,
  };
}

export async function startPaymentsApp(f: Fakes, opts: TestAppOptions = {}): Promise<TestApp> {
  return startTestApp({ ...opts, env: { ...paymentEnv(f), ...opts.env } });
}

export const MP_TOKEN = 'TEST-1234567890-access';
export const TG_TOKEN = '123456:AAtestToken_x';

export interface Shop {
  empresaId: string;
  empresaNombre: string;
  routerId: string;
  apiKey: string;
  productId: number;
  pinProductId: number;
  adminToken: string;
  sim: RouterSimulator;
}

/** The fakes, the payments app and one shop, started in `before` and closed in `after` of the calling suite. */
export interface PaymentsShop {
  f: Fakes;
  t: TestApp;
  shop: Shop;
}
export function usePaymentsShop(): PaymentsShop {
  const env = {} as PaymentsShop;
  before(async () => {
    env.f = await startFakes();
    env.t = await startPaymentsApp(env.f);
    env.shop = await createShop(env.t);
  });
  after(async () => {
    await env.t.close();
    await env.shop.sim.close();
    await env.f.close();
  });
  return env;
}

/** A company (Conekta + MP + Telegram configured) with one router on a simulator and two products at 19.99. */
export async function createShop(t: TestApp, opts: { nombre?: string; webhookSecret?: string; sim?: RouterSimulator; version?: '6' | '7' } = {}): Promise<Shop> {
  const sim = opts.sim ?? (await startRouterSimulator({ version: opts.version ?? '7', profiles: [{ name: '1_HORA' }, { name: 'PIN_1H' }] }));
  const nombre = opts.nombre ?? `Hotspot <Café> & Cía ${randomBytes(2).toString('hex')}`;
  const ctx = t.ctx;
  const empresa = await createEmpresa(ctx, {
    nombre,
    mercadoPagoAccessToken: ctx.secrets.mercadoPago.encrypt(MP_TOKEN),
    mercadoPagoWebhookSecret: opts.webhookSecret ? ctx.secrets.mercadoPago.encrypt(opts.webhookSecret) : null,
    mercadoPagoMode: 'live',
    telegramBotToken: ctx.secrets.general.encrypt(TG_TOKEN),
    telegramChatId: '-100200300',
    notificacionesTelegram: true,
  });
  const router = await createRouter(ctx, empresa.id, { host: sim.host, puerto: sim.port, password: 'xyz' });
  const [p1] = await ctx.db.orm
    .insert(productos)
    .values({ empresaId: empresa.id, routerId: router.id, perfilMikrotikId: '*1', perfilMikrotikNombre: '1_HORA', nombreVenta: '1 Hora <Rápida>', precio: '19.99', moneda: 'MXN', duracionMinutos: 60 })
    .returning({ id: productos.id });
  const [p2] = await ctx.db.orm
    .insert(productos)
    .values({ empresaId: empresa.id, routerId: router.id, perfilMikrotikId: '*2', perfilMikrotikNombre: 'PIN_1H', nombreVenta: 'PIN 1 Hora', precio: '60.00', moneda: 'MXN', tipoUsuarioDefault: 'pin' })
    .returning({ id: productos.id });
  const admin = await createUser(ctx, { rol: 'cliente_admin', empresaId: empresa.id });
  const adminToken = await t.login(admin.email, admin.password);
  return { empresaId: empresa.id, empresaNombre: nombre, routerId: router.id, apiKey: router.apiKey, productId: p1.id, pinProductId: p2.id, adminToken, sim };
}

/** Configure Conekta's webhook public key the way a company admin does (through the API). */
export async function setConektaWebhookKey(t: TestApp, adminToken: string, pem: string | null): Promise<void> {
  const res = await t.request({
    method: 'POST',
    url: '/api/v1/admin/mi-empresa/configurar-conekta',
    headers: { authorization: `Bearer ${adminToken}` },
    payload: { conekta_webhook_public_key: pem ?? '' },
  });
  if (res.statusCode !== 200) throw new Error(`configurar-conekta: ${res.statusCode} ${res.body}`);
}

let seq = 0;
export const uniq = () => `${process.pid}_${Date.now().toString(36)}_${seq++}`;

export function conektaBody(productId: number, token = `tok_test_visa_4242_${uniq()}`, extra: Record<string, unknown> = {}) {
  return { producto_id: productId, token_tarjeta: token, nombre_cliente: 'Ana <b>López</b> & Co', email_cliente: 'Ana@Example.COM', telefono_cliente: '55 1234 5678', ...extra };
}

export function mpBody(productId: number, token = `card_${uniq()}`, extra: Record<string, unknown> = {}) {
  return {
    producto_id: productId,
    payment_method_id: 'visa',
    token,
    monto: 19.99,
    nombre_cliente: 'Beto Pérez',
    email_cliente: 'beto@example.com',
    device_id: 'dev-1',
    ...extra,
  };
}

export const auth = (apiKey: string) => ({ authorization: `Bearer ${apiKey}` });

export async function txByRef(ctx: AppContext, referencia: string) {
  const [row] = await ctx.db.orm.select().from(transacciones).where(eq(transacciones.referencia, referencia)).limit(1);
  return row;
}

/** Wait (bounded) until `check` returns a truthy value; throws with `what` if it never does. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timeout esperando: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function routerUsers(sim: RouterSimulator, name?: string) {
  return sim.state.users.rows.filter((u) => (name ? u.name === name : u.name?.startsWith('PT-')));
}

/** The router stops answering: pooled connections hang, new ones are refused. */
export function routerDown(sim: RouterSimulator): void {
  sim.hang(true);
  void sim.refuse();
}

export async function routerUp(sim: RouterSimulator): Promise<void> {
  sim.hang(false);
  await sim.accept();
}

/** Serve the test app on a real port (for fakes that call back: webhooks). */
export async function listen(t: TestApp): Promise<string> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = t.app.server.address() as { port: number };
  return `http://127.0.0.1:${addr.port}`;
}

export interface CuttableProxy {
  port: number;
  /** Drop every connection and refuse new ones (ECONNREFUSED / connection terminated). */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy in front of PostgreSQL that can drop every connection and refuse new ones (a restart, as the service sees it). */
export async function startProxy(targetHost: string, targetPort: number): Promise<CuttableProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect({ host: targetHost, port: targetPort });
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const stop = async () => {
    const s = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    restore: () => (server ? Promise.resolve() : listen()),
    close: stop,
  };
}

