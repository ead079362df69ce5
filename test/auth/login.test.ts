import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { eq } from 'drizzle-orm';
import { SUPER_ADMIN, bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createUser } from '../helpers/fixtures.js';
import { usuarios } from '../../src/infra/db/schema.js';

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/legacy-fixtures.json', import.meta.url), 'utf8'));

describe('login, logout and password change', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '4', LOGIN_MAX_FAILURES_PER_IP: '10' } });
  });
  after(async () => t.close());

  const login = (email: string, password: string, ip = '10.0.0.1') =>
    t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: ip });

  it('the bootstrapped super admin logs in with the legacy response shape and claims', async () => {
    const res = await login(SUPER_ADMIN.email, SUPER_ADMIN.password);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(Object.keys(res.data), ['access_token', 'token_type', 'expires_at', 'user']);
    assert.equal(res.data.token_type, 'bearer');
    assert.match(res.data.expires_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    assert.deepEqual(res.data.user, { id: res.data.user.id, email: SUPER_ADMIN.email, nombre: 'Super Administrador', rol: 'super_admin', empresa_id: null, activo: true });
    const claims = decodeJwt(res.data.access_token);
    assert.deepEqual(decodeProtectedHeader(res.data.access_token), { alg: 'HS256', typ: 'JWT' });
    assert.equal(claims.sub, String(res.data.user.id));
    assert.equal(claims.email, SUPER_ADMIN.email);
    assert.equal(claims.rol, 'super_admin');
    assert.equal(claims.empresa_id, null);
    assert.equal(claims.type, 'access_token');
    assert.equal((claims.exp as number) - (claims.iat as number), 24 * 3600);
    const expiresAt = new Date(res.data.expires_at + 'Z').getTime() / 1000;
    assert.equal(expiresAt, claims.exp);
  });

  it('bootstrap is idempotent: a second instance on the same database creates no second super admin', async () => {
    const second = await startTestApp({ database: t.database });
    await second.close();
    const rows = await t.ctx.db.orm.select().from(usuarios).where(eq(usuarios.rol, 'super_admin'));
    assert.equal(rows.length, 1);
    assert.match(rows[0].passwordHash, /^\$2b\$04\$/);
  });

  it('login matches emails case-insensitively after normalising like the legacy (domain lower-cased)', async () => {
    const res = await login('  SuperAdmin@EXAMPLE.com ', SUPER_ADMIN.password);
    assert.equal(res.statusCode, 200, res.body);
  });

  it('wrong password, unknown email and inactive account give the same 401', async () => {
    const empresa = await createEmpresa(t.ctx);
    const inactive = await createUser(t.ctx, { empresaId: empresa.id, activo: false });
    for (const [email, password] of [
      [SUPER_ADMIN.email, 'nope'],
      ['nobody@example.com', 'x'],
      [inactive.email, inactive.password],
    ]) {
      const res = await login(email, password, '10.0.0.2');
      assert.equal(res.statusCode, 401);
      assert.deepEqual(res.data, { detail: 'Credenciales incorrectas', code: 'invalid_credentials' });
    }
  });

  it('a company admin of an inactive company cannot log in', async () => {
    const empresa = await createEmpresa(t.ctx, { activa: false });
    const u = await createUser(t.ctx, { empresaId: empresa.id });
    const res = await login(u.email, u.password, '10.0.0.3');
    assert.equal(res.statusCode, 401);
  });

  it('validation errors have the legacy 422 shape', async () => {
    const bad = await login('not-an-email', 'x');
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.data.code, 'validation_error');
    assert.deepEqual(bad.data.detail[0].loc, ['body', 'email']);
    assert.equal(bad.data.detail[0].type, 'value_error');
    assert.equal(bad.data.detail[0].msg, 'value is not a valid email address: An email address must have an @-sign.');

    const special = await login('admin@host.local', 'x');
    assert.equal(special.statusCode, 422);

    const missing = await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: {} });
    assert.equal(missing.statusCode, 422);
    assert.deepEqual(
      missing.data.detail.map((d: { type: string; loc: string[]; msg: string }) => [d.type, d.loc, d.msg]),
      [
        ['missing', ['body', 'email'], 'Field required'],
        ['missing', ['body', 'password'], 'Field required'],
      ],
    );

    const malformed = await t.request({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email":' });
    assert.equal(malformed.statusCode, 422);
    assert.equal(malformed.data.detail[0].type, 'json_invalid');

    const noBody = await t.request({ method: 'POST', url: '/api/v1/auth/login' });
    assert.equal(noBody.statusCode, 422);
    assert.deepEqual(noBody.data.detail[0].loc, ['body']);

    const wrongType = await login(12345 as unknown as string, 'x');
    assert.equal(wrongType.statusCode, 422);
  });

  it('verifies a bcrypt $2b$12$ hash made by Python', async () => {
    const empresa = await createEmpresa(t.ctx);
    await t.ctx.db.orm.insert(usuarios).values({ email: 'python@example.com', passwordHash: fixtures.bcrypt.hash, nombre: 'Py', rol: 'cliente_admin', empresaId: empresa.id });
    const res = await login('python@example.com', fixtures.bcrypt.password, '10.0.0.4');
    assert.equal(res.statusCode, 200, res.body);
  });

  it('rate-limits failed logins per account, without blocking the right password from elsewhere forever', async () => {
    const empresa = await createEmpresa(t.ctx);
    const u = await createUser(t.ctx, { empresaId: empresa.id });
    for (let i = 0; i < 4; i++) assert.equal((await login(u.email, 'wrong', `10.1.0.${i}`)).statusCode, 401);
    const blocked = await login(u.email, u.password, '10.1.0.99');
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.data.code, 'rate_limited');
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    // Another account is unaffected.
    const other = await createUser(t.ctx, { empresaId: empresa.id });
    assert.equal((await login(other.email, other.password, '10.1.0.100')).statusCode, 200);
  });

  it('rate-limits failed logins per IP across accounts', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await login(`ghost${i}@example.com`, 'x', '10.2.0.1')).statusCode, 401);
    const blocked = await login(SUPER_ADMIN.email, SUPER_ADMIN.password, '10.2.0.1');
    assert.equal(blocked.statusCode, 429);
    assert.equal((await login(SUPER_ADMIN.email, SUPER_ADMIN.password, '10.2.0.2')).statusCode, 200);
  });

  it('logout revokes the sessions issued before it', async () => {
    const empresa = await createEmpresa(t.ctx);
    const u = await createUser(t.ctx, { empresaId: empresa.id });
    const token1 = await t.login(u.email, u.password);
    const token2 = await t.login(u.email, u.password);
    const out = await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token1) });
    assert.equal(out.statusCode, 200);
    assert.deepEqual(out.data, { message: 'Sesión cerrada exitosamente' });
    for (const tok of [token1, token2]) {
      const res = await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(tok) });
      assert.equal(res.statusCode, 401);
      assert.equal(res.data.detail, 'Token inválido');
    }
    const fresh = await t.login(u.email, u.password);
    assert.equal((await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(fresh) })).statusCode, 200);
  });

  it('change-password: wrong current is 400, weak new is 400, success revokes old sessions', async () => {
    const empresa = await createEmpresa(t.ctx);
    const u = await createUser(t.ctx, { empresaId: empresa.id });
    const token = await t.login(u.email, u.password);
    const wrong = await t.request({ method: 'POST', url: '/api/v1/auth/change-password', headers: bearer(token), payload: { current_password: 'wrong', new_password: 'x' } });
    assert.equal(wrong.statusCode, 400);
    assert.deepEqual(wrong.data, { detail: 'Contraseña actual incorrecta', code: 'wrong_password' });
    const weak = await t.request({ method: 'POST', url: '/api/v1/auth/change-password', headers: bearer(token), payload: { current_password: u.password, new_password: 'short' } });
    assert.equal(weak.statusCode, 400);
    assert.equal(weak.data.code, 'weak_password');
    const ok = await t.request({ method: 'POST', url: '/api/v1/auth/change-password', headers: bearer(token), payload: { current_password: u.password, new_password: 'NuevaClave2026!' } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.data.message, 'Contraseña actualizada exitosamente');
    assert.equal((await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) })).statusCode, 401);
    assert.equal((await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(ok.data.access_token) })).statusCode, 200);
    assert.equal((await login(u.email, u.password, '10.3.0.1')).statusCode, 401);
    assert.equal((await login(u.email, 'NuevaClave2026!', '10.3.0.1')).statusCode, 200);
  });


  it('neither the bootstrap password nor login passwords reach the logs', async () => {
    const lines: string[] = [];
    const secret = 'Secreto-Que-No-Se-Loguea-1';
    const second = await startTestApp({
      database: t.database,
      logLines: lines,
      env: { LOG_LEVEL: 'debug', SUPER_ADMIN_INITIAL_EMAIL: 'otro-admin@example.com', SUPER_ADMIN_INITIAL_PASSWORD: secret },
    });
    try {
      assert.equal((await second.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'otro-admin@example.com', password: secret } })).statusCode, 200);
      await second.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'otro-admin@example.com', password: secret + 'x' } });
    } finally {
      await second.close();
    }
    const all = lines.join('');
    assert.match(all, /super admin inicial creado/);
    assert.match(all, /\/api\/v1\/auth\/login/);
    assert.ok(!all.includes(secret));
  });
});

describe('login limits shared through Redis (REDIS_URL)', () => {
  it('failures counted on one instance block the account on another', async () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' };
    const a = await startTestApp({ env });
    const b = await startTestApp({ env, database: a.database });
    try {
      const email = `shared-${Date.now()}-${Math.random().toString(16).slice(2)}@example.com`;
      for (let i = 0; i < 3; i++) {
        const res = await a.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: 'x' }, remoteAddress: `10.9.0.${i}` });
        assert.equal(res.statusCode, 401);
      }
      const blocked = await b.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: 'x' }, remoteAddress: '10.9.1.1' });
      assert.equal(blocked.statusCode, 429);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('an unreachable Redis does not break login (local counters take over)', async () => {
    const t = await startTestApp({ env: { REDIS_URL: 'redis://127.0.0.1:1', LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' } });
    try {
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: SUPER_ADMIN })).statusCode, 200);
      for (let i = 0; i < 2; i++) await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: SUPER_ADMIN.email, password: 'bad' } });
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: SUPER_ADMIN })).statusCode, 429);
    } finally {
      await t.close();
    }
  });
});
