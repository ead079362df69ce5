/**
 * Durable jobs in PostgreSQL (the transactional outbox). A job is enqueued inside the caller's database
 * transaction, so it exists exactly when the change that needs it commits. Any number of instances run
 * workers: a worker claims due jobs with `FOR UPDATE SKIP LOCKED` and leases them (`locked_until`); a job
 * whose worker died is picked up again when the lease ends; a running job renews its lease (heartbeat), so
 * leases can be short. Handlers must be idempotent (a job may run more than once). Failures are retried
 * with exponential backoff.
 *
 * Leases are fenced: every claim draws a new `lease_token`; heartbeat, done and reschedule act only with the
 * current token, and a handler confirms its lease (`job.lease.confirm()`) before an effect outside the
 * database (a router), so a worker whose lease was taken over stops instead of acting twice. A job whose
 * kind caps its attempts ends `dead` (kept, counted, logged, and handed to the kind's `onDead` for a safe
 * default and an alert), never silently dropped.
 */
import { randomUUID } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Executor } from './db/index.js';

export interface OutboxJob {
  id: number;
  kind: string;
  payload: Record<string, unknown>;
  /** Including this run. */
  attempts: number;
  /** This run's lease token (fencing). */
  leaseToken?: string;
  /** Set while the job runs under an outbox: renew-and-check the lease (throws LeaseLostError). */
  lease?: Lease;
  /**
   * For a job this process inserted already claimed (`claimForMs`): local time before which the first
   * `confirm()` needs no round trip — the time just before the claiming statement was sent plus a third of
   * `claimForMs`. Until then the lease cannot have lapsed (the database set it to run out a whole `claimForMs`
   * after that statement) and only its token ends it; a purchase's first delivery confirms milliseconds after
   * claiming, before its first router call. Later confirmations always ask the database.
   */
  freshUntil?: number;
}

export interface Lease {
  /** Renew the lease now and make sure it is still ours; throws LeaseLostError if another worker holds it. */
  confirm(): Promise<void>;
  /** False once a heartbeat found the lease gone (or could not renew it in time). */
  readonly held: boolean;
}

/** The job's lease went to another worker (or lapsed): stop before touching anything outside the database. */
export class LeaseLostError extends Error {
  constructor(jobId: number) {
    super(`outbox: el trabajo ${jobId} perdió su arrendamiento`);
    this.name = 'LeaseLostError';
  }
}

export interface JobPolicy {
  /** Runs (attempts) after which a failing or still-waiting job is dead. Unlimited when absent. */
  maxAttempts?: number;
  /** Longest backoff between failed runs of this kind. */
  maxBackoffMs?: number;
  /** Called once when the job dies (safe default, alert). Errors are logged. */
  onDead?: (job: OutboxJob, lastError: string | null) => Promise<void>;
}

/** Done (undefined), or run again later without counting it as an error. */
export type JobResult = void | { retryInMs: number; note?: string } | typeof JOB_DONE;
export type JobHandler = (job: OutboxJob) => Promise<JobResult>;

export interface EnqueueOptions {
  delayMs?: number;
  /** At most one unfinished job per key; a second enqueue with the key is ignored. */
  dedupeKey?: string;
  /**
   * Insert the job already claimed by the caller for this long (a lease, attempts = 1), to run it at once
   * with `Outbox.runClaimed` without a claim round trip; if the caller dies, workers take it when the
   * lease runs out, as with any claimed job. Use the outbox's `leaseMs` (its heartbeat renews to that).
   */
  claimForMs?: number;
  /** With `claimForMs`: the lease token the caller will run the job with. */
  leaseToken?: string;
}

