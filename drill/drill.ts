/**
 * Fault drills against the real service (the production entry, `src/server.ts`, as a child process) on a
 * throwaway PostgreSQL database, with the sandbox's Conekta fake and RouterOS simulators:
 *
 *   baseline        purchases on every router
 *   router-outage   a router stops answering while purchases run, then comes back
 *   router-dead     (full drill) a router stays down past the delivery deadline: automatic refund
 *   gateway         Conekta hangs (timeout) and answers 5xx, with and without creating the order; a decline
 *   sigkill-charge  the service is SIGKILLed while the gateway holds the charges, then restarted
 *   sigkill         (full drill) SIGKILL at a random moment of a batch, restart, clients retry
 *   pg-restart      (full drill) PostgreSQL restarts mid-run; the service recovers by itself
 *   webhooks        duplicate, forged and real Conekta webhooks (order.paid, order.refunded)
 *   mp-search-lag   Mercado Pago charges whose answer is lost while its search index lags; the webhook
 *                   (data.id only, to the account's Webhooks URL) settles them
 *   partial-refund  a partial refund at Conekta: reembolso_parcial, the voucher stays
 *   refund-race     refund webhooks racing deliveries to a router that is down: no voucher survives
 *   db-cut-completion  the service's database connections are cut as Conekta answers the charge (so the cut
 *                   lands before, during or after the purchase records and completes its Idempotency-Key);
 *                   portals retry with the same key: one charge, the same referencia, one voucher
 *   lease-takeover  a slow router while the database is cut for longer than the delivery lease: the worker
 *                   that lost its lease stops, another takes the job over; exactly one voucher per purchase
 *
 * and ends with the money invariant (drill/invariant.ts) and the counts. Used by `npm run drill` (full)
 * and test/drill (short: fewer purchases, no PostgreSQL restart, no deadline refund).
 */
import { exec } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/infra/logging.js';
import { openDatabase } from '../src/infra/db/index.js';
import { createContext } from '../src/context.js';
import { productos } from '../src/infra/db/schema.js';
import { startConektaFake, type ConektaFake } from '../sandbox/conekta.js';
import { startMercadoPagoFake, type MercadoPagoFake } from '../sandbox/mercadopago.js';
import { startTelegramFake } from '../sandbox/telegram.js';
import { startRouterSimulator, type RouterSimulator } from '../sandbox/routeros/index.js';
import { createEmpresa, createRouter } from '../test/helpers/fixtures.js';
import { createThrowawayDatabase, freePort, http, serviceEnv, sleep, startService, type ServiceProcess, type ThrowawayDatabase } from '../bench/harness.js';
import { checkMoneyInvariant, conektaOrderWasPaid, waitSettled, type InvariantReport, type Query } from './invariant.js';
import { startProxy, type CuttableProxy } from '../test/payments/helpers.js';

export interface DrillOptions {
  /** Routers (each on its own simulator), purchases spread over them. */
  routers: number;
  /** Purchases per phase (per router for the baseline). */
  purchases: number;
  pgRestart: boolean;
  /** A router down past PROVISION_DEADLINE_MINUTES (1): refunded automatically (takes over a minute). */
  deadlineRefund: boolean;
  /** SIGKILL at a random moment of a batch (jobs it held wait for their lease, 60 s, to expire). */
  randomKill: boolean;
  /** How long every phase may take to settle (no open transaction left). */
  settleMs: number;
  /** Run only these phases (besides the baseline); all when absent. */
  only?: string[];
  log?: (line: string) => void;
}

export interface PhaseResult {
  name: string;
  ok: boolean;
  detail: string;
  responses: Record<string, number>;
  ms: number;
}

export interface DrillResult {
  ok: boolean;
  phases: PhaseResult[];
  invariant: InvariantReport;
  purchases: number;
  /** The service's own log (warn and above), for a failed drill. */
  serviceLog: string[];
}

export interface Shop {
  empresaId: string;
  routerId: string;
  apiKey: string;
  productId: number;
  sim: RouterSimulator;
}

export const PROFILE = '1_HORA';
export const SIM_PASSWORD = 'xyz';

/** Everything a drill runs against; the service can be killed and restarted. */
class Rig {
  service!: ServiceProcess;
  shops: Shop[] = [];
  /** Idempotency-Key → references seen in its answers (for the double-charge check). */
  readonly clientPurchases = new Map<string, Set<string>>();
  purchases = 0;
  readonly query: Query;
  /** Log lines (warn and above) of every service instance started. */
  readonly serviceLog: string[] = [];

  constructor(
    readonly db: ThrowawayDatabase,
    readonly env: Record<string, string>,
    readonly conekta: ConektaFake,
    private readonly pool: Awaited<ReturnType<typeof openDatabase>>,
  ) {
    this.query = (text, params) => this.pool.query(text, params);
  }

  get url() {
    return this.service.url;
  }

  async start() {
    this.service = await startService(this.env, { readyTimeoutMs: 60_000 });
    this.service.output.length = 0;
    const out = this.service.output;
    void this.service.exited.then(() => this.serviceLog.push(...out.splice(0)));
  }

