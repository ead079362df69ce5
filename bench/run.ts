/**
 * `npm run bench`: the service on a throwaway PostgreSQL database with production settings, loaded by
 * autocannon from a second process, compared with a bare Fastify floor measured in the same run.
 * Prints the table and writes it, with the machine's description, to bench/results.md.
 *
 * Options: --duration <s> (per measured run, default 10), --profile (service runs with --cpu-prof, the
 * .cpuprofile lands in bench/profiles/), --out <file> (default bench/results.md).
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT,
  RssSampler,
  bearer,
  cleanup,
  cpuMs,
  createThrowawayDatabase,
  ensureDir,
  freePort,
  http,
  machineInfo,
  runJsonChild,
  serviceEnv,
  startJsonServerChild,
  startService,
  type MachineInfo,
} from './harness.js';
import { PROFILES, ROUTER_PASSWORD, ROUTER_USER, startBenchFakes } from './fakes.js';
import type { Run, RunResult } from './load.js';
import { addRouterWithProduct, seed } from './seed.js';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const DURATION = Number(arg('--duration') ?? process.env.BENCH_DURATION ?? 10);
const WARMUP = Math.max(2, Math.round(DURATION / 4));
const PROFILE = args.includes('--profile');
const OUT = arg('--out') ?? join(ROOT, 'bench/results.md');
const CONNECTIONS = 50;
const LOGIN_RATE = 20;
// Purchases are rate-limited per router key (120/min): each purchase run has its own router, under that.
const PURCHASES_SEQUENTIAL = Number(process.env.BENCH_PURCHASES ?? 100);
const PURCHASES_CONCURRENT = 100;
// --only catalog,config,products,login,mixed,purchase: a subset (e.g. while profiling); the floor always runs.
const ONLY = arg('--only')?.split(',');
const want = (name: string) => !ONLY || ONLY.includes(name);

interface Row {
  name: string;
  conns: string;
  result: RunResult | null;
  note?: string;
}

function log(msg: string) {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Run a load job from the second process; with `cpuOf`, charge that process's CPU time to the first run. */
async function load(runs: Run[], cpuOf?: number): Promise<RunResult[]> {
  const before = cpuOf ? cpuMs(cpuOf) : NaN;
  const { result } = runJsonChild<{ results: RunResult[] }>(join(ROOT, 'bench/load.ts'), [JSON.stringify({ runs })]);
  const results = (await result).results;
  if (cpuOf) results[0].cpuUsPerReq = ((cpuMs(cpuOf) - before) * 1000) / results.reduce((n, r) => n + r.requests, 0);
  return results;
}

