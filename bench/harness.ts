/**
 * Shared machinery of `npm run bench` and `npm run drill`: a throwaway PostgreSQL database, the service as
 * a child process with production settings, its memory, and small HTTP helpers. Nothing here is a mock:
 * the service is started exactly as `npm start` starts it, only with other URLs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export const SUPER_ADMIN = { email: 'bench-superadmin@example.com', password: 'BenchSuperAdmin123!' };

export interface ThrowawayDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh database on the local server, dropped by `drop()` (also on Ctrl-C, see `onExit`). */
export async function createThrowawayDatabase(prefix: string): Promise<ThrowawayDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  let dropped = false;
  const db: ThrowawayDatabase = {
    name,
    url,
    async drop() {
      if (dropped) return;
      dropped = true;
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
  onExit(() => db.drop());
  return db;
}

export async function adminQuery<T = Record<string, unknown>>(text: string, params: unknown[] = [], url = PG_ADMIN_URL): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

/** The environment of a production instance (bcrypt 12, warn logs, workers on), pointed at local fakes. */
export function serviceEnv(databaseUrl: string, port: number, extra: Record<string, string> = {}): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'TZ'];
  const base: Record<string, string> = {};
  for (const k of keep) if (process.env[k]) base[k] = process.env[k]!;
  return {
    ...base,
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '20',
    JWT_APIKEY_SECRET: 'bench-apikey-secret-0123456789abcdef0123456789',
    JWT_SESSION_SECRET: 'bench-session-secret-0123456789abcdef012345678',
    SECRET_KEY: 'bench-secret-key-0123456789abcdef0123456789abcd',
    SUPER_ADMIN_INITIAL_EMAIL: SUPER_ADMIN.email,
    SUPER_ADMIN_INITIAL_PASSWORD: SUPER_ADMIN.password,
    BCRYPT_ROUNDS: '12',
    LOG_LEVEL: 'warn',
    // Services run without a load balancer unless a caller says so (the HAProxy drill keeps the default).
    DRAIN_DELAY_MS: '0',
    WORKERS_ENABLED: 'true',
    HOST: '127.0.0.1',
    PORT: String(port),
    // Nothing leaves this machine: unknown gateways point at a closed local port unless a fake is given.
    CONEKTA_API_BASE: 'http://127.0.0.1:9',
    MERCADO_PAGO_API_BASE: 'http://127.0.0.1:9',
    TELEGRAM_API_BASE: 'http://127.0.0.1:9',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    // The simulated routers listen on loopback, which the default router networks refuse.
    ROUTER_ALLOWED_NETWORKS: '127.0.0.1/32',
    // Drills settle within seconds: a charge the fake never recorded is declared unpaid after 3 s, not 6 h.
    PAYMENT_NOT_FOUND_HORIZON_MS: '3000',
    ...extra,
    // BENCH_SERVICE_ENV='{"NAME":"value"}': measure the service with other settings (while profiling).
    ...(process.env.BENCH_SERVICE_ENV ? (JSON.parse(process.env.BENCH_SERVICE_ENV) as Record<string, string>) : {}),
  };
}

