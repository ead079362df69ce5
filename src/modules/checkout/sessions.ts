/**
 * Checkout sessions: the router page hands a purchase to our HTTPS page. The session id is 32 random
 * bytes (base64url) given once to the router page; only its SHA-256 is stored. A session is bound to its
 * router, key and product, lives `CHECKOUT_SESSION_MINUTES`, and starts at most one purchase (`referencia`
 * is claimed in one guarded UPDATE). Everything the router page sends is validated as hostile input.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../../infra/db/index.js';

export type Pasarela = 'conekta' | 'mercado_pago';

export interface LoginContext {
  linkLoginOnly: string | null;
  chapId: string | null;
  chapChallenge: string | null;
  mac: string | null;
  ip: string | null;
  dst: string | null;
}

/** What a session is bound to and who buys: given at creation, read back with the session. */
export interface SessionTerms extends LoginContext {
  empresaId: string;
  routerId: string;
  apiKeyId: string;
  productoId: number;
  pasarela: Pasarela;
  nombre: string;
  email: string;
  telefono: string | null;
  /** A top-up of this voucher (its proof was checked when the session was made), or null for a new voucher. */
  recargaUsuario?: string | null;
}

export interface CheckoutSession extends SessionTerms {
  id: number;
  creadaEn: string;
  expiraEn: string;
  referencia: string | null;
  /** Still before expira_en (by the database clock). */
  vigente: boolean;
  /** Created in the last 24 hours: the page may still show the voucher it bought (then the link shows nothing). */
  reciente: boolean;
}

export const hashSessionId = (id: string): string => createHash('sha256').update(id, 'utf8').digest('hex');
export const newSessionId = (): string => randomBytes(32).toString('base64url');
/** The shape of an id we hand out (43 base64url characters); anything else is not looked up. */
export const SESSION_ID_RE = /^[A-Za-z0-9_-]{43}$/;

// --- Validation of what the router page relays from RouterOS ($(link-login-only), $(chap-id), …) ---

