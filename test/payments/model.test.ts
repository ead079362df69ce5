/**
 * The money state machine, model-based (test/payments/model.ts): 200 random runs of compound faults
 * through the real purchase, settlement and worker code on real PostgreSQL. MODEL_RUNS and MODEL_SEED
 * override the count and replay a failing seed; `npm run drill -- --model 10000` is the long mode.
 *
 * The suite runs it within a time budget: on a busy CI machine (three test files at once, browsers) 200 runs
 * took over 200 s where a quiet one needs 50 s. The budget stops it early instead of timing the file out,
 * the number of runs is printed, and fewer than MIN_RUNS fails. A run stuck for 30 s fails with its scenario
 * (model.ts): a stuck run is a lock or a promise never settled, not a slow machine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestApp } from '../helpers/app.js';
import { createShop, listen, startFakes, startPaymentsApp, type Fakes, type Shop } from './helpers.js';
import { MODEL_APP_ENV, runModel } from './model.js';

describe('money model (fast-check)', () => {
  let f: Fakes;
  let t: TestApp;
  let shops: Shop[];
  let base: string;
  before(async () => {
    f = await startFakes();
    t = await startPaymentsApp(f, { env: MODEL_APP_ENV });
    base = await listen(t);
    shops = [];
    for (let i = 0; i < 6; i++) shops.push(await createShop(t));
  });
  after(async () => {
    await t.close();
    for (const s of shops) await s.sim.close();
    await f.close();
  });

  const TIME_BUDGET_MS = Number(process.env.MODEL_BUDGET_MS ?? 150_000);
  const MIN_RUNS = 60;
  // A quarter of the runs are top-ups, each after a sale of its own: ~50 s quiet, ~85 s at load 10 on 2 cores.
  it('random interleavings of charges, webhooks, deliveries, takeovers, faults and crashes keep the money invariant', { timeout: 200_000 }, async () => {
    const numRuns = Number(process.env.MODEL_RUNS ?? 200);
    const seed = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : undefined;
    const r = await runModel(shops.map((shop) => ({ t, f, shop, base })), { numRuns, seed, timeLimitMs: TIME_BUDGET_MS });
    console.log(`MODELO ${JSON.stringify(r)}`);
    assert.ok(r.runs >= Math.min(numRuns, MIN_RUNS), `solo ${r.runs} corridas en ${TIME_BUDGET_MS / 1000} s (semilla ${r.seed})`);
  });
});