export interface ServiceProcess {
  pid: number;
  /** Milliseconds from spawn to the first 200 from /ready. */
  readyMs: number;
  url: string;
  child: ChildProcess;
  /** stderr/stdout lines (the service logs JSON at warn and above). */
  output: string[];
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait (graceful shutdown); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

/** `npm start` (package.json: `[NAME=value ...] node <flags> dist/server.js`): its environment assignments and node flags. */
function startScript(): { env: Record<string, string>; flags: string[] } {
  const tokens = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start.split(' ').filter(Boolean);
  const env: Record<string, string> = {};
  while (tokens.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(tokens[0])) {
    const t = tokens.shift()!;
    env[t.slice(0, t.indexOf('='))] = t.slice(t.indexOf('=') + 1);
  }
  return { env, flags: tokens.slice(1, -1) };
}

/** The node flags of `npm start`, so a build runs as it does. */
export function startFlags(): string[] {
  // BENCH_START_FLAGS="..." measures other flags (e.g. "" for none) without editing package.json.
  if (process.env.BENCH_START_FLAGS !== undefined) return process.env.BENCH_START_FLAGS.split(' ').filter(Boolean);
  return startScript().flags;
}

/** The environment `npm start` sets before node (e.g. MALLOC_ARENA_MAX); BENCH_START_ENV={} measures without. */
export function startEnv(): Record<string, string> {
  if (process.env.BENCH_START_ENV !== undefined) return JSON.parse(process.env.BENCH_START_ENV) as Record<string, string>;
  return startScript().env;
}

let built: string | null = null;

/**
 * The production build (`npm run build`, service only) in a temporary directory laid out as
 * deploy/install.sh lays it out (dist/ beside migrations/ and node_modules/); returns dist/server.js.
 * Built once per process, removed at exit.
 */
export function productionBuild(): string {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'ph-build-'));
  onExit(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--outdir', join(dir, 'dist'), '--no-panel'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build falló: ${r.stdout}${r.stderr}`);
  symlinkSync(join(ROOT, 'migrations'), join(dir, 'migrations'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  built = join(dir, 'dist', 'server.js');
  return built;
}

/**
 * Start the service and wait until /ready answers: `src/server.ts` under tsx, or with `entry` a built
 * `dist/server.js` with plain node, as `npm start` does. `readyMs` is spawn → first 200 from /ready.
 */
export async function startService(
  env: Record<string, string>,
  opts: { nodeArgs?: string[]; readyTimeoutMs?: number; entry?: string; /** node's flags for a build instead of npm start's */ startFlags?: string[] } = {},
): Promise<ServiceProcess> {
  const t0 = performance.now();
  const entryArgs = opts.entry ? [...(opts.startFlags ?? startFlags()), opts.entry] : ['--import', 'tsx', join(ROOT, 'src/server.ts')];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...entryArgs], {
    cwd: opts.entry ? dirname(dirname(opts.entry)) : ROOT,
    // As `npm start`, whose assignments win over the inherited environment.
    env: opts.entry ? { ...env, ...startEnv() } : env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) output.push(line);
    if (output.length > 5000) output.splice(0, output.length - 5000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  let exitedNow = false;
  void exited.then(() => (exitedNow = true));
  const url = `http://127.0.0.1:${env.PORT}`;
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!exitedNow) child.kill(signal);
  };
  onExit(() => kill('SIGKILL'));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exitedNow) throw new Error(`el servicio terminó al arrancar:\n${output.slice(-20).join('\n')}`);
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      kill();
      throw new Error(`el servicio no quedó listo:\n${output.slice(-20).join('\n')}`);
    }
    await sleep(20);
  }
  const readyMs = performance.now() - t0;
  return {
    readyMs,
    pid: child.pid!,
    url,
    child,
    output,
    exited,
    kill,
    async stop(graceMs = 20_000) {
      if (exitedNow) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** /proc/<pid>/status memory lines in MB (VmRSS now, VmHWM peak). */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** User and system CPU time a process has used so far, in ms (from /proc/<pid>/stat, 100 ticks/s). */
export function cpuTimesMs(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "(comm)": state is field 3, utime field 14, stime field 15 (1-based) → indexes 11 and 12 here.
    return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMs(pid: number): number {
  const t = cpuTimesMs(pid);
  return t.user + t.system;
}

/** Samples a process's RSS every `everyMs` and keeps the maximum. */
export class RssSampler {
  maxRssMb = 0;
  last: { rssMb: number; hwmMb: number } | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, everyMs = 250) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    this.sample();
  }

  sample() {
    const m = memoryOf(this.pid);
    if (m) {
      this.last = m;
      this.maxRssMb = Math.max(this.maxRssMb, m.rssMb, m.hwmMb);
    }
    return m;
  }

  stop() {
    clearInterval(this.timer);
    return this.sample();
  }
}

export interface Json {
  status: number;
  data: any;
  headers: Headers;
  ms: number;
}

/** fetch + JSON with a timeout; never throws for HTTP statuses. */
export async function http(baseUrl: string, method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Json> {
  const started = performance.now();
  const res = await fetch(baseUrl + path, {
    method,
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let data: unknown = text;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, data, headers: res.headers, ms: performance.now() - started };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Spawn a TypeScript helper (`node --import tsx file args`) and parse the last JSON line it prints. */
export function runJsonChild<T>(file: string, args: string[], opts: { env?: Record<string, string>; onLine?: (line: string) => void } = {}): { child: ChildProcess; result: Promise<T> } {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  onExit(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    if (opts.onLine) {
      let i: number;
      while ((i = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, i);
        out = out.slice(i + 1);
        opts.onLine(line);
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const result = new Promise<T>((res, rej) => {
    child.once('exit', (code) => {
      const lines = out.trim().split('\n').filter(Boolean);
      if (code !== 0 || lines.length === 0) return rej(new Error(`${file} terminó con ${code}: ${err.slice(-2000)}`));
      try {
        res(JSON.parse(lines[lines.length - 1]) as T);
      } catch {
        rej(new Error(`${file}: salida no JSON: ${out.slice(-500)}`));
      }
    });
  });
  return { child, result };
}

/** A child that prints one JSON line when it is ready (a server), then keeps running until killed. */
export async function startJsonServerChild<T>(file: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ info: T; child: ChildProcess; stop(): Promise<void> }> {
  let resolveInfo!: (v: T) => void;
  const got = new Promise<T>((r) => (resolveInfo = r));
  const { child, result } = runJsonChild<T>(file, args, { env, onLine: (line) => line.trim().startsWith('{') && resolveInfo(JSON.parse(line) as T) });
  const info = await Promise.race([got, result.then(() => Promise.reject(new Error(`${file} terminó antes de estar listo`)))]);
  result.catch(() => undefined);
  return {
    info,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([done, sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

const exitHooks: Array<() => unknown> = [];
let hooked = false;

/** Run cleanups on Ctrl-C / SIGTERM too (throwaway databases, child processes). */
export function onExit(fn: () => unknown): void {
  exitHooks.push(fn);
  if (hooked) return;
  hooked = true;
  const run = async (code: number) => {
    for (const f of exitHooks.reverse()) {
      try {
        await f();
      } catch {
        /* best effort */
      }
    }
    process.exit(code);
  };
  process.once('SIGINT', () => void run(130));
  process.once('SIGTERM', () => void run(143));
}

/** Run the registered cleanups now (normal end of a command). */
export async function cleanup(): Promise<void> {
  while (exitHooks.length) {
    const f = exitHooks.pop()!;
    try {
      await f();
    } catch {
      /* best effort */
    }
  }
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  postgres: string;
  os: string;
}

export async function machineInfo(): Promise<MachineInfo> {
  let os: string = process.platform;
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os;
  } catch {
    /* not Linux */
  }
  const [v] = await adminQuery<{ server_version: string }>('SHOW server_version');
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres: `PostgreSQL ${v.server_version}`,
    os,
  };
}

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/** Does the source tree have this module yet (the purchase path lands in stages)? */
export async function tryImport<T>(relativeToRoot: string): Promise<T | null> {
  try {
    return (await import(join(ROOT, relativeToRoot))) as T;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(relativeToRoot.split('/').pop()!.replace(/\.(js|ts)$/, ''))) return null;
    throw err;
  }
}
