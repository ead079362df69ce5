import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { loadConfig } from '../../src/config/index.js';
import { migrate, openDatabase } from '../../src/infra/db/index.js';
import { testEnv } from '../helpers/app.js';

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/legacy-fixtures.json', import.meta.url), 'utf8'));
const legacySchema = readFileSync(new URL('../fixtures/legacy-schema.sql', import.meta.url), 'utf8');
const rk = fixtures.router_key;

/** The legacy schema with rows shaped as the legacy service wrote them. */
async function loadLegacyDatabase(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(legacySchema);
    await c.query(
      `INSERT INTO empresas (id, nombre, contacto_email, conekta_private_key, conekta_public_key, conekta_mode, mercado_pago_access_token, activa)
       VALUES ('EMP_6692D1F6DA', 'Hotspot Legado SA', 'legado@example.com', 'key_legacy_private', 'key_legacy_public', 'test', $1, true)`,
      [fixtures.fernet.token],
    );
    await c.query(
      `INSERT INTO usuarios (id, rol, empresa_id, email, password_hash, nombre, activo) VALUES
       (1, 'super_admin', NULL, 'legacy@example.com', $1, 'Legacy', true),
       (2, 'cliente_admin', 'EMP_6692D1F6DA', 'cliente@example.com', $1, 'Cliente', true)`,
      [fixtures.bcrypt.hash],
    );
    await c.query(`SELECT setval('usuarios_id_seq', 2)`);
    await c.query(
      `INSERT INTO routers (id, empresa_id, nombre, host, puerto, usuario, password_encrypted, ubicacion, api_key_hash, activo)
       VALUES ('RTR_2E0A7278', 'EMP_6692D1F6DA', 'Router Lobby', '192.0.2.10', 8728, 'admin', 'clear-router-pass', 'Lobby', $1, true)`,
      [rk.key_hash],
    );
    const iat = new Date(rk.claims.iat * 1000).toISOString().replace('T', ' ').replace('Z', '');
    const exp = new Date(rk.claims.exp * 1000).toISOString().replace('T', ' ').replace('Z', '');
    await c.query(
      `INSERT INTO api_keys_tracking (key_id, empresa_id, router_id, key_hash, issued_at, expires_at, revoked, last_used, use_count)
       VALUES ($1, 'EMP_6692D1F6DA', 'RTR_2E0A7278', $2, $3, $4, false, NULL, 1000),
              ($5, 'EMP_6692D1F6DA', 'RTR_2E0A7278', $6, $3, $3, true, NULL, 3)`,
      [rk.key_id, rk.key_hash, iat, exp, rk.expired_key_id, rk.expired_key_hash],
    );
    await c.query(
      `INSERT INTO productos (empresa_id, router_id, perfil_mikrotik_id, perfil_mikrotik_nombre, nombre_venta, precio, detalles)
       VALUES ('EMP_6692D1F6DA', 'RTR_2E0A7278', '*2', '1hora', 'Ficha 1 hora', 10.50, '["• Conexión inmediata"]')`,
    );
    await c.query(
      `INSERT INTO transacciones (transaccion_id, empresa_id, router_id, producto_id, monto, estado_pago, estado_hotspot, usuario_hotspot, password_hotspot, pagada_en)
       VALUES ('ord_legacy_1', 'EMP_6692D1F6DA', 'RTR_2E0A7278', 1, 10.50, 'paid', 'active', 'PT-ABCDE', '1234', now())`,
    );
  } finally {
    await c.end();
  }
}

