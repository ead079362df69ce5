/**
 * `Idempotency-Key` on purchase requests, stored in PostgreSQL (shared by every instance). The first
 * request with a key owns it; a repeat with the same body gets the stored response; the same key with
 * another body is a 409 that names nothing of the first purchase. Once the key has a referencia (the
 * attempt exists: both commit in one statement), a repeat whose first request has not completed (still
 * running, or died: a database cut, a SIGKILL) is answered at once from the transaction row (202,
 * referencia, estado), never kept waiting and never a 409; before that it waits a bounded time, then 409
 * without a referencia. A request that ended before any attempt existed releases its key; one that died
 * before (or whose release failed with the database) leaves it to a same-key retry, which takes it over once
 * the owner has been silent for `staleMs`: the key names its owner, and an attempt commits only while the key
 * still names it, so a slow old owner is refused (nothing charged) instead of charging beside the new one.
 */
import { createHash } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../infra/db/index.js';
import { ASYNC_COMMIT_CTE } from '../../infra/db/async-commit.js';
import type { SecretBox } from '../../infra/crypto/secrets.js';

export interface StoredResponse {
  status: number;
  body: Record<string, unknown>;
}

export type Claim =
  | { kind: 'owner' }
  | { kind: 'replay'; response: StoredResponse }
  /** The attempt exists under this referencia but its answer was never stored: answer from the row. */
  | { kind: 'attempt'; referencia: string }
  | { kind: 'conflict'; detail: string; code: string };

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

/**
 * The claim and the stored answer commit asynchronously (infra/db/async-commit.ts): the attempt's commit,
 * synchronous and always before a charge, flushes the claim with it (lost before that, nothing was charged
 * and a retry claims again); a lost answer is the case of a `complete` that failed (a same-key retry is
 * answered from the attempt's row).
 */
const ASYNC_COMMIT = ASYNC_COMMIT_CTE;

export class IdempotencyStore {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    /** How long a duplicate waits for the first request to record its attempt (≤ 10 s). */
    private readonly waitMs: number,
    /** After how long without an attempt a key's owner is presumed dead and a same-key retry takes over. */
    private readonly staleMs: number,
  ) {}

  /** `owner`: a token of this request (its referencia), which the attempt's commit must still find on the key. */
  async claim(routerId: string, key: string, endpoint: string, hash: string, owner: string): Promise<Claim> {
    const inserted = await this.db.query<{ clave: string }>(
      `WITH ${ASYNC_COMMIT}
       INSERT INTO idempotencia_solicitudes (router_id, clave, endpoint, hash_solicitud, propietario)
       SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::varchar FROM nowait ON CONFLICT DO NOTHING RETURNING clave`,
      [routerId, key, endpoint, hash, owner],
    );
    if (inserted.length > 0) return { kind: 'owner' };
    const deadline = Date.now() + this.waitMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
      const [row] = await this.db.query<{
        endpoint: string;
        hash_solicitud: string;
        estado: string;
        referencia: string | null;
        respuesta_status: number | null;
        respuesta_cifrada: string | null;
        propietario: string | null;
        silent: boolean;
      }>(
        `SELECT endpoint, hash_solicitud, estado, referencia, respuesta_status, respuesta_cifrada, propietario,
                actualizada_en < now() - make_interval(secs => $3::double precision / 1000) AS silent
           FROM idempotencia_solicitudes WHERE router_id = $1 AND clave = $2`,
        [routerId, key, this.staleMs],
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
      // Another body: nothing of the first purchase (its referencia opens its transaction) is shown.
      if (row.endpoint !== endpoint || row.hash_solicitud !== hash) {
        return { kind: 'conflict', detail: 'La clave de idempotencia ya se usó con otra solicitud', code: 'idempotency_key_reused' };
      }
      if (row.estado === 'completada' && row.respuesta_status !== null && row.respuesta_cifrada) {
        const body = JSON.parse(this.box.decrypt(row.respuesta_cifrada) ?? '{}') as Record<string, unknown>;
        return { kind: 'replay', response: { status: row.respuesta_status, body } };
      }
      // Running, dead, or its stored answer purged: the attempt exists, its row tells the state at once.
      if (row.referencia) return { kind: 'attempt', referencia: row.referencia };
      if (row.estado === 'procesando' && row.silent) {
        // No attempt, and its owner silent for staleMs: it died (or its release failed). Take the key over; the
        // guard on the old owner's token makes two retries race for it safely.
        const taken = await this.db.query(
          `UPDATE idempotencia_solicitudes SET propietario = $3, actualizada_en = now()
            WHERE router_id = $1 AND clave = $2 AND estado = 'procesando' AND referencia IS NULL AND propietario IS NOT DISTINCT FROM $4
            RETURNING clave`,
          [routerId, key, owner, row.propietario],
        );
        if (taken.length > 0) return { kind: 'owner' };
        continue;
      }
      if (Date.now() >= deadline) {
        return {
          kind: 'conflict',
          detail: 'Una solicitud con esta clave de idempotencia sigue en proceso; reintente en unos segundos con la misma clave',
          code: 'idempotency_in_progress',
        };
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /**
   * The purchase's referencia on the key, as one SQL statement that the purchase commits together with its
   * attempt (so a duplicate sees the referencia exactly when the attempt exists, without a commit of its own).
   * It returns one row while the key still names `owner`, none once another request took the key over: the
   * attempt's statement then fails and nothing is recorded or charged (see `createAttempt`).
   */
  referenciaSql(routerId: string, key: string, owner: string, referencia: string): SQL {
    return sql`UPDATE idempotencia_solicitudes SET referencia = ${referencia}, actualizada_en = now()
      WHERE router_id = ${routerId} AND clave = ${key} AND propietario = ${owner} AND referencia IS NULL RETURNING 1`;
  }

  async complete(routerId: string, key: string, response: StoredResponse): Promise<void> {
    await this.db.query(
      `WITH ${ASYNC_COMMIT}
       UPDATE idempotencia_solicitudes SET estado = 'completada', respuesta_status = $3, respuesta_cifrada = $4, actualizada_en = now()
         FROM nowait WHERE router_id = $1 AND clave = $2`,
      [routerId, key, response.status, this.box.encrypt(JSON.stringify(response.body))],
    );
  }

  /**
   * Free a key whose request ended before any attempt existed (a key with a referencia is kept: the attempt
   * exists), unless another request has taken it over meanwhile.
   */
  async release(routerId: string, key: string, owner: string): Promise<void> {
    await this.db.query(
      `DELETE FROM idempotencia_solicitudes WHERE router_id = $1 AND clave = $2 AND estado = 'procesando' AND referencia IS NULL AND propietario IS NOT DISTINCT FROM $3`,
      [routerId, key, owner],
    );
  }

  /**
   * Retention: stored answers older than `hours` lose their body (voucher credentials) and keep only the
   * referencia, so a late same-key retry is still answered from the transaction row; keys ten times older go.
   */
  async purge(hours: number): Promise<{ stripped: number; deleted: number }> {
    const stripped = await this.db.query(
      `UPDATE idempotencia_solicitudes SET respuesta_cifrada = NULL, respuesta_status = NULL, estado = 'purgada', actualizada_en = now()
        WHERE creada_en < now() - make_interval(hours => $1) AND respuesta_cifrada IS NOT NULL RETURNING clave`,
      [hours],
    );
    const deleted = await this.db.query(`DELETE FROM idempotencia_solicitudes WHERE creada_en < now() - make_interval(hours => $1) RETURNING clave`, [hours * 10]);
    return { stripped: stripped.length, deleted: deleted.length };
  }
}
