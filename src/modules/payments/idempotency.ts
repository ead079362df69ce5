/**
 * `Idempotency-Key` on purchase requests, stored in PostgreSQL (shared by every instance). The first
 * request with a key owns it; a repeat with the same body gets the stored response (waiting while the
 * first is still running, so concurrent duplicates charge once); the same key with another body is a 409.
 * A request that ended before any charge was attempted releases its key, so it can be retried.
 */
import { createHash } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../infra/db/index.js';
import type { SecretBox } from '../../infra/crypto/secrets.js';

export interface StoredResponse {
  status: number;
  body: Record<string, unknown>;
}

export type Claim =
  | { kind: 'owner' }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'conflict'; detail: string; code: string; referencia: string | null };

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function validIdempotencyKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** Stable hash of a request body: keys sorted at every level. */
export function requestHash(endpoint: string, body: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return createHash('sha256').update(endpoint).update('\n').update(JSON.stringify(canon(body))).digest('hex');
}

export class IdempotencyStore {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    /** How long a duplicate waits for the first request to finish. */
    private readonly waitMs: number,
  ) {}

  async claim(routerId: string, key: string, endpoint: string, hash: string): Promise<Claim> {
    const inserted = await this.db.query<{ clave: string }>(
      `INSERT INTO idempotencia_solicitudes (router_id, clave, endpoint, hash_solicitud)
       VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING clave`,
      [routerId, key, endpoint, hash],
    );
    if (inserted.length > 0) return { kind: 'owner' };
    const deadline = Date.now() + this.waitMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
      const [row] = await this.db.query<{ endpoint: string; hash_solicitud: string; estado: string; referencia: string | null; respuesta_status: number | null; respuesta_cifrada: string | null }>(
        `SELECT endpoint, hash_solicitud, estado, referencia, respuesta_status, respuesta_cifrada
           FROM idempotencia_solicitudes WHERE router_id = $1 AND clave = $2`,
        [routerId, key],
      );
      if (!row) {
        // The owner released the key (it failed before charging): take it over.
        const again = await this.db.query(
          `INSERT INTO idempotencia_solicitudes (router_id, clave, endpoint, hash_solicitud)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING clave`,
          [routerId, key, endpoint, hash],
        );
        if (again.length > 0) return { kind: 'owner' };
        continue;
      }
      if (row.endpoint !== endpoint || row.hash_solicitud !== hash) {
        return { kind: 'conflict', detail: 'La clave de idempotencia ya se usó con otra solicitud', code: 'idempotency_key_reused', referencia: row.referencia };
      }
      if (row.estado === 'completada' && row.respuesta_status !== null && row.respuesta_cifrada) {
        const body = JSON.parse(this.box.decrypt(row.respuesta_cifrada) ?? '{}') as Record<string, unknown>;
        return { kind: 'replay', response: { status: row.respuesta_status, body } };
      }
      if (Date.now() >= deadline) {
        return {
          kind: 'conflict',
          detail: 'Una solicitud con esta clave de idempotencia sigue en proceso; consulte la transacción por su referencia',
          code: 'idempotency_in_progress',
          referencia: row.referencia,
        };
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /**
   * The purchase's referencia on the key, as one SQL statement that the purchase commits together with its
   * attempt (so a duplicate sees the referencia exactly when the attempt exists, without a commit of its own).
   */
  referenciaSql(routerId: string, key: string, referencia: string): SQL {
    return sql`UPDATE idempotencia_solicitudes SET referencia = ${referencia}, actualizada_en = now() WHERE router_id = ${routerId} AND clave = ${key}`;
  }

  async complete(routerId: string, key: string, response: StoredResponse): Promise<void> {
    await this.db.query(
      `UPDATE idempotencia_solicitudes SET estado = 'completada', respuesta_status = $3, respuesta_cifrada = $4, actualizada_en = now()
        WHERE router_id = $1 AND clave = $2`,
      [routerId, key, response.status, this.box.encrypt(JSON.stringify(response.body))],
    );
  }

  async release(routerId: string, key: string): Promise<void> {
    await this.db.query(`DELETE FROM idempotencia_solicitudes WHERE router_id = $1 AND clave = $2 AND estado = 'procesando'`, [routerId, key]);
  }
}
