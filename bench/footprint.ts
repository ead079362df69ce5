/**
 * `npm run bench:footprint`: the idle memory of a production instance, repeatably and in a few seconds
 * (`npm run bench` measures it once, among everything else). The production build on a throwaway database,
 * started as `npm start` starts it (its flags and environment, BENCH_START_FLAGS / BENCH_START_ENV override
 * them as in the bench), migrated by a first start; then `--starts` (default 3) starts on the up-to-date
 * database, each sampled `--at` seconds after /ready (default 2,5: `npm run bench` reads its idle figure 2 s
 * after /ready) from /proc/<pid>/smaps_rollup (RSS; anonymous memory: V8's heap, malloc; file-backed: node's
 * binary and libraries). Prints each start and the medians at each point, and the time to /ready (wall and
 * the process's CPU time, steadier on a shared machine).
 *
 * Options: --entry <dist/server.js> (an existing build laid out as deploy/install.sh lays it out; default a
 * fresh `npm run build`), --json (one JSON line at the end).
 */
import { readFileSync } from 'node:fs';
import { cleanup, cpuMs, createThrowawayDatabase, freePort, productionBuild, serviceEnv, sleep, startEnv, startFlags, startService } from './harness.js';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const STARTS = Number(arg('--starts') ?? 3);
const AT_S = (arg('--at') ?? '2,5').split(',').map(Number).sort((a, b) => a - b);

type Memory = ReturnType<typeof rollup>;

/** smaps_rollup lines in MB: Rss, Anonymous, Shmem (file-backed is what is left of Rss). */
function rollup(pid: number): { rssMb: number; anonMb: number; fileMb: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  const rss = kb('Rss');
  const anon = kb('Anonymous');
  return { rssMb: rss / 1024, anonMb: anon / 1024, fileMb: (rss - anon - kb('Shmem')) / 1024 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const entry = arg('--entry') ?? productionBuild();
  const db = await createThrowawayDatabase('ph_footprint');
  const env = serviceEnv(db.url, await freePort());
  process.stderr.write(`[footprint] node ${[...startFlags(), entry].join(' ')} (env ${JSON.stringify(startEnv())})\n`);
  const first = await startService(env, { entry });
  await first.stop();
  const readyMs: number[] = [];
  const readyCpuMs: number[] = [];
  // samples[j][i]: start i, AT_S[j] seconds after /ready.
  const samples: Memory[][] = AT_S.map(() => []);
  const mb = (n: number) => n.toFixed(1);
  for (let i = 0; i < STARTS; i++) {
    const s = await startService(env, { entry });
    const ready = performance.now();
    readyMs.push(s.readyMs);
    // The machine is shared: CPU time to /ready is the steadier figure.
    readyCpuMs.push(cpuMs(s.pid));
    const line: string[] = [];
    for (const [j, at] of AT_S.entries()) {
      await sleep(Math.max(0, ready + at * 1000 - performance.now()));
      const m = rollup(s.pid);
      samples[j].push(m);
      line.push(`${at} s: ${mb(m.rssMb)} MB (anon ${mb(m.anonMb)}, file ${mb(m.fileMb)})`);
    }
    await s.stop();
    process.stderr.write(`[footprint] start ${i + 1}: /ready ${s.readyMs.toFixed(0)} ms (CPU ${readyCpuMs[i]} ms); RSS ${line.join('; ')}\n`);
  }
  await db.drop();
  const round = (n: number) => Math.round(n * 10) / 10;
  const result = {
    starts: STARTS,
    readyMs: Math.round(median(readyMs)),
    readyCpuMs: Math.round(median(readyCpuMs)),
    at: AT_S.map((at, j) => ({
      s: at,
      rssMb: round(median(samples[j].map((m) => m.rssMb))),
      anonMb: round(median(samples[j].map((m) => m.anonMb))),
      fileMb: round(median(samples[j].map((m) => m.fileMb))),
    })),
  };
  const text = result.at.map((a) => `${a.s} s after /ready ${a.rssMb} MB (anon ${a.anonMb}, file-backed ${a.fileMb})`).join('; ');
  process.stdout.write(args.includes('--json') ? JSON.stringify(result) + '\n' : `idle RSS, medians of ${STARTS} starts: ${text}; /ready ${result.readyMs} ms (CPU ${result.readyCpuMs} ms)\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
