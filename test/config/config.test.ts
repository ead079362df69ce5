import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, readEnvironment } from '../../src/config/index.js';
import { startTestApp, testEnv, type TestApp } from '../helpers/app.js';
import { createTestDatabase, testDbKind } from '../helpers/db.js';

const REQUIRED = ['DATABASE_URL', 'JWT_APIKEY_SECRET', 'JWT_SESSION_SECRET', 'SECRET_KEY', 'SUPER_ADMIN_INITIAL_EMAIL', 'SUPER_ADMIN_INITIAL_PASSWORD'];

describe('configuration', () => {
  for (const name of REQUIRED) {
    it(`refuses to load without ${name}, naming it`, () => {
      const env = testEnv({ [name]: undefined });
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.message.includes(name));
    });
  }

  it('names every missing variable at once', () => {
    try {
      loadConfig({});
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      for (const name of REQUIRED) assert.match(err.message, new RegExp(name));
    }
  });

  it('applies the documented defaults', () => {
    const c = loadConfig(testEnv({ BCRYPT_ROUNDS: undefined, PORT: undefined, HOST: undefined }));
    assert.equal(c.databasePoolSize, 20);
    assert.equal(c.jwtAlgorithm, 'HS256');
    assert.equal(c.jwtApikeyExpireDays, 365);
    assert.equal(c.jwtSessionExpireHours, 24);
    assert.equal(c.bcryptRounds, 12);
    assert.deepEqual(c.corsOrigins, []);
    assert.equal(c.appName, 'MikroTik Payment API');
    assert.equal(c.debug, false);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.port, 8000);
    assert.equal(c.provisionDeadlineMinutes, 30);
    assert.equal(c.telegramApiBase, 'https://api.telegram.org');
  });

  it('accepts the three PostgreSQL URL forms and pglite', () => {
    for (const [raw, expected] of [
      ['postgresql+asyncpg://u:p@h:5432/db', 'postgresql://u:p@h:5432/db'],
      ['postgresql://u:p@h:5432/db', 'postgresql://u:p@h:5432/db'],
      ['postgres://u:p@h/db', 'postgresql://u:p@h/db'],
    ]) {
      const c = loadConfig(testEnv({ DATABASE_URL: raw }));
      assert.deepEqual(c.database, { kind: 'postgres', url: expected });
    }
    assert.deepEqual(loadConfig(testEnv({ DATABASE_URL: 'pglite:./data/db' })).database, { kind: 'pglite', url: './data/db' });
    assert.deepEqual(loadConfig(testEnv({ DATABASE_URL: 'pglite:memory' })).database, { kind: 'pglite', url: 'memory' });
    assert.throws(() => loadConfig(testEnv({ DATABASE_URL: 'mysql://x' })), /DATABASE_URL/);
  });

  it('accepts CORS origins as a JSON array or a comma list', () => {
    assert.deepEqual(loadConfig(testEnv({ BACKEND_CORS_ORIGINS: '["https://a.mx","https://b.mx"]' })).corsOrigins, ['https://a.mx', 'https://b.mx']);
    assert.deepEqual(loadConfig(testEnv({ BACKEND_CORS_ORIGINS: 'https://a.mx, https://b.mx' })).corsOrigins, ['https://a.mx', 'https://b.mx']);
    assert.throws(() => loadConfig(testEnv({ BACKEND_CORS_ORIGINS: '[1,2' })), /BACKEND_CORS_ORIGINS/);
  });

  it('limits JWT_ALGORITHM to HS256/HS384/HS512', () => {
    assert.equal(loadConfig(testEnv({ JWT_ALGORITHM: 'HS512' })).jwtAlgorithm, 'HS512');
    assert.throws(() => loadConfig(testEnv({ JWT_ALGORITHM: 'RS256' })), /JWT_ALGORITHM/);
    assert.throws(() => loadConfig(testEnv({ JWT_ALGORITHM: 'none' })), /JWT_ALGORITHM/);
  });

  it('refuses malformed numbers and an invalid Fernet key', () => {
    assert.throws(() => loadConfig(testEnv({ BCRYPT_ROUNDS: 'doce' })), /BCRYPT_ROUNDS/);
    assert.throws(() => loadConfig(testEnv({ ENCRYPTION_KEY_MERCADO_PAGO: 'not-a-key' })), /ENCRYPTION_KEY_MERCADO_PAGO/);
  });

  it('reads .env at the project root, and the real environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-env-'));
    writeFileSync(join(dir, '.env'), 'APP_NAME=Desde dotenv\nJWT_ALGORITHM=HS384\n');
    const env = readEnvironment(dir, { JWT_ALGORITHM: 'HS512' });
    assert.equal(env.APP_NAME, 'Desde dotenv');
    assert.equal(env.JWT_ALGORITHM, 'HS512');
  });

  it('the service exits 1 with one clear message and no stack trace when variables are missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-start-'));
    const res = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(process.cwd(), 'src/server.ts')], {
      cwd: dir,
      env: { PATH: process.env.PATH, JWT_SESSION_SECRET: 'x' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(res.status, 1, res.stderr);
    for (const name of REQUIRED.filter((n) => n !== 'JWT_SESSION_SECRET')) assert.match(res.stderr, new RegExp(name));
    assert.doesNotMatch(res.stderr, /JWT_SESSION_SECRET/);
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  });
});