  /** Every log line so far, of the running instance too. */
  logLines(): string[] {
    return [...this.serviceLog, ...(this.service?.output ?? [])];
  }

  /** One purchase attempt as a captive portal makes it (a new key and card token unless retrying). */
  async buy(shop: Shop, key: string = randomUUID(), token = `tok_test_visa_4242_${key}`, timeoutMs = 20_000): Promise<{ status: number; data: any; key: string }> {
    this.purchases++;
    const refs = this.clientPurchases.get(key) ?? new Set<string>();
    this.clientPurchases.set(key, refs);
    try {
      const r = await http(this.url, 'POST', '/api/v1/payments/pagar-conekta', {
        headers: { authorization: `Bearer ${shop.apiKey}`, 'idempotency-key': key },
        body: { producto_id: shop.productId, token_tarjeta: token, nombre_cliente: 'Cliente Drill', email_cliente: 'drill@example.com', telefono_cliente: '5512345678' },
        timeoutMs,
      });
      if (r.data && typeof r.data === 'object' && typeof r.data.referencia === 'string') refs.add(r.data.referencia);
      return { status: r.status, data: r.data, key };
    } catch (err) {
      return { status: 0, data: { error: (err as Error).message }, key };
    }
  }

  /** A top-up of a voucher bought earlier (issue 15), as the portal sends it; tracked like a purchase. */
  async topUp(shop: Shop, voucher: { usuario: string; contrasena: string }, key: string = randomUUID(), timeoutMs = 20_000): Promise<{ status: number; data: any; key: string }> {
    this.purchases++;
    const refs = this.clientPurchases.get(key) ?? new Set<string>();
    this.clientPurchases.set(key, refs);
    try {
      const r = await http(this.url, 'POST', '/api/v1/payments/recargar-conekta', {
        headers: { authorization: `Bearer ${shop.apiKey}`, 'idempotency-key': key },
        body: { producto_id: shop.productId, token_tarjeta: `tok_test_visa_4242_${key}`, nombre_cliente: 'Cliente Drill', email_cliente: 'drill@example.com', ...voucher },
        timeoutMs,
      });
      if (r.data && typeof r.data === 'object' && typeof r.data.referencia === 'string') refs.add(r.data.referencia);
      return { status: r.status, data: r.data, key };
    } catch (err) {
      return { status: 0, data: { error: (err as Error).message }, key };
    }
  }

  /** A Mercado Pago purchase (card token scripts the outcome at the fake). */
  async buyMp(shop: Shop, token: string, timeoutMs = 20_000): Promise<{ status: number; data: any }> {
    this.purchases++;
    try {
      const r = await http(this.url, 'POST', '/api/v1/payments/pagar-mercado-pago', {
        headers: { authorization: `Bearer ${shop.apiKey}`, 'idempotency-key': randomUUID() },
        body: { producto_id: shop.productId, payment_method_id: 'visa', token, monto: 19.99, nombre_cliente: 'Cliente Drill', email_cliente: 'drill@example.com' },
        timeoutMs,
      });
      return { status: r.status, data: r.data };
    } catch (err) {
      return { status: 0, data: { error: (err as Error).message } };
    }
  }

  async stop() {
    await this.service?.stop().catch(() => undefined);
  }
}

export const DRILL_MP_TOKEN = 'TEST-drill-access-token';

