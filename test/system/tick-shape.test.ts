/**
 * src/infra/tick-shape.ts keeps one of Node's nextTick records alive (why: see the module). If a Node
 * release stops handing its records to async hooks, this fails and the README's figure needs measuring again.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { keptTickRecord } from '../../src/infra/tick-shape.js';

it("keeps a real nextTick record: Node's own shape, its callback and two async-id symbols", () => {
  const kept = keptTickRecord() as { callback?: unknown } | null;
  assert.ok(kept, 'no record was handed to the init hook');
  assert.equal(typeof kept.callback, 'function');
  assert.equal(Object.getOwnPropertySymbols(kept).length, 2);
});
