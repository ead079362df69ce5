import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createTestDatabase, testDbKind } from '../helpers/db.js';
import { testEnv } from '../helpers/app.js';
import { freePort } from '../helpers/production.js';

describe('the production entry (src/server.ts)', () => {
  it('migrates, serves on PORT, logs JSON with request ids, and exits 0 on SIGTERM', async () => {
    const db = await createTestDatabase(testDbKind());
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'src/server.ts'], {
      env: { PATH: process.env.PATH, ...testEnv({ DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'info' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    try {
      let res: Response | null = null;
      for (let i = 0; i < 200 && !res; i++) {
        try {
          res = await fetch(`http://127.0.0.1:${port}/ready`, { headers: { 'x-request-id': 'req-probe-1' } });
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.ok(res, `the service did not start: ${out}`);
      assert.equal(res.status, 200);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0, out);
      const lines = out.split('\n').filter((l) => l.startsWith('{'));
      assert.ok(lines.length > 0);
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(parsed.some((l) => l.reqId === 'req-probe-1'), 'request logs carry the request id');
      // Issue 12: without METRICS_TOKEN /metrics stays open, and the start-up log says so.
      assert.ok(parsed.some((l) => typeof l.msg === 'string' && l.msg.includes('METRICS_TOKEN')), 'start-up log names the open /metrics');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await db.drop();
    }
  });
});
