/**
 * The load generator, run as its own process so that it never shares an event loop with the service.
 * Usage: node --import tsx bench/load.ts '<json job>'; prints one JSON line with the results.
 *
 * A job is a list of runs started at the same moment (so "catalog while logins run" is one job):
 * - `autocannon` runs: fixed connections for a duration, optionally at a fixed overall rate; plain
 *   fixed-connection runs (no rate, no count, no per-request key) go to Debian's `wrk` when it is installed
 *   (C, one thread: it does not saturate before the service on 2 cores as autocannon does), else autocannon;
 * - `sequential` runs: one request at a time, each timed here, with the fake servers' time during it read
 *   from the fakes' control endpoint, so the service's own overhead is total minus fake time.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { hasWrk } from './wrk.js';

export interface AutocannonRun {
  kind: 'autocannon';
  name: string;
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationS: number;
  overallRate?: number;
  /** Stop after this many requests (before durationS if reached). */
  amount?: number;
  /** Give each request its own Idempotency-Key header (purchases). Any `{{uuid}}` in the body is replaced per request too. */
  uniqueIdempotencyKey?: boolean;
}

export interface SequentialRun {
  kind: 'sequential';
  name: string;
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body: string;
  count: number;
  /** GET → {busyMs: number}: cumulative time the fakes spent answering (via their timing proxies). */
  fakeStatsUrl?: string;
  /** Status codes that count as success. */
  okStatus?: number[];
}

export type Run = AutocannonRun | SequentialRun;

export interface RunResult {
  name: string;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  durationS: number;
  /** Sequential runs: per-request total minus fake time, percentiles in ms. */
  overhead?: { p50: number; p90: number; p99: number; fakeP50: number; totalP50: number };
  sampleError?: string;
  /** CPU time of the measured server process per request, µs (filled in by bench/run.ts). */
  cpuUsPerReq?: number;
  /** The load generator that drove it. */
  tool: 'wrk' | 'autocannon' | 'sequential';
}

/** Runs wrk can drive: a fixed number of connections as fast as the server answers. */
export function wrkCanRun(run: AutocannonRun): boolean {
  return !process.env.BENCH_AUTOCANNON && !run.overallRate && !run.amount && !run.uniqueIdempotencyKey && hasWrk();
}

// wrk's Lua hook prints the summary as JSON (latency in µs; status errors are non-2xx/3xx responses).
const WRK_REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
`;

async function runWrk(run: AutocannonRun): Promise<RunResult> {
  const script = join(tmpdir(), `ph-bench-wrk-${process.pid}.lua`);
  let lua = WRK_REPORT;
  if (run.method === 'POST' || run.body) lua += `wrk.method = ${JSON.stringify(run.method ?? 'POST')}\nwrk.body = ${JSON.stringify(run.body ?? '')}\n`;
  writeFileSync(script, lua);
  const args = ['-t1', `-c${run.connections}`, `-d${run.durationS}s`, '--timeout', '30s', '-s', script];
  for (const [k, v] of Object.entries(run.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(run.url);
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (code !== 0 || !line) throw new Error(`wrk terminó con ${code}: ${out.slice(-500)}`);
  const r = JSON.parse(line.slice(8)) as { requests: number; duration_us: number; p50: number; p90: number; p99: number; max: number; errors: number; non2xx: number };
  const durationS = r.duration_us / 1e6;
  return {
    name: run.name,
    requests: r.requests,
    rps: r.requests / durationS,
    p50: r.p50 / 1000,
    p90: r.p90 / 1000,
    p99: r.p99 / 1000,
    max: r.max / 1000,
    errors: r.errors,
    non2xx: r.non2xx,
    statusCodes: {},
    durationS,
    tool: 'wrk',
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function runAutocannon(run: AutocannonRun): Promise<RunResult> {
  if (wrkCanRun(run)) return runWrk(run);
  const result = await autocannon({
    url: run.url,
    method: run.method ?? 'GET',
    headers: run.headers,
    body: run.body,
    connections: run.connections,
    duration: run.durationS,
    overallRate: run.overallRate,
    amount: run.amount,
    timeout: 30,
    requests: run.uniqueIdempotencyKey
      ? [
          {
            setupRequest: (req) => {
              const id = randomUUID();
              return { ...req, headers: { ...req.headers, 'idempotency-key': id }, body: run.body?.replaceAll('{{uuid}}', id) };
            },
          },
        ]
      : undefined,
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries((result as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {})) statusCodes[code] = v.count;
  return {
    name: run.name,
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    durationS: result.duration,
    tool: 'autocannon',
  };
}

async function fakeBusyMs(url: string | undefined): Promise<number> {
  if (!url) return 0;
  const res = await fetch(url);
  return ((await res.json()) as { busyMs: number }).busyMs;
}

async function runSequential(run: SequentialRun): Promise<RunResult> {
  const totals: number[] = [];
  const overheads: number[] = [];
  const fakes: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let sampleError: string | undefined;
  const ok = new Set(run.okStatus ?? [200]);
  const started = performance.now();
  for (let i = 0; i < run.count; i++) {
    const id = randomUUID();
    const before = await fakeBusyMs(run.fakeStatsUrl);
    const t0 = performance.now();
    let status = 0;
    try {
      const res = await fetch(run.url, {
        method: run.method,
        headers: { 'content-type': 'application/json', 'idempotency-key': id, ...run.headers },
        body: run.method === 'GET' ? undefined : run.body.replaceAll('{{uuid}}', id),
      });
      status = res.status;
      const text = await res.text();
      if (!ok.has(status)) sampleError ??= `${status} ${text.slice(0, 300)}`;
    } catch (err) {
      errors++;
      sampleError ??= (err as Error).message;
    }
    const total = performance.now() - t0;
    const fake = (await fakeBusyMs(run.fakeStatsUrl)) - before;
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
    if (ok.has(status)) {
      totals.push(total);
      fakes.push(fake);
      overheads.push(Math.max(0, total - fake));
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const t = [...totals].sort((a, b) => a - b);
  const o = [...overheads].sort((a, b) => a - b);
  const f = [...fakes].sort((a, b) => a - b);
  return {
    name: run.name,
    requests: run.count,
    rps: run.count / elapsed,
    p50: percentile(t, 50),
    p90: percentile(t, 90),
    p99: percentile(t, 99),
    max: t[t.length - 1] ?? NaN,
    errors,
    non2xx: run.count - totals.length - errors,
    statusCodes,
    durationS: elapsed,
    overhead: { p50: percentile(o, 50), p90: percentile(o, 90), p99: percentile(o, 99), fakeP50: percentile(f, 50), totalP50: percentile(t, 50) },
    sampleError,
    tool: 'sequential',
  };
}

const job = JSON.parse(process.argv[2]) as { runs: Run[] };
const results = await Promise.all(job.runs.map((r) => (r.kind === 'autocannon' ? runAutocannon(r) : runSequential(r))));
process.stdout.write(JSON.stringify({ results }) + '\n');
