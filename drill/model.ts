/**
 * `npm run drill -- --model N`: the long mode of the money model (test/payments/model.ts), N random runs
 * (e.g. 10000) on a throwaway PostgreSQL database; `--seed S` replays a failing run. Exits non-zero when
 * the invariant breaks, printing the seed.
 */
import { createShop, listen, startFakes, startPaymentsApp } from '../test/payments/helpers.js';
import { MODEL_APP_ENV, runModel } from '../test/payments/model.js';

export async function runModelDrill(numRuns: number, seed: number | undefined, log: (line: string) => void): Promise<boolean> {
  process.env.NODE_ENV ??= 'test';
  const f = await startFakes();
  const t = await startPaymentsApp(f, { env: MODEL_APP_ENV });
  const base = await listen(t);
  const shops = [];
  for (let i = 0; i < 6; i++) shops.push(await createShop(t));
  const started = Date.now();
  try {
    const r = await runModel(shops.map((shop) => ({ t, f, shop, base })), { numRuns, seed, log });
    const [states] = await t.ctx.db.query<{ s: unknown }>(`SELECT json_object_agg(estado, n) AS s FROM (SELECT estado, count(*)::int AS n FROM transacciones GROUP BY estado) x`);
    process.stdout.write(`Modelo del dinero: invariante respetado en ${r.runs} corridas (semilla ${r.seed}, ${Math.round((Date.now() - started) / 1000)} s); estados ${JSON.stringify(states?.s ?? {})}\n`);
    return true;
  } catch (e) {
    process.stdout.write(`Modelo del dinero: ${(e as Error).message}\n`);
    return false;
  } finally {
    await t.close();
    for (const s of shops) await s.sim.close();
    await f.close();
  }
}