describe('adopting a database created by the legacy service', { skip: process.env.TEST_DB === 'pglite' }, () => {
  let db: TestDatabase;
  let t: TestApp;
  before(async () => {
    db = await createTestDatabase('postgres');
    t = await startTestApp({
      database: db,
      beforeMigrate: loadLegacyDatabase,
      env: { JWT_APIKEY_SECRET: rk.secret, JWT_SESSION_SECRET: fixtures.session.secret, ENCRYPTION_KEY_MERCADO_PAGO: fixtures.fernet.key, SUPER_ADMIN_INITIAL_EMAIL: 'legacy@example.com' },
    });
  });
  after(async () => {
    await t.close();
    await db.drop();
  });

  it('keeps every legacy row and only adds', async () => {
    const counts = await t.ctx.db.query<{ e: number; u: number; r: number; k: number; p: number; tx: number }>(
      `SELECT (SELECT count(*) FROM empresas) e, (SELECT count(*) FROM usuarios) u, (SELECT count(*) FROM routers) r,
              (SELECT count(*) FROM api_keys_tracking) k, (SELECT count(*) FROM productos) p, (SELECT count(*) FROM transacciones) tx`,
    );
    assert.deepEqual(counts[0], { e: 1, u: 2, r: 1, k: 2, p: 1, tx: 1 });
    const cols = await t.ctx.db.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'api_keys_tracking' AND column_name = 'revoked_at'`,
    );
    assert.equal(cols.length, 1);
    const legacyConstraint = await t.ctx.db.query(`SELECT 1 FROM pg_constraint WHERE conname = 'productos_empresa_id_router_id_fkey'`);
    assert.equal(legacyConstraint.length, 1, 'the legacy composite FK is kept');
    const alembic = await t.ctx.db.query(`SELECT version_num FROM alembic_version`);
    assert.equal(alembic.length, 1, 'foreign tables are left alone');
  });

  it('the bootstrap does not touch an existing super admin', async () => {
    const rows = await t.ctx.db.query<{ password_hash: string }>(`SELECT password_hash FROM usuarios WHERE email = 'legacy@example.com'`);
    assert.equal(rows[0].password_hash, fixtures.bcrypt.hash);
  });

  it('a legacy user logs in with the password behind its Python bcrypt hash', async () => {
    const token = await t.login('cliente@example.com', fixtures.bcrypt.password);
    assert.ok(token);
  });

  it('a session token minted by the legacy service (PyJWT) is accepted', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(fixtures.session.token) });
    assert.equal(res.statusCode, 200, res.body);
    // ...and logout revoked it.
    const again = await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(fixtures.session.token) });
    assert.equal(again.statusCode, 401);
  });

  it('a router key minted by the legacy service (float iat/exp) works, and its use is counted', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(rk.api_key) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.router.id, 'RTR_2E0A7278');
    assert.equal(res.data.empresa.id, 'EMP_6692D1F6DA');
    await t.ctx.routerKeys.flushUsage();
    const rows = await t.ctx.db.query<{ use_count: number; last_used: string | null }>(`SELECT use_count, last_used FROM api_keys_tracking WHERE key_id = $1`, [rk.key_id]);
    assert.equal(rows[0].use_count, 1001);
    assert.ok(rows[0].last_used);
  });

  it('the legacy revoked key and an expired legacy key are refused', async () => {
    const expired = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(rk.expired_api_key) });
    assert.equal(expired.statusCode, 401);
    assert.equal(expired.data.detail, 'API Key expirada');
  });

  it('the legacy Fernet-encrypted Mercado Pago token stays readable', async () => {
    const rows = await t.ctx.db.query<{ mercado_pago_access_token: string }>(`SELECT mercado_pago_access_token FROM empresas`);
    assert.equal(t.ctx.secrets.mercadoPago.decrypt(rows[0].mercado_pago_access_token), fixtures.fernet.plaintext);
  });
});

describe('migrations', { skip: process.env.TEST_DB === 'pglite' }, () => {
  it('several instances migrating one empty database at once apply each file exactly once', async () => {
    const db = await createTestDatabase('postgres');
    try {
      const config = loadConfig(testEnv({ DATABASE_URL: db.url }));
      const handles = await Promise.all([1, 2, 3].map(() => openDatabase(config.database, { poolSize: 2 })));
      try {
        const results = await Promise.all(handles.map((h) => migrate(h)));
        const applied = results.flat();
        assert.equal(new Set(applied).size, applied.length, 'no file applied twice');
        assert.ok(applied.includes('0001_legacy_schema.sql'));
        assert.deepEqual(await migrate(handles[0]), [], 'a later run has nothing to do');
      } finally {
        await Promise.all(handles.map((h) => h.close()));
      }
    } finally {
      await db.drop();
    }
  });
});
