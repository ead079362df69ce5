/**
 * A/B of the portal's hottest read (GET catalogo_perfiles_venta, router key, 50 connections, wrk) between
 * service variants on one seeded database, interleaved round by round beside the bare node:http floor, so
 * that a change's effect is not confused with the machine's drift (a single bench run varies by ±15 %).
 * Usage: npx tsx bench/ab.ts '<json variants>' [rounds]; a variant is {name, entry?, flags?, env?}: entry a
 * built dist/server.js (default: a fresh production build), flags node's flags (default npm start's).
 * Prints per variant the median req/s, CPU µs/request (user / system) and the ratio to the floor.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, cleanup, createThrowawayDatabase, freePort, productionBuild, serviceEnv, startJsonServerChild, startService, sleep } from './harness.js';
import { PROFILES, ROUTER_PASSWORD, ROUTER_USER, startBenchFakes } from './fakes.js';
import { seed } from './seed.js';

interface Variant { name: string; entry?: string; flags?: string; env?: Record<string, string> }
const variants = JSON.parse(process.argv[2] ?? '[{"name":"current"}]') as Variant[];
const ROUNDS = Number(process.argv[3] ?? 3);
const PATH = '/api/v1/catalogo_perfiles_venta';

function ticks(pid: number): { user: number; system: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(f[11]), system: Number(f[12]) };
}

function wrk(url: string, headers: Record<string, string>, seconds: number): Promise<number> {
  const args = ['-t1', '-c50', `-d${seconds}s`, ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', () => {
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (m && !/Non-2xx/.test(out)) resolve(Number(m[1]));
      else reject(new Error(out));
    });
  });
}

async function measure(pid: number, url: string, headers: Record<string, string>) {
  await wrk(url, headers, 2);
  const a = ticks(pid);
  const t0 = Date.now();
  const rps = await wrk(url, headers, 6);
  const b = ticks(pid);
  const n = (rps * (Date.now() - t0)) / 1000;
  // Clock ticks are 10 ms.
  return { rps, user: ((b.user - a.user) * 10_000) / n, system: ((b.system - a.system) * 10_000) / n };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const db = await createThrowawayDatabase('ph_ab');
  const fakes = await startBenchFakes();
  const port = await freePort();
  const env = serviceEnv(db.url, port, { CONEKTA_API_BASE: fakes.conekta.url });
  const build = productionBuild();
  const first = await startService(env, { entry: build });
  const seeded = await seed(first.url, env, { routerHost: fakes.router.host, routerPort: fakes.router.port, routerUser: ROUTER_USER, routerPassword: ROUTER_PASSWORD, profiles: PROFILES, products: 6 });
  const headers = { authorization: `Bearer ${seeded.routerKey}` };
  const body = await (await fetch(`${first.url}${PATH}`, { headers })).text();
  await first.stop();
  const bodyFile = join(tmpdir(), `ph-ab-body-${process.pid}.json`);
  writeFileSync(bodyFile, body);
  const floor = await startJsonServerChild<{ port: number }>(join(ROOT, 'bench/floor.ts'), ['http', bodyFile, bodyFile]);
  const floorUrl = `http://127.0.0.1:${floor.info.port}${PATH}`;

  const results = new Map<string, { rps: number[]; user: number[]; system: number[]; ratio: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const prevFlags = process.env.BENCH_START_FLAGS;
      if (v.flags !== undefined) process.env.BENCH_START_FLAGS = v.flags;
      const s = await startService({ ...env, ...v.env }, { entry: v.entry ?? build });
      if (prevFlags === undefined) delete process.env.BENCH_START_FLAGS;
      else process.env.BENCH_START_FLAGS = prevFlags;
      await sleep(500);
      const r = await measure(s.pid, `${s.url}${PATH}`, headers);
      await s.stop();
      const f = await measure(floor.child.pid!, floorUrl, {});
      const acc = results.get(v.name) ?? { rps: [], user: [], system: [], ratio: [] };
      acc.rps.push(r.rps); acc.user.push(r.user); acc.system.push(r.system); acc.ratio.push(r.rps / f.rps);
      results.set(v.name, acc);
      process.stderr.write(`[ab] round ${round + 1} ${v.name}: ${r.rps.toFixed(0)} req/s, ${(r.user + r.system).toFixed(1)} µs (${r.user.toFixed(1)} user), floor ${f.rps.toFixed(0)} (${(f.user + f.system).toFixed(1)} µs), ${((100 * r.rps) / f.rps).toFixed(0)} %\n`);
    }
  }
  for (const [name, r] of results) {
    console.log(`${name.padEnd(24)} ${median(r.rps).toFixed(0).padStart(6)} req/s  ${(median(r.user) + median(r.system)).toFixed(1)} µs/req (user ${median(r.user).toFixed(1)}, system ${median(r.system).toFixed(1)})  ${(100 * median(r.ratio)).toFixed(0)} % of the floor`);
  }
  await floor.stop();
  await fakes.stop();
  await db.drop();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => void cleanup().then(() => process.exit()));
