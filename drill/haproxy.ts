/**
 * Drill phase "haproxy" (issue 16): three production instances (`npm run build`, `node dist/server.js`)
 * behind HAProxy (Debian's package, installed with apt-get when missing) on one PostgreSQL database.
 * HAProxy checks `/ready`, redispatches, and retries connection failures and empty responses. Captive-portal
 * reads and purchases run through it while each instance in turn is SIGKILLed and restarted and one is
 * drained with SIGTERM (it must exit 0); then a router key is regenerated and every instance must refuse
 * the old key within 1 s. The clients retry a purchase that got no answer or a 502/503/504 with the same
 * Idempotency-Key, and a 409 idempotency_in_progress (HAProxy resent a request whose instance died, whose
 * claim on the key has not expired yet) a few seconds later as the portal does, and count them; such an answer is only allowed for a request that was in flight when an
 * instance was killed. Ends with the money invariant (drill/invariant.ts).
 * Its own database, no PostgreSQL restart: `npm run drill -- --only haproxy`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { openDatabase } from '../src/infra/db/index.js';
import { startConektaFake } from '../sandbox/conekta.js';
import { startRouterSimulator } from '../sandbox/routeros/index.js';
import { SUPER_ADMIN, bearer, createThrowawayDatabase, freePort, http, onExit, productionBuild, serviceEnv, sleep, startService, type ServiceProcess } from '../bench/harness.js';
import { PROFILE, SIM_PASSWORD, seedShops, type Shop } from './drill.js';
import { checkMoneyInvariant, waitSettled, type InvariantReport } from './invariant.js';

export interface HaproxyDrillOptions {
  /** Load between two faults, ms. */
  gapMs?: number;
  settleMs?: number;
  log?: (line: string) => void;
}

export interface HaproxyDrillResult {
  ok: boolean;
  problems: string[];
  attempts: Record<string, number>;
  purchases: { total: number; ok: number; retried: number; retries: number; deferred: number };
  portal: { total: number; ok: number; retried: number };
  /** 502/503/504/no answer, each with whether an instance died while it was in flight. */
  failures: { explained: number; unexplained: number };
  events: string[];
  revocation: { perInstanceMs: number[]; maxMs: number };
  drainExit: number | null;
  invariant: InvariantReport | null;
}

/** Answers a client retries with the same Idempotency-Key (plus 409 idempotency_in_progress, see buy). */
const RETRYABLE = new Set([0, 502, 503, 504]);

/** Debian's haproxy, installed when missing (the drill needs a real load balancer). */
function ensureHaproxy(log: (l: string) => void): void {
  if (spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).error === undefined) return;
  log('haproxy no está instalado: apt-get install haproxy');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-qq', 'haproxy'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-qq', 'haproxy'], { stdio: 'inherit', env });
  }
  if (r.status !== 0) throw new Error('no se pudo instalar haproxy (apt-get install haproxy)');
}

export function haproxyConfig(frontPort: number, backends: number[]): string {
  return `global
  maxconn 4000

defaults
  mode http
  timeout connect 1s
  timeout client 60s
  # A purchase retried with the key of one that died is held by the service until that claim expires.
  timeout server 60s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response
  option forwardfor

frontend portal
  bind 127.0.0.1:${frontPort}
  default_backend pagos

backend pagos
  balance roundrobin
  option httpchk GET /ready
  http-check expect status 200
  default-server inter 250ms fastinter 250ms downinter 250ms fall 2 rise 1
${backends.map((p, i) => `  server i${i + 1} 127.0.0.1:${p} check`).join('\n')}
`;
}

async function waitPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => (s.end(), res(true)));
      s.on('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nada escucha en ${port}`);
    await sleep(50);
  }
}

interface Attempt {
  start: number;
  end: number;
  status: number;
}

