/** The outbox on the real database: atomic enqueue, one run per job across instances, retries, leases. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { testDbKind } from '../helpers/db.js';
import { openDatabase, type Database } from '../../src/infra/db/index.js';
import { Outbox, enqueue } from '../../src/infra/outbox.js';
import { parseDatabaseUrl, type DatabaseTarget } from '../../src/config/index.js';

const logger = pino({ level: 'silent' });

describe('outbox', () => {
  let t: TestApp;
  let other: Database;
  before(async () => {
    t = await startTestApp();
    // A second connection pool on the same database stands for a second instance.
    other = testDbKind() === 'pglite' ? t.ctx.db : await openDatabase(parseDatabaseUrl(t.database.url) as DatabaseTarget, { poolSize: 5 });
  });
  after(async () => {
    if (other !== t.ctx.db) await other.close();
    await t.close();
  });

  it('a job enqueued in a rolled-back transaction does not exist', async () => {
    await assert.rejects(
      t.ctx.db.transaction(async (tx) => {
        await enqueue(tx, 'test.rollback', { n: 1 });
        throw new Error('rollback');
      }),
    );
    const rows = await t.ctx.db.query(`SELECT id FROM outbox WHERE kind = 'test.rollback'`);
    assert.equal(rows.length, 0);
  });

  it('awaitIdle counts a job as busy while another worker\'s claim holds its row, before that lease is committed', { skip: testDbKind() === 'pglite' ? 'one connection: no concurrent transaction' : false }, async () => {
    // The refund answer once read `pendiente`: runNow's claim skipped the row another worker was claiming, and
    // a plain read then saw no lease yet and called the job idle.
    const a = new Outbox(t.ctx.db, logger, { pollMs: 50, concurrency: 1 });
    a.on('test.idle', async () => undefined);
    const jobId = await enqueue(t.ctx.db.orm, 'test.idle', { n: 1 });
    assert.ok(jobId);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const claimer = other.transaction(async (tx) => {
      await tx.execute(sql`UPDATE outbox SET locked_until = now() + interval '60 seconds', attempts = attempts + 1 WHERE id = ${jobId}`);
      locked();
      await held;
    });
    await isLocked;
    assert.equal(await a.runNow(jobId), false, 'the claim skips a row another worker is claiming');
    assert.equal(await a.awaitIdle(jobId, 300), false, 'not idle while the other claim is in flight');
    release();
    await claimer;
    assert.equal(await a.awaitIdle(jobId, 300), false, 'leased by the other worker once its claim committed');
    await t.ctx.db.query(`UPDATE outbox SET locked_until = NULL, done_at = now() WHERE id = $1`, [jobId]);
    assert.equal(await a.awaitIdle(jobId, 300), true);
  });

  it('two instances run each of 60 jobs exactly once', async () => {
    const runs = new Map<number, number>();
    const handler = async (job: { payload: Record<string, unknown> }) => {
      const n = Number(job.payload.n);
      runs.set(n, (runs.get(n) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 5));
    };
    const a = new Outbox(t.ctx.db, logger, { pollMs: 50, concurrency: 4 });
    const b = new Outbox(other, logger, { pollMs: 50, concurrency: 4 });
    a.on('test.once', handler);
    b.on('test.once', handler);
    await a.start();
    await b.start();
    for (let i = 0; i < 60; i++) await enqueue(t.ctx.db.orm, 'test.once', { n: i });
    const end = Date.now() + 20_000;
    while (runs.size < 60 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await a.stop();
    await b.stop();
    assert.equal(runs.size, 60);
    assert.ok([...runs.values()].every((v) => v === 1), 'no job ran twice');
    const pending = await t.ctx.db.query(`SELECT id FROM outbox WHERE kind = 'test.once' AND done_at IS NULL`);
    assert.equal(pending.length, 0);
  });

  it('a failing job is retried (with its error recorded) until it succeeds', async () => {
    let calls = 0;
    const o = new Outbox(t.ctx.db, logger, { pollMs: 20, baseBackoffMs: 20 });
    o.on('test.flaky', async () => {
      calls++;
      if (calls < 3) throw new Error(`fallo ${calls}`);
    });
    await enqueue(t.ctx.db.orm, 'test.flaky', {});
    await o.start();
    const end = Date.now() + 10_000;
    while (calls < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await o.stop();
    const [row] = await t.ctx.db.query<{ attempts: number; done: boolean; last_error: string | null }>(
      `SELECT attempts, done_at IS NOT NULL AS done, last_error FROM outbox WHERE kind = 'test.flaky'`,
    );
    assert.equal(calls, 3);
    assert.equal(row.attempts, 3);
    assert.equal(row.done, true);
    assert.equal(row.last_error, 'fallo 2');
  });

  it('a job held by a dead worker is taken over when its lease runs out; dedupe keys keep one pending job', async () => {
    const id = await enqueue(t.ctx.db.orm, 'test.lease', {}, { dedupeKey: 'lease-1' });
    assert.equal(await enqueue(t.ctx.db.orm, 'test.lease', {}, { dedupeKey: 'lease-1' }), null);
    // A worker claimed it and died (lease set, never finished).
    await t.ctx.db.query(`UPDATE outbox SET locked_until = now() + interval '300 milliseconds', attempts = 1 WHERE id = $1`, [id]);
    let ran = 0;
    const o = new Outbox(other, logger, { pollMs: 50 });
    o.on('test.lease', async () => {
      ran++;
    });
    assert.equal(await o.runNow(id!), false, 'held by the lease');
    await o.start();
    const end = Date.now() + 10_000;
    while (ran === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await o.stop();
    assert.equal(ran, 1);
  });
});
