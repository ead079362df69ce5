/**
 * The short fault drill (the full one is `npm run drill`): the real service as a child process, a router
 * outage, gateway timeouts and 5xx, a SIGKILL while charges are in flight, duplicate and forged webhooks,
 * Mercado Pago search lag, a partial refund, refunds racing deliveries, the database cut as charges are
 * answered (same-key retries), a lease takeover on a slow router, top-ups of the baseline's vouchers
 * with the gateway timing out and the router hanging,
 * then the money invariant. No PostgreSQL restart here: other test files share the server.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderSummary, runDrill } from '../../drill/drill.js';

describe('fault drill (short)', () => {
  it('every phase recovers and the money invariant holds', { timeout: 300_000 }, async () => {
    const result = await runDrill({ routers: 2, purchases: 3, pgRestart: false, deadlineRefund: false, randomKill: false, settleMs: 30_000 });
    const summary = renderSummary(result);
    assert.deepEqual(result.invariant.violations, [], summary);
    for (const p of result.phases) assert.ok(p.ok, `${p.name}: ${p.detail}\n${summary}`);
    assert.deepEqual(
      result.phases.map((p) => p.name),
      ['baseline', 'router-outage', 'gateway', 'sigkill-charge', 'webhooks', 'mp-search-lag', 'partial-refund', 'refund-race', 'db-cut-completion', 'lease-takeover', 'recargas'],
    );
    // The drill really moved money: paid orders, refunds (the webhook phase's one and the two racing a
    // delivery; the partial refund is not a full one), vouchers on the routers.
    assert.ok(result.invariant.counts.ordersPaid >= 10, summary);
    assert.equal(result.invariant.counts.ordersRefunded, 3, summary);
    assert.ok(result.invariant.counts.vouchersActive >= 9, summary);
    assert.equal(result.invariant.counts.open, 0, summary);
  });
});