export async function runHaproxyDrill(opts: HaproxyDrillOptions = {}): Promise<HaproxyDrillResult> {
  const log = opts.log ?? (() => undefined);
  const gapMs = opts.gapMs ?? 3000;
  ensureHaproxy(log);
  const entry = productionBuild();
  const conekta = await startConektaFake();
  const sims = await Promise.all(Array.from({ length: 4 }, () => startRouterSimulator({ version: '7', password: SIM_PASSWORD, profiles: [{ name: PROFILE }] })));
  const db = await createThrowawayDatabase('ph_haproxy');
  const ports = [await freePort(), await freePort(), await freePort()];
  const frontPort = await freePort();
  const front = `http://127.0.0.1:${frontPort}`;
  const envOf = (port: number) =>
    serviceEnv(db.url, port, {
      CONEKTA_API_BASE: conekta.url,
      GATEWAY_TIMEOUT_MS: '2000',
      ROUTEROS_CONNECT_TIMEOUT_MS: '1000',
      ROUTEROS_COMMAND_TIMEOUT_MS: '1000',
      BCRYPT_ROUNDS: '4',
      DATABASE_POOL_SIZE: '5',
      TRUST_PROXY: '1',
      PUBLIC_BASE_URL: front,
      // HAProxy checks /ready every 250 ms and takes a server out after 2 failures: 1 s covers it.
      DRAIN_DELAY_MS: '1000',
    });
  const instances: Array<ServiceProcess | null> = [null, null, null];
  const start = async (i: number) => (instances[i] = await startService(envOf(ports[i]), { entry, readyTimeoutMs: 60_000 }));
  const pool = await openDatabase(loadConfig(envOf(ports[0])).database, { poolSize: 3 });
  const query = <T = Record<string, unknown>>(text: string, params?: unknown[]) => pool.query<T>(text, params);
  let haproxy: ChildProcess | null = null;
  const events: string[] = [];
  const deaths: number[] = [];
  const problems: string[] = [];
  const t0 = Date.now();
  const event = (msg: string) => {
    events.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${msg}`);
    log(`  ${msg}`);
  };
  try {
    // The first instance migrates the empty database; the others start on it up to date.
    await start(0);
    const shops = await seedShops(envOf(ports[0]), sims, conekta);
    await start(1);
    await start(2);
    const cfg = join(tmpdir(), `ph-haproxy-${process.pid}.cfg`);
    writeFileSync(cfg, haproxyConfig(frontPort, ports));
    haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    let haproxyErr = '';
    haproxy.stderr!.on('data', (d) => (haproxyErr += String(d)));
    onExit(() => haproxy?.kill('SIGKILL'));
    await waitPort(frontPort, 10_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${haproxyErr}`);
    });
    event(`haproxy en ${front} ante instancias ${ports.join(', ')} (pids ${instances.map((s) => s!.pid).join(', ')})`);

    const revocable = shops[shops.length - 1];
    const buyers = shops.slice(0, -1);
    const attempts: Attempt[] = [];
    const clientPurchases = new Map<string, Set<string>>();
    const tallyAttempts: Record<string, number> = {};
    const record = (a: Attempt) => {
      attempts.push(a);
      const k = a.status === 0 ? 'sin respuesta' : String(a.status);
      tallyAttempts[k] = (tallyAttempts[k] ?? 0) + 1;
    };
    const purchases = { total: 0, ok: 0, retried: 0, retries: 0, deferred: 0 };
    /** Answered 202 purchase_in_progress (HAProxy resent it after its first instance died mid-charge): must end delivered. */
    const deferredRefs: string[] = [];
    const portal = { total: 0, ok: 0, retried: 0 };

    /** A purchase as a portal makes it; an answer lost to a dying instance is retried with the same key. */
    const buy = async (shop: Shop) => {
      purchases.total++;
      const key = randomUUID();
      const refs = new Set<string>();
      clientPurchases.set(key, refs);
      const deadline = Date.now() + 90_000;
      for (let n = 0; Date.now() < deadline; n++) {
        const a: Attempt = { start: Date.now(), end: 0, status: 0 };
        const r = await http(front, 'POST', '/api/v1/payments/pagar-conekta', {
          headers: { authorization: `Bearer ${shop.apiKey}`, 'idempotency-key': key },
          body: { producto_id: shop.productId, token_tarjeta: `tok_test_visa_4242_${key}`, nombre_cliente: 'Cliente HAProxy', email_cliente: 'drill@example.com', telefono_cliente: '5512345678' },
          timeoutMs: 50_000,
        }).catch(() => ({ status: 0, data: null }));
        a.end = Date.now();
        a.status = r.status;
        record(a);
        if (r.data && typeof r.data === 'object' && typeof r.data.referencia === 'string') refs.add(r.data.referencia);
        // The same key still claimed by the request that died with its instance (HAProxy resent it
        // elsewhere): the service says to retry in a few seconds with the same key, as the portal does.
        const inProgress = r.status === 409 && r.data?.code === 'idempotency_in_progress';
        if (!RETRYABLE.has(r.status) && !inProgress) {
          if (r.status === 200 && r.data?.success === true) purchases.ok++;
          else if (r.status === 202 && r.data?.code === 'purchase_in_progress' && typeof r.data.referencia === 'string') {
            // The attempt exists (its first request died with its instance): the portal consults the referencia.
            purchases.deferred++;
            deferredRefs.push(r.data.referencia);
          } else problems.push(`compra ${key}: ${r.status} ${JSON.stringify(r.data).slice(0, 200)}`);
          return;
        }
        if (n === 0) purchases.retried++;
        purchases.retries++;
        await sleep(inProgress ? 2000 : 200);
      }
      problems.push(`compra ${key}: sin respuesta en 90 s de reintentos`);
    };
    const read = async (shop: Shop, path: string) => {
      portal.total++;
      for (let n = 0; n < 5; n++) {
        const a: Attempt = { start: Date.now(), end: 0, status: 0 };
        const r = await http(front, 'GET', path, { headers: bearer(shop.apiKey), timeoutMs: 10_000 }).catch(() => ({ status: 0 }));
        a.end = Date.now();
        a.status = r.status;
        record(a);
        if (!RETRYABLE.has(r.status)) {
          if (r.status === 200) portal.ok++;
          else problems.push(`GET ${path}: ${r.status}`);
          return;
        }
        if (n === 0) portal.retried++;
        await sleep(100);
      }
    };

    let stop = false;
    const loops: Promise<void>[] = [];
    // Two purchase loops (under the per-key purchase limit, 120/min, over three routers) and four portal loops.
    for (let w = 0; w < 2; w++)
      loops.push(
        (async () => {
          for (let i = w; !stop; i += 2) {
            await buy(buyers[i % buyers.length]);
            await sleep(300);
          }
        })(),
      );
    for (let w = 0; w < 4; w++)
      loops.push(
        (async () => {
          for (let i = w; !stop; i++) {
            const shop = buyers[i % buyers.length];
            await read(shop, i % 2 ? '/api/v1/config/public' : '/api/v1/catalogo_perfiles_venta');
            await sleep(20);
          }
        })(),
      );

    // Each instance in turn: SIGKILL in the middle of the load, restart.
    for (let i = 0; i < 3; i++) {
      await sleep(gapMs);
      const s = instances[i]!;
      deaths.push(Date.now());
      s.kill('SIGKILL');
      await s.exited;
      event(`SIGKILL a la instancia ${i + 1} (pid ${s.pid})`);
      await sleep(1000);
      await start(i);
      event(`instancia ${i + 1} reiniciada (pid ${instances[i]!.pid}, lista en ${instances[i]!.readyMs.toFixed(0)} ms)`);
    }
    // One drained: SIGTERM, it finishes what it has in flight and exits 0; then back.
    await sleep(gapMs);
    const drained = instances[1]!;
    drained.child.kill('SIGTERM');
    event(`SIGTERM a la instancia 2 (pid ${drained.pid})`);
    const { code: drainExit } = await drained.exited;
    event(`instancia 2 drenada, código de salida ${drainExit}`);
    if (drainExit !== 0) problems.push(`la instancia drenada salió con ${drainExit}`);
    await start(1);
    event(`instancia 2 reiniciada (pid ${instances[1]!.pid})`);

    // Revocation under load: the old key must be refused by every instance within 1 s.
    await sleep(gapMs);
    for (let i = 0; i < 3; i++) {
      const r = await http(instances[i]!.url, 'GET', '/api/v1/catalogo_perfiles_venta', { headers: bearer(revocable.apiKey) });
      if (r.status !== 200) problems.push(`antes de revocar, la instancia ${i + 1} respondió ${r.status} a la key`);
    }
    const login = await http(front, 'POST', '/api/v1/auth/login', { body: SUPER_ADMIN });
    if (login.status !== 200) throw new Error(`login del super admin: ${login.status}`);
    const regen = await http(front, 'POST', `/admin/empresas/${revocable.empresaId}/routers/${revocable.routerId}/regenerate-api-key`, { headers: bearer(login.data.access_token as string) });
    const revokedAt = Date.now();
    if (regen.status !== 200) throw new Error(`regenerate-api-key: ${regen.status} ${JSON.stringify(regen.data)}`);
    const perInstanceMs = await Promise.all(
      instances.map(async (s) => {
        for (;;) {
          const r = await http(s!.url, 'GET', '/api/v1/catalogo_perfiles_venta', { headers: bearer(revocable.apiKey) });
          if (r.status === 401) return Date.now() - revokedAt;
          if (Date.now() - revokedAt > 10_000) return Infinity;
          await sleep(10);
        }
      }),
    );
    event(`key revocada: rechazada por las instancias en ${perInstanceMs.join(', ')} ms`);
    const maxMs = Math.max(...perInstanceMs);
    if (!(maxMs < 1000)) problems.push(`revocación vista en ${maxMs} ms (> 1 s)`);
    for (let i = 0; i < 3; i++) {
      const r = await http(instances[i]!.url, 'GET', '/api/v1/catalogo_perfiles_venta', { headers: bearer(regen.data.new_api_key as string) });
      if (r.status !== 200) problems.push(`la key nueva en la instancia ${i + 1}: ${r.status}`);
    }

    await sleep(1000);
    stop = true;
    await Promise.all(loops);
    event(`carga detenida: ${purchases.total} compras, ${portal.total} lecturas del portal`);

    // A 502/503/504 or lost answer is explained only if an instance died while that attempt was in flight.
    let explained = 0;
    let unexplained = 0;
    for (const a of attempts) {
      if (!RETRYABLE.has(a.status)) continue;
      if (deaths.some((d) => d >= a.start - 50 && d <= a.end + 50)) explained++;
      else unexplained++;
    }
    if (unexplained > 0) problems.push(`${unexplained} respuestas 502/503/504 o perdidas sin una instancia caída durante la petición`);

    const left = await waitSettled(query, opts.settleMs ?? 90_000);
    if (left > 0) problems.push(`${left} transacciones sin resolver`);
    if (deferredRefs.length > 0) {
      const rows = await query<{ referencia: string; estado: string }>(`SELECT referencia, estado FROM transacciones WHERE referencia = ANY($1)`, [deferredRefs]);
      for (const ref of deferredRefs) {
        const estado = rows.find((x) => x.referencia === ref)?.estado;
        if (estado !== 'entregada') problems.push(`compra ${ref} respondida 202 en curso terminó ${estado ?? 'sin registro'}, no entregada`);
      }
    }
    const invariant = await checkMoneyInvariant({ query, conekta, routers: sims, clientPurchases });
    if (!invariant.ok) problems.push(...invariant.violations.slice(0, 20));
    return {
      ok: problems.length === 0,
      problems,
      attempts: tallyAttempts,
      purchases,
      portal,
      failures: { explained, unexplained },
      events,
      revocation: { perInstanceMs, maxMs },
      drainExit,
      invariant,
    };
  } finally {
    haproxy?.kill('SIGTERM');
    await Promise.all(instances.map((s) => s?.stop().catch(() => undefined)));
    await pool.close().catch(() => undefined);
    await Promise.all(sims.map((s) => s.close().catch(() => undefined)));
    await conekta.close().catch(() => undefined);
    await db.drop().catch(() => undefined);
  }
}

