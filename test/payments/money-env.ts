/**
 * Shared set-up of the issue-11 regression tests: real PostgreSQL behind a cuttable TCP proxy, the gateway
 * fakes, the RouterOS simulator, the app served on a real port (for webhooks). Workers are driven by
 * `outbox.drain()` so every step is deterministic.
 */
import { after, before } from 'node:test';
import type { TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { auth, createShop, listen, startFakes, startPaymentsApp, startProxy, txByRef, waitFor, type CuttableProxy, type Fakes, type Shop } from './helpers.js';

export const CONEKTA = '/api/v1/payments/pagar-conekta';
export const MP = '/api/v1/payments/pagar-mercado-pago';
export type Row = Awaited<ReturnType<typeof txByRef>>;

export interface MoneyEnv {
  f: Fakes;
  t: TestApp;
  shop: Shop;
  proxy: CuttableProxy;
  base: string;
  buy(payload: Record<string, unknown>, headers?: Record<string, string>, s?: Shop, url?: string): ReturnType<TestApp['request']>;
  buyMp(payload: Record<string, unknown>): ReturnType<TestApp['request']>;
  row(ref: string): Promise<Row>;
  /** Drain the workers until the purchase leaves `from` (bounded), and return it. */
  settled(ref: string, from: string[], timeoutMs?: number): Promise<Row>;
  drainUntil<T>(what: string, check: () => Promise<T>): Promise<NonNullable<T>>;
  ourVouchers(r: Row): Array<{ name?: string; comment?: string }>;
}

/** Register before/after hooks in the calling suite; the returned object is filled in `before`. */
export function useMoneyEnv(): MoneyEnv {
  let db: TestDatabase;
  const env = {} as MoneyEnv;
  before(async () => {
    env.f = await startFakes();
    db = await createTestDatabase();
    const url = new URL(db.url);
    env.proxy = await startProxy(url.hostname, Number(url.port || 5432));
    url.hostname = '127.0.0.1';
    url.port = String(env.proxy.port);
    env.t = await startPaymentsApp(env.f, { database: db, env: { DATABASE_URL: url.toString(), IDEMPOTENCY_WAIT_MS: '300', IDEMPOTENCY_STALE_MS: '1000', PAYMENT_NOT_FOUND_HORIZON_MS: '0' } });
    env.base = await listen(env.t);
    env.shop = await createShop(env.t);
  });
  after(async () => {
    await env.proxy.restore().catch(() => undefined);
    await env.t.close();
    await env.proxy.close();
    await db.drop();
    await env.shop.sim.close();
    await env.f.close();
  });
  env.buy = (payload, headers = {}, s = env.shop, url = CONEKTA) => env.t.request({ method: 'POST', url, headers: { ...auth(s.apiKey), ...headers }, payload });
  env.buyMp = (payload) => env.buy(payload, {}, env.shop, MP);
  env.row = (ref) => txByRef(env.t.ctx, ref);
  env.drainUntil = (what, check) =>
    waitFor(what, async () => {
      await env.t.ctx.payments.outbox.drain();
      return check();
    });
  env.settled = (ref, from, timeoutMs = 20_000) =>
    waitFor(
      `${ref} fuera de ${from.join('/')}`,
      async () => {
        await env.t.ctx.payments.outbox.drain();
        const r = await env.row(ref);
        return r && !from.includes(r.estado) ? r : null;
      },
      timeoutMs,
    );
  env.ourVouchers = (r) => env.shop.sim.state.users.rows.filter((u) => u.comment === `pagos-hotspot tx=${r.referencia}`);
  return env;
}
