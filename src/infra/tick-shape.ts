/**
 * Keeps one of Node's own `process.nextTick` records alive for the life of the process.
 *
 * Node builds each record as an object literal with computed (symbol) keys. V8's optimized code stores those
 * keys fast only while the literal's feedback holds one hidden class. A full GC while no record is alive (V8's
 * memory reducer runs one whenever the process turns idle) collects that class, the next record gets a new one,
 * and the feedback turns megamorphic for good: every record afterwards goes through
 * Runtime_DefineKeyedOwnPropertyInLiteral. On the portal's catalog that was ~30 % more CPU per request after
 * the first quiet moment (perf; README "Production build"). A live record keeps the class alive. Node hands
 * its records to async hooks' `init`, so one hook, enabled for a single tick, takes one.
 * Imported first by server.ts, before the first full GC.
 */
import { createHook } from 'node:async_hooks';

let kept: object | null = null;
const hook = createHook({
  init(_asyncId, type, _triggerAsyncId, resource) {
    if (type === 'TickObject' && kept === null) kept = resource as object;
  },
});
hook.enable();
process.nextTick(() => undefined);
hook.disable();

/** The record kept (null if this Node did not hand one over: then nothing is pinned, and nothing breaks). */
export const keptTickRecord = (): object | null => kept;