export const tally = (results: { status: number }[]) => {
  const out: Record<string, number> = {};
  for (const r of results) {
    const k = r.status === 0 ? 'sin respuesta' : String(r.status);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
};

export async function seedShops(env: Record<string, string>, sims: RouterSimulator[], conekta: ConektaFake): Promise<Shop[]> {
  const config = loadConfig(env);
  const logger = createLogger('silent');
  const db = await openDatabase(config.database, { poolSize: 2, logger });
  const ctx = await createContext(config, logger, db);
  try {
    const empresa = await createEmpresa(ctx, { nombre: 'Hotspot Drill', conektaMode: 'test', mercadoPagoAccessToken: ctx.secrets.mercadoPago.encrypt(DRILL_MP_TOKEN), mercadoPagoMode: 'live' });
    // Conekta webhooks are verified with the account's key (the fake signs with its private half).
    await ctx.db.query('UPDATE empresas SET conekta_webhook_public_key = $2 WHERE id = $1', [empresa.id, conekta.webhookPublicKey]);
    const shops: Shop[] = [];
    for (const sim of sims) {
      const router = await createRouter(ctx, empresa.id, { host: sim.host, puerto: sim.port, usuario: sim.credentials.username, password: SIM_PASSWORD });
      const [p] = await ctx.db.orm
        .insert(productos)
        .values({ empresaId: empresa.id, routerId: router.id, perfilMikrotikId: '*1', perfilMikrotikNombre: PROFILE, nombreVenta: '1 Hora', precio: '19.99', moneda: 'MXN', duracionMinutos: 60 })
        .returning({ id: productos.id });
      shops.push({ empresaId: empresa.id, routerId: router.id, apiKey: router.apiKey, productId: p.id, sim });
    }
    return shops;
  } finally {
    await ctx.stop();
    await db.close();
  }
}

/** Run `n` purchases with at most `concurrency` in flight. */
export async function many<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

export async function runDrill(opts: DrillOptions): Promise<DrillResult> {
  const log = opts.log ?? (() => undefined);
  const phases: PhaseResult[] = [];
  const conekta = await startConektaFake();
  const mercadoPago: MercadoPagoFake = await startMercadoPagoFake();
  const telegram = await startTelegramFake();
  // One more router than asked: the outage phase needs one the service has never checked (its readiness
  // check is cached for a few seconds, so a recently used router is charged for and delivered later).
  const sims = await Promise.all(Array.from({ length: opts.routers + 1 }, () => startRouterSimulator({ version: '7', password: SIM_PASSWORD, profiles: [{ name: PROFILE }] })));
  const db = await createThrowawayDatabase('ph_drill');
  // The service reaches PostgreSQL through a cuttable TCP proxy (compound phases cut only its connections).
  const pgUrl = new URL(db.url);
  const dbProxy: CuttableProxy = await startProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
  pgUrl.port = String(dbProxy.port);
  const port = await freePort();
  const env = serviceEnv(pgUrl.toString(), port, {
    CONEKTA_API_BASE: conekta.url,
    MERCADO_PAGO_API_BASE: mercadoPago.url,
    TELEGRAM_API_BASE: telegram.url,
    // Short timeouts so that failure paths settle within the drill; production logic otherwise.
    GATEWAY_TIMEOUT_MS: '800',
    ROUTEROS_CONNECT_TIMEOUT_MS: '800',
    ROUTEROS_COMMAND_TIMEOUT_MS: '800',
    ROUTEROS_BREAKER_THRESHOLD: '1000',
    ROUTEROS_BREAKER_COOLDOWN_MS: '0',
    PROVISION_DEADLINE_MINUTES: '1',
    BCRYPT_ROUNDS: '4',
    DATABASE_POOL_SIZE: '10',
  });
  const pool = await openDatabase(loadConfig(env).database, { poolSize: 3 });
  const rig = new Rig(db, env, conekta, pool);
  try {
    await rig.start();
    rig.shops = await seedShops(env, sims, conekta);
    // The service's PUBLIC_BASE_URL is plain http: its payments carry no notification_url, so Mercado Pago
    // notifies the account's Webhooks URL (set here as an operator does in "Your integrations").
    mercadoPago.setAccountWebhook(DRILL_MP_TOKEN, `${rig.url}/api/v1/webhook/mercado-pago`);
    log(`servicio pid ${rig.service.pid} en ${rig.url}; ${rig.shops.length} routers simulados; base ${db.name}`);
    const spare = rig.shops[rig.shops.length - 1];
    const shops = rig.shops.slice(0, -1);

    const phase = async (name: string, body: () => Promise<{ ok: boolean; detail: string; responses: Record<string, number> }>) => {
      if (opts.only && name !== 'baseline' && !opts.only.includes(name)) return;
      const t0 = Date.now();
      log(`fase ${name}…`);
      let r: { ok: boolean; detail: string; responses: Record<string, number> };
      try {
        r = await body();
        const left = await waitSettled(rig.query, opts.settleMs);
        if (left > 0) r = { ...r, ok: false, detail: `${r.detail}; ${left} transacciones sin resolver tras ${opts.settleMs} ms` };
      } catch (err) {
        r = { ok: false, detail: `error: ${(err as Error).message}`, responses: {} };
      }
      const result = { name, ...r, ms: Date.now() - t0 };
      phases.push(result);
      log(`  ${r.ok ? 'ok' : 'FALLO'} ${name}: ${r.detail} ${JSON.stringify(r.responses)} (${result.ms} ms)`);
    };

    // The baseline's vouchers, topped up at the end (the recargas phase) while faults run.
    const bought: { shop: Shop; usuario: string; contrasena: string }[] = [];
    await phase('baseline', async () => {
      const res = await many(opts.purchases * shops.length, 8, (i) => rig.buy(shops[i % shops.length]));
      res.forEach((r, i) => {
        const v = r.data?.usuario_hotspot;
        if (r.status === 200 && v?.usuario) bought.push({ shop: shops[i % shops.length], usuario: String(v.usuario), contrasena: String(v.contrasena ?? '') });
      });
      const ok = res.every((r) => r.status === 200 && r.data?.success === true);
      return { ok, detail: `${res.length} compras`, responses: tally(res) };
    });

    await phase('router-outage', async () => {
      const shop = spare;
      // Down before the purchase: the router check fails first, nobody is charged (503).
      shop.sim.hang(true);
      // Not awaited: close() resolves only when the (hung) pooled connections end; listening stops at once.
      void shop.sim.refuse();
      const tRefused = Date.now();
      const refused = await many(Math.max(2, Math.floor(opts.purchases / 2)), 4, () => rig.buy(shop));
      const refusedMs = Date.now() - tRefused;
      shop.sim.hang(false);
      await shop.sim.accept();
      // Down right after a successful check (cached): charged, the voucher waits for the router.
      const tWarm = Date.now();
      const warm = await rig.buy(shop);
      const warmMs = Date.now() - tWarm;
      shop.sim.hang(true);
      const charged = await many(opts.purchases, 4, () => rig.buy(shop));
      const chargedMs = Date.now() - tWarm - warmMs;
      await sleep(1500);
      shop.sim.hang(false);
      const tBack = Date.now();
      await waitSettled(rig.query, opts.settleMs);
      const backMs = Date.now() - tBack;
      const res = [...refused, warm, ...charged];
      const pending = charged.filter((r) => r.status === 200 && r.data?.estado_hotspot !== 'active' && r.data?.estado !== 'entregada').length;
      return {
        ok: refused.every((r) => r.status === 503) && res.every((r) => [200, 503].includes(r.status)),
        detail: `${refused.length} rechazadas sin cobro con el router caído (${refusedMs} ms); al volver, primera compra ${warm.status} en ${warmMs} ms; ${charged.filter((r) => r.status === 200).length} cobradas con el router colgado (${pending} con la ficha pendiente, ${chargedMs} ms), entregadas ${backMs} ms después de que el router volvió`,
        responses: tally(res),
      };
    });

    await phase('gateway', async () => {
      const shop = shops[1 % shops.length];
      // Timeouts and 5xx, with and without an order behind them; then a decline.
      conekta.failNext({ hang: true, create: 'paid' }, { hang: true }, { status: 500, create: 'paid', body: { object: 'error', type: 'api_error' } }, { status: 503, body: { object: 'error' } }, { status: 502, create: 'paid', raw: 'Bad Gateway' });
      const scripted = [];
      for (let i = 0; i < 5; i++) scripted.push(await rig.buy(shop));
      const declined = await rig.buy(shop, randomUUID(), `tok_test_decline_card_declined_${randomUUID()}`);
      const fine = await many(opts.purchases, 4, () => rig.buy(shop));
      const res = [...scripted, declined, ...fine];
      const unknown = scripted.filter((r) => r.status >= 500 || r.status === 0).length;
      return { ok: declined.status === 402 && fine.every((r) => r.status === 200), detail: `${unknown}/5 con resultado desconocido (a conciliar), rechazo → ${declined.status}`, responses: tally(res) };
    });

    if (opts.deadlineRefund) {
      await phase('router-dead', async () => {
        const shop = shops[shops.length - 1];
        const warm = await rig.buy(shop);
        shop.sim.hang(true);
        // Not awaited: close() resolves only when the (hung) pooled connections end; listening stops at once.
      void shop.sim.refuse();
        const res = await many(Math.max(2, Math.floor(opts.purchases / 2)), 2, () => rig.buy(shop));
        // The delivery deadline is one minute: wait it out, the worker refunds.
        const deadline = Date.now() + 100_000;
        for (;;) {
          const [row] = await rig.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE router_id = $1 AND estado IN ('cobrada','iniciada','en_revision')`, [shop.routerId]);
          if (row.n === 0 || Date.now() > deadline) break;
          await sleep(1000);
        }
        shop.sim.hang(false);
        await shop.sim.accept();
        const [r] = await rig.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE router_id = $1 AND estado = 'reembolsada'`, [shop.routerId]);
        const charged = res.filter((x) => x.status === 200).length;
        return { ok: warm.status === 200 && r.n >= charged, detail: `${charged} cobradas con el router muerto, ${r.n} reembolsadas automáticamente`, responses: tally([warm, ...res]) };
      });
    }

    await phase('sigkill-charge', async () => {
      // Killed while the gateway holds the charges (orders created, answers never sent): the most
      // dangerous moment. The new instance reconciles by reference and delivers what was paid.
      const k = Math.max(2, Math.min(opts.purchases, shops.length * 2));
      const ordersBefore = conekta.state.orders.size;
      conekta.failNext(...Array.from({ length: k }, () => ({ hang: true, create: 'paid' })));
      const inflight = Array.from({ length: k }, (_, i) => rig.buy(shops[i % shops.length]));
      const t0 = Date.now();
      while (conekta.state.orders.size < ordersBefore + k && Date.now() - t0 < 5000) await sleep(20);
      const killed = rig.service.pid;
      rig.service.kill('SIGKILL');
      await rig.service.exited;
      const first = await Promise.all(inflight);
      await rig.start();
      return {
        ok: first.every((r) => r.status === 0),
        detail: `pid ${killed} muerto con ${k} cobros en curso (${conekta.state.orders.size - ordersBefore} órdenes creadas), reiniciado como pid ${rig.service.pid}`,
        responses: tally(first),
      };
    });

    if (opts.randomKill) {
      await phase('sigkill', async () => {
        const shopOf = (i: number) => shops[i % shops.length];
        const inflight = Array.from({ length: opts.purchases * 2 }, (_, i) => rig.buy(shopOf(i)));
        await sleep(120);
        const killed = rig.service.pid;
        rig.service.kill('SIGKILL');
        await rig.service.exited;
        const first = await Promise.all(inflight);
        await rig.start();
        // Portals retry what got no answer, with the same Idempotency-Key and body (the service holds a
        // retry of a key whose first request died until that claim expires: gateway timeout + 30 s).
        const lost = first.map((r, i) => ({ r, i })).filter(({ r }) => r.status === 0 || r.status >= 500);
        const retried = await Promise.all(lost.map(({ r, i }) => rig.buy(shopOf(i), r.key, `tok_test_visa_4242_${r.key}`, 45_000)));
        const after = await many(opts.purchases, 4, (i) => rig.buy(shopOf(i)));
        return {
          ok: after.every((r) => r.status === 200) && retried.every((r) => r.status !== 0),
          detail: `pid ${killed} muerto con ${first.length} compras en curso (${lost.length} sin respuesta, reintentadas con la misma clave), reiniciado como pid ${rig.service.pid}`,
          responses: tally([...first, ...retried, ...after]),
        };
      });
    }

    if (opts.pgRestart) {
      await phase('pg-restart', async () => {
        const results: { status: number }[] = [];
        let stop = false;
        const traffic = (async () => {
          let i = 0;
          while (!stop) {
            results.push(await rig.buy(shops[i++ % shops.length]));
            await sleep(50);
          }
        })();
        await sleep(1500);
        const cluster = readdirSync('/etc/postgresql')[0];
        log(`  pg_ctlcluster ${cluster} main restart`);
        await promisify(exec)(`pg_ctlcluster --skip-systemctl-redirect ${cluster} main restart`);
        const t0 = Date.now();
        let readyMs = -1;
        while (Date.now() - t0 < 60_000) {
          const r = await http(rig.url, 'GET', '/ready', { timeoutMs: 2000 }).catch(() => ({ status: 0 }));
          if (r.status === 200) {
            readyMs = Date.now() - t0;
            break;
          }
          await sleep(200);
        }
        await sleep(1500);
        stop = true;
        await traffic;
        const after = await many(opts.purchases, 4, (i) => rig.buy(shops[i % shops.length]));
        return {
          ok: readyMs >= 0 && after.every((r) => r.status === 200),
          detail: `listo de nuevo ${readyMs} ms después del reinicio, el mismo proceso (pid ${rig.service.pid})`,
          responses: tally([...results, ...after]),
        };
      });
    }

    await phase('webhooks', async () => {
      const url = `${rig.url}/api/v1/webhook/conekta`;
      const [tx] = await rig.query<{ referencia: string; transaccion_id: string; usuario_hotspot: string; router_id: string }>(
        `SELECT referencia, transaccion_id, usuario_hotspot, router_id FROM transacciones WHERE estado = 'entregada' AND pasarela = 'conekta' ORDER BY id LIMIT 1`,
      );
      if (!tx) return { ok: false, detail: 'ninguna compra entregada para probar', responses: {} };
      const statuses: Record<string, number> = {};
      const send = async (label: string, type: string, signature: 'valid' | 'forged' | 'none') => {
        const r = await conekta.sendWebhook(url, type, tx.transaccion_id, { signature });
        statuses[`${label} ${r.status}`] = (statuses[`${label} ${r.status}`] ?? 0) + 1;
        return r.status;
      };
      const dup1 = await send('paid válido', 'order.paid', 'valid');
      const dup2 = await send('paid válido', 'order.paid', 'valid');
      const forgedPaid = await send('paid falsificado', 'order.paid', 'forged');
      const forgedRefund = await send('refunded falsificado', 'order.refunded', 'forged');
      const unsigned = await send('refunded sin firma', 'order.refunded', 'none');
      await sleep(800);
      const [still] = await rig.query<{ estado: string }>(`SELECT estado FROM transacciones WHERE referencia = $1`, [tx.referencia]);
      // A refund made in Conekta's dashboard: the real webhook disables the voucher.
      conekta.setOrderStatus(tx.transaccion_id, 'refunded');
      const real = await send('refunded válido', 'order.refunded', 'valid');
      const end = Date.now() + opts.settleMs;
      let estado = '';
      while (Date.now() < end) {
        [{ estado }] = await rig.query<{ estado: string }>(`SELECT estado FROM transacciones WHERE referencia = $1`, [tx.referencia]);
        if (estado === 'reembolsada') break;
        await sleep(200);
      }
      const ok = dup1 < 300 && dup2 < 300 && forgedPaid === 401 && forgedRefund === 401 && unsigned === 401 && still.estado === 'entregada' && real < 300 && estado === 'reembolsada';
      return { ok, detail: `duplicados ${dup1}/${dup2}, falsificados ${forgedPaid}/${forgedRefund}/${unsigned} (sigue ${still.estado}), reembolso real → ${estado}`, responses: statuses };
    });

    await phase('mp-search-lag', async () => {
      mercadoPago.setSearchLag(10 * 60_000);
      try {
        const res = await many(opts.purchases, 4, (i) => rig.buyMp(shops[i % shops.length], `500_approved~${randomUUID()}`));
        const refs = res.map((r) => String(r.data?.referencia ?? '')).filter(Boolean);
        await sleep(1500);
        const [open] = await rig.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE referencia = ANY($1) AND estado = 'en_revision'`, [refs]);
        // The notices carry only data.id; the service fetches each payment to learn its external_reference.
        let hooks = 0;
        for (const ref of refs) for (const p of mercadoPago.paymentsFor(ref)) if ((await mercadoPago.sendWebhook(p.id)).status < 300) hooks++;
        const end = Date.now() + opts.settleMs;
        let delivered = 0;
        while (Date.now() < end) {
          [{ n: delivered }] = await rig.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE referencia = ANY($1) AND estado = 'entregada'`, [refs]);
          if (delivered === refs.length) break;
          await sleep(250);
        }
        return { ok: delivered === refs.length && refs.length === opts.purchases, detail: `${refs.length} respuestas perdidas, ${open.n} en revisión con la búsqueda rezagada, ${hooks} avisos → ${delivered} entregadas`, responses: tally(res) };
      } finally {
        mercadoPago.setSearchLag(1500);
      }
    });

    await phase('partial-refund', async () => {
      const res = await rig.buy(shops[0]);
      const ref = String(res.data?.referencia ?? '');
      const [tx] = await rig.query<{ transaccion_id: string }>(`SELECT transaccion_id FROM transacciones WHERE referencia = $1`, [ref]);
      if (!tx?.transaccion_id) return { ok: false, detail: 'sin compra', responses: tally([res]) };
      const order = conekta.state.orders.get(tx.transaccion_id)!;
      order.amount_refunded = 500;
      conekta.setOrderStatus(order.id, 'partially_refunded');
      const hook = await conekta.sendWebhook(`${rig.url}/api/v1/webhook/conekta`, 'order.partially_refunded', order.id);
      const end = Date.now() + opts.settleMs;
      let row = { estado: '', reembolsado_centavos: 0 };
      while (Date.now() < end) {
        [row] = await rig.query<{ estado: string; reembolsado_centavos: number }>(`SELECT estado, reembolsado_centavos FROM transacciones WHERE referencia = $1`, [ref]);
        if (row.estado === 'reembolso_parcial') break;
        await sleep(200);
      }
      const live = shops[0].sim.state.users.rows.filter((u) => u.comment === `pagos-hotspot tx=${ref}`).length;
      return { ok: row.estado === 'reembolso_parcial' && row.reembolsado_centavos === 500 && live === 1, detail: `aviso ${hook.status} → ${row.estado}, ${row.reembolsado_centavos} centavos devueltos, ${live} ficha activa`, responses: tally([res]) };
    });

    await phase('refund-race', async () => {
      const target = spare;
      // Warm: the router's readiness is checked (and cached a few seconds), so the next purchases are charged.
      const warm = await rig.buy(target);
      target.sim.hang(true);
      void target.sim.refuse();
      const res = await many(Math.max(2, Math.floor(opts.purchases / 2)), 2, () => rig.buy(target, randomUUID(), undefined, 30_000));
      const refs = res.map((r) => String(r.data?.referencia ?? '')).filter(Boolean);
      const rows = await rig.query<{ referencia: string; transaccion_id: string | null; estado: string }>(`SELECT referencia, transaccion_id, estado FROM transacciones WHERE referencia = ANY($1)`, [refs]);
      let refunded = 0;
      for (const r of rows) {
        if (!r.transaccion_id) continue;
        conekta.setOrderStatus(r.transaccion_id, 'refunded');
        if ((await conekta.sendWebhook(`${rig.url}/api/v1/webhook/conekta`, 'order.refunded', r.transaccion_id)).status < 300) refunded++;
      }
      // The router comes back while deliveries and removals race.
      await sleep(300);
      target.sim.hang(false);
      await target.sim.accept();
      const end = Date.now() + opts.settleMs;
      let live = -1;
      while (Date.now() < end) {
        const [{ n }] = await rig.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE referencia = ANY($1) AND estado <> 'reembolsada'`, [refs]);
        live = target.sim.state.users.rows.filter((u) => refs.some((ref) => u.comment === `pagos-hotspot tx=${ref}`)).length;
        const [{ j }] = await rig.query<{ j: number }>(`SELECT count(*)::int AS j FROM outbox WHERE done_at IS NULL AND kind IN ('pagos.entregar', 'pagos.quitar_ficha')`);
        if (n === 0 && live === 0 && j === 0) break;
        await sleep(250);
      }
      return { ok: live === 0 && refunded > 0, detail: `${refunded} reembolsos en plena entrega, ${live} fichas vivas al final`, responses: tally([warm, ...res]) };
    });

    await phase('db-cut-completion', async () => {
      // Each charge's answer cuts the service's database a little later (0–45 ms), so the cut lands anywhere
      // from before the charge is recorded to after the key's completion; the database is back 1 s later.
      const k = Math.max(4, opts.purchases);
      const ordersBefore = conekta.state.orders.size;
      let restores: Promise<void>[] = [];
      conekta.failNext(
        ...Array.from({ length: k }, (_, i) => ({
          create: 'paid',
          onAnswer: () => {
            setTimeout(() => void dbProxy.cut(), i * 5);
            restores.push(sleep(1000 + i * 5).then(() => dbProxy.restore()));
          },
        })),
      );
      const first: Awaited<ReturnType<Rig['buy']>>[] = [];
      for (let i = 0; i < k; i++) {
        first.push(await rig.buy(shops[i % shops.length]));
        await Promise.all(restores);
        restores = [];
      }
      // Portals retry whatever was not a final answer with the same key and body (token included).
      // (Each to the router it was first made on: the index is the original purchase's.)
      const retried = await Promise.all(
        first
          .map((r, i) => ({ r, i }))
          .filter(({ r }) => r.status !== 200)
          .map(({ r, i }) => rig.buy(shops[i % shops.length], r.key, `tok_test_visa_4242_${r.key}`, 45_000)),
      );
      const sameRef = retried.every((r) => {
        const before = first.find((x) => x.key === r.key)!;
        return !before.data?.referencia || r.data?.referencia === before.data.referencia;
      });
      const withRef = first.filter((r) => r.status !== 200 && r.status !== 0 && typeof r.data?.referencia === 'string').length;
      const keys = first.map((r) => r.key);
      await waitSettled(rig.query, opts.settleMs);
      const refs = [...new Set(keys.flatMap((key) => [...(rig.clientPurchases.get(key) ?? [])]))];
      const [{ n: delivered }] = await rig.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE referencia = ANY($1) AND estado = 'entregada'`, [refs]);
      const charges = conekta.state.orders.size - ordersBefore;
      return {
        ok: sameRef && refs.length === k && charges === k && delivered === k && retried.every((r) => r.status === 200 || r.status === 202),
        detail: `${k} cobros con la base cortada al responder la pasarela (${first.filter((r) => r.status !== 200).length} sin respuesta final, ${withRef} de ellas con referencia), reintentos con la misma clave → misma referencia: ${sameRef ? 'sí' : 'NO'}; ${charges} cobros, ${delivered} entregadas`,
        responses: tally([...first, ...retried]),
      };
    });

    await phase('lease-takeover', async () => {
      const target = shops[0];
      const k = Math.max(2, Math.floor(opts.purchases / 2));
      // The router answers slowly and is not warm: the request defers delivery to the worker, whose run
      // takes several slow commands.
      const addsBefore = target.sim.received('/ip/hotspot/user/add').length;
      target.sim.slow(500);
      const inflight = many(k, k, () => rig.buy(target, randomUUID(), undefined, 30_000));
      // While a delivery is talking to the slow router, the database goes away for longer than the lease
      // (6 s): the heartbeat cannot renew, the lease is lost, and the job is claimed again afterwards.
      const t0 = Date.now();
      while (target.sim.received('/ip/hotspot/user/add').length === addsBefore && Date.now() - t0 < 20_000) await sleep(5);
      await dbProxy.cut();
      await sleep(8000);
      await dbProxy.restore();
      target.sim.slow(0);
      const res = await inflight;
      const retried = await Promise.all(res.filter((r) => r.status !== 200).map((r) => rig.buy(target, r.key, `tok_test_visa_4242_${r.key}`, 45_000)));
      // Each purchase's referencia is its last answer's: a first request cut before its attempt existed answered
      // a referencia that was never recorded, and its retry (which took the key over) bought under a new one.
      const refs = res.map((r) => String((retried.find((x) => x.key === r.key) ?? r).data?.referencia ?? '')).filter(Boolean);
      await waitSettled(rig.query, opts.settleMs);
      const perRef = refs.map((ref) => target.sim.state.users.rows.filter((u) => u.comment === `pagos-hotspot tx=${ref}`).length);
      const states = new Map(
        (await rig.query<{ referencia: string; estado: string }>(`SELECT referencia, estado FROM transacciones WHERE referencia = ANY($1)`, [refs])).map((r) => [r.referencia, r.estado]),
      );
      const delivered = refs.filter((ref) => states.get(ref) === 'entregada').length;
      // A request the cut reached before its charge was made ends declined, never charged (its retry with the same
      // key finds the attempt in doubt and does not charge again): no voucher is then right. Which requests the cut
      // reaches there is timing; the final money invariant checks that no charge was left behind.
      const chargedRefs = new Set([...conekta.state.orders.values()].filter(conektaOrderWasPaid).map((o) => String(o.metadata?.referencia ?? '')));
      const neverCharged = refs.filter((ref) => states.get(ref) === 'rechazada' && !chargedRefs.has(ref)).length;
      const rightVouchers = refs.every((ref, i) => perRef[i] === (states.get(ref) === 'entregada' ? 1 : 0));
      // A delivery job claimed more than once was taken over after its lease ran out.
      const [{ n: takeovers }] = await rig.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox o JOIN transacciones t ON o.dedupe_key = 'entregar:' || t.id WHERE t.referencia = ANY($1) AND o.attempts > 1`,
        [refs],
      );
      return {
        ok: refs.length === k && rightVouchers && delivered + neverCharged === k && delivered > 0 && takeovers > 0 && retried.every((r) => r.status === 200 || r.status === 202),
        detail: `${k} entregas con el router lento y la base cortada 8 s (arrendamiento 6 s), ${takeovers} retomadas por otro trabajador; fichas por compra: ${perRef.join(',')}; ${delivered} entregadas${neverCharged ? `, ${neverCharged} rechazadas sin cobro (cortadas antes de cobrar)` : ''}`,
        responses: tally([...res, ...retried]),
      };
    });

    await phase('recargas', async () => {
      // Top-ups of vouchers bought in the baseline: one voucher each (one top-up in flight per voucher).
      // Still live now (an earlier phase refunds some purchases: those are refused, 404, as they should be).
      const live = new Set(
        (await rig.query<{ u: string }>(`SELECT router_id || '|' || usuario_hotspot AS u FROM transacciones WHERE recarga_de IS NULL AND estado IN ('entregada', 'reembolso_parcial') AND estado_hotspot = 'active'`)).map((r) => r.u),
      );
      const candidates = bought.filter((b) => live.has(`${b.shop.routerId}|${b.usuario}`));
      const hung = shops[0];
      const onHung = candidates.filter((b) => b.shop === hung);
      const elsewhere = candidates.filter((b) => b.shop !== hung).slice(0, 2);
      // Gateway timeouts and a 5xx with an order behind them: the answer is unknown, reconciliation settles it.
      conekta.failNext({ hang: true, create: 'paid' }, { status: 500, create: 'paid', body: { object: 'error', type: 'api_error' } });
      const scripted = [];
      for (const b of elsewhere) scripted.push(await rig.topUp(b.shop, b));
      // The router hangs while top-ups are charged: refused before any charge, or charged and applied when it is back.
      const warm = onHung.length > 0 ? await rig.topUp(hung, onHung[0]) : null;
      hung.sim.hang(true);
      const during = await many(Math.max(0, onHung.length - 1), 4, (i) => rig.topUp(hung, onHung[i + 1]));
      await sleep(1500);
      hung.sim.hang(false);
      await waitSettled(rig.query, opts.settleMs);
      // Applied where paid: the same user (no new one), its limit grown by the plan's hour per kept top-up.
      const refs = [...scripted, ...(warm ? [warm] : []), ...during].map((r) => String(r.data?.referencia ?? '')).filter(Boolean);
      const [{ n: applied }] = await rig.query<{ n: number }>(`SELECT count(*)::int AS n FROM transacciones WHERE referencia = ANY($1) AND recarga_de IS NOT NULL AND estado = 'entregada'`, [refs]);
      const ownUsers = sims.reduce((n, sim) => n + sim.state.users.rows.filter((u) => refs.some((ref) => u.comment === `pagos-hotspot tx=${ref}`)).length, 0);
      const res = [...scripted, ...(warm ? [warm] : []), ...during];
      return {
        ok: onHung.length > 0 && warm?.status === 200 && during.every((r) => [200, 503].includes(r.status)) && ownUsers === 0,
        detail: `${scripted.length} recargas con la pasarela colgada o en 5xx, ${during.length} con el router colgado (${during.filter((r) => r.status === 200).length} cobradas); ${applied} aplicadas sobre la misma ficha, ${ownUsers} usuarios nuevos`,
        responses: tally(res),
      };
    });

    await waitSettled(rig.query, opts.settleMs);
    const invariant = await checkMoneyInvariant({ query: rig.query, conekta, mercadoPago, routers: sims, clientPurchases: rig.clientPurchases });
    log(`invariante: ${invariant.ok ? 'ok' : `${invariant.violations.length} violaciones`}`);
    return { ok: invariant.ok && phases.every((p) => p.ok), phases, invariant, purchases: rig.purchases, serviceLog: rig.logLines() };
  } finally {
    await rig.stop();
    await dbProxy.close();
    await pool.close();
    await db.drop().catch(() => undefined);
    await Promise.all([conekta.close(), mercadoPago.close(), telegram.close(), ...sims.map((s) => s.close())]);
  }
}

/** The printed summary. */
export function renderSummary(r: DrillResult): string {
  const lines: string[] = [];
  lines.push('', '| fase | resultado | detalle | respuestas | ms |', '| --- | --- | --- | --- | ---: |');
  for (const p of r.phases) lines.push(`| ${p.name} | ${p.ok ? 'ok' : 'FALLO'} | ${p.detail} | ${Object.entries(p.responses).map(([k, v]) => `${k}×${v}`).join(', ')} | ${p.ms} |`);
  const c = r.invariant.counts;
  lines.push('');
  lines.push(`Compras intentadas: ${r.purchases}. Transacciones: ${c.transactions} (${Object.entries(c.byEstado).map(([k, v]) => `${k} ${v}`).join(', ')}).`);
  lines.push(`Pasarela: ${c.ordersPaid} cobros aprobados, ${c.ordersRefunded} reembolsados (${c.refunds} reembolsos por API). Routers: ${c.vouchersActive} fichas activas, ${c.vouchersDisabled} deshabilitadas. Abiertas: ${c.open}.`);
  lines.push(`Invariante del dinero: ${r.invariant.ok ? 'CUMPLIDO (todo cobro aprobado entregado o reembolsado; ninguna ficha sin cobro; ningún cobro doble)' : 'VIOLADO'}`);
  for (const v of r.invariant.violations) lines.push(`  - ${v}`);
  lines.push(r.ok ? 'DRILL OK' : 'DRILL CON FALLOS');
  return lines.join('\n');
}
