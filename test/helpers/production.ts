/** The production build as a test sees it: compiled into a temporary directory and started with plain node. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Metafile {
  inputs: Record<string, { bytes: number }>;
  outputs: Record<string, { bytes: number; inputs?: Record<string, unknown>; imports?: Array<{ path: string; kind: string; external?: boolean }> }>;
}

/** `npm run build` (service only) into <dir>/dist; returns esbuild's metafile. */
export function buildInto(dir: string): Metafile {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--outdir', join(dir, 'dist'), '--no-panel'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed (${r.status}): ${r.stdout}${r.stderr}`);
  return JSON.parse(readFileSync(join(dir, 'dist', 'meta.json'), 'utf8')) as Metafile;
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  return port;
}

export interface StartedProcess {
  child: ChildProcess;
  /** Everything it wrote (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn and collect output; `exited` resolves on exit. */
export function startProcess(command: string, args: string[], opts: { cwd: string; env: Record<string, string | undefined> }): StartedProcess {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return { child, output: () => out, exited };
}

/** Poll GET url until it answers (any status) or the process exits; returns the first response. */
export async function firstAnswer(p: StartedProcess, url: string): Promise<Response> {
  let dead = false;
  void p.exited.then(() => (dead = true));
  for (;;) {
    if (dead) throw new Error(`the process exited before answering: ${p.output()}`);
    try {
      return await fetch(url);
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
