/**
 * Failed-login throttling per account and per client IP (fixed windows). In memory per instance;
 * counters are small and bounded. Successful logins reset the account's counter.
 */
export class LoginLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly maxPerAccount: number, private readonly maxPerIp: number, private readonly windowSeconds: number) {}

  /** Seconds to wait before another attempt is allowed, or 0. */
  retryAfter(account: string, ip: string, now = Date.now()): number {
    const a = this.current(`a:${account}`, now);
    const i = this.current(`i:${ip}`, now);
    const waits = [];
    if (a && a.count >= this.maxPerAccount) waits.push(a.resetAt - now);
    if (i && i.count >= this.maxPerIp) waits.push(i.resetAt - now);
    return waits.length ? Math.max(1, Math.ceil(Math.max(...waits) / 1000)) : 0;
  }

  recordFailure(account: string, ip: string, now = Date.now()): void {
    this.bump(`a:${account}`, now);
    this.bump(`i:${ip}`, now);
  }

  recordSuccess(account: string): void {
    this.windows.delete(`a:${account}`);
  }

  private current(key: string, now: number) {
    const w = this.windows.get(key);
    if (w && w.resetAt <= now) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  private bump(key: string, now: number): void {
    const w = this.current(key, now);
    if (w) w.count++;
    else {
      if (this.windows.size > 100_000) this.prune(now);
      this.windows.set(key, { count: 1, resetAt: now + this.windowSeconds * 1000 });
    }
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    if (this.windows.size > 100_000) this.windows.clear();
  }
}
