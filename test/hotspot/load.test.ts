/**
 * Load: 200 concurrent voucher creations across 5 simulated routers (slowed down so the pools are under
 * contention) complete with no duplicate and no lost user, never with more connections per router than
 * the pool allows; re-submitting all of them at once creates nothing new.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter } from '../helpers/fixtures.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';

const POOL_MAX = 4;

describe('voucher creation under load', () => {
  let t: TestApp;
  const sims: RouterSimulator[] = [];
  const routerIds: string[] = [];

  before(async () => {
    t = await startTestApp({ env: { ROUTEROS_POOL_MAX: String(POOL_MAX), ROUTEROS_CONNECT_TIMEOUT_MS: '5000', ROUTEROS_COMMAND_TIMEOUT_MS: '5000' } });
    const empresaId = (await createEmpresa(t.ctx)).id;
    for (let i = 0; i < 5; i++) {
      const sim = await startRouterSimulator({ version: i % 2 ? '6' : '7', profiles: [{ name: 'PLAN' }] });
      sim.slow(3);
      sims.push(sim);
      routerIds.push((await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).id);
    }
  });
  after(async () => {
    await t.close();
    for (const s of sims) await s.close();
  });

  const specs = Array.from({ length: 200 }, (_, i) => ({
    router: i % 5,
    spec: { username: `PT-L${String(i).padStart(4, '0')}`, password: String(1000 + i), profile: 'PLAN', limitUptimeMinutes: 60, comment: `pagos-hotspot tx=LOAD${i}` },
  }));

  it('creates 200 vouchers concurrently: each exactly once, bounded connections per router', async () => {
    const results = await Promise.all(specs.map(({ router, spec }) => t.ctx.hotspot.createVoucher(routerIds[router], spec)));
    assert.equal(results.filter((r) => r.created).length, 200);
    for (let r = 0; r < 5; r++) {
      const names = sims[r].state.users.rows.map((u) => u.name);
      const expected = specs.filter((s) => s.router === r).map((s) => s.spec.username);
      assert.equal(names.length, expected.length, `router ${r}: no duplicate, none lost`);
      assert.deepEqual([...names].sort(), [...expected].sort());
      assert.ok(sims[r].connections.peak <= POOL_MAX, `router ${r} peak connections ${sims[r].connections.peak}`);
      assert.ok(sims[r].connections.peak > 1, 'the pool is used concurrently');
    }
  });

  it('re-submitting all 200 at once is idempotent', async () => {
    const results = await Promise.all(specs.map(({ router, spec }) => t.ctx.hotspot.createVoucher(routerIds[router], spec)));
    assert.ok(results.every((r) => r.created === false));
    for (let r = 0; r < 5; r++) {
      assert.equal(sims[r].state.users.rows.length, 40);
      assert.ok(sims[r].connections.peak <= POOL_MAX);
    }
  });
});
