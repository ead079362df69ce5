/**
 * Races the legacy lost (weakness 9.2-18): simultaneous key regenerations leave exactly one active key;
 * simultaneous creations of one email give one success and 400s, never a 500. Requests run concurrently
 * on the real app and a real PostgreSQL (several pooled connections).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter } from '../helpers/fixtures.js';
import { apiKeysTracking, routers, usuarios } from '../../src/infra/db/schema.js';
import { hashApiKeyJwt } from '../../src/modules/auth/router-keys.js';
import { asAdmin, keyProbe, type KeyProbe } from './helpers.js';

describe('super admin: concurrency', () => {
  let t: TestApp;
  let sa: ReturnType<typeof asAdmin>;
  let probe: KeyProbe;
  before(async () => {
    t = await startTestApp();
    sa = asAdmin(t, await t.superAdminToken());
    probe = await keyProbe(t);
  });
  after(async () => {
    await probe.close();
    await t.close();
  });

  it('simultaneous regenerations leave exactly one active key, the one routers.api_key_hash names', async () => {
    const e = await createEmpresa(t.ctx);
    for (let round = 0; round < 3; round++) {
      const r = await createRouter(t.ctx, e.id);
      const url = `/admin/empresas/${e.id}/routers/${r.id}/regenerate-api-key`;
      const results = await Promise.all(Array.from({ length: 6 }, () => sa.post(url)));
      for (const res of results) assert.equal(res.statusCode, 200, res.body);

      const keys = await t.ctx.db.orm.select().from(apiKeysTracking).where(eq(apiKeysTracking.routerId, r.id));
      assert.equal(keys.length, 7);
      const active = keys.filter((k) => k.revoked !== true);
      assert.equal(active.length, 1, `round ${round}: exactly one active key`);
      const [router] = await t.ctx.db.orm.select().from(routers).where(eq(routers.id, r.id));
      assert.equal(router.apiKeyHash, active[0].keyHash);

      const issued = results.map((res) => res.data.new_api_key as string);
      const accepted = [];
      for (const key of [r.apiKey, ...issued]) if ((await probe.check(key)).status === 200) accepted.push(key);
      assert.equal(accepted.length, 1);
      assert.equal(hashApiKeyJwt(accepted[0].slice(4)), active[0].keyHash);
      // Each regeneration revoked its predecessor (serialised by the row lock).
      assert.ok(results.every((res) => res.data.previous_key_revoked === true));
    }
  });

  it('simultaneous creations of one email (in any case) give one 200 and 400 "El email ya está registrado", never a 500', async () => {
    const e = await createEmpresa(t.ctx);
    for (let round = 0; round < 3; round++) {
      const spellings = [`race${round}@example.com`, `Race${round}@Example.com`, `race${round}@EXAMPLE.COM`, `race${round}@example.com`, `race${round}@example.COM`];
      const results = await Promise.all(
        spellings.map((email) => sa.post('/admin/usuarios', { email, password: 'Password123!', nombre: 'Carrera', rol: 'cliente_admin', empresa_id: e.id })),
      );
      const statuses = results.map((r) => r.statusCode).sort();
      assert.deepEqual(statuses, [200, 400, 400, 400, 400], results.map((r) => r.body).join('\n'));
      for (const r of results.filter((x) => x.statusCode === 400)) assert.deepEqual(r.data, { detail: 'El email ya está registrado', code: 'email_taken' });
      const rows = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM usuarios WHERE lower(email) = $1', [`race${round}@example.com`]);
      assert.equal(rows[0].n, 1);
    }
    // Exactly one audit entry per created user.
    const created = await t.ctx.db.orm.select({ id: usuarios.id }).from(usuarios).where(eq(usuarios.empresaId, e.id));
    const audit = await sa.get('/admin/auditoria?accion=usuario.crear&limit=500');
    assert.equal(audit.data.filter((a: { empresa_id: string }) => a.empresa_id === e.id).length, created.length);
  });
});
