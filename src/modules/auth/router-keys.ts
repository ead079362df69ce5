/**
 * Router API keys: `jwt_` + a JWS with the legacy claims, tracked by the SHA-256 of the JWS.
 *
 * Verification is on every captive-portal call, so it is cached: the cache maps the exact key to
 * what the database said about it, so a hit costs one map lookup and no signature check or database round
 * trip. Any change to keys, routers or companies is announced on the change bus (PostgreSQL NOTIFY), and
 * every instance drops its cache at once; entries also expire on their own as a safety net.
 * Usage (`use_count`, `last_used`) is summed in memory and flushed with atomic increments every second.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, errors, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import type { JwtAlgorithm } from '../../config/index.js';
import type { Database, Executor } from '../../infra/db/index.js';
import { ApiError } from '../../infra/errors.js';
import { dateToDb, dateToNaiveIso } from '../../infra/time.js';
import type { ChangeBus } from '../../infra/bus.js';
import type { Metrics } from '../../infra/metrics.js';
import { apiKeysTracking } from '../../infra/db/schema.js';

export const API_KEY_PREFIX = 'jwt_';
export const API_KEY_ISSUER = 'mikrotik-payment-api';

/** Topics on the change bus that affect key validity. */
export const KEY_TOPICS = { keys: 'router-keys', empresa: (id: string) => `empresa:${id}`, router: (id: string) => `router:${id}` };

export interface RouterPrincipal {
  keyId: string;
  empresaId: string;
  routerId: string;
  claims: Record<string, unknown>;
}

export interface MintedKey {
  apiKey: string;
  keyId: string;
  keyHash: string;
  issuedAt: Date;
  expiresAt: Date;
}

export function hashApiKeyJwt(jwt: string): string {
  return createHash('sha256').update(jwt, 'utf8').digest('hex');
}

const keyError = (detail: string, code: string) => new ApiError(401, detail, code);

interface CacheEntry {
  principal: RouterPrincipal;
  expMs: number;
  cachedAt: number;
}

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 50_000;

