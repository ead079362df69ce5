/**
 * `npm run bench`: the production build on a throwaway PostgreSQL database with production settings, loaded
 * by wrk (autocannon when wrk is missing) from a second process, compared with a bare `node:http` floor and
 * a bare Fastify floor serving the same bytes, measured in the same run; plus start-up time and memory.
 * Prints the table and writes it, with the machine's description, to bench/results.md.
 *
 * Options: --duration <s> (per measured run, default 10), --src (src/server.ts under tsx; BENCH_START_FLAGS
 * overrides the node flags taken from `npm start` for the build), --profile (service runs with --cpu-prof, the
 * .cpuprofile lands in bench/profiles/), --out <file> (default bench/results.md).
 */
import { writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
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
  productionBuild,
  startJsonServerChild,
  startService,
  type MachineInfo,
} from './harness.js';
import { PROFILES, ROUTER_PASSWORD, ROUTER_USER, startBenchFakes } from './fakes.js';
import type { Run, RunResult } from './load.js';
import { hasWrk } from './wrk.js';
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
// --src: measure src/server.ts under tsx instead of the production build.
const FROM_SOURCE = args.includes('--src');

interface Row {
  name: string;
  conns: string;
  result: RunResult | null;
  note?: string;
  /** The node:http floor this row is compared with. */
  floor?: RunResult;
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
  const loadBefore = loadavg()[0];
  const machine = await machineInfo();
  log(`${machine.cpu}, ${machine.cores} núcleos, ${machine.memoryGb} GB, Node ${machine.node}, ${machine.postgres}`);
  const tool = hasWrk() && !process.env.BENCH_AUTOCANNON ? 'wrk' : 'autocannon';
  if (tool === 'autocannon') log('wrk no está instalado (apt-get install wrk): se usa autocannon, que satura antes que el servicio en 2 núcleos');
  const db = await createThrowawayDatabase('ph_bench');
  const fakes = await startBenchFakes();
  const port = await freePort();
  const env = serviceEnv(db.url, port, {
    CONEKTA_API_BASE: fakes.conekta.url,
    // One client IP drives every login here; the per-IP request limit would otherwise answer 429.
    LOGIN_REQUESTS_PER_MINUTE: '1000000',
  });
  const nodeArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${ensureDir(join(ROOT, 'bench/profiles'))}`] : [];
  const entry = FROM_SOURCE ? undefined : productionBuild();
  log(`servicio: ${entry ? 'build de producción (node dist/server.js)' : 'src/server.ts con tsx'}, BCRYPT_ROUNDS=12, LOG_LEVEL=warn, workers activos${PROFILE ? ', con --cpu-prof' : ''}`);
  // Start-up: the first start migrates the empty database; the next ones find it up to date.
  const first = await startService(env, { entry });
  await first.stop();
  const startsMs: number[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await startService(env, { entry });
    startsMs.push(s.readyMs);
    await s.stop();
  }
  const service = await startService(env, { nodeArgs, entry });
  startsMs.push(service.readyMs);
  const readyMs = [...startsMs].sort((a, b) => a - b)[1];
  log(`arranque → /ready: ${first.readyMs.toFixed(0)} ms con migraciones; ${startsMs.map((n) => n.toFixed(0)).join(', ')} ms con la base al día`);
  // Idle after start: once start-up's garbage has had a moment to be collected.
  await new Promise((r) => setTimeout(r, 2000));
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
  const catalogPath = '/api/v1/catalogo_perfiles_venta';
  const configPath = '/api/v1/config/public';
  const catalogUrl = `${service.url}${catalogPath}`;
  const configUrl = `${service.url}${configPath}`;
  const productsUrl = `${service.url}/api/v1/admin/products`;
  const loginUrl = `${service.url}/api/v1/auth/login`;
  const loginBody = JSON.stringify({ email: seeded.admin.email, password: seeded.admin.password });

  // Every endpoint must answer 200 before it is measured (a fast 404 is not a result).
  const fetchBody = async (url: string, headers: Record<string, string>) => {
    const r = await fetch(url, { headers });
    const text = await r.text();
    return { text, missing: r.status === 200 ? null : `${r.status} ${text.slice(0, 200)}` };
  };
  const catalog = await fetchBody(catalogUrl, key);
  const config = await fetchBody(configUrl, key);
  const productsMissing = (await fetchBody(productsUrl, adminAuth)).missing;

  // The floors serve the very bytes the service served (or the seeded products if the route is missing).
  const bodyFile = (name: string, text: string) => {
    const f = join(tmpdir(), `ph-bench-floor-${name}-${process.pid}.json`);
    writeFileSync(f, text);
    return f;
  };
  const floorFiles = [
    bodyFile('catalog', catalog.missing ? JSON.stringify(seeded.productIds.map((id) => ({ id }))) : catalog.text),
    bodyFile('config', config.missing ? '{}' : config.text),
  ];
  const fastifyFloor = await startJsonServerChild<{ port: number }>(join(ROOT, 'bench/floor.ts'), ['fastify', ...floorFiles]);
  const httpFloor = await startJsonServerChild<{ port: number }>(join(ROOT, 'bench/floor.ts'), ['http', ...floorFiles]);
  const floorUrl = (f: { info: { port: number } }, path: string) => `http://127.0.0.1:${f.info.port}${path}`;

