/**
 * Drill phase "hostile-router" (issue 12): routers that misbehave on purpose — 150 MB /login replies of 1 MB
 * rows, huge words, endless sentences, endless rows on a print — flooded with captive-portal and admin
 * calls, while a well-behaved router of another company keeps being used and `/health` is polled. Reports
 * `/health` latency (target: p99 < 50 ms), the service's RSS (baseline, peak) and what the hostile routers
 * managed to send. Not part of `npm test` (it measures time); `npm run drill -- --only hostile-router`.
 * It needs no PostgreSQL restart (a throwaway database of its own). The simulators run in a child process
 * (drill/hostile-sims.ts).
 */
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { createThrowawayDatabase, freePort, http, bearer, ROOT, RssSampler, serviceEnv, sleep, startJsonServerChild, startService, SUPER_ADMIN } from '../bench/harness.js';

export interface HostileRouterOptions {
  /** How long the flood lasts. */
  durationMs: number;
  /** Concurrent hostile callers. */
  concurrency: number;
  /** Disable the circuit breaker (worst case: every call reads a hostile reply up to its cap). */
  breakerOff?: boolean;
  log?: (line: string) => void;
}

export interface HostileRouterResult {
  ok: boolean;
  health: { samples: number; p50: number; p99: number; max: number; failures: number };
  /** The same probe for 5 s before the flood, on the same machine in the same run. */
  quiet: { p50: number; p99: number };
  rss: { baselineMb: number; peakMb: number; endMb: number };
  hostile: { requests: number; statuses: Record<string, number> };
  goodRouter: { requests: number; ok: number };
  detail: string;
  breakerOff: boolean;
  loadAvg: number;
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

export async function runHostileRouter(opts: HostileRouterOptions): Promise<HostileRouterResult> {
  const log = opts.log ?? (() => undefined);
  // The simulators push gigabytes: in a process of their own, so that our /health probe measures the service.
  const sims = await startJsonServerChild<{ host: string; hostile: number[]; good: number }>(join(ROOT, 'drill/hostile-sims.ts'));
  const db = await createThrowawayDatabase('ph_hostile');
  const port = await freePort();
  // breakerOff: every call reads a hostile reply up to its cap (worst case); otherwise the production
  // breaker (a router with oversized replies fails fast after ROUTEROS_BREAKER_THRESHOLD of them).
  const breaker: Record<string, string> = opts.breakerOff ? { ROUTEROS_BREAKER_THRESHOLD: '1000', ROUTEROS_BREAKER_COOLDOWN_MS: '0' } : {};
  const service = await startService(serviceEnv(db.url, port, { BCRYPT_ROUNDS: '4', WORKERS_ENABLED: 'false', ...breaker }), { readyTimeoutMs: 60_000 });
  try {
    const url = service.url;
    const sa = await http(url, 'POST', '/api/v1/auth/login', { body: SUPER_ADMIN });
    if (sa.status !== 200) throw new Error(`login del super admin: ${sa.status}`);
    const saH = bearer(sa.data.access_token as string);
    const company = async (nombre: string) => {
      const r = await http(url, 'POST', '/admin/empresas', { headers: saH, body: { nombre, contacto_email: 'drill@example.com' } });
      if (r.status !== 200 && r.status !== 201) throw new Error(`empresa: ${r.status} ${JSON.stringify(r.data)}`);
      return r.data.id as string;
    };
    const router = async (empresaId: string, simPort: number) => {
      const r = await http(url, 'POST', `/admin/empresas/${empresaId}/routers`, { headers: saH, body: { nombre: `R${simPort}`, host: sims.info.host, puerto: simPort, usuario: 'admin', password: 'xyz' } });
      if (r.status !== 200) throw new Error(`router: ${r.status} ${JSON.stringify(r.data)}`);
      return r.data.api_key as string;
    };

    const hostileCompany = await company('Empresa hostil');
    const hostileKeys: string[] = [];
    for (const p of sims.info.hostile) hostileKeys.push(await router(hostileCompany, p));
    const goodKey = await router(await company('Empresa normal'), sims.info.good);

    const rss = new RssSampler(service.pid, 100);
    await sleep(500);
    const baselineMb = rss.sample()?.rssMb ?? NaN;
    log(`servicio en ${url}; RSS inicial ${baselineMb.toFixed(0)} MB; ${opts.concurrency} llamadores hostiles durante ${opts.durationMs} ms`);

    // The floor: the same probe before the flood (a shared machine's own latency is in every number).
    const quietLatencies: number[] = [];
    for (const quietEnd = Date.now() + 5000; Date.now() < quietEnd; ) {
      const r = await http(url, 'GET', '/health', { timeoutMs: 10_000 }).catch(() => null);
      if (r && r.status === 200) quietLatencies.push(r.ms);
      await sleep(20);
    }
    quietLatencies.sort((a, b) => a - b);
    const quiet = { p50: percentile(quietLatencies, 50), p99: percentile(quietLatencies, 99) };

    const deadline = Date.now() + opts.durationMs;
    const statuses: Record<string, number> = {};
    let hostileRequests = 0;
    const hostileLoop = async (i: number) => {
      for (let n = i; Date.now() < deadline; n++) {
        const key = hostileKeys[n % hostileKeys.length];
        const r = await http(url, 'POST', '/api/v1/routers/validar-empresa-router', { headers: bearer(key), timeoutMs: 60_000 }).catch(() => ({ status: 0, data: null }));
        hostileRequests++;
        const k = `${r.status} ${r.data?.estado ?? ''}`.trim();
        statuses[k] = (statuses[k] ?? 0) + 1;
      }
    };
    let goodRequests = 0;
    let goodOk = 0;
    const goodLoop = async () => {
      while (Date.now() < deadline) {
        const r = await http(url, 'POST', '/api/v1/routers/validar-empresa-router', { headers: bearer(goodKey), timeoutMs: 60_000 }).catch(() => ({ status: 0, data: null }));
        goodRequests++;
        if (r.status === 200 && r.data?.conexion_ok === true) goodOk++;
        await sleep(50);
      }
    };
    const latencies: number[] = [];
    let healthFailures = 0;
    const healthLoop = async () => {
      while (Date.now() < deadline) {
        const r = await http(url, 'GET', '/health', { timeoutMs: 10_000 }).catch(() => null);
        if (r && r.status === 200) latencies.push(r.ms);
        else healthFailures++;
        await sleep(20);
      }
    };
    await Promise.all([...Array.from({ length: opts.concurrency }, (_, i) => hostileLoop(i)), goodLoop(), healthLoop()]);
    const end = rss.stop();
    latencies.sort((a, b) => a - b);
    const health = { samples: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? NaN, failures: healthFailures };
    const result: HostileRouterResult = {
      ok: health.p99 < 50 && healthFailures === 0 && goodOk === goodRequests,
      health,
      quiet,
      rss: { baselineMb, peakMb: rss.maxRssMb, endMb: end?.rssMb ?? NaN },
      hostile: { requests: hostileRequests, statuses },
      goodRouter: { requests: goodRequests, ok: goodOk },
      detail: '',
      breakerOff: !!opts.breakerOff,
      loadAvg: loadavg()[0],
    };
    result.detail =
      `/health p50 ${health.p50.toFixed(1)} ms, p99 ${health.p99.toFixed(1)} ms, máx ${health.max.toFixed(1)} ms (${health.samples} muestras, ${healthFailures} fallidas; objetivo p99 < 50 ms); ` +
      `RSS ${baselineMb.toFixed(0)} → pico ${rss.maxRssMb.toFixed(0)} MB (final ${result.rss.endMb.toFixed(0)} MB); ` +
      `${hostileRequests} llamadas a routers hostiles: ${JSON.stringify(statuses)}; ` +
      `router normal ${goodOk}/${goodRequests} bien`;
    return result;
  } finally {
    await service.stop().catch(() => undefined);
    await sims.stop();
    await db.drop().catch(() => undefined);
  }
}

export function renderHostileRouter(r: HostileRouterResult): string {
  return [
    `## Fase hostile-router (${r.breakerOff ? 'sin circuit breaker: peor caso' : 'circuit breaker de producción'})`,
    '',
    '| medida | valor |',
    '|---|---|',
    `| /health p50 / p99 sin inundación (mismo proceso, antes) | ${r.quiet.p50.toFixed(1)} / ${r.quiet.p99.toFixed(1)} ms |`,
    `| /health p50 / p99 / máx durante la inundación | ${r.health.p50.toFixed(1)} / ${r.health.p99.toFixed(1)} / ${r.health.max.toFixed(1)} ms (${r.health.samples} muestras, ${r.health.failures} fallidas) |`,
    `| carga de la máquina (loadavg 1 min, ${cpus().length} CPU) | ${r.loadAvg.toFixed(1)} |`,
    `| RSS del servicio | ${r.rss.baselineMb.toFixed(0)} MB → pico ${r.rss.peakMb.toFixed(0)} MB, final ${r.rss.endMb.toFixed(0)} MB |`,
    `| llamadas a routers hostiles | ${r.hostile.requests} |`,
    `| respuestas | ${Object.entries(r.hostile.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')} |`,
    `| router normal (otra empresa) | ${r.goodRouter.ok}/${r.goodRouter.requests} bien |`,
    r.breakerOff
      ? `| resultado | ${r.ok ? 'dentro' : 'fuera'} del objetivo /health p99 < 50 ms (informativo: producción usa el breaker; se exige 0 fallidas y el otro router bien) |`
      : `| resultado | ${r.ok ? 'OK' : 'FALLA'} (objetivo /health p99 < 50 ms) |`,
    '',
  ].join('\n');
}
