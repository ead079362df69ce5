/**
 * The purchase transition table, row by row: every pair of states (allowed and forbidden) is checked
 * against what money demands (written out here by hand, not derived from the table), and the guarded
 * UPDATE built from the table is run on real PostgreSQL for every pair, so the SQL and the table agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { ESTADOS, TRANSITIONS, canMove, guardSql, type Estado, type RowFacts } from '../../src/modules/payments/transitions.js';
import { usePaymentsShop } from './helpers.js';

/** The allowed moves, by hand: `from>to` (with the facts that make it allowed, when it needs them). */
const ALLOWED: Record<string, (row: RowFacts, fresh: boolean) => boolean> = {
  'iniciada>cobrada': () => true,
  'en_revision>cobrada': () => true,
  // Revival only of a purchase WE declared unpaid, and only on a fresh read under the lock.
  'rechazada>cobrada': (r, fresh) => r.errorCodigo === 'sin_cobro' && fresh,
  'iniciada>rechazada': () => true,
  'en_revision>rechazada': () => true,
  'rechazada>rechazada': () => true,
  'iniciada>en_revision': () => true,
  // 3-D Secure: waiting for the customer's bank, then approved, failed, or expired (all by the gateway's word or our clock).
  'iniciada>en_autenticacion': () => true,
  'en_autenticacion>cobrada': () => true,
  'en_autenticacion>rechazada': () => true,
  // An approval after the challenge expired is refunded in full; nothing else leaves a decline for a refund.
  'rechazada>reembolsada': (r) => r.errorCodigo === 'autenticacion_vencida',
  'cobrada>entregada': () => true,
  'cobrada>reembolso_parcial': () => true,
  'entregada>reembolso_parcial': () => true,
  'reembolso_parcial>reembolso_parcial': () => true,
  'cobrada>reembolsada': () => true,
  'entregada>reembolsada': () => true,
  'reembolso_parcial>reembolsada': () => true,
};

const FACTS: Array<{ name: string; row: (estado: Estado) => RowFacts; fresh: boolean }> = [
  { name: 'plain', row: (estado) => ({ estado, errorCodigo: null, estadoHotspot: 'pending' }), fresh: false },
  { name: 'sin_cobro', row: (estado) => ({ estado, errorCodigo: 'sin_cobro', estadoHotspot: 'pending' }), fresh: false },
  { name: 'sin_cobro+fresh', row: (estado) => ({ estado, errorCodigo: 'sin_cobro', estadoHotspot: 'pending' }), fresh: true },
  { name: 'devuelto+fresh', row: (estado) => ({ estado, errorCodigo: 'devuelto_en_pasarela', estadoHotspot: 'pending' }), fresh: true },
  { name: 'delivered+fresh', row: (estado) => ({ estado, errorCodigo: null, estadoHotspot: 'active' }), fresh: true },
  { name: 'autenticacion_vencida+fresh', row: (estado) => ({ estado, errorCodigo: 'autenticacion_vencida', estadoHotspot: 'pending' }), fresh: true },
];

describe('purchase transitions table', () => {
  it('every pair of states, allowed and forbidden, is what money demands', () => {
    for (const from of ESTADOS) {
      for (const to of ESTADOS) {
        for (const f of FACTS) {
          const row = f.row(from);
          const expected = ALLOWED[`${from}>${to}`]?.(row, f.fresh) ?? false;
          assert.equal(canMove(row, to, { lecturaFresca: f.fresh }), expected, `${from} → ${to} (${f.name})`);
        }
      }
    }
  });

  it('money is monotonic: refunded never leads to a state that delivers, nothing leaves reembolsada', () => {
    assert.ok(!TRANSITIONS.some((t) => t.from === 'reembolsada'));
    const delivering: Estado[] = ['cobrada', 'entregada'];
    for (const t of TRANSITIONS) {
      if (t.from === 'reembolso_parcial') assert.ok(!delivering.includes(t.to), `${t.from} → ${t.to}`);
      if (t.from === 'rechazada' && delivering.includes(t.to)) assert.deepEqual([...(t.requires ?? [])].sort(), ['lectura_fresca', 'sin_cobro']);
    }
  });

  describe('the guarded UPDATE built from the table, on PostgreSQL', () => {
    const env = usePaymentsShop();

    it('matches the table for every state pair and every event', async () => {
      let n = 0;
      const events = [...new Set(TRANSITIONS.map((x) => x.on))];
      for (const from of ESTADOS) {
        for (const facts of FACTS) {
          const row = facts.row(from);
          for (const on of events) {
            const to = (TRANSITIONS.find((x) => x.on === on && x.from === from) ?? TRANSITIONS.find((x) => x.on === on)!).to;
            const ins = await env.t.ctx.db.query<{ id: number }>(
              `INSERT INTO transacciones (referencia, estado, empresa_id, router_id, monto, monto_centavos, error_codigo, estado_hotspot, usuario_hotspot)
               VALUES ($1, $2, $3, $4, 19.99, 1999, $5, $6, $7) RETURNING id`,
              [`tt-${n}`, from, env.shop.empresaId, env.shop.routerId, row.errorCodigo, row.estadoHotspot, `TT-${n++}`],
            );
            const id = Number(ins[0].id);
            const res = await env.t.ctx.db.orm.execute(
              sql`UPDATE transacciones SET estado = ${to} WHERE id = ${id} AND ${guardSql(on, { lecturaFresca: facts.fresh })} RETURNING id`,
            );
            const moved = ((res as unknown as { rows: unknown[] }).rows ?? []).length === 1;
            const expected = ALLOWED[`${from}>${to}`]?.(row, facts.fresh) ?? false;
            // An event moves only along its own rows; `expected` (any event) is an upper bound, checked exactly by the table.
            const byTable = TRANSITIONS.some((x) => x.on === on && x.from === from && (x.requires ?? []).every((c) =>
                c === 'sin_cobro' || c === 'autenticacion_vencida' ? row.errorCodigo === c : c === 'lectura_fresca' ? facts.fresh : row.estadoHotspot !== 'active',));
            assert.equal(moved, byTable, `${on}: ${from} → ${to} (${facts.name})`);
            if (moved) assert.ok(expected, `${on}: ${from} → ${to} (${facts.name}) is not an allowed move`);
            await env.t.ctx.db.query('DELETE FROM transacciones WHERE id = $1', [id]);
          }
        }
      }
    });
  });
});
