/**
 * A small pool of logged-in sessions per router: at most `max` connections (RouterOS limits API sessions
 * and small routers are slow), reused while healthy, closed after `idleMs` unused. Callers lease a whole
 * connection for a short sequence of commands; a caller that cannot get one within `acquireTimeoutMs`
 * fails instead of piling up. New connections go through the router's circuit breaker.
 */
import { createHash } from 'node:crypto';
import { CircuitBreaker } from './breaker.js';
import { RouterOSConnection, type ConnectionOptions } from './connection.js';
import { ConnectError, ConnectionLostError, ReplyTooLargeError, RouterOSError } from './errors.js';

export interface PoolOptions {
  max: number;
  idleMs: number;
  acquireTimeoutMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
}

interface Waiter {
  wake: () => void;
}

export class RouterPool {
  readonly breaker: CircuitBreaker;
  private readonly idle: RouterOSConnection[] = [];
  private readonly all = new Set<RouterOSConnection>();
  private opening = 0;
  private waiters: Waiter[] = [];
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;
  /** Most connections this pool ever had open at once (observability and tests). */
  peak = 0;
  lastUsed = Date.now();

  constructor(readonly connOpts: ConnectionOptions, private readonly opts: PoolOptions) {
    this.breaker = new CircuitBreaker(opts.breakerThreshold, opts.breakerCooldownMs);
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, Math.min(opts.idleMs, 5000)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.all.size + this.opening;
  }

  /**
   * Lease a connection for `fn`. A reused connection that turns out to be dead (the router dropped it
   * while idle) is replaced once by a fresh one; `fn` must therefore be safe to repeat.
   */
  async use<T>(fn: (conn: RouterOSConnection) => Promise<T>): Promise<T> {
    this.lastUsed = Date.now();
    const first = await this.acquire();
    try {
      return await fn(first.conn);
    } catch (err) {
      // A router that answers with oversized replies is as unusable as one that does not answer: it
      // counts towards the breaker, so a hostile router fails fast instead of being read again and again.
      if (err instanceof ReplyTooLargeError) this.breaker.failure(err);
      if (!(first.reused && err instanceof ConnectionLostError)) throw err;
    } finally {
      this.release(first.conn);
    }
    const fresh = await this.acquire(true);
    try {
      return await fn(fresh.conn);
    } finally {
      this.release(fresh.conn);
    }
  }

  /**
   * Open a fresh connection outside the pool, e.g. an explicit admin test. It goes through the circuit
   * breaker like every other connection (an open circuit fails at once with the last failure's message),
   * so repeated tests cannot be used to hammer a host.
   */
  async probe<T>(fn: (conn: RouterOSConnection) => Promise<T>): Promise<T> {
    this.lastUsed = Date.now();
    const conn = await this.openConnection();
    try {
      return await fn(conn);
    } finally {
      conn.close();
    }
  }

  private async acquire(freshOnly = false): Promise<{ conn: RouterOSConnection; reused: boolean }> {
    const deadline = Date.now() + this.opts.acquireTimeoutMs;
    let front = false;
    for (;;) {
      if (this.closed) throw new RouterOSError('el cliente RouterOS está cerrado');
      if (!freshOnly) {
        const conn = this.takeIdle();
        if (conn) return { conn, reused: true };
      }
      if (this.size < this.opts.max) {
        this.opening++;
        try {
          const conn = await this.openConnection();
          this.track(conn);
          return { conn, reused: false };
        } finally {
          this.opening--;
          this.peak = Math.max(this.peak, this.size);
          if (this.size < this.opts.max) this.notify();
        }
      }
      if (freshOnly && this.idle.length > 0) {
        // Make room: an idle connection is worth less than the fresh one we need.
        this.idle.shift()!.close();
        continue;
      }
      await this.waitForSlot(deadline, front);
      front = true;
    }
  }

  private async openConnection(): Promise<RouterOSConnection> {
    if (!this.breaker.tryAcquire()) {
      const last = this.breaker.lastError;
      throw new ConnectError(last instanceof ConnectError ? last.reason : 'breaker_open', last?.message ?? 'el router no responde', {
        cause: last ?? undefined,
      });
    }
    try {
      const conn = await RouterOSConnection.open(this.connOpts);
      this.breaker.success();
      return conn;
    } catch (err) {
      this.breaker.failure(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  private track(conn: RouterOSConnection): void {
    this.all.add(conn);
    conn.once('closed', () => {
      this.all.delete(conn);
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
      this.notify();
    });
  }

  private takeIdle(): RouterOSConnection | null {
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (!conn.closed) return conn;
    }
    return null;
  }

  private release(conn: RouterOSConnection): void {
    if (this.closed) {
      conn.close();
      return;
    }
    if (!conn.closed && !conn.busy) {
      conn.lastUsed = Date.now();
      this.idle.push(conn);
    } else if (!conn.closed) {
      conn.close();
    }
    this.notify();
  }

  private notify(): void {
    this.waiters.shift()?.wake();
  }

  private waitForSlot(deadline: number, front: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const left = deadline - Date.now();
      if (left <= 0) {
        reject(new ConnectError('unreachable', 'el router está ocupado y no atendió a tiempo'));
        return;
      }
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new ConnectError('unreachable', 'el router está ocupado y no atendió a tiempo'));
      }, left);
      if (front) this.waiters.unshift(waiter);
      else this.waiters.push(waiter);
    });
  }

  private sweep(): void {
    const limit = Date.now() - this.opts.idleMs;
    for (const conn of [...this.idle]) if (conn.lastUsed < limit) conn.close();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const conn of [...this.all]) conn.close();
    for (const w of this.waiters.splice(0)) w.wake();
  }
}

/** Pools by connection settings: a router whose host, credentials or TLS settings change gets a new pool. */
export class PoolRegistry {
  private readonly pools = new Map<string, RouterPool>();
  private lastSweep = Date.now();

  constructor(private readonly opts: PoolOptions) {}

  get(conn: ConnectionOptions): RouterPool {
    this.forgetUnused();
    const key = poolKey(conn);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new RouterPool(conn, this.opts);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Pools left behind by changed router settings (or routers no longer used) go away after a while. */
  private forgetUnused(now = Date.now()): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, pool] of this.pools) {
      if (pool.size === 0 && now - pool.lastUsed > UNUSED_POOL_MS) {
        pool.close();
        this.pools.delete(key);
      }
    }
  }

  closeAll(): void {
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }
}

const UNUSED_POOL_MS = 10 * 60_000;

function poolKey(c: ConnectionOptions): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([c.host, c.port, c.user, c.password, c.tls ? [c.tls.ca ?? '', c.tls.fingerprint ?? ''] : null, c.connectTimeoutMs, c.commandTimeoutMs]));
  return h.digest('hex');
}