async function main() {
  const machine = await machineInfo();
  log(`${machine.cpu}, ${machine.cores} núcleos, ${machine.memoryGb} GB, Node ${machine.node}, ${machine.postgres}`);
  const db = await createThrowawayDatabase('ph_bench');
  const fakes = await startBenchFakes();
  const port = await freePort();
  const env = serviceEnv(db.url, port, {
    CONEKTA_API_BASE: fakes.conekta.url,
    // One client IP drives every login here; the per-IP request limit would otherwise answer 429.
    LOGIN_REQUESTS_PER_MINUTE: '1000000',
  });
  const nodeArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${ensureDir(join(ROOT, 'bench/profiles'))}`] : [];
  log(`base de datos ${db.name}; arrancando el servicio (BCRYPT_ROUNDS=12, LOG_LEVEL=warn, workers activos)${PROFILE ? ' con --cpu-prof' : ''}`);
  const service = await startService(env, { nodeArgs });
  const rss = new RssSampler(service.pid);
  const idle = rss.sample();

  const seeded = await seed(service.url, env, {
    routerHost: fakes.router.host,
    routerPort: fakes.router.port,
    routerUser: ROUTER_USER,
    routerPassword: ROUTER_PASSWORD,
    profiles: PROFILES,
    products: 6,
  });
  log(`datos: empresa ${seeded.empresaId}, router ${seeded.routerId}, ${seeded.productIds.length} productos (${Object.entries(seeded.via).map(([k, v]) => `${k}:${v}`).join(', ')})`);

  const key = { authorization: `Bearer ${seeded.routerKey}` };
  const adminAuth = bearer(seeded.admin.token);
  const catalogUrl = `${service.url}/api/v1/catalogo_perfiles_venta`;
  const configUrl = `${service.url}/api/v1/config/public`;
  const productsUrl = `${service.url}/api/v1/admin/products`;
  const loginUrl = `${service.url}/api/v1/auth/login`;
  const loginBody = JSON.stringify({ email: seeded.admin.email, password: seeded.admin.password });

  // Every endpoint must answer 200 before it is measured (a fast 404 is not a result).
  const probe = async (url: string, headers: Record<string, string>) => {
    const r = await http(url, 'GET', '', { headers });
    return r.status === 200 ? null : `${r.status} ${JSON.stringify(r.data).slice(0, 200)}`;
  };
  const catalog = await http(catalogUrl, 'GET', '', { headers: key });
  const catalogMissing = catalog.status === 200 ? null : `${catalog.status} ${JSON.stringify(catalog.data).slice(0, 200)}`;
  const configMissing = await probe(configUrl, key);
  const productsMissing = await probe(productsUrl, adminAuth);

  // The floor serves the very bytes the service served (or the seeded products if the route is missing).
  const floorBodyFile = join(tmpdir(), `ph-bench-floor-${process.pid}.json`);
  writeFileSync(floorBodyFile, catalog.status === 200 ? JSON.stringify(catalog.data) : JSON.stringify(seeded.productIds.map((id) => ({ id }))));
  const floor = await startJsonServerChild<{ port: number }>(join(ROOT, 'bench/floor.ts'), [floorBodyFile]);
  const floorUrl = `http://127.0.0.1:${floor.info.port}/api/v1/catalogo_perfiles_venta`;

  const ac = (name: string, url: string, extra: Partial<Extract<Run, { kind: 'autocannon' }>> = {}): Run => ({
    kind: 'autocannon',
    name,
    url,
    connections: CONNECTIONS,
    durationS: DURATION,
    ...extra,
  });
  const measure = async (run: Run & { kind: 'autocannon' }, pid = service.pid) => {
    await load([{ ...run, durationS: WARMUP }]);
    const [r] = await load([run], pid);
    log(`${run.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.cpuUsPerReq?.toFixed(0)} µs CPU/req${r.non2xx ? `, ${r.non2xx} no-2xx` : ''}`);
    return r;
  };

  const rows: Row[] = [];
  const floorResult = await measure(ac('floor', floorUrl) as Run & { kind: 'autocannon' }, floor.child.pid!);
  rows.push({ name: 'floor: bare Fastify, same catalog JSON from memory (best of 2 runs)', conns: String(CONNECTIONS), result: floorResult });

  const catalogResult = catalogMissing || !want('catalog') ? null : await measure(ac('catalog', catalogUrl, { headers: key }) as Run & { kind: 'autocannon' });
  rows.push({ name: 'GET /api/v1/catalogo_perfiles_venta (router key)', conns: String(CONNECTIONS), result: catalogResult, note: catalogMissing ?? undefined });
  const configResult = configMissing || !want('config') ? null : await measure(ac('config', configUrl, { headers: key }) as Run & { kind: 'autocannon' });
  rows.push({ name: 'GET /api/v1/config/public (router key)', conns: String(CONNECTIONS), result: configResult, note: configMissing ?? undefined });
  // The floor again, and the better of its two runs is the reference: on a shared machine a noisy first
  // floor would otherwise flatter every ratio.
  const floorAgain = await measure(ac('floor (again)', floorUrl) as Run & { kind: 'autocannon' }, floor.child.pid!);
  if (floorAgain.rps > floorResult.rps) {
    log(`suelo: se usa la segunda medición (${floorAgain.rps.toFixed(0)} > ${floorResult.rps.toFixed(0)} req/s)`);
    Object.assign(floorResult, floorAgain);
  }
  const productsResult = productsMissing || !want('products') ? null : await measure(ac('products', productsUrl, { headers: adminAuth }) as Run & { kind: 'autocannon' });
  rows.push({ name: 'GET /api/v1/admin/products (company admin)', conns: String(CONNECTIONS), result: productsResult, note: productsMissing ?? undefined });

  // Login alone: bcrypt cost 12 offered at 20/s.
  const loginRun = ac('login', loginUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: loginBody, connections: LOGIN_RATE, overallRate: LOGIN_RATE }) as Run & {
    kind: 'autocannon';
  };
  const [loginAlone] = want('login') ? await load([loginRun], service.pid) : [null];
  if (loginAlone) log(`login: ${loginAlone.rps.toFixed(1)} req/s, p50 ${loginAlone.p50} ms, p99 ${loginAlone.p99} ms`);
  rows.push({ name: `POST /api/v1/auth/login (bcrypt 12, offered ${LOGIN_RATE}/s)`, conns: String(LOGIN_RATE), result: loginAlone });

  // Both at once: the catalog must not stall while logins hash.
  let mixedCatalog: RunResult | null = null;
  let mixedLogin: RunResult | null = null;
  if (!catalogMissing && want('mixed')) {
    [mixedCatalog, mixedLogin] = await load([ac('catalog+login', catalogUrl, { headers: key }), { ...loginRun, name: 'login+catalog' }], service.pid);
    log(`catálogo con logins: ${mixedCatalog.rps.toFixed(0)} req/s, p99 ${mixedCatalog.p99} ms; logins ${mixedLogin.rps.toFixed(1)}/s p99 ${mixedLogin.p99} ms`);
  }
  rows.push({ name: `GET catalogo_perfiles_venta while ${LOGIN_RATE} logins/s run`, conns: String(CONNECTIONS), result: mixedCatalog, note: catalogMissing ? 'n/a' : undefined });
  rows.push({ name: `POST login (${LOGIN_RATE}/s offered) while the catalog runs`, conns: String(LOGIN_RATE), result: mixedLogin, note: catalogMissing ? 'n/a' : undefined });

  // Purchases: a full Conekta purchase against the fake gateway and the simulated router.
  const purchase = want('purchase')
    ? await purchaseBench(service.url, service.pid, env, seeded, fakes)
    : { rows: [] as Row[], overhead: null as RunResult['overhead'] | null, note: 'no medido (--only)' as string | null };
  rows.push(...purchase.rows);

  // "After the run": once the service has been idle for a few seconds (V8 gives memory back on idle GCs).
  await new Promise((r) => setTimeout(r, 5000));
  const after = rss.stop();
  await floor.stop();
  await service.stop();
  await fakes.stop();
  await db.drop();

  const summary = {
    machine,
    rows,
    floor: floorResult,
    memory: { idleMb: idle?.rssMb ?? NaN, afterMb: after?.rssMb ?? NaN, peakMb: Math.max(rss.maxRssMb, after?.hwmMb ?? 0) },
    purchaseOverhead: purchase.overhead,
    purchaseNote: purchase.note,
    mixedCatalog,
    catalogResult,
    configResult,
    via: seeded.via,
    durationS: DURATION,
  };
  const text = render(summary);
  process.stdout.write(text + '\n');
  writeFileSync(OUT, text + '\n');
  log(`tabla escrita en ${OUT}`);
}