/** RouterOS writes chap-id / chap-challenge as octal escapes (`\\123`), 1 and 16 bytes. */
const CHAP_RE = /^(?:\\[0-3][0-7]{2}){1,64}$/;
const MAC_RE = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$/;
const IPV4_RE = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function httpUrl(raw: string, max: number): boolean {
  if (raw.length > max || /[\s"'<>\\`]/.test(raw)) return false;
  try {
    const u = new URL(raw);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
  } catch {
    return false;
  }
}

export interface RawLoginContext {
  link_login_only?: string | null;
  chap_id?: string | null;
  chap_challenge?: string | null;
  mac?: string | null;
  ip?: string | null;
  dst?: string | null;
}

/** The login context, or the name of the first field that is not what RouterOS sends. */
export function parseLoginContext(raw: RawLoginContext): LoginContext | { invalid: string } {
  const t = (v: string | null | undefined) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
  const ctx: LoginContext = {
    linkLoginOnly: t(raw.link_login_only),
    chapId: t(raw.chap_id),
    chapChallenge: t(raw.chap_challenge),
    mac: t(raw.mac)?.toUpperCase() ?? null,
    ip: t(raw.ip),
    dst: t(raw.dst),
  };
  if (ctx.linkLoginOnly !== null && !httpUrl(ctx.linkLoginOnly, 500)) return { invalid: 'link_login_only' };
  if (ctx.chapId !== null && (!CHAP_RE.test(ctx.chapId) || ctx.chapId.length > 64)) return { invalid: 'chap_id' };
  if (ctx.chapChallenge !== null && (!CHAP_RE.test(ctx.chapChallenge) || ctx.chapChallenge.length > 256)) return { invalid: 'chap_challenge' };
  if ((ctx.chapId === null) !== (ctx.chapChallenge === null)) return { invalid: ctx.chapId === null ? 'chap_id' : 'chap_challenge' };
  if (ctx.mac !== null && !MAC_RE.test(ctx.mac)) return { invalid: 'mac' };
  if (ctx.ip !== null && !IPV4_RE.test(ctx.ip)) return { invalid: 'ip' };
  if (ctx.dst !== null && !httpUrl(ctx.dst, 500)) return { invalid: 'dst' };
  return ctx;
}

// --- Queries ---

type Row = Record<string, unknown>;
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toSession(r: Row): CheckoutSession {
  return {
    id: Number(r.id),
    empresaId: String(r.empresa_id),
    routerId: String(r.router_id),
    apiKeyId: String(r.api_key_id),
    productoId: Number(r.producto_id),
    pasarela: r.pasarela as Pasarela,
    nombre: String(r.nombre_cliente),
    email: String(r.email_cliente),
    telefono: str(r.telefono_cliente),
    linkLoginOnly: str(r.link_login_only),
    chapId: str(r.chap_id),
    chapChallenge: str(r.chap_challenge),
    mac: str(r.mac),
    ip: str(r.ip),
    dst: str(r.dst),
    recargaUsuario: str(r.recarga_usuario),
    creadaEn: String(r.creada_en),
    expiraEn: String(r.expira_en),
    referencia: str(r.referencia),
    vigente: r.vigente === true,
    reciente: r.reciente === true,
  };
}

export interface NewSession extends SessionTerms {
  minutes: number;
}

export class CheckoutSessions {
  constructor(private readonly db: Database) {}

  /** Create a session; returns its id (shown once) and its expiry (naive UTC). */
  async create(s: NewSession): Promise<{ id: string; expiraEn: string }> {
    const id = newSessionId();
    const [row] = await this.db.query<{ expira_en: string }>(
      `INSERT INTO checkout_sesiones (id_hash, empresa_id, router_id, api_key_id, producto_id, pasarela, nombre_cliente, email_cliente,
         telefono_cliente, link_login_only, chap_id, chap_challenge, mac, ip, dst, expira_en, recarga_usuario)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, (now() AT TIME ZONE 'utc') + make_interval(mins => $16::int), $17)
       RETURNING expira_en`,
      [hashSessionId(id), s.empresaId, s.routerId, s.apiKeyId, s.productoId, s.pasarela, s.nombre, s.email, s.telefono, s.linkLoginOnly, s.chapId, s.chapChallenge, s.mac, s.ip, s.dst, s.minutes, s.recargaUsuario ?? null],
    );
    return { id, expiraEn: String(row!.expira_en) };
  }

  async find(id: string): Promise<CheckoutSession | null> {
    if (!SESSION_ID_RE.test(id)) return null;
    const [row] = await this.db.query(`SELECT *, expira_en > (now() AT TIME ZONE 'utc') AS vigente, creada_en > (now() AT TIME ZONE 'utc') - interval '24 hours' AS reciente
         FROM checkout_sesiones WHERE id_hash = $1`, [hashSessionId(id)]);
    return row ? toSession(row) : null;
  }

  /**
   * Claim the session's one purchase; false when it is used or expired. A purchase the gateway declined
   * (`rechazada` by the gateway, never our own `sin_cobro`, which may still be revived) frees the session:
   * the person may try another card before it expires, and still at most one purchase can keep money.
   */
  async claim(sessionRowId: number, referencia: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE checkout_sesiones s SET referencia = $2
        WHERE s.id = $1 AND s.expira_en > (now() AT TIME ZONE 'utc')
          AND (s.referencia IS NULL OR EXISTS (SELECT 1 FROM transacciones t WHERE t.referencia = s.referencia
                AND t.estado = 'rechazada' AND coalesce(t.error_codigo, '') <> 'sin_cobro'))
        RETURNING s.id`,
      [sessionRowId, referencia],
    );
    return rows.length === 1;
  }

  /** Give the session back when its purchase charged nothing (router down, bad input): the customer may retry. */
  async release(sessionRowId: number, referencia: string): Promise<void> {
    await this.db.query(`UPDATE checkout_sesiones SET referencia = NULL WHERE id = $1 AND referencia = $2`, [sessionRowId, referencia]);
  }

  /** Sessions expired for a day are of no use to anyone. */
  async purge(): Promise<number> {
    const rows = await this.db.query(`DELETE FROM checkout_sesiones WHERE expira_en < (now() AT TIME ZONE 'utc') - interval '1 day' RETURNING id`);
    return rows.length;
  }
}
