import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testEnv } from '../helpers/app.js';
import { ROOT, buildInto, firstAnswer, freePort, startProcess, tempDir, type Metafile } from '../helpers/production.js';

describe('the production build (npm run build → dist/server.js)', () => {
  const dir = tempDir('ph-build-');
  let meta: Metafile;
  let db: TestDatabase;
  before(async () => {
    meta = buildInto(dir.path);
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

  it('starts with plain node, answers /health and /ready on PostgreSQL, and exits 0 on SIGTERM', async () => {
    // The layout the install script produces: dist/ beside migrations/ and node_modules/.
    symlinkSync(join(ROOT, 'migrations'), join(dir.path, 'migrations'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir.path, 'node_modules'));
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
});
