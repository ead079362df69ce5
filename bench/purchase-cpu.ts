/**
 * Service CPU per sequential purchase (POST /api/v1/payments/pagar-conekta), the production build against the
 * bench fakes: CPU time of the service process (from /proc) over N purchases, background jobs settled, minus idle.
 * Usage: npx tsx bench/purchase-cpu.ts [N] [--profile] [--src]   (N ≤ 100: purchases are rate-limited per router key)
 * --profile: --cpu-prof, and prints the measured window for bench/profile-summary.ts --window. QCOUNT=<module>: a
 * preload given to the service (--import), sent SIGUSR2 before and after the measured purchases (e.g. to count queries).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cleanup, cpuMs, createThrowawayDatabase, ensureDir, freePort, productionBuild, serviceEnv, sleep, startService } from './harness.js';
import { PROFILES, ROUTER_PASSWORD, ROUTER_USER, startBenchFakes } from './fakes.js';
import { addRouterWithProduct, seed } from './seed.js';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 80);
const PROFILE = args.includes('--profile');
const FROM_SOURCE = args.includes('--src');
const WARMUP = Number(process.env.WARMUP ?? 60);

/** CPU ms per thread (name/tid) of a process, from /proc/<pid>/task/<tid>/stat. */
function threadCpu(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      m.set(`${name}/${tid}`, (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      /* thread gone */
    }
  }
  return m;
}

async function main() {
  const db = await createThrowawayDatabase('ph_pcpu');
  const fakes = await startBenchFakes();
  const port = await freePort();
  const env = serviceEnv(db.url, port, { CONEKTA_API_BASE: fakes.conekta.url });
  const nodeArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${ensureDir(join(ROOT, 'bench/profiles'))}`] : [];
  if (process.env.QCOUNT) nodeArgs.push('--import', process.env.QCOUNT);
  const service = await startService(env, { nodeArgs, entry: FROM_SOURCE ? undefined : productionBuild() });
  const seeded = await seed(service.url, env, { routerHost: fakes.router.host, routerPort: fakes.router.port, routerUser: ROUTER_USER, routerPassword: ROUTER_PASSWORD, profiles: PROFILES, products: 1 });
  const r = await addRouterWithProduct(service.url, env, seeded, { routerHost: fakes.router.host, routerPort: fakes.router.port, routerUser: ROUTER_USER, routerPassword: ROUTER_PASSWORD, profile: PROFILES[0], nombre: 'R cpu' });
  // Warm-up on its own router (purchases are rate-limited per router key): JIT and pools settle first.
  const w = await addRouterWithProduct(service.url, env, seeded, { routerHost: fakes.router.host, routerPort: fakes.router.port, routerUser: ROUTER_USER, routerPassword: ROUTER_PASSWORD, profile: PROFILES[0], nombre: 'R warm' });
  const buy = async (r: { routerKey: string; productId: number }) => {
    const id = randomUUID();
    const res = await fetch(`${service.url}/api/v1/payments/pagar-conekta`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.routerKey}`, 'content-type': 'application/json', 'idempotency-key': id },
      body: JSON.stringify({ producto_id: r.productId, token_tarjeta: `tok_test_visa_4242_${id}`, nombre_cliente: 'Cliente Bench', email_cliente: 'cliente.bench@example.com', telefono_cliente: '5512345678' }),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${res.status} ${text.slice(0, 300)}`);
  };
  for (let i = 0; i < WARMUP; i++) await buy(w);
  await sleep(1500);
  // Idle CPU rate (timers, workers polling), charged back out.
  const i0 = cpuMs(service.pid);
  const it0 = performance.now();
  await sleep(2000);
  const idlePerMs = (cpuMs(service.pid) - i0) / (performance.now() - it0);
  if (process.env.QCOUNT) process.kill(service.pid, 'SIGUSR2');
  const c0 = cpuMs(service.pid);
  const th0 = threadCpu(service.pid);
  const t0 = performance.now();
  const walls: number[] = [];
  const fake0 = fakes.busyMs();
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    await buy(r);
    walls.push(performance.now() - s);
  }
  const fakeMs = fakes.busyMs() - fake0;
  await sleep(1500); // background jobs (delivery, notify, receipt) settle
  const elapsed = performance.now() - t0;
  const cpu = cpuMs(service.pid) - c0 - idlePerMs * elapsed;
  const threads = [...threadCpu(service.pid)].map(([k, v]) => [k, Math.round(((v - (th0.get(k) ?? 0)) * 1000) / N)] as const).filter(([, v]) => v > 0);
  process.stdout.write(`threads (µs CPU per purchase, idle included): ${threads.map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
  walls.sort((a, b) => a - b);
  const res = { n: N, cpuUsPerPurchase: Math.round((cpu * 1000) / N), idleCpuMsPerS: +(idlePerMs * 1000).toFixed(2), wallP50: +walls[Math.floor(N / 2)].toFixed(2), fakeMsPerPurchase: +(fakeMs / N).toFixed(2) };
  process.stdout.write(JSON.stringify(res) + '\n');
  if (process.env.QCOUNT) process.kill(service.pid, 'SIGUSR2');
  await sleep(200);
  const tStop = performance.now();
  await service.stop();
  // The measured window, as seconds before the profile's end (bench/profile-summary.ts --window).
  if (PROFILE) process.stdout.write(`--window ${((tStop - t0) / 1000).toFixed(2)},${((tStop - t0 - elapsed) / 1000).toFixed(2)}\n`);
  await db.drop();
  await fakes.stop?.();
}
main()
  .catch((e) => {
    process.stderr.write(String(e?.stack ?? e) + '\n');
    process.exitCode = 1;
  })
  .finally(() => cleanup().then(() => process.exit()));
