/**
 * Change notifications between instances: PostgreSQL NOTIFY on one channel, topics as payloads.
 * Caches subscribe to topics and drop what changed; '*' (sent after a reconnect) means "drop everything".
 */
import type { Logger } from 'pino';
import type { Database, Executor } from './db/index.js';
import { sql } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';

export const CHANGES_CHANNEL = 'pagos_hotspot_cambios';

export type ChangeHandler = (topic: string) => void;

export class ChangeBus {
  private readonly handlers = new Set<ChangeHandler>();
  private unsubscribe: (() => Promise<void>) | null = null;
  /** Payloads are `<instance>|<topic>`; our own echo is skipped (we dispatched locally already). */
  private readonly instance = randomBytes(6).toString('hex');

  constructor(private readonly db: Database, private readonly logger?: Logger) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.db.listen(CHANGES_CHANNEL, (payload) => {
      const bar = payload.indexOf('|');
      if (bar < 0) return this.dispatch(payload || '*');
      if (payload.slice(0, bar) !== this.instance) this.dispatch(payload.slice(bar + 1));
    });
  }

  subscribe(handler: ChangeHandler): void {
    this.handlers.add(handler);
  }

  /**
   * Announce a change to every instance. Inside a transaction the NOTIFY is delivered on commit; the
   * local instance is told at once as well (dropping a cache entry early is always safe).
   */
  async publish(topic: string, executor?: Executor): Promise<void> {
    this.dispatch(topic);
    await (executor ?? this.db.orm).execute(sql`SELECT pg_notify(${CHANGES_CHANNEL}, ${`${this.instance}|${topic}`})`);
  }

  private dispatch(topic: string): void {
    for (const h of this.handlers) {
      try {
        h(topic);
      } catch (err) {
        this.logger?.error({ err }, 'error en un suscriptor de cambios');
      }
    }
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }
}
