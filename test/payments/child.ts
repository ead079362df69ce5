/** Spawn test/payments/child-service.ts and wait for its URL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { testEnv } from '../helpers/app.js';

export interface Child {
  url: string;
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL from outside. */
  kill(): Promise<void>;
  /** Graceful stop (SIGTERM). */
  stop(): Promise<void>;
}

export async function spawnService(env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/payments/child-service.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, ...testEnv({ WORKERS_ENABLED: 'true', PORT: '0', HOST: '127.0.0.1', ...env }) } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    void exited.then(({ code, signal }) => reject(new Error(`el servicio terminó antes de arrancar (${code ?? signal}): ${stderr.slice(-2000)}`)));
  });
  return {
    url,
    proc,
    exited,
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
