/**
 * Failed voucher checks (auto-reconnect, profile-info) counted per router and client device, and per
 * router and client IP (fixed windows, in memory per instance). This is what makes PIN vouchers — whose
 * only secret is the 5-digit name — impractical to enumerate.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly maxPerClient: number, private readonly maxPerIp: number, private readonly windowSeconds: number) {}

  /** Seconds to wait before another attempt, or 0. */
  retryAfter(client: string, ip: string, now = Date.now()): number {
    const waits: number[] = [];
    const c = this.current(`c:${client}`, now);
    const i = this.current(`i:${ip}`, now);
    if (c && c.count >= this.maxPerClient) waits.push(c.resetAt - now);
    if (i && i.count >= this.maxPerIp) waits.push(i.resetAt - now);
    return waits.length ? Math.max(1, Math.ceil(Math.max(...waits) / 1000)) : 0;
  }

  failure(client: string, ip: string, now = Date.now()): void {
    this.bump(`c:${client}`, now);
    this.bump(`i:${ip}`, now);
  }

  success(client: string): void {
    this.windows.delete(`c:${client}`);
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
    if (w) {
      w.count++;
      return;
    }
    if (this.windows.size > 100_000) {
      for (const [k, v] of this.windows) if (v.resetAt <= now) this.windows.delete(k);
      if (this.windows.size > 100_000) this.windows.clear();
    }
    this.windows.set(key, { count: 1, resetAt: now + this.windowSeconds * 1000 });
  }
}
