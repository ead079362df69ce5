/**
 * Tell every instance's caches that something changed. Called twice per change: inside the transaction
 * (the NOTIFY then reaches the other instances exactly when the change commits, never before and never
 * lost if we crash right after commit), and again after commit, so that this instance cannot keep a
 * verification it cached between the first announcement and the commit.
 */
import type { AppContext } from '../../context.js';
import type { Executor } from '../../infra/db/index.js';

export async function announce(ctx: AppContext, topics: string[], tx?: Executor): Promise<void> {
  for (const topic of new Set(topics)) await ctx.bus.publish(topic, tx);
}