describe('configuration through HTTP', () => {
  const apps: TestApp[] = [];
  after(async () => {
    for (const a of apps.reverse()) await a.close();
  });

  it('runs on a postgresql+asyncpg:// URL', { skip: testDbKind() === 'pglite' }, async () => {
    const db = await createTestDatabase('postgres');
    const t = await startTestApp({ database: db, env: { DATABASE_URL: db.url.replace('postgresql://', 'postgresql+asyncpg://') } });
    apps.push({ ...t, close: async () => (await t.close(), await db.drop()) });
    const res = await t.request({ method: 'GET', url: '/ready' });
    assert.equal(res.statusCode, 200);
  });

  for (const [form, value] of [
    ['JSON array', '["https://portal.example.com"]'],
    ['comma list', 'https://otro.example.com,https://portal.example.com'],
  ]) {
    it(`allows the configured CORS origins (${form}) and no others`, async () => {
      const t = await startTestApp({ env: { BACKEND_CORS_ORIGINS: value } });
      apps.push(t);
      const ok = await t.request({ method: 'OPTIONS', url: '/api/v1/auth/login', headers: { origin: 'https://portal.example.com', 'access-control-request-method': 'POST' } });
      assert.equal(ok.headers['access-control-allow-origin'], 'https://portal.example.com');
      const no = await t.request({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example.com' } });
      assert.equal(no.headers['access-control-allow-origin'], undefined);
    });
  }

  it('APP_NAME is the OpenAPI title', async () => {
    const t = await startTestApp({ env: { APP_NAME: 'Hotspot Pruebas' } });
    apps.push(t);
    const res = await t.request({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.data.info.title, 'Hotspot Pruebas');
  });
});

describe('TRUST_PROXY and ROUTER_ALLOWED_NETWORKS (issue 12)', () => {
  it('TRUST_PROXY: false, a hop count (true = 1) or a list of proxy addresses/CIDRs; anything else stops the start', () => {
    const tp = (v: string) => loadConfig(testEnv({ TRUST_PROXY: v })).trustProxy;
    assert.equal(tp('false'), false);
    assert.equal(tp('0'), false);
    assert.equal(tp('true'), 1);
    assert.equal(tp('2'), 2);
    assert.deepEqual(tp('10.0.0.0/8, 192.168.1.10'), ['10.0.0.0/8', '192.168.1.10']);
    assert.throws(() => tp('sometimes'), /TRUST_PROXY/);
    assert.throws(() => tp('10.0.0.0/99'), /TRUST_PROXY/);
  });

  it('ROUTER_ALLOWED_NETWORKS: a CIDR list replaces the default; a bad entry stops the start', () => {
    assert.equal(loadConfig(testEnv({ ROUTER_ALLOWED_NETWORKS: '' })).routeros.allowedNetworks, null);
    assert.deepEqual(loadConfig(testEnv({ ROUTER_ALLOWED_NETWORKS: '10.8.0.0/16' })).routeros.allowedNetworks, ['10.8.0.0/16']);
    assert.throws(() => loadConfig(testEnv({ ROUTER_ALLOWED_NETWORKS: '10.8.0.0/16,router.example.com' })), /ROUTER_ALLOWED_NETWORKS/);
  });

  it('a CIDR list of proxies believes X-Forwarded-For only from them (the audit IP is the real client)', async () => {
    const t = await startTestApp({ env: { TRUST_PROXY: '127.0.0.1/32', LOGIN_MAX_FAILURES_PER_IP: '3' } });
    try {
      // Through our proxy (127.0.0.1): the client address it appended is believed, not the spoofed one before it.
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await t.request({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.20` }, payload: { email: `nadie${i}@example.com`, password: 'x' } });
        codes.push(res.statusCode);
      }
      assert.deepEqual(codes, [401, 401, 401, 429, 429]);
      // From elsewhere the header is ignored: the peer address counts.
      const direct = await t.request({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '198.51.100.99', headers: { 'x-forwarded-for': '203.0.113.20' }, payload: { email: 'otro@example.com', password: 'x' } });
      assert.equal(direct.statusCode, 401);
    } finally {
      await t.close();
    }
  });
});

describe('PUBLIC_BASE_URL (issue 13: card data only on our HTTPS page)', () => {
  const load = (url: string | undefined, nodeEnv?: string) => loadConfig(testEnv({ PUBLIC_BASE_URL: url, NODE_ENV: nodeEnv }));

  it('in production a non-empty PUBLIC_BASE_URL must be https; the refusal names the variable', () => {
    assert.equal(load('https://pagos.example.com', 'production').publicBaseUrl, 'https://pagos.example.com');
    for (const bad of ['http://pagos.example.com', 'http://10.0.0.5:8000', 'http://localhost.example.com']) {
      assert.throws(() => load(bad, 'production'), (e: unknown) => e instanceof ConfigError && /PUBLIC_BASE_URL/.test(e.message) && /https/.test(e.message), bad);
    }
  });

  it('http://localhost and http://127.0.0.1 stay allowed in production (browsers treat them as secure contexts)', () => {
    assert.equal(load('http://localhost:8000', 'production').publicBaseUrl, 'http://localhost:8000');
    assert.equal(load('http://127.0.0.1:8000/', 'production').publicBaseUrl, 'http://127.0.0.1:8000');
  });

  it('outside production http is accepted; anything that is not an http(s) URL never is', () => {
    assert.equal(load('http://pagos.example.com').publicBaseUrl, 'http://pagos.example.com');
    for (const bad of ['pagos.example.com', 'ftp://pagos.example.com', 'https://u:p@pagos.example.com', 'https://pagos.example.com/?x=1']) {
      assert.throws(() => load(bad), /PUBLIC_BASE_URL/, bad);
    }
  });

  it('empty (legacy .env): the service starts, says why checkout and kits are off, and they answer 409 public_base_url_required', async () => {
    const lines: string[] = [];
    const t = await startTestApp({ env: { PUBLIC_BASE_URL: '', NODE_ENV: 'production', LOG_LEVEL: 'warn' }, logLines: lines });
    try {
      const warned = lines.map((l) => JSON.parse(l) as { msg?: string }).find((l) => /PUBLIC_BASE_URL/.test(l.msg ?? ''));
      assert.ok(warned, 'the start-up log names PUBLIC_BASE_URL');
      assert.match(warned!.msg!, /checkout|pago/i);
      const res = await t.request({ method: 'POST', url: '/api/v1/checkout/sesiones', headers: { 'x-api-key': 'x' }, payload: {} });
      assert.equal(res.statusCode, 409);
      assert.equal(res.data.code, 'public_base_url_required');
      assert.match(res.data.detail, /PUBLIC_BASE_URL/);
      const page = await t.request({ method: 'GET', url: '/pagar/abc' });
      assert.equal(page.statusCode, 409);
      assert.equal(page.data.code, 'public_base_url_required');
    } finally {
      await t.close();
    }
  });
});