  const ac = (name: string, url: string, extra: Partial<Extract<Run, { kind: 'autocannon' }>> = {}): Run & { kind: 'autocannon' } => ({
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
    log(`${run.name} (${r.tool}): ${r.rps.toFixed(0)} req/s, p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, ${r.cpuUsPerReq?.toFixed(0)} µs CPU/req${r.non2xx ? `, ${r.non2xx} no-2xx` : ''}`);
    return r;
  };
  /** A floor measured twice (before and after the service's runs): the better run is the reference. */
  const best = (a: RunResult, b: RunResult) => (b.rps > a.rps ? b : a);

  const rows: Row[] = [];
  const fastifyCatalog1 = await measure(ac('floor fastify catalog', floorUrl(fastifyFloor, catalogPath)), fastifyFloor.child.pid!);
  const httpCatalog1 = await measure(ac('floor node:http catalog', floorUrl(httpFloor, catalogPath)), httpFloor.child.pid!);
  const httpConfig1 = await measure(ac('floor node:http config', floorUrl(httpFloor, configPath)), httpFloor.child.pid!);
  const catalog1 = catalog.missing || !want('catalog') ? null : await measure(ac('catalog', catalogUrl, { headers: key }));
  const config1 = config.missing || !want('config') ? null : await measure(ac('config', configUrl, { headers: key }));
  // The floors again, then the service again: on a shared machine a burst of other work during one run would
  // otherwise decide a ratio. Floors and service alike are the better of two runs, interleaved.
  const httpCatalog = best(httpCatalog1, await measure(ac('floor node:http catalog (again)', floorUrl(httpFloor, catalogPath)), httpFloor.child.pid!));
  const httpConfig = best(httpConfig1, await measure(ac('floor node:http config (again)', floorUrl(httpFloor, configPath)), httpFloor.child.pid!));
  const fastifyCatalog = best(fastifyCatalog1, await measure(ac('floor fastify catalog (again)', floorUrl(fastifyFloor, catalogPath)), fastifyFloor.child.pid!));
  const catalogResult = catalog1 && best(catalog1, await measure(ac('catalog (again)', catalogUrl, { headers: key })));
  const configResult = config1 && best(config1, await measure(ac('config (again)', configUrl, { headers: key })));
  rows.push({ name: 'floor: bare node:http, same catalog bytes (best of 2)', conns: String(CONNECTIONS), result: httpCatalog });
  rows.push({ name: 'floor: bare node:http, same config bytes (best of 2)', conns: String(CONNECTIONS), result: httpConfig });
  rows.push({ name: 'floor: bare Fastify route, same catalog bytes (best of 2)', conns: String(CONNECTIONS), result: fastifyCatalog });
  rows.push({ name: `GET ${catalogPath} (router key, best of 2)`, conns: String(CONNECTIONS), result: catalogResult, note: catalog.missing ?? undefined, floor: httpCatalog });
  rows.push({ name: `GET ${configPath} (router key, best of 2)`, conns: String(CONNECTIONS), result: configResult, note: config.missing ?? undefined, floor: httpConfig });

  const productsResult = productsMissing || !want('products') ? null : await measure(ac('products', productsUrl, { headers: adminAuth }));
  rows.push({ name: 'GET /api/v1/admin/products (company admin)', conns: String(CONNECTIONS), result: productsResult, note: productsMissing ?? undefined, floor: httpCatalog });

  // Login alone: bcrypt cost 12 offered at 20/s.
  const loginRun = ac('login', loginUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: loginBody, connections: LOGIN_RATE, overallRate: LOGIN_RATE });
  const [loginAlone] = want('login') ? await load([loginRun], service.pid) : [null];
  if (loginAlone) log(`login: ${loginAlone.rps.toFixed(1)} req/s, p50 ${loginAlone.p50} ms, p99 ${loginAlone.p99} ms`);
  rows.push({ name: `POST /api/v1/auth/login (bcrypt 12, offered ${LOGIN_RATE}/s)`, conns: String(LOGIN_RATE), result: loginAlone });

