/**
 * DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: a transaction left idle (its instance frozen between two statements,
 * e.g. while a router call hangs inside a top-up's revert) loses its session and its row locks, so other work on
 * the row goes on; the frozen holder's next statement fails instead of committing, the process survives the
 * ended session (no uncaught 'error' from the checked-out client) and the pool keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { testDbKind } from '../helpers/db.js';

const skip = testDbKind() === 'pglite' ? 'PGlite is one embedded session: no idle-in-transaction timeout' : false;

describe('a frozen transaction loses its locks (idle_in_transaction_session_timeout)', { skip }, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '400' } });
  });
  after(async () => {
    await t?.close();
  });

  it('another transaction gets the row, the frozen one fails, the pool and /ready still work', async () => {
    const [row] = await t.ctx.db.query<{ id: number }>(`SELECT id FROM usuarios ORDER BY id LIMIT 1`);
    assert.ok(row, 'the super admin row');
    let thaw!: () => void;
    const frozen = new Promise<void>((r) => (thaw = r));
    let locked!: () => void;
    const holding = new Promise<void>((r) => (locked = r));
    const holder = t.ctx.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT id FROM usuarios WHERE id = ${row.id} FOR UPDATE`);
      locked();
      await frozen; // the instance freezes here, the row still locked
      await tx.execute(sql`UPDATE usuarios SET nombre = 'no debe quedar' WHERE id = ${row.id}`);
    });
    const holderOutcome = holder.then(
      () => 'committed',
      (err: Error) => `failed: ${err.message}`,
    );
    await holding;

    // Without the timeout this waits for the frozen holder forever (it is released only below, after this).
    const other = t.ctx.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT id FROM usuarios WHERE id = ${row.id} FOR UPDATE`);
      await tx.execute(sql`UPDATE usuarios SET nombre = 'otra instancia' WHERE id = ${row.id}`);
      return 'got the row';
    });
    const first = await Promise.race([other, new Promise((r) => setTimeout(() => r('still blocked after 20 s'), 20_000))]);
    assert.equal(first, 'got the row');

    thaw();
    const outcome = await holderOutcome;
    assert.match(outcome, /^failed: /, 'the frozen holder must not commit after its session was ended');
    const [after] = await t.ctx.db.query<{ nombre: string }>(`SELECT nombre FROM usuarios WHERE id = $1`, [row.id]);
    assert.equal(after.nombre, 'otra instancia');

    // The pool replaced the ended session; the service answers.
    for (let i = 0; i < 25; i++) await t.ctx.db.query(`SELECT 1`);
    const ready = await t.request({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200, ready.body);
  });
});