export function renderHaproxy(r: HaproxyDrillResult): string {
  const lines = [
    '',
    '## HAProxy: three production instances, SIGKILL one at a time, one drained with SIGTERM',
    '',
    `${r.ok ? 'OK' : 'FALLO'}: ${r.purchases.total} compras (${r.purchases.ok} aprobadas, ${r.purchases.deferred} respondidas 202 en curso y entregadas después; ${r.purchases.retried} reintentadas con la misma Idempotency-Key, ${r.purchases.retries} reintentos), ` +
      `${r.portal.total} lecturas del portal (${r.portal.ok} 200; ${r.portal.retried} reintentadas).`,
    `Respuestas por intento: ${JSON.stringify(r.attempts)}. 502/503/504 o sin respuesta: ${r.failures.explained} con una instancia muerta durante la petición, ${r.failures.unexplained} sin explicación.`,
    `Revocación de una key vista por las 3 instancias en ${r.revocation.perInstanceMs.join(', ')} ms (máx. ${r.revocation.maxMs} ms; objetivo < 1000 ms). Instancia drenada: código de salida ${r.drainExit}.`,
    `Invariante del dinero: ${r.invariant ? (r.invariant.ok ? 'se cumple' : 'VIOLADO') : 'no comprobado'}${r.invariant ? ` ${JSON.stringify(r.invariant.counts)}` : ''}.`,
    '',
    'Eventos:',
    ...r.events.map((e) => `- ${e}`),
  ];
  if (r.problems.length) lines.push('', 'Problemas:', ...r.problems.slice(0, 30).map((p) => `- ${p}`));
  return lines.join('\n');
}
