import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testEnv } from '../helpers/app.js';
import { ROOT, buildInto, firstAnswer, freePort, startProcess, tempDir, type Metafile } from '../helpers/production.js';

describe('the production build (npm run build → dist/server.js)', () => {
  const dir = tempDir('ph-build-');
  let meta: Metafile;
  let db: TestDatabase;
  before(async () => {
    meta = buildInto(dir.path);
    // The layout the install script produces: dist/ beside migrations/ and node_modules/.
    symlinkSync(join(ROOT, 'migrations'), join(dir.path, 'migrations'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir.path, 'node_modules'));
    db = await createTestDatabase('postgres');
  });
  after(async () => {
    await db?.drop();
    dir.remove();
  });

  it('bundles the service without the sandbox, the tests, the bench, the drill or a TypeScript loader', () => {
    const inputs = Object.keys(meta.inputs);
    assert.ok(inputs.includes('src/server.ts'), 'the entry is src/server.ts');
    assert.ok(inputs.some((i) => i.startsWith('src/modules/payments/')), 'the payment module is in the bundle');
    const foreign = inputs.filter((i) => /^(sandbox|test|bench|drill|scripts)\//.test(i) || /node_modules\/(tsx|esbuild|autocannon|smtp-server|fast-check)\//.test(i));
    assert.deepEqual(foreign, [], 'test-only code in the production bundle');
    assert.ok(Object.keys(meta.outputs).some((o) => o.endsWith('dist/server.js.map')), 'source map written');
    // The portal kit's template files, read beside the module at run time, travel with the bundle.
    for (const f of ['login.html', 'portal.js', 'portal.css']) assert.ok(existsSync(join(dir.path, 'dist/assets', f)), f);
  });

  it('loads what only some instances use on first use: PGlite, ioredis, nodemailer, pdfkit and qrcode are outside what dist/server.js imports at start', () => {
    // dist/'s files by name (esbuild keys them by their path from the working directory).
    const outputs = new Map(Object.entries(meta.outputs).map(([path, o]) => [basename(path), o]));
    // Everything start-up loads: server.js, the chunks it imports statically, and the external packages they do.
    const files = new Set<string>(['server.js']);
    const packages = new Set<string>();
    const visit = (file: string) => {
      for (const i of outputs.get(file)?.imports ?? []) {
        if (i.kind === 'dynamic-import') continue;
        if (i.external) packages.add(i.path);
        else if (!files.has(basename(i.path))) {
          files.add(basename(i.path));
          visit(basename(i.path));
        }
      }
    };
    visit('server.js');
    assert.ok(packages.has('bcrypt'), 'the walk sees the external packages loaded at start');
    for (const lazy of ['@electric-sql/pglite', 'pdfkit']) assert.ok(!packages.has(lazy), `${lazy} is imported at start`);
    const bundledAtStart = [...files].flatMap((f) => Object.keys(outputs.get(f)?.inputs ?? {}));
    for (const pkg of ['drizzle-orm/pglite', 'ioredis', 'nodemailer', 'qrcode'])
      assert.deepEqual(bundledAtStart.filter((input) => input.includes(`node_modules/${pkg}/`)), [], `${pkg} is in the code loaded at start`);
  });

  it('starts with plain node, answers /health and /ready on PostgreSQL, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const env = { PATH: process.env.PATH, ...testEnv({ DATABASE_URL: db.url, PORT: String(port), NODE_ENV: 'production', LOG_LEVEL: 'info' }) };
    const p = startProcess(process.execPath, [join(dir.path, 'dist/server.js')], { cwd: dir.path, env });
    try {
      const ready = await firstAnswer(p, `http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 200, p.output());
      assert.deepEqual(await ready.json(), { status: 'ready' });
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      const doc = await fetch(`http://127.0.0.1:${port}/openapi.json`);
      assert.equal(doc.status, 200);
      p.child.kill('SIGTERM');
      const { code } = await p.exited;
      assert.equal(code, 0, p.output());
      assert.match(p.output(), /migración aplicada/);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  it('starts on PGlite too, from the chunk it loads on first use, and serves a login', async () => {
    const port = await freePort();
    const values = testEnv({ DATABASE_URL: 'pglite:memory', PORT: String(port), NODE_ENV: 'production', LOG_LEVEL: 'info' });
    const env = { PATH: process.env.PATH, ...values };
    const p = startProcess(process.execPath, [join(dir.path, 'dist/server.js')], { cwd: dir.path, env });
    try {
      const ready = await firstAnswer(p, `http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 200, p.output());
      const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: values.SUPER_ADMIN_INITIAL_EMAIL, password: values.SUPER_ADMIN_INITIAL_PASSWORD }),
      });
      assert.equal(login.status, 200, await login.clone().text());
      p.child.kill('SIGTERM');
      const { code } = await p.exited;
      assert.equal(code, 0, p.output());
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
});