export interface OutboxOptions {
  pollMs?: number;
  concurrency?: number;
  leaseMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

const CHANNEL = 'outbox';

/**
 * The INSERT of a job as one statement, usable as a data-modifying CTE (`WITH t AS (…), j AS
 * (${enqueueSql(…, sql`FROM t`)})`) so that the job commits in the same statement as the change that needs
 * it. `payload`/`dedupeKey` may refer to the rows of `from`. Returns `id` (none when deduplicated). Workers
 * are woken (NOTIFY, delivered at commit) only for a job that is due now and unclaimed: waking them for a
 * later or held job would only cost every instance an empty claim query.
 */
export function enqueueSql(kind: string, payload: SQL, dedupeKey: SQL | string | null, opts: Omit<EnqueueOptions, 'dedupeKey'> = {}, from?: SQL): SQL {
  const delaySeconds = Math.max(0, opts.delayMs ?? 0) / 1000;
  const claimed = opts.claimForMs !== undefined;
  const lockedUntil = claimed ? sql`now() + make_interval(secs => ${opts.claimForMs! / 1000}::double precision)` : sql`NULL::timestamptz`;
  const token = claimed ? (opts.leaseToken ?? null) : null;
  const wake = delaySeconds === 0 && !claimed ? sql`, pg_notify(${CHANNEL}, ${kind})` : sql``;
  return sql`INSERT INTO outbox (kind, payload, dedupe_key, run_at, locked_until, attempts, lease_token)
    SELECT ${kind}, ${payload}, ${dedupeKey}, now() + make_interval(secs => ${delaySeconds}::double precision), ${lockedUntil}, ${claimed ? 1 : 0}::integer, ${token}::varchar
    ${from ?? sql``}
    ON CONFLICT (dedupe_key) WHERE done_at IS NULL AND dedupe_key IS NOT NULL DO NOTHING
    RETURNING id${wake}`;
}

/** Enqueue inside `executor` (a transaction to make the job atomic with the caller's writes). Returns the id, or null when deduplicated. */
export async function enqueue(executor: Executor, kind: string, payload: Record<string, unknown>, opts: EnqueueOptions = {}): Promise<number | null> {
  // One round trip: the NOTIFY that wakes workers rides on the INSERT's RETURNING.
  const result = await executor.execute(enqueueSql(kind, sql`${JSON.stringify(payload)}::jsonb`, opts.dedupeKey ?? null, opts));
  const rows = (result as unknown as { rows: { id: number | string }[] }).rows ?? [];
  return rows.length > 0 ? Number(rows[0].id) : null;
}

/**
 * Mark a job done as one statement (optionally only `when` a condition holds), to commit it with a
 * handler's final write; the handler then returns `JOB_DONE`, saving the outbox its own round trip.
 */
export function jobDoneSql(job: number | Pick<OutboxJob, 'id' | 'leaseToken'>, when?: SQL): SQL {
  const id = typeof job === 'number' ? job : job.id;
  const token = typeof job === 'number' ? undefined : job.leaseToken;
  const fence = token ? sql` AND lease_token = ${token}` : sql``;
  return sql`UPDATE outbox SET done_at = now(), locked_until = NULL WHERE id = ${id} AND done_at IS NULL${fence}${when ? sql` AND ${when}` : sql``}`;
}

/** A fresh lease token (for jobs inserted already claimed). */
export const newLeaseToken = (): string => randomUUID();

/** A handler's result when it already marked its job done (`jobDoneSql`) in its own last transaction. */
export const JOB_DONE = { alreadyDone: true } as const;

export class Outbox {
  private readonly handlers = new Map<string, JobHandler>();
  private readonly policies = new Map<string, JobPolicy>();
  /** Counts dead jobs by kind (a Prometheus counter in production). */
  onDeadMetric: ((kind: string) => void) | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private readonly opts: Required<OutboxOptions>;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    opts: OutboxOptions = {},
  ) {
    this.opts = { pollMs: 1000, concurrency: 4, leaseMs: 10_000, baseBackoffMs: 1000, maxBackoffMs: 5 * 60_000, ...opts };
  }

  on(kind: string, handler: JobHandler, policy: JobPolicy = {}): void {
    this.handlers.set(kind, handler);
    this.policies.set(kind, policy);
  }

