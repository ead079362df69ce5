/**
 * The simulator checked by a client nobody here wrote: Debian's python3-librouteros logs in (plain and
 * API-SSL), prints with .proplist and queries, adds, updates and removes users, sees traps and !fatal.
 * `.ci/run` installs python3-librouteros when it is missing; without it this file is skipped, loudly.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./librouteros-client.py', import.meta.url));

function librouterosAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import librouteros'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = librouterosAvailable();

describe('simulator vs python3-librouteros', { skip: available ? false : 'python3-librouteros no está instalado (apt-get install python3-librouteros)' }, () => {
  const sims: RouterSimulator[] = [];
  after(async () => {
    for (const s of sims) await s.close();
  });

  for (const [version, mode] of [
    ['6', 'plain'],
    ['7', 'plain'],
    ['7', 'tls'],
  ] as const) {
    it(`RouterOS v${version} over ${mode}`, async () => {
      const sim = await startRouterSimulator({ version, tls: mode === 'tls', identity: 'Sim Python' });
      sims.push(sim);
      const { stdout } = await promisify(execFile)(PYTHON, [SCRIPT, sim.host, String(sim.port), mode], { timeout: 30_000 });
      const out = JSON.parse(stdout);
      assert.equal(out.bad_login, 'invalid user name or password (6)');
      assert.deepEqual(out.identity, [{ name: 'Sim Python' }]);
      assert.deepEqual(out.version, [{ version: version === '6' ? '6.49.10 (long-term)' : '7.18.2 (stable)' }]);
      assert.equal(out.ret, '*1');
      assert.deepEqual(out.query, [{ '.id': '*1', name: 'PT-PY001', password: 'abc1', 'limit-uptime': '1h' }]);
      assert.deepEqual(out.empty, []);
      assert.equal(out.dup, 'failure: already have user with this name for this server');
      assert.deepEqual(out.after_update, ['cambiado']);
      assert.deepEqual(out.after_remove, []);
      assert.equal(out.fatal, 'session terminated on request');
      // What the simulator saw: the plain login, then the query words librouteros builds.
      assert.deepEqual(sim.received('/login')[1].words, ['/login', '=name=admin', '=password=xyz']);
      const print = sim.received('/ip/hotspot/user/print').find((c) => c.words.includes('?=name=PT-PY001'))!;
      assert.deepEqual(print.words, ['/ip/hotspot/user/print', '=.proplist=.id,name,password,limit-uptime', '?=name=PT-PY001']);
    });
  }
});
