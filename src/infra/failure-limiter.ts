/**
 * Failed-attempt throttling per subject (an account, a voucher/device) and per client IP, in fixed
 * windows. Counters live in memory, or in Redis when REDIS_URL is set so that every instance behind a
 * load balancer shares them. A success resets the subject's counter. Used by login and by the voucher
 * checks of auto-reconnect/profile-info (what makes PIN vouchers impractical to enumerate).
 */
import type { Redis } from 'ioredis';

interface CounterStore {
  /** Current count and milliseconds left in the window (0 when no window). */
  get(key: string): Promise<{ count: number; ttlMs: number }>;
  increment(key: string, windowMs: number): Promise<void>;
  reset(key: string): Promise<void>;
}

class MemoryCounters implements CounterStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  async get(key: string) {
    const w = this.live(key, Date.now());
    return w ? { count: w.count, ttlMs: w.resetAt - Date.now() } : { count: 0, ttlMs: 0 };
  }

  async increment(key: string, windowMs: number) {
    const now = Date.now();
    const w = this.live(key, now);
    if (w) w.count++;
    else {
      if (this.windows.size > 100_000) this.prune(now);
      this.windows.set(key, { count: 1, resetAt: now + windowMs });
    }
  }

  async reset(key: string) {
    this.windows.delete(key);
  }

  private live(key: string, now: number) {
    const w = this.windows.get(key);
    if (w && w.resetAt <= now) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  private prune(now: number) {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    if (this.windows.size > 100_000) this.windows.clear();
  }
}

class RedisCounters implements CounterStore {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async get(key: string) {
    const [[, count], [, ttl]] = (await this.redis.multi().get(this.prefix + key).pttl(this.prefix + key).exec()) as [[null, string | null], [null, number]];
    return { count: Number(count ?? 0), ttlMs: Math.max(0, ttl) };
  }

  async increment(key: string, windowMs: number) {
    const k = this.prefix + key;
    // INCR then set the window only when the key is new (NX), atomically.
    await this.redis.multi().incr(k).pexpire(k, windowMs, 'NX').exec();
  }

  async reset(key: string) {
    await this.redis.del(this.prefix + key);
  }
}

/** Redis first; if Redis fails, this instance's memory keeps limiting rather than failing logins. */
class FallbackCounters implements CounterStore {
  private readonly memory = new MemoryCounters();
  constructor(private readonly primary: CounterStore, private readonly onError: (err: Error) => void) {}
  private async run<T>(fn: (s: CounterStore) => Promise<T>): Promise<T> {
    try {
      return await fn(this.primary);
    } catch (err) {
      this.onError(err as Error);
      return fn(this.memory);
    }
  }
  get(key: string) {
    return this.run((s) => s.get(key));
  }
  increment(key: string, windowMs: number) {
    return this.run((s) => s.increment(key, windowMs));
  }
  reset(key: string) {
    return this.run((s) => s.reset(key));
  }
}

export interface FailureLimiterOptions {
  /** Namespace of the counters (several limiters may share one Redis). */
  name: string;
  maxPerSubject: number;
  maxPerIp: number;
  windowSeconds: number;
  redis?: Redis | null;
  onRedisError?: (err: Error) => void;
}

export class FailureLimiter {
  private readonly store: CounterStore;

  constructor(private readonly opts: FailureLimiterOptions) {
    this.store = opts.redis
      ? new FallbackCounters(new RedisCounters(opts.redis, `pagos-hotspot:${opts.name}:`), opts.onRedisError ?? (() => undefined))
      : new MemoryCounters();
  }

  /** Seconds to wait before another attempt is allowed, or 0. */
  async retryAfter(subject: string, ip: string): Promise<number> {
    const [a, i] = await Promise.all([this.store.get(`s:${subject}`), this.store.get(`i:${ip}`)]);
    const waits: number[] = [];
    if (a.count >= this.opts.maxPerSubject) waits.push(a.ttlMs);
    if (i.count >= this.opts.maxPerIp) waits.push(i.ttlMs);
    return waits.length ? Math.max(1, Math.ceil(Math.max(...waits) / 1000)) : 0;
  }

  async recordFailure(subject: string, ip: string): Promise<void> {
    const ms = this.opts.windowSeconds * 1000;
    await Promise.all([this.store.increment(`s:${subject}`, ms), this.store.increment(`i:${ip}`, ms)]);
  }

  async recordSuccess(subject: string): Promise<void> {
    await this.store.reset(`s:${subject}`);
  }
}
