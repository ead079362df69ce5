/**
 * A/B of the portal's hottest read (GET catalogo_perfiles_venta, router key, 50 connections, wrk) between
 * service variants on one seeded database, interleaved round by round beside the bare node:http floor, so
 * that a change's effect is not confused with the machine's drift (a single bench run varies by ±15 %).
 * Usage: npx tsx bench/ab.ts '<json variants>' [rounds]; a variant is {name, entry?, flags?, env?}: entry a
 * built dist/server.js (default: a fresh production build), flags node's flags (default npm start's).
 * Prints per variant the median req/s, CPU µs/request (user / system) and the ratio to the floor.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, cleanup, cpuTimesMs, createThrowawayDatabase, freePort, productionBuild, runJsonChild, serviceEnv, startJsonServerChild, startService, sleep } from './harness.js';
import type { Run, RunResult } from './load.js';
import { PROFILES, ROUTER_PASSWORD, ROUTER_USER, startBenchFakes } from './fakes.js';
import { seed } from './seed.js';

interface Variant { name: string; entry?: string; flags?: string; env?: Record<string, string> }
const variants = JSON.parse(process.argv[2] ?? '[{"name":"current"}]') as Variant[];
const ROUNDS = Number(process.argv[3] ?? 3);
const PATH = '/api/v1/catalogo_perfiles_venta';

/** A 50-connection wrk run from bench/load.ts (its own process, the bench's runner); CPU of `pid` per request. */
async function measure(pid: number, url: string, headers: Record<string, string>) {
  const run = (durationS: number): Run => ({ kind: 'autocannon', name: 'ab', url, headers, connections: 50, durationS });
  const once = async (durationS: number) => (await runJsonChild<{ results: RunResult[] }>(join(ROOT, 'bench/load.ts'), [JSON.stringify({ runs: [run(durationS)] })]).result).results[0];
  await once(2);
  const a = cpuTimesMs(pid);
  const r = await once(6);
  const b = cpuTimesMs(pid);
  if (r.tool !== 'wrk' || r.non2xx > 0 || r.errors > 0) throw new Error(`ab: ${r.tool}, ${r.non2xx} no-2xx, ${r.errors} errores en ${url}`);
  return { rps: r.rps, user: ((b.user - a.user) * 1000) / r.requests, system: ((b.system - a.system) * 1000) / r.requests };
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
      const s = await startService({ ...env, ...v.env }, { entry: v.entry ?? build, startFlags: v.flags?.split(' ').filter(Boolean) });
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