export class RouterKeyService {
  private readonly key: Uint8Array;
  private readonly cache = new Map<string, CacheEntry>();
  private generation = 0;
  private readonly usage = new Map<string, { count: number; lastUsed: number }>();
  /** The hit counter's child, looked up once (prom-client hashes the labels on every labelled inc). */
  private readonly hitCounter: { inc(): void };
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    secret: string,
    private readonly algorithm: JwtAlgorithm,
    private readonly expireDays: number,
    private readonly opts: { bus?: ChangeBus; metrics?: Metrics; logger?: Logger } = {},
  ) {
    this.key = new TextEncoder().encode(secret);
    this.hitCounter = opts.metrics?.routerKeyCache.labels({ outcome: 'hit' }) ?? { inc: () => undefined };
    opts.bus?.subscribe((topic) => {
      if (topic === '*' || topic === KEY_TOPICS.keys || topic.startsWith('empresa:') || topic.startsWith('router:')) this.invalidate();
    });
  }

  /** Drop every cached verification (cheap; invalidations are rare). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  /** Mint a key for a router (the caller stores the tracking row, usually in its own transaction). */
  async mint(routerId: string, empresaId: string, now = new Date()): Promise<MintedKey> {
    const keyId = 'key_' + randomBytes(8).toString('hex');
    const expiresAt = new Date(now.getTime() + this.expireDays * 86_400_000);
    // Float seconds, like the legacy keys (verifiers must accept non-integer iat/exp).
    const jwt = await new SignJWT({
      jti: keyId,
      iss: API_KEY_ISSUER,
      sub: routerId,
      empresa: empresaId,
      iat: now.getTime() / 1000,
      exp: expiresAt.getTime() / 1000,
      type: 'router_api_key',
    })
      .setProtectedHeader({ alg: this.algorithm, typ: 'JWT' })
      .sign(this.key);
    return { apiKey: API_KEY_PREFIX + jwt, keyId, keyHash: hashApiKeyJwt(jwt), issuedAt: now, expiresAt };
  }

  /** Insert the tracking row of a freshly minted key. */
  async track(executor: Executor, key: MintedKey, routerId: string, empresaId: string): Promise<void> {
    await executor.insert(apiKeysTracking).values({
      keyId: key.keyId,
      empresaId,
      routerId,
      keyHash: key.keyHash,
      issuedAt: dateToDb(key.issuedAt),
      expiresAt: dateToDb(key.expiresAt),
      revoked: false,
      useCount: 0,
    });
  }

  /** The `api_key_info` object of the legacy responses. */
  static info(key: MintedKey) {
    return {
      key_id: key.keyId,
      issued_at: dateToNaiveIso(key.issuedAt),
      expires_at: dateToNaiveIso(key.expiresAt),
      type: 'router_api_key',
    };
  }

  /**
   * A credential this instance verified recently, synchronously (null: not cached, call `verify`).
   * Same answers as `verify`: the cache is dropped on every change-bus invalidation.
   */
  verifyCached(credential: string): RouterPrincipal | null {
    if (!credential.startsWith(API_KEY_PREFIX)) throw keyError('Formato de API Key inválido', 'api_key_format');
    const jwt = credential.slice(API_KEY_PREFIX.length);
    const now = Date.now();
    // Keyed by the presented JWS itself: a hit costs a map lookup, no SHA-256 (measured in bench/).
    const hit = this.cache.get(jwt);
    if (!hit || now - hit.cachedAt >= CACHE_TTL_MS) return null;
    if (now >= hit.expMs) {
      this.cache.delete(jwt);
      throw keyError('API Key expirada', 'api_key_expired');
    }
    this.countHit(hit.principal);
    return hit.principal;
  }

  /**
   * What `verifyCached` would accept, without counting a use and without throwing (null: not cached, expired
   * or malformed — the caller then takes the full path, which answers those). With `countHit` after it, the
   * same as a `verifyCached` hit (the portal's fast path, modules/catalog/fast-path.ts).
   */
  peekCached(credential: string): RouterPrincipal | null {
    if (!credential.startsWith(API_KEY_PREFIX)) return null;
    const hit = this.cache.get(credential.slice(API_KEY_PREFIX.length));
    const now = Date.now();
    return hit && now - hit.cachedAt < CACHE_TTL_MS && now < hit.expMs ? hit.principal : null;
  }

  /** Count a use of a key `peekCached` returned (metrics and the usage flush, as a `verifyCached` hit). */
  countHit(principal: RouterPrincipal): void {
    this.hitCounter.inc();
    this.countUse(principal.keyId);
  }

  /** Verify a presented credential (`jwt_...`); throws the legacy 401s. */
  async verify(credential: string): Promise<RouterPrincipal> {
    const cached = this.verifyCached(credential);
    if (cached) return cached;
    const jwt = credential.slice(API_KEY_PREFIX.length);
    const now = Date.now();
    this.opts.metrics?.routerKeyCache.inc({ outcome: 'miss' });
    const generation = this.generation;
    const hash = hashApiKeyJwt(jwt);

    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(jwt, this.key, { algorithms: [this.algorithm] }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw keyError('API Key expirada', 'api_key_expired');
      throw keyError('API Key inválida', 'api_key_invalid');
    }
    // A session token (or anything else) signed with the same secret is still not a router key.
    if (claims.type !== 'router_api_key' || typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') {
      throw keyError('API Key inválida', 'api_key_invalid');
    }

    const rows = await this.db.query<{
      key_id: string;
      revoked: boolean | null;
      empresa_id: string;
      router_id: string;
      activa: boolean | null;
      activo: boolean | null;
      router_exists: boolean;
    }>(
      `SELECT t.key_id, t.revoked, t.empresa_id, t.router_id, e.activa, r.activo, (r.id IS NOT NULL) AS router_exists
         FROM api_keys_tracking t
         LEFT JOIN empresas e ON e.id = t.empresa_id
         LEFT JOIN routers r ON r.id = t.router_id
        WHERE t.key_hash = $1`,
      [hash],
    );
    const row = rows[0];
    if (!row || row.revoked === true || !row.router_exists) throw keyError('API Key no válida o revocada', 'api_key_revoked');
    if (row.activa !== true) throw keyError('Empresa no activa', 'empresa_inactive');
    if (row.activo === false) throw keyError('Router no activo', 'router_inactive');

    const principal: RouterPrincipal = { keyId: row.key_id, empresaId: row.empresa_id, routerId: row.router_id, claims };
    if (generation === this.generation) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(jwt, { principal, expMs: (claims.exp as number) * 1000, cachedAt: now });
    }
    this.countUse(principal.keyId);
    return principal;
  }

  private countUse(keyId: string): void {
    const entry = this.usage.get(keyId);
    // A number, not a Date: this runs on every portal request; the flush converts it.
    const now = Date.now();
    if (entry) {
      entry.count++;
      entry.lastUsed = now;
    } else {
      this.usage.set(keyId, { count: 1, lastUsed: now });
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      void this.flushUsage();
    }, 1000).unref();
  }

  /** Write the summed usage with atomic increments; on failure the counts are kept for the next try. */
  async flushUsage(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.usage.size === 0) return;
    const batch = [...this.usage.entries()];
    this.usage.clear();
    this.flushing = (async () => {
      try {
        await this.db.query(
          `UPDATE api_keys_tracking t
              SET use_count = COALESCE(t.use_count, 0) + v.n,
                  last_used = GREATEST(COALESCE(t.last_used, v.l), v.l)
             FROM (SELECT unnest($1::text[]) AS k, unnest($2::int[]) AS n, unnest($3::timestamp[]) AS l) v
            WHERE t.key_id = v.k`,
          [batch.map(([k]) => k), batch.map(([, u]) => u.count), batch.map(([, u]) => dateToDb(new Date(u.lastUsed)))],
        );
      } catch (err) {
        for (const [k, u] of batch) {
          const cur = this.usage.get(k);
          if (cur) {
            cur.count += u.count;
            if (u.lastUsed > cur.lastUsed) cur.lastUsed = u.lastUsed;
          } else this.usage.set(k, u);
        }
        this.opts.logger?.warn({ err }, 'no se pudo guardar el uso de API keys; se reintentará');
        this.flushTimer ??= setTimeout(() => {
          this.flushTimer = null;
          void this.flushUsage();
        }, 1000).unref();
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  async stop(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.flushUsage();
  }
}