  enqueue(executor: Executor, kind: string, payload: Record<string, unknown>, opts?: EnqueueOptions): Promise<number | null> {
    return enqueue(executor, kind, payload, opts);
  }

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.unlisten = await this.db.listen(CHANNEL, () => this.wake());
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'outbox: LISTEN no disponible, solo sondeo');
    }
    this.loopDone = this.loop();
  }

  /** Stop claiming, then wait for the jobs in progress to finish. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loopDone;
    await Promise.allSettled([...this.inflight]);
    await this.unlisten?.().catch(() => undefined);
    this.unlisten = null;
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const free = this.opts.concurrency - this.inflight.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const jobs = await this.claim(free);
          claimed = jobs.length;
          for (const job of jobs) this.track(this.execute(job));
        } catch (err) {
          this.logger.warn({ err }, 'outbox: no se pudieron reclamar trabajos');
        }
      }
      if (!this.running) break;
      if (claimed > 0 && claimed === free) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.pollMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * `claimedHere`: a job run by its caller (`runClaimed`, e.g. the purchase request's first delivery), not
   * claimed by the loop. Its end wakes the loop only if the loop was waiting for a free slot: otherwise the
   * loop is waiting because nothing was due, and a claim now would find nothing (one empty UPDATE per purchase).
   */
  private track(p: Promise<void>, claimedHere = false): void {
    this.inflight.add(p);
    void p.finally(() => {
      const wasFull = this.inflight.size >= this.opts.concurrency;
      this.inflight.delete(p);
      if (!claimedHere || wasFull) this.wake();
    });
  }

  private async claim(limit: number, onlyId?: number): Promise<OutboxJob[]> {
    const kinds = [...this.handlers.keys()];
    if (kinds.length === 0) return [];
    const leaseSeconds = this.opts.leaseMs / 1000;
    const rows = await this.db.query<{ id: number | string; kind: string; payload: unknown; attempts: number; lease_token: string }>(
      `UPDATE outbox SET locked_until = now() + make_interval(secs => $1::double precision), attempts = attempts + 1, lease_token = gen_random_uuid()::text
        WHERE id IN (
          SELECT id FROM outbox
           WHERE done_at IS NULL AND (run_at <= now() OR $4::bigint IS NOT NULL) AND (locked_until IS NULL OR locked_until < now())
             AND kind = ANY($2::text[]) AND ($4::bigint IS NULL OR id = $4::bigint)
           ORDER BY run_at, id
           LIMIT $3
           FOR UPDATE SKIP LOCKED)
        RETURNING id, kind, payload, attempts, lease_token`,
      [leaseSeconds, kinds, limit, onlyId ?? null],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
      attempts: r.attempts,
      leaseToken: r.lease_token,
    }));
  }

  private async execute(job: OutboxJob, override?: JobHandler): Promise<void> {
    const handler = override ?? this.handlers.get(job.kind);
    if (!handler) return;
    const policy = this.policies.get(job.kind) ?? {};
    const leaseSeconds = this.opts.leaseMs / 1000;
    const token = job.leaseToken ?? null;
    // The lease is ours until `validUntil` (local clock, from the last successful renewal, with a margin for
    // clock and network); a renewal that finds another token, or none in time, loses it for good.
    let validUntil = Date.now() + this.opts.leaseMs * 0.8;
    // Only the first confirmation may skip the round trip: it comes before any effect outside the database.
    let freshUntil = job.freshUntil ?? 0;
    let lost = false;
    const renew = async (): Promise<boolean> => {
      const started = Date.now();
      const rows = await this.db.query(
        `UPDATE outbox SET locked_until = now() + make_interval(secs => $2::double precision)
          WHERE id = $1 AND done_at IS NULL AND ($3::text IS NULL OR lease_token = $3::text) RETURNING id`,
        [job.id, leaseSeconds, token],
      );
      if (rows.length === 0) lost = true;
      else if (!lost) validUntil = started + this.opts.leaseMs * 0.8;
      return !lost;
    };
    const lease: Lease = {
      confirm: async () => {
        if (lost || Date.now() > validUntil) {
          lost = true;
          throw new LeaseLostError(job.id);
        }
        const fresh = Date.now() < freshUntil;
        freshUntil = 0;
        if (fresh) return;
        // A renewal that fails (the database blipped) cannot prove the lease is still ours: stop.
        const ok = await renew().catch(() => false);
        if (!ok) {
          lost = true;
          throw new LeaseLostError(job.id);
        }
      },
      get held() {
        return !lost && Date.now() <= validUntil;
      },
    };
    job.lease = lease;
    // Keep the lease while the handler runs; if this process dies, the lease runs out soon after.
    const heartbeat = setInterval(() => {
      renew().catch(() => undefined);
    }, Math.max(100, Math.floor(this.opts.leaseMs / 3)));
    try {
      const result = await handler(job);
      if (result && typeof result === 'object' && 'retryInMs' in result) {
        if (policy.maxAttempts !== undefined && job.attempts >= policy.maxAttempts) await this.die(job, policy, result.note ?? null);
        else await this.reschedule(job, result.retryInMs, result.note ?? null);
      } else if (result !== JOB_DONE) {
        await this.db.query('UPDATE outbox SET done_at = now(), locked_until = NULL WHERE id = $1 AND done_at IS NULL AND ($2::text IS NULL OR lease_token = $2::text)', [
          job.id,
          token,
        ]);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof LeaseLostError) {
        this.logger.warn({ job: job.id, kind: job.kind }, 'outbox: arrendamiento perdido; otro trabajador continúa');
        return;
      }
      if (policy.maxAttempts !== undefined && job.attempts >= policy.maxAttempts) {
        await this.die(job, policy, message).catch((e: unknown) => this.logger.error({ job: job.id, err: (e as Error).message }, 'outbox: no se pudo marcar como muerto'));
        return;
      }
      const delay = this.backoff(job.attempts, policy.maxBackoffMs);
      this.logger.warn({ job: job.id, kind: job.kind, attempts: job.attempts, retryInMs: delay, err: message }, 'outbox: trabajo fallido, se reintentará');
      await this.reschedule(job, delay, message).catch((e: unknown) =>
        this.logger.error({ job: job.id, err: (e as Error).message }, 'outbox: no se pudo reprogramar (el arrendamiento lo liberará)'),
      );
    } finally {
      clearInterval(heartbeat);
      delete job.lease;
    }
  }

  /** The job gave up: kept as dead (visible), counted, logged, and its kind's safe default runs. */
  private async die(job: OutboxJob, policy: JobPolicy, lastError: string | null): Promise<void> {
    const rows = await this.db.query(
      `UPDATE outbox SET done_at = now(), dead_at = now(), locked_until = NULL, last_error = $3
        WHERE id = $1 AND done_at IS NULL AND ($2::text IS NULL OR lease_token = $2::text) RETURNING id`,
      [job.id, job.leaseToken ?? null, lastError?.slice(0, 2000) ?? null],
    );
    if (rows.length === 0) return;
    this.onDeadMetric?.(job.kind);
    this.logger.error({ job: job.id, kind: job.kind, attempts: job.attempts, err: lastError, payload: job.payload }, 'outbox: trabajo muerto tras agotar sus reintentos');
    if (policy.onDead) {
      await policy.onDead(job, lastError).catch((e: unknown) => this.logger.error({ job: job.id, err: (e as Error).message }, 'outbox: falló la acción del trabajo muerto'));
    }
  }

  private async reschedule(job: OutboxJob, delayMs: number, note: string | null): Promise<void> {
    await this.db.query(
      `UPDATE outbox SET run_at = now() + make_interval(secs => $2::double precision), locked_until = NULL, last_error = $3
        WHERE id = $1 AND done_at IS NULL AND ($4::text IS NULL OR lease_token = $4::text)`,
      [job.id, Math.max(0, delayMs) / 1000, note?.slice(0, 2000) ?? null, job.leaseToken ?? null],
    );
  }

  /** Delete finished jobs older than `hours` (dead jobs are kept: they are the record of what gave up). */
  async purge(hours: number): Promise<number> {
    const rows = await this.db.query(`DELETE FROM outbox WHERE done_at < now() - make_interval(hours => $1) AND dead_at IS NULL RETURNING id`, [hours]);
    return rows.length;
  }

  backoff(attempts: number, maxMs = this.opts.maxBackoffMs): number {
    const exp = Math.min(maxMs, this.opts.baseBackoffMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
    return Math.round(exp * (0.8 + Math.random() * 0.4));
  }

  /**
   * Run one job right now in this process, even if it is scheduled later (e.g. the first delivery attempt
   * inside the purchase request, enqueued a little in the future so that workers leave it to the request),
   * unless a worker holds it. Resolves true when it ran.
   */
  async runNow(jobId: number): Promise<boolean> {
    const [job] = await this.claim(1, jobId);
    if (!job) return false;
    await this.runClaimed(job);
    return true;
  }

  /**
   * Wait, bounded, while another worker holds the job's lease (it was claimed before `runNow` could), so a
   * caller can report the run's outcome instead of a run still in flight. True when nobody holds it now.
   */
  async awaitIdle(jobId: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // SKIP LOCKED: a worker whose claim has not committed yet holds the row locked with no lease visible; a
      // plain read would call the job idle before its run even started.
      const [row] = await this.db.query<{ busy: boolean }>(
        `SELECT (done_at IS NULL AND locked_until IS NOT NULL AND locked_until > now()) AS busy FROM outbox WHERE id = $1 FOR UPDATE SKIP LOCKED`,
        [jobId],
      );
      const busy = row ? row.busy : (await this.db.query(`SELECT 1 FROM outbox WHERE id = $1`, [jobId])).length > 0;
      if (!busy) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Run a job this process already holds (claimed, or inserted with `claimForMs`), with its lease kept,
   * its result recorded and failures retried as for any job. `handler` replaces the registered one for
   * this run (e.g. the purchase request, which already has the row the handler would read).
   */
  async runClaimed(job: OutboxJob, handler?: JobHandler): Promise<void> {
    const p = this.execute(job, handler);
    this.track(p, true);
    await p;
  }

  get leaseMs(): number {
    return this.opts.leaseMs;
  }

  /** Run every due job once, in this process (tests and draining). Returns how many ran. */
  async drain(maxRounds = 50): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxRounds; i++) {
      const jobs = await this.claim(this.opts.concurrency);
      if (jobs.length === 0) break;
      total += jobs.length;
      await Promise.all(jobs.map((j) => this.execute(j)));
    }
    return total;
  }
}
