/**
 * The portal caches (src/modules/catalog/cache.ts) key entries by router id alone and check the company on
 * every read: an entry is never answered to another company, whatever router id it asks for.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RouterScopedCache } from '../../src/modules/catalog/cache.js';

describe('RouterScopedCache: scoped by company, dropped by the change bus topics', () => {
  it('a router id asked for by another company is a miss, served from its own load', async () => {
    const cache = new RouterScopedCache<string>(null);
    assert.equal(await cache.get('empresa-a', 'router-1', async () => 'a'), 'a');
    assert.equal(cache.peek('empresa-a', 'router-1'), 'a');
    assert.equal(cache.peek('empresa-b', 'router-1'), undefined);
    let loads = 0;
    assert.equal(
      await cache.get('empresa-b', 'router-1', async () => {
        loads++;
        return 'b';
      }),
      'b',
    );
    assert.equal(loads, 1);
    // The last load owns the router id: company A's next read loads again rather than see B's value.
    assert.equal(cache.peek('empresa-a', 'router-1'), undefined);
    assert.equal(cache.peek('empresa-b', 'router-1'), 'b');
  });

  it('router:, catalog: and empresa: topics drop what they name; entries expire', async () => {
    let now = 0;
    const cache = new RouterScopedCache<string>(null, () => now);
    await cache.get('e1', 'r1', async () => 'x');
    await cache.get('e1', 'r2', async () => 'y');
    await cache.get('e2', 'r3', async () => 'z');
    cache.onChange('catalog:r1');
    assert.equal(cache.peek('e1', 'r1'), undefined);
    assert.equal(cache.peek('e1', 'r2'), 'y');
    cache.onChange('empresa:e1');
    assert.equal(cache.peek('e1', 'r2'), undefined);
    assert.equal(cache.peek('e2', 'r3'), 'z');
    now += 5 * 60_000;
    assert.equal(cache.peek('e2', 'r3'), undefined);
  });
});
