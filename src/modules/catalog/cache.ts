/**
 * In-memory cache of the captive portal's hottest reads (public config and catalog), per router.
 * Bodies are stored already serialized, with their ETag, so a hit costs a map lookup.
 *
 * Invalidation rides the change bus (PostgreSQL NOTIFY, so every instance hears it within milliseconds):
 * `catalog:<routerId>` and `router:<routerId>` drop that router's entries, `empresa:<id>` drops every
 * router of that company, `*` drops everything. A load that started before an invalidation is not stored
 * (generation check), and entries also expire on their own as a safety net.
 */
import { createHash } from 'node:crypto';
import type { ChangeBus } from '../../infra/bus.js';

export interface CachedBody {
  /** UTF-8 bytes: sent as they are, with no per-request encoding or length scan. */
  body: Buffer;
  etag: string;
}

export function cachedBody(value: unknown): CachedBody {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** RFC 9110 If-None-Match: a list of entity tags (weak comparison) or `*`. */
export function etagMatches(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const header = Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === bare;
  });
}

interface Entry<T> {
  empresaId: string;
  routerId: string;
  value: T;
  storedAt: number;
}

const TTL_MS = 5 * 60_000;
const MAX_ENTRIES = 20_000;

export class RouterScopedCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly loading = new Map<string, Promise<T>>();
  private generation = 0;

  constructor(bus: ChangeBus | null, private readonly now: () => number = Date.now) {
    bus?.subscribe((topic) => this.onChange(topic));
  }

  private key(empresaId: string, routerId: string): string {
    return `${empresaId}\u0000${routerId}`;
  }

  /** The cached value if present, fresh and that company's, synchronously (the hot path answers without a promise). */
  peek(empresaId: string, routerId: string): T | undefined {
    return this.fresh(empresaId, routerId)?.value;
  }

  /**
   * Entries are keyed by the router's id alone (the routers table's primary key), then checked for the
   * company: the portal's hot path then hashes a string it already holds instead of building a new key.
   */
  private fresh(empresaId: string, routerId: string): Entry<T> | undefined {
    const hit = this.entries.get(routerId);
    return hit && hit.empresaId === empresaId && this.now() - hit.storedAt < TTL_MS ? hit : undefined;
  }

  async get(empresaId: string, routerId: string, load: () => Promise<T>): Promise<T> {
    const hit = this.fresh(empresaId, routerId);
    if (hit) return hit.value;
    // Loads in flight are shared only within a company.
    const key = this.key(empresaId, routerId);
    const pending = this.loading.get(key);
    if (pending) return pending;
    const generation = this.generation;
    const p = load()
      .then((value) => {
        // Something changed while we were reading: serve this answer, but do not keep it.
        if (generation === this.generation) {
          if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
          this.entries.set(routerId, { empresaId, routerId, value, storedAt: this.now() });
        }
        return value;
      })
      .finally(() => {
        if (this.loading.get(key) === p) this.loading.delete(key);
      });
    this.loading.set(key, p);
    return p;
  }

  onChange(topic: string): void {
    const sep = topic.indexOf(':');
    const kind = sep < 0 ? topic : topic.slice(0, sep);
    const id = sep < 0 ? '' : topic.slice(sep + 1);
    let drop: ((e: Entry<T>) => boolean) | null = null;
    if (topic === '*') drop = () => true;
    else if (kind === 'catalog' || kind === 'router') drop = (e) => e.routerId === id;
    else if (kind === 'empresa') drop = (e) => e.empresaId === id;
    if (!drop) return;
    this.generation++;
    // In-flight loads may hold the old data: forget them so the next reader starts a fresh one.
    this.loading.clear();
    for (const [k, e] of this.entries) if (drop(e)) this.entries.delete(k);
  }

  clear(): void {
    this.onChange('*');
  }
}
