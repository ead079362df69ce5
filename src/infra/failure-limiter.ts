/**
 * The one failed-attempt limiter (login, voucher checks, lookups of unknown payment ids), in fixed windows.
 * Counters live in memory, or in Redis when REDIS_URL is set so that every instance behind a load balancer
 * shares them. Each check names rules; a rule counts failures under a key and, past `free` failures:
 * - `lock`: no attempt until its window ends (per account+IP, per voucher/device: the attacker's own key);
 * - `progressive`: one attempt per delay that doubles with each further failure (1 s, 2 s, 4 s … 30 s), so
 *   a flood slows the key down without locking its legitimate users out (per account, per IP group);
 * - `pace`: a budget of `free` attempts per window, counted when they start (a success gives its unit
 *   back), then one attempt per window/free (per router: its failure budget, whoever sends the guesses).
 * Slots are reserved atomically, so parallel requests can neither share one nor all pass a low count.
 * IPv6 clients are grouped by /64 (one host usually holds a whole /64).
 */
import type { Redis } from 'ioredis';
import { isIP } from 'node:net';

interface CounterStore {
  /** Current count and milliseconds left in the window (0 when no window). */
  get(key: string): Promise<{ count: number; ttlMs: number }>;
  /** Add one (starting the window when the key is new); the new count. */
  increment(key: string, windowMs: number): Promise<number>;
  /** Take one back, if the window still exists. */
  decrement(key: string): Promise<void>;
  reset(key: string): Promise<void>;
  /** Take the slot `key` for `ms` if it is free: 0, else the milliseconds until it frees. */
  reserve(key: string, ms: number): Promise<number>;
}

class MemoryCounters implements CounterStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private readonly slots = new Map<string, number>();

  async reserve(key: string, ms: number) {
    const now = Date.now();
    const until = this.slots.get(key) ?? 0;
    if (until > now) return until - now;
    if (this.slots.size > 100_000) for (const [k, u] of this.slots) if (u <= now) this.slots.delete(k);
    this.slots.set(key, now + ms);
    return 0;
  }

  async get(key: string) {
    const w = this.live(key, Date.now());
    return w ? { count: w.count, ttlMs: w.resetAt - Date.now() } : { count: 0, ttlMs: 0 };
  }

  async increment(key: string, windowMs: number) {
    const now = Date.now();
    const w = this.live(key, now);
    if (w) return ++w.count;
    if (this.windows.size > 100_000) this.prune(now);
    this.windows.set(key, { count: 1, resetAt: now + windowMs });
    return 1;
  }

  async decrement(key: string) {
    const w = this.live(key, Date.now());
    if (w && w.count > 0) w.count--;
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
    const res = (await this.redis.multi().incr(k).pexpire(k, windowMs, 'NX').exec()) as [[null, number], unknown];
    return Number(res[0][1]);
  }

  async decrement(key: string) {
    // Only while the window exists (a DECR on an expired key would create one without a TTL).
    await this.redis.eval("if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0", 1, this.prefix + key);
  }

  async reset(key: string) {
    await this.redis.del(this.prefix + key);
  }

  async reserve(key: string, ms: number) {
    const k = this.prefix + 'slot:' + key;
    const ok = await this.redis.set(k, '1', 'PX', Math.max(1, Math.ceil(ms)), 'NX');
    if (ok === 'OK') return 0;
    return Math.max(1, await this.redis.pttl(k));
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
  decrement(key: string) {
    return this.run((s) => s.decrement(key));
  }
  reset(key: string) {
    return this.run((s) => s.reset(key));
  }
  reserve(key: string, ms: number) {
    return this.run((s) => s.reserve(key, ms));
  }
}

export type LimitMode = 'lock' | 'progressive' | 'pace';

export interface LimitRule {
  key: string;
  /** Failures allowed in the window before the rule acts. */
  free: number;
  mode: LimitMode;
  /** This rule's window, when not the limiter's. */
  windowSeconds?: number;
}

export interface FailureLimiterOptions {
  /** Namespace of the counters (several limiters may share one Redis). */
  name: string;
  windowSeconds: number;
  redis?: Redis | null;
  onRedisError?: (err: Error) => void;
  /** First and largest delay of `progressive` rules. */
  progressiveBaseMs?: number;
  progressiveMaxMs?: number;
}

export class FailureLimiter {
  private readonly store: CounterStore;

  constructor(private readonly opts: FailureLimiterOptions) {
    this.store = opts.redis
      ? new FallbackCounters(new RedisCounters(opts.redis, `pagos-hotspot:${opts.name}:`), opts.onRedisError ?? (() => undefined))
      : new MemoryCounters();
  }

  private windowOf(r: LimitRule): number {
    return (r.windowSeconds ?? this.opts.windowSeconds) * 1000;
  }

