/**
 * Circuit breaker per router: after `threshold` consecutive connection failures the circuit opens and
 * calls fail at once (with the last failure's message) for `cooldownMs`; then one trial connection is let
 * through (half-open): success closes the circuit, failure opens it again.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  lastError: Error | null = null;

  constructor(private readonly threshold: number, private readonly cooldownMs: number, private readonly now: () => number = Date.now) {}

  get state(): BreakerState {
    if (this.failures < this.threshold) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half_open' : 'open';
  }

  /** May a connection attempt go ahead now? (In half-open state only one at a time.) */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.lastError = null;
  }

  failure(err: Error): void {
    this.trialInFlight = false;
    this.lastError = err;
    this.failures++;
    if (this.failures >= this.threshold) this.openedAt = this.now();
  }

  /** Forget past failures (e.g. the router's settings changed). */
  reset(): void {
    this.success();
  }
}