  // Both at once: the catalog must not stall while logins hash.
  let mixedCatalog: RunResult | null = null;
  let mixedLogin: RunResult | null = null;
  if (!catalog.missing && want('mixed')) {
    [mixedCatalog, mixedLogin] = await load([ac('catalog+login', catalogUrl, { headers: key }), { ...loginRun, name: 'login+catalog' }], service.pid);
    log(`catálogo con logins: ${mixedCatalog.rps.toFixed(0)} req/s, p99 ${mixedCatalog.p99} ms; logins ${mixedLogin.rps.toFixed(1)}/s p99 ${mixedLogin.p99} ms`);
  }
  rows.push({ name: `GET catalogo_perfiles_venta while ${LOGIN_RATE} logins/s run`, conns: String(CONNECTIONS), result: mixedCatalog, note: catalog.missing ? 'n/a' : undefined, floor: httpCatalog });
  rows.push({ name: `POST login (${LOGIN_RATE}/s offered) while the catalog runs`, conns: String(LOGIN_RATE), result: mixedLogin, note: catalog.missing ? 'n/a' : undefined });

  // Purchases: a full Conekta purchase against the fake gateway and the simulated router.
  const purchase = want('purchase')
    ? await purchaseBench(service.url, service.pid, env, seeded, fakes)
    : { rows: [] as Row[], overhead: null as RunResult['overhead'] | null, note: 'no medido (--only)' as string | null };
  rows.push(...purchase.rows);

  // "After the run": once the service has been idle for a few seconds (V8 gives memory back on idle GCs).
  await new Promise((r) => setTimeout(r, 5000));
  const after = rss.stop();
  await fastifyFloor.stop();
  await httpFloor.stop();
  await service.stop();
  await fakes.stop();
  await db.drop();