async function purchaseBench(
  baseUrl: string,
  servicePid: number,
  env: Record<string, string>,
  seeded: Awaited<ReturnType<typeof seed>>,
  fakes: Awaited<ReturnType<typeof startBenchFakes>>,
) {
  const rows: Row[] = [];
  const doc = await http(baseUrl, 'GET', '/openapi.json');
  const landed = !!doc.data?.paths?.['/api/v1/payments/pagar-conekta']?.post;
  const missing = !landed ? 'n/a: POST /api/v1/payments/pagar-conekta no existe todavía' : null;
  if (missing) {
    rows.push({ name: 'POST /api/v1/payments/pagar-conekta (full purchase)', conns: '-', result: null, note: missing });
    rows.push({ name: 'purchase overhead (total − fake gateway − fake router)', conns: '1', result: null, note: missing });
    return { rows, overhead: null as RunResult['overhead'] | null, note: missing };
  }
  const url = `${baseUrl}/api/v1/payments/pagar-conekta`;
  const routerOpts = { routerHost: fakes.router.host, routerPort: fakes.router.port, routerUser: ROUTER_USER, routerPassword: ROUTER_PASSWORD, profile: PROFILES[0] };
  const seqRouter = await addRouterWithProduct(baseUrl, env, seeded, { ...routerOpts, nombre: 'Router compras 1' });
  const conRouter = await addRouterWithProduct(baseUrl, env, seeded, { ...routerOpts, nombre: 'Router compras 2' });
  const purchaseBody = (productoId: number) =>
    JSON.stringify({
      producto_id: productoId,
      // The fake's tokens are single-use, like Conekta's: each request gets its own (see load.ts).
      token_tarjeta: 'tok_test_visa_4242_{{uuid}}',
      nombre_cliente: 'Cliente Bench',
      email_cliente: 'cliente.bench@example.com',
      telefono_cliente: '5512345678',
    });
  const headersOf = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  const probeId = `bench-probe-${Date.now()}`;
  const first = await http(url, 'POST', '', {
    headers: { ...headersOf(seqRouter.routerKey), 'idempotency-key': probeId },
    body: JSON.parse(purchaseBody(seqRouter.productId).replaceAll('{{uuid}}', probeId)),
  });
  if (first.status !== 200) {
    const note = `n/a: la compra de prueba respondió ${first.status} ${JSON.stringify(first.data).slice(0, 200)}`;
    rows.push({ name: 'POST /api/v1/payments/pagar-conekta (full purchase)', conns: '-', result: null, note });
    return { rows, overhead: null, note };
  }
  const [seq] = await load(
    [{ kind: 'sequential', name: 'purchase-seq', url, method: 'POST', headers: headersOf(seqRouter.routerKey), body: purchaseBody(seqRouter.productId), count: PURCHASES_SEQUENTIAL, fakeStatsUrl: fakes.statsUrl }],
    servicePid,
  );
  log(
    `compra secuencial: total p50 ${fmt(seq.p50, 2)} ms, fakes p50 ${fmt(seq.overhead?.fakeP50, 2)} ms, propio p50 ${fmt(seq.overhead?.p50, 2)} ms` +
      (seq.sampleError ? `; primer error: ${seq.sampleError}` : ''),
  );
  const [thr] = await load(
    [{ kind: 'autocannon', name: 'purchase', url, method: 'POST', headers: headersOf(conRouter.routerKey), body: purchaseBody(conRouter.productId), connections: 10, durationS: DURATION, amount: PURCHASES_CONCURRENT, uniqueIdempotencyKey: true }],
    servicePid,
  );
  log(`compras concurrentes: ${thr.rps.toFixed(0)} req/s, p50 ${thr.p50} ms, p99 ${thr.p99} ms${thr.non2xx ? `, ${thr.non2xx} no-2xx` : ''}`);
  rows.push({ name: `POST /api/v1/payments/pagar-conekta (full purchase, ${PURCHASES_CONCURRENT})`, conns: '10', result: thr });
  rows.push({ name: `POST pagar-conekta, one at a time (${PURCHASES_SEQUENTIAL})`, conns: '1', result: seq });
  return { rows, overhead: seq.overhead ?? null, note: seq.sampleError ? `primer error: ${seq.sampleError}` : null };
}