  /**
   * May an attempt go ahead now? 0: yes (and any slot it needed is now taken); otherwise the seconds to
   * wait (for the Retry-After header).
   */
  async attempt(rules: LimitRule[]): Promise<number> {
    const counts = await Promise.all(rules.map((r) => (r.mode === 'pace' ? null : this.store.get(r.key))));
    let waitMs = 0;
    // Locks first: a locked attempt must not use up a slot.
    rules.forEach((r, i) => {
      const c = counts[i];
      if (r.mode === 'lock' && c && c.count >= r.free) waitMs = Math.max(waitMs, c.ttlMs);
    });
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    const taken: LimitRule[] = [];
    for (const [i, r] of rules.entries()) {
      if (r.mode === 'lock') continue;
      let count: number;
      if (r.mode === 'pace') {
        // A budget counts attempts as they start (atomically), so a burst of parallel requests cannot all
        // pass while the count is still low; a success gives its unit back (recordSuccess).
        count = await this.store.increment(r.key, this.windowOf(r));
        taken.push(r);
        if (count <= r.free) continue;
      } else {
        count = counts[i]!.count;
        if (count < r.free) continue;
      }
      const left = await this.store.reserve(r.key, this.slotMs(r, count));
      if (left > 0) waitMs = Math.max(waitMs, left);
    }
    if (waitMs > 0) {
      // Refused: the budget units this attempt took are given back.
      await Promise.all(taken.map((r) => this.store.decrement(r.key)));
      return Math.max(1, Math.ceil(waitMs / 1000));
    }
    return 0;
  }

  private progressiveDelay(excess: number): number {
    const base = this.opts.progressiveBaseMs ?? 1000;
    return Math.min(this.opts.progressiveMaxMs ?? 30_000, base * 2 ** Math.min(20, excess));
  }

  async recordFailure(rules: LimitRule[]): Promise<void> {
    // Budgets (pace) were counted when the attempt started.
    const counted = rules.filter((r) => r.mode !== 'pace');
    const counts = await Promise.all(counted.map((r) => this.store.increment(r.key, this.windowOf(r))));
    // A slowed key waits from its last failure too (not only from its last attempt).
    await Promise.all(counted.map((r, i) => (r.mode === 'progressive' && counts[i] >= r.free ? this.store.reserve(r.key, this.slotMs(r, counts[i])) : null)));
  }

  private slotMs(r: LimitRule, count: number): number {
    return r.mode === 'pace' ? this.windowOf(r) / r.free : this.progressiveDelay(count - r.free);
  }

  /**
   * A success: the failures of the lock/progressive keys given are forgiven (pass only the subject's own
   * keys, never an IP group's), and a budget (pace) gets back the unit this attempt took.
   */
  async recordSuccess(rules: LimitRule[]): Promise<void> {
    await Promise.all(rules.map((r) => (r.mode === 'pace' ? this.store.decrement(r.key) : this.store.reset(r.key))));
  }
}

/** The client's address as limits see it: IPv4 as is (mapped ones unmapped), IPv6 grouped by /64. */
export function ipGroup(ip: string): string {
  const bare = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1];
  if (isIP(bare) !== 6) return bare;
  const [head, tail = ''] = bare.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = bare.includes('::') ? (tail ? tail.split(':') : []) : [];
  // An embedded IPv4 tail counts as two groups; only the first four groups matter here.
  const groups = [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64';
}

/** Rule sets: the limits of each kind of attempt, in one place. */
export const limitRules = {
  /** Admin login: per (account, IP) a lock; per account progressive delays; per IP a lock. */
  login(account: string, ip: string, c: { maxPerAccount: number; maxPerIp: number }): LimitRule[] {
    const g = ipGroup(ip);
    return [
      { key: `ai:${account}|${g}`, free: c.maxPerAccount, mode: 'lock' },
      { key: `a:${account}`, free: c.maxPerAccount, mode: 'progressive' },
      { key: `i:${g}`, free: c.maxPerIp, mode: 'lock' },
    ];
  },
  /** What a success forgives on login: the (account, IP) pair and the account's delays. */
  loginSuccess(account: string, ip: string): LimitRule[] {
    return [
      { key: `ai:${account}|${ipGroup(ip)}`, free: 0, mode: 'lock' },
      { key: `a:${account}`, free: 0, mode: 'progressive' },
    ];
  },
  /**
   * Voucher checks on a router: per device/user name a lock; per IP group progressive (everyone behind a
   * hotspot's NAT shares it: slowed, not locked out); per router a failure budget, paced beyond it, which
   * bounds the guessing rate whatever addresses and MACs an attacker uses.
   */
  voucher(routerId: string, client: string, ip: string, c: { maxPerClient: number; maxPerIp: number; routerBudget: number }): LimitRule[] {
    return [
      { key: `c:${routerId}|${client}`, free: c.maxPerClient, mode: 'lock' },
      { key: `i:${routerId}|${ipGroup(ip)}`, free: c.maxPerIp, mode: 'progressive' },
      { key: `r:${routerId}`, free: c.routerBudget, mode: 'pace' },
    ];
  },
  /** What a valid voucher check settles: its device/name key is forgiven, its router budget unit given back. */
  voucherSuccess(rules: LimitRule[]): LimitRule[] {
    return rules.filter((r) => r.mode !== 'progressive');
  },
  /** Explicit router connection tests of a company: every test counts (recorded as an attempt). */
  routerTest(empresaId: string, perMinute: number): LimitRule[] {
    return [{ key: `t:${empresaId}`, free: perMinute, mode: 'lock', windowSeconds: 60 }];
  },
  /**
   * Lookups of payment ids this router has no purchase for (ids are close to sequential): per IP group
   * progressive, per router paced.
   */
  unknownPayment(routerId: string, ip: string): LimitRule[] {
    return [
      { key: `pi:${routerId}|${ipGroup(ip)}`, free: 10, mode: 'progressive' },
      { key: `pr:${routerId}`, free: 60, mode: 'progressive' },
    ];
  },
};
