/**
 * The external systems of a purchase, from sandbox (the same fakes the tests use), each behind a
 * timing proxy, plus a tiny control endpoint that tells the load generator how long the fakes took.
 */
import http from 'node:http';
import type net from 'node:net';
import { startTimingProxy, type TimingProxy } from './timing-proxy.js';
import { startRouterSimulator, type RouterSimulator } from '../sandbox/routeros/index.js';
import { startConektaFake, type ConektaFake } from '../sandbox/conekta.js';

export const ROUTER_USER = 'admin';
export const ROUTER_PASSWORD = 'router-bench-pass';
export const PROFILES = ['1hora', '3horas', '1dia', '3dias', '1semana', '1mes', '2horas', '12horas'];

export interface BenchFakes {
  router: { host: string; port: number; sim: RouterSimulator };
  conekta: { url: string; fake: ConektaFake };
  /** GET → {busyMs}: time spent in the fakes (through their proxies). */
  statsUrl: string;
  busyMs(): number;
  stop(): Promise<void>;
}

export async function startBenchFakes(opts: { routerVersion?: '6' | '7' } = {}): Promise<BenchFakes> {
  const proxies: TimingProxy[] = [];
  const closers: Array<() => Promise<unknown> | unknown> = [];

  const sim = await startRouterSimulator({
    version: opts.routerVersion ?? '7',
    username: ROUTER_USER,
    password: ROUTER_PASSWORD,
    profiles: PROFILES.map((name) => ({ name })),
  });
  closers.push(() => sim.close());
  const routerProxy = await startTimingProxy(sim.host, sim.port);
  proxies.push(routerProxy);
  const router = { host: routerProxy.host, port: routerProxy.port, sim };

  const fake = await startConektaFake();
  closers.push(() => fake.close());
  const u = new URL(fake.url);
  const conektaProxy = await startTimingProxy(u.hostname, Number(u.port));
  proxies.push(conektaProxy);
  const conekta = { url: `http://127.0.0.1:${conektaProxy.port}${u.pathname.replace(/\/$/, '')}`, fake };

  const busyMs = () => proxies.reduce((s, p) => s + p.busyMs(), 0);
  const stats = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ busyMs: busyMs() }));
  });
  await new Promise<void>((r) => stats.listen(0, '127.0.0.1', r));
  const statsUrl = `http://127.0.0.1:${(stats.address() as net.AddressInfo).port}/stats`;

  return {
    router,
    conekta,
    statsUrl,
    busyMs,
    async stop() {
      stats.closeAllConnections?.();
      await new Promise<void>((r) => stats.close(() => r()));
      for (const p of proxies) await p.close();
      for (const c of closers) await c();
    },
  };
}