// NaN crosses the process boundary as null (JSON): both print as a dash.
const fmt = (n: number | null | undefined, digits = 0) => (n === undefined || n === null || Number.isNaN(n) ? '—' : n.toFixed(digits));

function render(s: {
  machine: MachineInfo;
  rows: Row[];
  floor: RunResult;
  memory: { idleMb: number; afterMb: number; peakMb: number };
  purchaseOverhead: RunResult['overhead'] | null;
  purchaseNote: string | null;
  mixedCatalog: RunResult | null;
  catalogResult: RunResult | null;
  configResult: RunResult | null;
  via: Record<string, string>;
  durationS: number;
}): string {
  const lines: string[] = [];
  const m = s.machine;
  lines.push('# Benchmark results', '');
  lines.push(`Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`, '');
  lines.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB RAM, ${m.os}; Node ${m.node}; ${m.postgres}.`);
  lines.push(
    `Service: \`src/server.ts\` as a child process, NODE_ENV=production, BCRYPT_ROUNDS=12, LOG_LEVEL=warn, workers on, throwaway database on 127.0.0.1:5432. ` +
      `Load: autocannon from a second process, ${s.durationS} s per run after a warm-up. Seeded via ${Object.entries(s.via).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
  );
  lines.push('| endpoint | conns | req/s | p50 ms | p99 ms | vs floor | non-2xx | CPU µs/req |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of s.rows) {
    if (!r.result) {
      lines.push(`| ${r.name} | ${r.conns} | ${r.note ?? 'n/a'} | | | | | |`);
      continue;
    }
    const seq = r.result.overhead !== undefined;
    const d = seq ? 1 : 0;
    lines.push(
      `| ${r.name} | ${r.conns} | ${fmt(r.result.rps, r.result.rps < 100 ? 1 : 0)} | ${fmt(r.result.p50, d)} | ${fmt(r.result.p99, d)} | ${fmt((r.result.rps / s.floor.rps) * 100, 0)} % | ${r.result.non2xx + r.result.errors} | ${fmt(r.result.cpuUsPerReq)} |`,
    );
  }
  lines.push('');
  lines.push(
    'CPU µs/req: CPU time (user + system, from /proc) of the measured server process during the run, per request — steadier than req/s on a shared machine. ' +
      'Rows measured together (catalog + logins) charge both loads to the first row. Throughput on 2 cores is shared with autocannon and PostgreSQL; repeat runs vary by ±15 %.',
  );
  lines.push(`Service memory: ${fmt(s.memory.idleMb)} MB RSS idle after start, peak ${fmt(s.memory.peakMb)} MB (VmHWM), ${fmt(s.memory.afterMb)} MB RSS after the run (5 s idle).`);
  if (s.purchaseOverhead) {
    const o = s.purchaseOverhead;
    lines.push(
      `Purchase overhead (client-measured total minus time spent waiting on the fake gateway and router, via timing proxies): p50 ${fmt(o.p50, 2)} ms, p90 ${fmt(o.p90, 2)} ms, p99 ${fmt(o.p99, 2)} ms (total p50 ${fmt(o.totalP50, 2)} ms, fakes p50 ${fmt(o.fakeP50, 2)} ms).`,
    );
  }
  lines.push('');
  lines.push('## Targets', '');
  const target = (label: string, ok: boolean | null, detail: string) => lines.push(`- ${ok === null ? 'n/a' : ok ? 'MET' : 'MISSED'} — ${label}: ${detail}`);
  const ratio = (r: RunResult | null) => (r ? r.rps / s.floor.rps : NaN);
  const cpuRatio = (r: RunResult) => (s.floor.cpuUsPerReq ?? NaN) / (r.cpuUsPerReq ?? NaN);
  target(
    'catalog ≥ 60 % of floor, p99 < 50 ms at 50 connections',
    s.catalogResult ? ratio(s.catalogResult) >= 0.6 && s.catalogResult.p99 < 50 : null,
    s.catalogResult ? `${fmt(ratio(s.catalogResult) * 100)} %, p99 ${s.catalogResult.p99} ms (CPU per request: ${fmt(cpuRatio(s.catalogResult) * 100)} % of the floor's efficiency)` : 'endpoint missing',
  );
  target(
    'config ≥ 60 % of floor, p99 < 50 ms at 50 connections',
    s.configResult ? ratio(s.configResult) >= 0.6 && s.configResult.p99 < 50 : null,
    s.configResult ? `${fmt(ratio(s.configResult) * 100)} %, p99 ${s.configResult.p99} ms (CPU per request: ${fmt(cpuRatio(s.configResult) * 100)} % of the floor's efficiency)` : 'endpoint missing',
  );
  target(
    `catalog p99 < 100 ms while ${LOGIN_RATE} logins/s (bcrypt 12) run`,
    s.mixedCatalog ? s.mixedCatalog.p99 < 100 : null,
    s.mixedCatalog ? `p99 ${s.mixedCatalog.p99} ms` : 'endpoint missing',
  );
  target('purchase overhead p50 < 10 ms', s.purchaseOverhead ? s.purchaseOverhead.p50 < 10 : null, s.purchaseOverhead ? `${fmt(s.purchaseOverhead.p50, 2)} ms` : (s.purchaseNote ?? 'n/a'));
  target('RSS < 200 MB after the run', s.memory.afterMb < 200, `${fmt(s.memory.afterMb)} MB (peak ${fmt(s.memory.peakMb)} MB)`);
  return lines.join('\n');
}

main()
  .catch((err) => {
    process.stderr.write(`[bench] falló: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => void cleanup().then(() => process.exit()));
