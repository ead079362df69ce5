import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testEnv } from '../helpers/app.js';
import { ROOT, buildInto, firstAnswer, freePort, startProcess, tempDir } from '../helpers/production.js';

/** The [Service] settings of a unit file that matter for starting it (one value each). */
function unitSettings(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) (out[m[1]] ??= []).push(m[2]);
  }
  return out;
}

describe('deploy/install.sh and the systemd unit', () => {
  const build = tempDir('ph-install-build-');
  const prefix = tempDir('ph-install-prefix-');
  let db: TestDatabase;
  before(async () => {
    buildInto(build.path);
    db = await createTestDatabase('postgres');
  });
  after(async () => {
    await db?.drop();
    build.remove();
    prefix.remove();
  });

  it('installs into a prefix; started as ExecStart says, it serves /ready, drains an in-flight request on SIGTERM and exits 0', async () => {
    const r = spawnSync('bash', [join(ROOT, 'deploy/install.sh'), prefix.path], {
      encoding: 'utf8',
      env: { ...process.env, DIST: join(build.path, 'dist'), NODE_MODULES_FROM: join(ROOT, 'node_modules') },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const f of ['dist/server.js', 'dist/server.js.map', 'dist/assets/login.html', 'migrations', 'package.json', '.env', 'pagos-hotspot.service'])
      assert.ok(existsSync(join(prefix.path, f)), `${f} installed`);
    assert.equal(statSync(join(prefix.path, '.env')).mode & 0o077, 0, '.env readable by its owner only');

    const unit = unitSettings(readFileSync(join(prefix.path, 'pagos-hotspot.service'), 'utf8'));
    assert.deepEqual(unit.WorkingDirectory, [prefix.path]);
    assert.deepEqual(unit.EnvironmentFile, [join(prefix.path, '.env')]);
    assert.deepEqual(unit.Restart, ['on-failure']);
    assert.deepEqual(unit.KillSignal, ['SIGTERM']);
    assert.ok(Number(unit.TimeoutStopSec?.[0]) > 30, 'systemd waits longer than the service drains');
    assert.ok(unit.User?.[0], 'runs as its own user');

    // The operator's .env (the install never overwrites an existing one).
    const port = await freePort();
    const values = testEnv({ DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'info', DRAIN_DELAY_MS: '1500' });
    writeFileSync(join(prefix.path, '.env'), Object.entries(values).map(([k, v]) => `${k}=${v ?? ''}`).join('\n') + '\n');
    const again = spawnSync('bash', [join(ROOT, 'deploy/install.sh'), prefix.path], {
      encoding: 'utf8',
      env: { ...process.env, DIST: join(build.path, 'dist'), NODE_MODULES_FROM: join(ROOT, 'node_modules') },
    });
    assert.equal(again.status, 0, again.stderr);
    assert.match(readFileSync(join(prefix.path, '.env'), 'utf8'), new RegExp(`PORT=${port}`), 're-install keeps .env');

    // As systemd would: the unit's environment (EnvironmentFile, then Environment=), its directory, its command.
    const env: Record<string, string | undefined> = { PATH: '/usr/local/bin:/usr/bin:/bin' };
    Object.assign(env, parseDotenv(readFileSync(unit.EnvironmentFile[0], 'utf8')));
    for (const e of unit.Environment ?? []) env[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
    assert.equal(env.NODE_ENV, 'production');
    const [command, ...args] = unit.ExecStart[0].split(' ');
    // Plain node on the bundle, no loader, with the same flags as `npm start`.
    const startTokens = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start.split(' ');
    // `NAME=value` before node: the unit sets the same with Environment=.
    const isAssignment = (t: string) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(t);
    for (const a of startTokens.filter(isAssignment)) assert.ok((unit.Environment ?? []).includes(a), `the unit sets ${a} as npm start does`);
    const startScript = startTokens.filter((t) => !isAssignment(t));
    assert.equal(startScript.at(-1), 'dist/server.js');
    assert.deepEqual(args, [...startScript.slice(1, -1), join(prefix.path, 'dist/server.js')], 'ExecStart runs what npm start runs');
    const p = startProcess(command, args, { cwd: unit.WorkingDirectory[0], env });
    try {
      const ready = await firstAnswer(p, `http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 200, p.output());

      // A request in flight when SIGTERM arrives: headers and half its body sent.
      const body = JSON.stringify({ email: 'nadie@example.com', password: 'incorrecta-123' });
      const sock = connect(port, '127.0.0.1');
      await once(sock, 'connect');
      let response = '';
      sock.on('data', (d) => (response += String(d)));
      const closed = once(sock, 'close');
      sock.write(`POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      sock.write(body.slice(0, 10));
      // The request has reached the service once its log says so.
      while (!p.output().includes('/api/v1/auth/login')) await new Promise((r) => setTimeout(r, 20));
      p.child.kill('SIGTERM');
      while (!p.output().includes('"apagando"')) await new Promise((r) => setTimeout(r, 20));
      // Draining: first /ready says 503 (a load balancer's health check takes the instance out) …
      const readyWhileDraining = await fetch(`http://127.0.0.1:${port}/ready`).then(
        async (res) => `${res.status} ${((await res.json()) as { code?: string }).code}`,
        () => 'refused',
      );
      assert.equal(readyWhileDraining, '503 draining');
      // … then, after DRAIN_DELAY_MS, new connections are no longer accepted.
      const probe = () =>
        fetch(`http://127.0.0.1:${port}/health`).then(
          (res) => res.status,
          () => 'refused',
        );
      let refused: number | string = await probe();
      const until = Date.now() + 20_000;
      while (refused === 200 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        refused = await probe();
      }
      assert.ok(refused === 'refused' || refused === 503, `new request after the drain delay: ${refused}`);
      sock.write(body.slice(10));
      await closed;
      assert.match(response, /^HTTP\/1\.1 401 /, `the in-flight request was answered: ${response.slice(0, 200)}`);
      const { code } = await p.exited;
      assert.equal(code, 0, p.output());
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
});
