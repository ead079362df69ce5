/**
 * The money drill: 300 purchases over 5 routers (RouterOS v6 and v7, two companies, both gateways) against
 * the service running as a child process, with random faults injected: routers that stop answering,
 * gateway timeouts and 5xx (with and without the charge going through), declines, pending payments settled
 * later by webhook, refunds made at the gateway, and one SIGKILL + restart of the service in the middle.
 * When the dust settles the money invariant must hold:
 *   - every approved charge is delivered (exactly one voucher on its router) or refunded (no voucher);
 *   - no voucher exists without an approved, unrefunded charge;
 *   - no purchase attempt was charged twice.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { inArray } from 'drizzle-orm';
import type { TestApp } from '../helpers/app.js';
import { transacciones } from '../../src/infra/db/schema.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';
import { MP_TOKEN, conektaBody, createShop, mpBody, paymentEnv, routerDown, routerUp, startFakes, startPaymentsApp, waitFor, type Fakes, type Shop } from './helpers.js';
import { spawnService, type Child } from './child.js';

const TOTAL = 300;
const CONCURRENCY = 12;

/** Small seeded PRNG (mulberry32), so a failing run can be replayed with DRILL_SEED. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('money drill', () => {
  let f: Fakes;
  let t: TestApp;
  const sims: RouterSimulator[] = [];
  const shops: Shop[] = [];
  let child: Child | null = null;

  before(async () => {
    f = await startFakes();
    t = await startPaymentsApp(f);
    for (let i = 0; i < 5; i++) sims.push(await startRouterSimulator({ version: i % 2 ? '6' : '7', profiles: [{ name: '1_HORA' }, { name: 'PIN_1H' }] }));
    // Five companies, one router each, every one selling through both gateways.
    for (let i = 0; i < 5; i++) shops.push(await createShop(t, { sim: sims[i] }));
  });
  after(async () => {
    if (child && child.proc.exitCode === null && child.proc.signalCode === null) await child.kill();
    await t.close();
    for (const s of sims) await s.close();
    await f.close();
  });

  it('300 purchases with faults end with every approved charge delivered or refunded', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.DRILL_SEED ?? Date.now() % 1_000_000);
    const rand = prng(seed);
    const started = Date.now();
    const port = await freePort();
    const env = { ...paymentEnv(f), DATABASE_URL: t.database.url, PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, GATEWAY_TIMEOUT_MS: '500', ROUTEROS_CONNECT_TIMEOUT_MS: '400', ROUTEROS_COMMAND_TIMEOUT_MS: '400' };
    child = await spawnService(env);
    let url = child.url;
    // PUBLIC_BASE_URL is http here, so payments carry no notification_url (Mercado Pago would refuse it):
    // notifications go to the account's Webhooks URL, as in production behind plain HTTP.
    const accountWebhook = () => f.mp.setAccountWebhook(MP_TOKEN, `${url}/api/v1/webhook/mercado-pago`);
    accountWebhook();

    const counts: Record<string, number> = {};
    const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);

    // Router chaos: every 20th purchase takes a random router down for 0.3–1.5 s (refused + hung connections).
    const outages: Promise<void>[] = [];
    const outage = async () => {
      const sim = sims[Math.floor(rand() * sims.length)];
      routerDown(sim);
      bump('router_caidas');
      await new Promise((r) => setTimeout(r, 300 + rand() * 1200));
      await routerUp(sim);
    };

    let next = 0;
    let restarting: Promise<void> | null = null;
    const plan = (i: number) => {
      const r = rand();
      const mp = rand() < 0.5;
      const shop = shops[Math.floor(rand() * shops.length)];
      const pin = rand() < 0.2;
      const product = pin ? shop.pinProductId : shop.productId;
      const n = `${seed}_${i}`;
      let token: string;
      let kind: string;
      if (r < 0.05) [token, kind] = [mp ? `timeout_approved~${n}` : `tok_test_timeout_paid~${n}`, 'timeout_cobrado'];
      else if (r < 0.1) [token, kind] = [mp ? `timeout~${n}` : `tok_test_timeout~${n}`, 'timeout_sin_cobro'];
      else if (r < 0.14) [token, kind] = [mp ? `500_approved~${n}` : `tok_test_500_paid~${n}`, '5xx_cobrado'];
      else if (r < 0.18) [token, kind] = [mp ? `500~${n}` : `tok_test_500~${n}`, '5xx_sin_cobro'];
      else if (r < 0.26) [token, kind] = [mp ? `rej_cc_rejected_insufficient_amount~${n}` : `tok_test_decline_insufficient_funds~${n}`, 'rechazo'];
      else if (r < 0.3 && mp) [token, kind] = [`pend_pending_contingency~${n}`, 'pendiente'];
      else [token, kind] = [mp ? `card~${n}` : `tok_test_visa_4242~${n}`, 'aprobado'];
      if (pin && mp) {
        // PIN product costs 60.00
        return { shop, kind, url: '/api/v1/payments/pagar-mercado-pago', body: mpBody(product, token, { monto: 60 }) };
      }
      return mp
        ? { shop, kind, url: '/api/v1/payments/pagar-mercado-pago', body: mpBody(product, token) }
        : { shop, kind, url: '/api/v1/payments/pagar-conekta', body: conektaBody(product, token) };
    };

    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        if (i === Math.floor(TOTAL / 2) && !restarting) {
          // One crash of the service in the middle of the load: SIGKILL, then a new process.
          restarting = (async () => {
            await child!.kill();
            bump('reinicios');
            child = await spawnService(env);
            url = child.url;
            accountWebhook();
          })();
        }
        if (restarting) await restarting;
        if (i % 20 === 10) outages.push(outage());
        const p = plan(i);
        bump(`plan_${p.kind}`);
        try {
          const res = await fetch(`${url}${p.url}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${p.shop.apiKey}` },
            body: JSON.stringify(p.body),
          });
          bump(`http_${res.status}`);
          const data = (await res.json().catch(() => ({}))) as { estado_hotspot?: string };
          if (res.status === 200) bump(`respuesta_hotspot_${data.estado_hotspot}`);
        } catch {
          bump('http_conexion_perdida');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    counts.ms_carga = Date.now() - started;
    await Promise.all(outages);
    for (const s of sims) await routerUp(s);

    // Pending payments: Mercado Pago settles them later (half approved, half rejected) and notifies.
    const pending = [...f.mp.state.payments.values()].filter((p) => p.status === 'pending');
    for (const [k, p] of pending.entries()) {
      f.mp.setPaymentStatus(p.id, k % 2 ? 'rejected' : 'approved', k % 2 ? 'cc_rejected_other_reason' : 'accredited');
      const r = await f.mp.sendWebhook(p.id);
      bump(`webhook_${r.status}`);
    }

    // Wait until every purchase has settled.
    let lastLog = 0;
    await waitFor('todas las compras resueltas', async () => {
      const open = await t.ctx.db.orm.select({ id: transacciones.id }).from(transacciones).where(inArray(transacciones.estado, ['iniciada', 'en_revision', 'cobrada']));
      if (process.env.DRILL_DEBUG && Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        const rows = await t.ctx.db.query(`SELECT estado, error_codigo, count(*) n FROM transacciones WHERE estado IN ('iniciada','en_revision','cobrada') GROUP BY 1,2`);
        const jobs = await t.ctx.db.query(`SELECT kind, attempts, round(extract(epoch from run_at-now())) AS en, left(last_error,80) AS e, locked_until > now() AS locked FROM outbox WHERE done_at IS NULL ORDER BY run_at LIMIT 15`);
        console.error(Date.now() - started, JSON.stringify(rows), JSON.stringify(jobs));
      }
      return open.length === 0;
    }, 60_000);

    counts.ms_resueltas = Date.now() - started;
    // Some customers get their money back at the gateway afterwards (refund + webhook): vouchers must go.
    const delivered = await t.ctx.db.orm.select().from(transacciones).where(inArray(transacciones.estado, ['entregada']));
    for (const tx of delivered.slice(0, 5)) {
      if (tx.pasarela === 'mercado_pago') {
        f.mp.setPaymentStatus(tx.transaccionId!, 'refunded', 'refunded');
        bump(`webhook_${(await f.mp.sendWebhook(tx.transaccionId!)).status}`);
      } else {
        f.conekta.setOrderStatus(tx.transaccionId!, 'refunded');
        bump(`webhook_${(await f.conekta.sendWebhook(`${url}/api/v1/webhook/conekta`, 'order.refunded', tx.transaccionId!)).status}`);
      }
      bump('reembolsos_en_pasarela');
    }
    await waitFor('bajas hechas', async () => {
      const rows = await t.ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox WHERE done_at IS NULL AND kind IN ('pagos.entregar','pagos.reembolsar','pagos.quitar_ficha','pagos.aplicar_pago')`,
      );
      const open = await t.ctx.db.orm.select({ id: transacciones.id }).from(transacciones).where(inArray(transacciones.estado, ['iniciada', 'en_revision', 'cobrada']));
      return rows[0].n === 0 && open.length === 0;
    }, 60_000);
    counts.ms_bajas = Date.now() - started;
    await child.stop();
    child = null;

    // ---------------------------------------------------------------- the invariant
    const all = await t.ctx.db.orm.select().from(transacciones);
    const byRef = new Map(all.map((x) => [x.referencia!, x]));
    const approved = new Map<string, { gateway: string; id: string; refunded: boolean }>();
    const chargesPerRef = new Map<string, number>();
    for (const o of f.conekta.state.orders.values()) {
      const ref = String(o.metadata.referencia);
      chargesPerRef.set(ref, (chargesPerRef.get(ref) ?? 0) + 1);
      if (o.payment_status === 'paid' || o.payment_status === 'refunded') approved.set(ref, { gateway: 'conekta', id: o.id, refunded: o.payment_status === 'refunded' });
    }
    for (const p of f.mp.state.payments.values()) {
      const ref = String(p.external_reference);
      chargesPerRef.set(ref, (chargesPerRef.get(ref) ?? 0) + 1);
      if (p.status === 'approved' || p.status === 'refunded') approved.set(ref, { gateway: 'mercado_pago', id: String(p.id), refunded: p.status === 'refunded' });
    }
    const vouchers = new Map<string, number>();
    const strays: string[] = [];
    for (const sim of sims) {
      for (const u of sim.state.users.rows) {
        if (!u.name?.startsWith('PT-')) continue;
        const m = /^pagos-hotspot tx=(.+)$/.exec(u.comment ?? '');
        if (!m) strays.push(u.name);
        else vouchers.set(m[1], (vouchers.get(m[1]) ?? 0) + 1);
      }
    }

    const problems: string[] = [];
    for (const [ref, n] of chargesPerRef) if (n > 1) problems.push(`${ref}: ${n} cobros`);
    for (const [ref, a] of approved) {
      const tx = byRef.get(ref);
      if (!tx) {
        problems.push(`${ref}: cobro sin transacción`);
        continue;
      }
      if (a.refunded) {
        if (tx.estado !== 'reembolsada') problems.push(`${ref}: reembolsado en pasarela pero ${tx.estado}`);
        if (vouchers.get(ref)) problems.push(`${ref}: reembolsado con ficha en el router`);
      } else {
        if (tx.estado !== 'entregada') problems.push(`${ref}: cobrado pero ${tx.estado}`);
        if (vouchers.get(ref) !== 1) problems.push(`${ref}: cobrado con ${vouchers.get(ref) ?? 0} fichas`);
      }
    }
    for (const [ref] of vouchers) {
      const a = approved.get(ref);
      if (!a || a.refunded) problems.push(`${ref}: ficha sin cobro aprobado`);
    }
    for (const tx of all) {
      if (tx.estado === 'entregada' && !approved.get(tx.referencia!)) problems.push(`${tx.referencia}: entregada sin cobro`);
    }
    problems.push(...strays.map((s) => `ficha ajena ${s}`));

    const states: Record<string, number> = {};
    for (const tx of all) states[tx.estado] = (states[tx.estado] ?? 0) + 1;
    const summary = {
      seed,
      segundos: Math.round((Date.now() - started) / 100) / 10,
      compras_intentadas: TOTAL,
      transacciones: all.length,
      estados: states,
      cobros_aprobados: approved.size,
      reembolsados: [...approved.values()].filter((a) => a.refunded).length,
      fichas_en_routers: [...vouchers.values()].reduce((s, n) => s + n, 0),
      conciliadas_por_pasarela: all.filter((x) => x.errorCodigo === 'sin_cobro').length,
      entregas_reintentadas: all.filter((x) => x.intentosEntrega > 0).length,
      ...counts,
      problemas: problems.length,
    };
    console.log(`DRILL ${JSON.stringify(summary)}`);
    assert.deepEqual(problems, []);
    assert.ok(approved.size > 100, 'the drill sold enough to mean something');
    assert.equal(counts.reinicios, 1);
    assert.equal(counts.router_caidas, TOTAL / 20);
  });
});