  const summary: Summary = {
    machine,
    tool,
    fromSource: FROM_SOURCE,
    rows,
    fastifyCatalog,
    memory: { idleMb: idle?.rssMb ?? NaN, afterMb: after?.rssMb ?? NaN, peakMb: Math.max(rss.maxRssMb, after?.hwmMb ?? 0) },
    start: { readyMs, migratingMs: first.readyMs, allMs: startsMs },
    purchaseOverhead: purchase.overhead,
    purchaseNote: purchase.note,
    mixedCatalog,
    catalogResult,
    configResult,
    httpCatalog,
    httpConfig,
    via: seeded.via,
    durationS: DURATION,
    load: { before: loadBefore, after: loadavg()[0] },
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

interface Summary {
  machine: MachineInfo;
  tool: 'wrk' | 'autocannon';
  fromSource: boolean;
  rows: Row[];
  fastifyCatalog: RunResult;
  httpCatalog: RunResult;
  httpConfig: RunResult;
  memory: { idleMb: number; afterMb: number; peakMb: number };
  start: { readyMs: number; migratingMs: number; allMs: number[] };
  purchaseOverhead: RunResult['overhead'] | null;
  purchaseNote: string | null;
  mixedCatalog: RunResult | null;
  catalogResult: RunResult | null;
  configResult: RunResult | null;
  via: Record<string, string>;
  durationS: number;
  /** 1-minute load average at the start and at the end (other work on the machine skews every number). */
  load: { before: number; after: number };
}

function render(s: Summary): string {
  const lines: string[] = [];
  const m = s.machine;
  lines.push('# Benchmark results', '');
  lines.push(`Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`, '');
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB RAM, ${m.os}; Node ${m.node}; ${m.postgres}. ` +
      // Only the load before the bench says whether other work ran: at the end it includes the bench's own
      // (wrk, the service and PostgreSQL keep 2 cores busy).
      `Load average (1 min) ${s.load.before.toFixed(1)} at the start, ${s.load.after.toFixed(1)} at the end (the bench's own load included)${s.load.before > m.cores / 2 ? ' — **the machine was busy with other work: absolute numbers and ratios are skewed**' : ''}.`,
  );
  lines.push(
    `Service: ${s.fromSource ? '`src/server.ts` under tsx' : 'the production build (`npm run build`, `node dist/server.js`)'} as a child process, NODE_ENV=production, BCRYPT_ROUNDS=12, LOG_LEVEL=warn, workers on, throwaway database on 127.0.0.1:5432. ` +
      `Load: ${s.tool === 'wrk' ? "Debian's `wrk` (one thread)" : '**autocannon (fallback: `wrk` is not installed; autocannon saturates before the service on 2 cores, so the ratios are flattened)**'} for the fixed-connection GET rows, autocannon for rate-limited and per-request-key rows, from separate processes, ${s.durationS} s per run after a warm-up. ` +
      `Seeded via ${Object.entries(s.via).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
  );
  lines.push('| endpoint | conns | tool | req/s | p50 ms | p99 ms | vs node:http floor | non-2xx | CPU µs/req |');
  lines.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of s.rows) {
    if (!r.result) {
      lines.push(`| ${r.name} | ${r.conns} | | ${r.note ?? 'n/a'} | | | | | |`);
      continue;
    }
    const d = r.result.rps > 1000 ? 2 : 1;
    lines.push(
      `| ${r.name} | ${r.conns} | ${r.result.tool} | ${fmt(r.result.rps, r.result.rps < 100 ? 1 : 0)} | ${fmt(r.result.p50, d)} | ${fmt(r.result.p99, d)} | ${r.floor ? `${fmt((r.result.rps / r.floor.rps) * 100, 0)} %` : ''} | ${r.result.non2xx + r.result.errors} | ${fmt(r.result.cpuUsPerReq)} |`,
    );
  }
  lines.push('');
  lines.push(
    'CPU µs/req: CPU time (user + system, from /proc) of the measured server process during the run, per request — steadier than req/s on a shared machine. ' +
      'Rows measured together (catalog + logins) charge both loads to the first row. Throughput on 2 cores is shared with the load generator and PostgreSQL; repeat runs vary by ±15 %.',
  );
  lines.push(
    `Footprint: ${fmt(s.memory.idleMb)} MB RSS idle after start, ${fmt(s.memory.afterMb)} MB RSS after the run (5 s idle), peak ${fmt(s.memory.peakMb)} MB (VmHWM). ` +
      `Start → /ready: ${fmt(s.start.readyMs)} ms on an up-to-date database (median of ${s.start.allMs.map((n) => fmt(n)).join(', ')} ms), ${fmt(s.start.migratingMs)} ms on the first start (empty database, every migration, bcrypt-12 super admin).`,
  );
  if (s.purchaseOverhead) {
    const o = s.purchaseOverhead;
    lines.push(
      `Purchase overhead (client-measured total minus time spent waiting on the fake gateway and router, via timing proxies): p50 ${fmt(o.p50, 2)} ms, p90 ${fmt(o.p90, 2)} ms, p99 ${fmt(o.p99, 2)} ms (total p50 ${fmt(o.totalP50, 2)} ms, fakes p50 ${fmt(o.fakeP50, 2)} ms).`,
    );
  }
  lines.push('');
  lines.push('## Targets', '');
  lines.push('| target | measured | verdict |');
  lines.push('| --- | --- | --- |');
  const target = (label: string, ok: boolean | null, detail: string) => lines.push(`| ${label} | ${detail} | ${ok === null ? 'n/a' : ok ? 'MET' : 'MISSED'} |`);
  const vsFloor = (name: string, r: RunResult | null, floor: RunResult) =>
    target(
      `${name} ≥ 55 % of the node:http floor, p99 < 20 ms (50 conns)`,
      r ? r.rps / floor.rps >= 0.55 && r.p99 < 20 : null,
      r ? `${fmt((r.rps / floor.rps) * 100)} % (${fmt(r.rps)} / ${fmt(floor.rps)} req/s), p99 ${fmt(r.p99, 2)} ms` : 'endpoint missing',
    );
  vsFloor('catalog', s.catalogResult, s.httpCatalog);
  vsFloor('config', s.configResult, s.httpConfig);
  const cpuX = s.catalogResult ? (s.catalogResult.cpuUsPerReq ?? NaN) / (s.fastifyCatalog.cpuUsPerReq ?? NaN) : NaN;
  target(
    'catalog CPU/request ≤ 1.5× the bare Fastify route',
    s.catalogResult ? cpuX <= 1.5 : null,
    s.catalogResult ? `${fmt(cpuX, 2)}× (${fmt(s.catalogResult.cpuUsPerReq)} vs ${fmt(s.fastifyCatalog.cpuUsPerReq)} µs)` : 'endpoint missing',
  );
  target('purchase overhead p50 < 5 ms', s.purchaseOverhead ? s.purchaseOverhead.p50 < 5 : null, s.purchaseOverhead ? `${fmt(s.purchaseOverhead.p50, 2)} ms` : (s.purchaseNote ?? 'n/a'));
  target(`catalog p99 < 100 ms while ${LOGIN_RATE} logins/s (bcrypt 12) run`, s.mixedCatalog ? s.mixedCatalog.p99 < 100 : null, s.mixedCatalog ? `p99 ${fmt(s.mixedCatalog.p99, 1)} ms` : 'n/a');
  target('idle RSS after start < 100 MB', s.memory.idleMb < 100, `${fmt(s.memory.idleMb)} MB`);
  target('RSS after the bench < 160 MB', s.memory.afterMb < 160, `${fmt(s.memory.afterMb)} MB (peak ${fmt(s.memory.peakMb)} MB)`);
  target('start → /ready < 1.5 s (up-to-date database)', s.start.readyMs < 1500, `${fmt(s.start.readyMs)} ms`);
  if (s.tool === 'autocannon') lines.push('', '**Measured with autocannon (fallback): install `wrk` for honest ratios.**');
  return lines.join('\n');
}

main()
  .catch((err) => {
    process.stderr.write(`[bench] falló: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => void cleanup().then(() => process.exit()));
