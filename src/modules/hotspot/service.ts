/**
 * Hotspot operations on a company's router (contract in notes/interfaces.md): readiness check, voucher
 * creation (idempotent by comment), removal, lookup and auto-connect. Routers are read from the `routers`
 * table on every call (so host/credential changes apply at once); sessions come from a pool per router.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Database } from '../../infra/db/index.js';
import type { SecretBox } from '../../infra/crypto/secrets.js';
import { RouterOSConnection, type ConnectionOptions, type TlsOptions } from './routeros/connection.js';
import { ConnectError, TrapError, isUnreachable, type ConnectFailure } from './routeros/errors.js';
import { PoolRegistry } from './routeros/pool.js';
import { RouterNetworkError, RouterNetworkPolicy } from '../../infra/router-networks.js';
import { routerCredentialProblem } from './validation.js';
import { autoConnectV6, autoConnectV7, detectMajorVersion, type AutoConnectResult } from './autoconnect.js';
import { PRINTABLE_ASCII, VOUCHER_NAME, durationToSeconds, looseMac, minutesToDuration, normaliseClientIp, normaliseMac, routerBool, secondsToDuration } from './validation.js';

/** Connect refused/timeout/TLS failure/breaker open/login failed (or the router stopped answering). */
export class RouterUnreachableError extends Error {
  constructor(message: string, readonly reason: ConnectFailure | 'timeout' | 'not_found' = 'unreachable', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RouterUnreachableError';
  }
}

/** The hotspot user profile does not exist on the router. */
export class RouterProfileMissingError extends Error {
  constructor(readonly profile: string, readonly available: string[]) {
    super(`Perfil '${profile}' no encontrado. Disponibles: ${available.slice(0, 3).join(', ')}`);
    this.name = 'RouterProfileMissingError';
  }
}

/** A user with that name exists and is not ours (other comment). */
export class VoucherNameTakenError extends Error {
  constructor(readonly username: string) {
    super(`El usuario ${username} ya existe en el router`);
    this.name = 'VoucherNameTakenError';
  }
}

/** The router refused a command (a `!trap` other than the cases above). */
export class RouterCommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RouterCommandError';
  }
}

export interface VoucherSpec {
  username: string;
  password: string;
  profile: string;
  limitUptimeMinutes?: number | null;
  /** Data allowance, written as `limit-bytes-total`. */
  limitBytesTotal?: number | null;
  comment: string;
}

export interface HotspotUserInfo {
  name: string;
  profile: string;
  comment?: string;
  disabled: boolean;
}

export interface RouterRecord {
  id: string;
  empresaId: string;
  nombre: string;
  host: string;
  puerto: number;
  usuario: string;
  /** Clear text (decrypted); never logged or returned. */
  password: string;
  activo: boolean;
  tls: boolean | null;
  tlsCa: string | null;
  tlsFingerprint: string | null;
}

export interface HotspotDeps {
  db: Database;
  secrets: SecretBox;
  config: Config['routeros'];
  logger?: Logger;
  /** Allowed router networks; default: built from `config.allowedNetworks` (no service endpoints known). */
  networks?: RouterNetworkPolicy;
}

const USER_PROPS = ['.id', 'name', 'password', 'profile', 'disabled', 'comment', 'limit-uptime', 'uptime', 'mac-address'];
const READY_TTL_MS = 10_000;
const VERSION_TTL_MS = 10 * 60_000;
const MAX_CLONES = 15;

/** What this instance last saw of a router (for the panel's status and alerts; in memory, per instance). */
export interface RouterContact {
  okAt: number | null;
  failAt: number | null;
  error: string | null;
  /** The outage was announced (once per outage: reset by the next success). */
  alerted: boolean;
}

export interface RouterStatus {
  breaker: 'closed' | 'open' | 'half_open';
  lastContactAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  /** Not answering now: its circuit is open, or its latest attempt failed. */
  unreachable: boolean;
}

export class HotspotService {
  private readonly pools: PoolRegistry;
  private readonly ready = new Map<string, number>();
  private readonly versions = new Map<string, { major: number; at: number }>();
  readonly networks: RouterNetworkPolicy;
  /** Router connections in use per company (all its routers), bounded by maxConnectionsPerCompany. */
  private readonly companyGates = new Map<string, CompanyGate>();
  private readonly contacts = new Map<string, RouterContact>();
  private readonly outageListeners: Array<(router: RouterRecord, error: string) => void> = [];

  constructor(private readonly deps: HotspotDeps) {
    const c = deps.config;
    this.networks = deps.networks ?? new RouterNetworkPolicy({ allowed: c.allowedNetworks, services: [] });
    this.pools = new PoolRegistry({
      max: c.poolMax,
      idleMs: c.poolIdleMs,
      // Waiting for a busy router's free connection is bounded like one command.
      acquireTimeoutMs: c.connectTimeoutMs + c.commandTimeoutMs,
      breakerThreshold: c.breakerThreshold,
      breakerCooldownMs: c.breakerCooldownMs,
    });
  }

  // ------------------------------------------------------------------ contract

  async checkReady(routerId: string, profile: string): Promise<void> {
    const key = `${routerId}\n${profile}`;
    if ((this.ready.get(key) ?? 0) > Date.now()) return;
    await this.withRouter(routerId, async (conn) => {
      const { rows } = await conn.command('/ip/hotspot/user/profile/print', { proplist: ['name'], query: { name: profile } });
      if (rows.some((r) => r.name === profile)) return;
      const all = await conn.command('/ip/hotspot/user/profile/print', { proplist: ['name'] });
      throw new RouterProfileMissingError(profile, all.rows.map((r) => r.name ?? ''));
    });
    if (this.ready.size > 10_000) this.ready.clear();
    this.ready.set(key, Date.now() + READY_TTL_MS);
  }

  async createVoucher(routerId: string, spec: VoucherSpec): Promise<{ created: boolean }> {
    assertVoucherSpec(spec);
    const attrs: Record<string, string> = { name: spec.username, profile: spec.profile, disabled: 'no', comment: spec.comment };
    // PIN vouchers carry no password word at all (as the legacy created them).
    if (spec.password) attrs.password = spec.password;
    if (spec.limitUptimeMinutes && spec.limitUptimeMinutes > 0) attrs['limit-uptime'] = minutesToDuration(spec.limitUptimeMinutes);
    if (spec.limitBytesTotal && spec.limitBytesTotal > 0) attrs['limit-bytes-total'] = String(spec.limitBytesTotal);
    return this.withRouter(routerId, async (conn) => {
      // Added straight away (one router round trip on every first delivery); only a refused add looks for
      // the name, so a voucher already there is answered exactly as if it had been looked up first.
      try {
        await conn.command('/ip/hotspot/user/add', { attrs });
        return { created: true };
      } catch (err) {
        if (!(err instanceof TrapError)) throw err;
        // An earlier run (or a concurrent one) created it: same comment means it is ours.
        const existing = await findByName(conn, spec.username);
        if (existing) return sameVoucher(existing, spec);
        if (/profile/i.test(err.message)) {
          const all = await conn.command('/ip/hotspot/user/profile/print', { proplist: ['name'] });
          if (!all.rows.some((r) => r.name === spec.profile)) throw new RouterProfileMissingError(spec.profile, all.rows.map((r) => r.name ?? ''));
        }
        throw err;
      }
    });
  }

  async removeVoucher(routerId: string, username: string): Promise<void> {
    await this.withRouter(routerId, async (conn) => {
      // The user and its random-MAC clones (they share the voucher's time and must go with it).
      const clone = new RegExp(`^${escapeRegExp(username)}_RANDMAC\\d+$`);
      const users = await conn.command('/ip/hotspot/user/print', { proplist: ['.id', 'name'] });
      const names = new Set<string>();
      for (const u of users.rows) {
        if (u.name !== username && !clone.test(u.name ?? '')) continue;
        names.add(u.name);
        await removeIgnoringMissing(conn, '/ip/hotspot/user/remove', u['.id']);
      }
      names.add(username);
      const active = await conn.command('/ip/hotspot/active/print', { proplist: ['.id', 'user'] });
      for (const s of active.rows) if (names.has(s.user ?? '')) await removeIgnoringMissing(conn, '/ip/hotspot/active/remove', s['.id']);
      const cookies = await conn.command('/ip/hotspot/cookie/print', { proplist: ['.id', 'user'] }).catch((err) => {
        if (err instanceof TrapError) return { rows: [] as Array<Record<string, string>> };
        throw err;
      });
      for (const c of cookies.rows) if (names.has(c.user ?? '')) await removeIgnoringMissing(conn, '/ip/hotspot/cookie/remove', c['.id']);
    });
  }

  /**
   * A TLS-only walled-garden pass for one device while its 3-D Secure challenge is open: the issuer's page is
   * on hosts no walled garden can list in advance. `/ip hotspot walled-garden ip` (MikroTik manual, "Hotspot"
   * → Walled Garden: `action`, `src-address`, `protocol`, `dst-port`, `comment`) lets the device's TCP 443
   * through before login; nothing else. The comment names the purchase, so exactly its pass is removed.
   */
  async openChallengePass(routerId: string, pass: { ip: string; comment: string }): Promise<void> {
    await this.withRouter(routerId, async (conn) => {
      const { rows } = await conn.command('/ip/hotspot/walled-garden/ip/print', { proplist: ['.id'], query: { comment: pass.comment } });
      if (rows.length > 0) return;
      await conn.command('/ip/hotspot/walled-garden/ip/add', {
        attrs: { action: 'accept', 'src-address': pass.ip, protocol: 'tcp', 'dst-port': '443', comment: pass.comment },
      });
    });
  }

  async closeChallengePass(routerId: string, comment: string): Promise<void> {
    await this.withRouter(routerId, async (conn) => {
      const { rows } = await conn.command('/ip/hotspot/walled-garden/ip/print', { proplist: ['.id'], query: { comment } });
      for (const r of rows) await removeIgnoringMissing(conn, '/ip/hotspot/walled-garden/ip/remove', r['.id']);
    });
  }

  /**
   * First logins of these users, as seconds ago: an active session counts from its start (`uptime` of
   * `/ip/hotspot/active`), a user with used time but no session from `now - uptime` of the user (a lower
   * bound of the time since its first login: the buyer never loses time to a missed poll). Names not seen
   * used are absent.
   */
  async firstUse(routerId: string, usernames: readonly string[]): Promise<Map<string, number>> {
    const wanted = new Set(usernames);
    const seen = new Map<string, number>();
    if (wanted.size === 0) return seen;
    await this.withRouter(routerId, async (conn) => {
      const active = await conn.command('/ip/hotspot/active/print', { proplist: ['user', 'uptime'] });
      for (const s of active.rows) {
        const name = baseName(s.user ?? '');
        if (!wanted.has(name)) continue;
        const ago = durationToSeconds(s.uptime) ?? 0;
        seen.set(name, Math.max(seen.get(name) ?? 0, ago));
      }
      const users = await conn.command('/ip/hotspot/user/print', { proplist: ['name', 'uptime'] });
      for (const u of users.rows) {
        const name = baseName(u.name ?? '');
        if (!wanted.has(name)) continue;
        const used = durationToSeconds(u.uptime) ?? 0;
        if (used > 0 || seen.has(name)) seen.set(name, Math.max(seen.get(name) ?? 0, used));
      }
    });
    return seen;
  }

  /**
   * End a voucher's access without deleting it (its time is over): disable the user and its random-MAC
   * clones (a disabled user cannot log in again), then remove its active sessions (disabling does not end
   * them) and its cookies (MAC and HTTP cookies would log it back in). Only a user whose comment is
   * `comment` (ours) is touched. Idempotent: an already disabled user gets no second `disable`.
   */
  async expireVoucher(routerId: string, username: string, comment: string): Promise<{ found: boolean; disabled: number }> {
    return this.withRouter(routerId, async (conn) => {
      const clone = new RegExp(`^${escapeRegExp(username)}_RANDMAC\\d+$`);
      const users = await conn.command('/ip/hotspot/user/print', { proplist: ['.id', 'name', 'comment', 'disabled'] });
      const mine = users.rows.filter((u) => (u.name === username || clone.test(u.name ?? '')) && (u.comment ?? '') === comment);
      if (!mine.some((u) => u.name === username)) return { found: false, disabled: 0 };
      let disabled = 0;
      for (const u of mine) {
        if (routerBool(u.disabled)) continue;
        await conn.command('/ip/hotspot/user/disable', { attrs: { '.id': u['.id'] } });
        disabled++;
      }
      const names = new Set(mine.map((u) => u.name));
      const active = await conn.command('/ip/hotspot/active/print', { proplist: ['.id', 'user'] });
      for (const s of active.rows) if (names.has(s.user ?? '')) await removeIgnoringMissing(conn, '/ip/hotspot/active/remove', s['.id']);
      const cookies = await conn.command('/ip/hotspot/cookie/print', { proplist: ['.id', 'user'] });
      for (const c of cookies.rows) if (names.has(c.user ?? '')) await removeIgnoringMissing(conn, '/ip/hotspot/cookie/remove', c['.id']);
      return { found: true, disabled };
    });
  }

  /**
   * A top-up (issue 15): SET the user's `limit-uptime` / `limit-bytes-total` to these totals (never add, so
   * running it twice changes nothing). Only our own user (by comment) is touched; a value left null is not
   * written. Returns whether the user was found.
   */
  async setVoucherLimits(routerId: string, username: string, comment: string, limits: { limitUptimeMinutes: number | null; limitBytesTotal: number | null }): Promise<{ found: boolean }> {
    const attrs: Record<string, string> = {};
    if (limits.limitUptimeMinutes !== null && limits.limitUptimeMinutes > 0) attrs['limit-uptime'] = minutesToDuration(limits.limitUptimeMinutes);
    if (limits.limitBytesTotal !== null && limits.limitBytesTotal > 0) attrs['limit-bytes-total'] = String(limits.limitBytesTotal);
    return this.withRouter(routerId, async (conn) => {
      const user = await findByName(conn, username);
      if (!user || (user.comment ?? '') !== comment) return { found: false };
      if (Object.keys(attrs).length > 0) await conn.command('/ip/hotspot/user/set', { attrs: { '.id': user['.id'], ...attrs } });
      return { found: true };
    });
  }

  async findUser(routerId: string, username: string): Promise<HotspotUserInfo | null> {
    const row = await this.lookupUser(routerId, username);
    if (!row) return null;
    const info: HotspotUserInfo = { name: row.name, profile: row.profile ?? 'default', disabled: routerBool(row.disabled) };
    if (row.comment !== undefined) info.comment = row.comment;
    return info;
  }

  async autoConnect(routerId: string, input: { username: string; password: string; mac: string; ip: string }): Promise<Record<string, unknown>> {
    return (await this.autoConnectDetailed(routerId, input)).result;
  }

  async stop(): Promise<void> {
    this.pools.closeAll();
  }

  // ------------------------------------------------------------------ for the hotspot and admin endpoints

  /** The full router record of a user (password included: callers must never return it). */
  async lookupUser(routerId: string, username: string): Promise<Record<string, string> | null> {
    return this.withRouter(routerId, (conn) => findByName(conn, username, USER_PROPS));
  }

  async profileByName(routerId: string, name: string): Promise<Record<string, string> | null> {
    return this.withRouter(routerId, async (conn) => {
      const { rows } = await conn.command('/ip/hotspot/user/profile/print', { query: { name } });
      return rows.find((r) => r.name === name) ?? null;
    });
  }

  /**
   * Auto-connect that also says whether a failure was the router being unreachable (the endpoints answer
   * 503 then). Input MAC/IP are validated here too; invalid ones never reach the router.
   */
  async autoConnectDetailed(
    routerId: string,
    input: { username: string; password: string; mac: string; ip: string | null },
  ): Promise<{ result: AutoConnectResult; unreachable: boolean }> {
    const mac = normaliseMac(input.mac);
    const ip = normaliseClientIp(input.ip);
    if (!mac || !ip.ok || !PRINTABLE_ASCII.test(input.username) || !PRINTABLE_ASCII.test(input.password)) {
      return {
        result: { success: false, conectado: false, error: 'Datos del dispositivo inválidos (MAC o IP)', mensaje: 'Error crítico durante la auto-conexión' },
        unreachable: false,
      };
    }
    try {
      const result = await this.withRouter(routerId, async (conn) => {
        const major = await this.majorVersion(`${routerId}|${conn.opts.host}|${conn.opts.port}`, conn);
        const args = { username: input.username, password: input.password, mac, ip: ip.ip };
        const timing = { settleMs: this.deps.config.loginSettleMs };
        return major >= 7 ? autoConnectV7(conn, args, timing) : autoConnectV6(conn, args, timing);
      });
      return { result, unreachable: false };
    } catch (err) {
      const unreachable = err instanceof RouterUnreachableError;
      this.deps.logger?.warn({ err: errText(err), routerId }, 'auto-conexión fallida');
      // The captive portal sees this text: no router address or port in it.
      const error = unreachable ? 'No se pudo conectar con el router' : errText(err);
      return { result: { success: false, conectado: false, error, mensaje: 'Error crítico durante la auto-conexión' }, unreachable };
    }
  }

  /**
   * Legacy random-MAC logic (auto-reconnect): a time-accounted user (comment with MODE=, TL=, TA=) seen
   * from a new MAC logs in as a clone `<name>_RANDMAC<n>` bound to that MAC. Fixes: the clone number is
   * the next free one over all clones (not only those of this MAC, which always gave 1), at most 15
   * clones, and a clone inherits the original's remaining `limit-uptime` instead of a fresh allowance.
   */
  async resolveLoginName(routerId: string, user: Record<string, string>, currentMac: string): Promise<string> {
    const name = user.name;
    const comment = (user.comment ?? '').toUpperCase();
    if (!(comment.includes('MODE=') && comment.includes('TL=') && comment.includes('TA='))) return name;
    const mac = looseMac(currentMac);
    if (looseMac(user['mac-address']) === mac) return name;
    const cloneRe = new RegExp(`^${escapeRegExp(name)}_RANDMAC(\\d+)$`);
    try {
      return await this.withRouter(routerId, async (conn) => {
        const bound = await conn.command('/ip/hotspot/user/print', { proplist: ['.id', 'name', 'mac-address'], query: { 'mac-address': mac } });
        const reuse = bound.rows.find((r) => cloneRe.test(r.name ?? ''));
        if (reuse) return reuse.name;
        const all = await conn.command('/ip/hotspot/user/print', { proplist: ['.id', 'name'] });
        const numbers = all.rows.map((r) => cloneRe.exec(r.name ?? '')).filter((m) => m !== null).map((m) => Number(m![1]));
        if (numbers.length >= MAX_CLONES) return name;
        const clone = `${name}_RANDMAC${(numbers.length ? Math.max(...numbers) : 0) + 1}`;
        const attrs: Record<string, string> = { name: clone, password: user.password ?? '', profile: user.profile || 'default', comment: user.comment ?? '', disabled: 'no' };
        const limit = durationToSeconds(user['limit-uptime']);
        if (limit) {
          const left = limit - (durationToSeconds(user.uptime) ?? 0);
          if (left <= 0) return name;
          attrs['limit-uptime'] = secondsToDuration(left);
        }
        const added = await conn.command('/ip/hotspot/user/add', { attrs });
        let id = added.done.ret;
        if (!id) id = (await conn.command('/ip/hotspot/user/print', { proplist: ['.id'], query: { name: clone } })).rows[0]?.['.id'];
        if (!id) return name;
        await conn.command('/ip/hotspot/user/set', { attrs: { '.id': id, 'mac-address': mac } });
        return clone;
      });
    } catch (err) {
      if (err instanceof RouterUnreachableError) throw err;
      this.deps.logger?.warn({ err: errText(err), routerId }, 'lógica RANDMAC fallida; se usa el usuario original');
      return name;
    }
  }

  /** Router row with its password decrypted, or null. */
  async loadRouter(routerId: string): Promise<RouterRecord | null> {
    const rows = await this.deps.db.query<{
      id: string;
      empresa_id: string;
      nombre: string;
      host: string;
      puerto: number | null;
      usuario: string;
      password_encrypted: string;
      activo: boolean | null;
      tls: boolean | null;
      tls_ca: string | null;
      tls_fingerprint: string | null;
    }>(
      `SELECT id, empresa_id, nombre, host, puerto, usuario, password_encrypted, activo, tls, tls_ca, tls_fingerprint
         FROM routers WHERE id = $1`,
      [routerId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      id: r.id,
      empresaId: r.empresa_id,
      nombre: r.nombre,
      host: r.host,
      puerto: r.puerto ?? 8728,
      usuario: r.usuario,
      password: this.deps.secrets.decrypt(r.password_encrypted) ?? '',
      activo: r.activo !== false,
      tls: r.tls,
      tlsCa: r.tls_ca,
      tlsFingerprint: r.tls_fingerprint,
    };
  }

  /** Connection settings of a router row; incomplete rows fail like the legacy ("Faltan datos de conexión"). */
  connectionOptions(router: RouterRecord, overrides: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {}): ConnectionOptions {
    if (!router.host?.trim() || !router.usuario?.trim() || !router.password || !router.puerto) {
      throw new ConnectError('missing_data', 'Faltan datos de conexión');
    }
    // Rows written before validation existed (or by another writer): never send control characters.
    const credentialProblem = routerCredentialProblem('usuario', router.usuario) ?? routerCredentialProblem('password', router.password);
    if (credentialProblem) throw new ConnectError('missing_data', `Datos de conexión inválidos: ${credentialProblem}`);
    const useTls = router.tls ?? router.puerto === 8729;
    const tls: false | TlsOptions = useTls ? { ca: router.tlsCa || null, fingerprint: router.tlsFingerprint || null } : false;
    if (useTls && !router.tlsCa && !router.tlsFingerprint) {
      this.deps.logger?.debug({ routerId: router.id }, 'TLS hacia el router sin verificación de certificado (no hay CA ni huella configuradas)');
    }
    return {
      host: router.host.trim(),
      port: router.puerto,
      user: router.usuario,
      password: router.password,
      tls,
      connectTimeoutMs: overrides.connectTimeoutMs ?? this.deps.config.connectTimeoutMs,
      commandTimeoutMs: overrides.commandTimeoutMs ?? this.deps.config.commandTimeoutMs,
      limits: { maxReplyBytes: this.deps.config.maxReplyBytes, maxReplyRows: this.deps.config.maxReplyRows, maxWordBytes: this.deps.config.maxWordBytes },
      resolveAddress: this.resolveAddress,
    };
  }

  /** Run `fn` on a pooled session of the router; connection-level failures become RouterUnreachableError. */
  async withRouter<T>(routerId: string, fn: (conn: RouterOSConnection) => Promise<T>): Promise<T> {
    const router = await this.loadRouter(routerId);
    if (!router) throw new RouterUnreachableError('Router no encontrado', 'not_found');
    return this.withRecord(router, fn);
  }

  async withRecord<T>(router: RouterRecord, fn: (conn: RouterOSConnection) => Promise<T>, opts: { fresh?: boolean; connectTimeoutMs?: number } = {}): Promise<T> {
    let gate: CompanyGate | null = null;
    try {
      const options = this.connectionOptions(router, { connectTimeoutMs: opts.connectTimeoutMs });
      const pool = this.pools.get(options);
      const g = this.companyGate(router.empresaId);
      await g.enter(options.connectTimeoutMs + options.commandTimeoutMs);
      gate = g;
      const result = await (opts.fresh ? pool.probe(fn) : pool.use(fn));
      this.noteContact(router, null);
      return result;
    } catch (err) {
      const mapped = mapError(err);
      if (mapped instanceof RouterUnreachableError) this.noteContact(router, mapped.message);
      throw mapped;
    } finally {
      gate?.leave();
    }
  }

  /** Called once per outage of a router (its circuit opened), e.g. to tell the company by Telegram. */
  onOutage(listener: (router: RouterRecord, error: string) => void): void {
    this.outageListeners.push(listener);
  }

  /** Last contact and circuit state of a router as this instance saw them. */
  status(router: RouterRecord): RouterStatus {
    const c = this.contacts.get(router.id);
    let breaker: RouterStatus['breaker'] = 'closed';
    try {
      breaker = this.pools.get(this.connectionOptions(router)).breaker.state;
    } catch {
      // Settings that cannot make a connection: no pool, no circuit.
    }
    const failedLast = !!c?.failAt && (c.okAt === null || c.failAt > c.okAt);
    return {
      breaker,
      lastContactAt: c?.okAt ? new Date(c.okAt) : null,
      lastFailureAt: c?.failAt ? new Date(c.failAt) : null,
      lastError: c?.error ?? null,
      unreachable: breaker === 'open' || failedLast,
    };
  }

  private noteContact(router: RouterRecord, error: string | null): void {
    let c = this.contacts.get(router.id);
    if (!c) {
      if (this.contacts.size > 50_000) this.contacts.clear();
      c = { okAt: null, failAt: null, error: null, alerted: false };
      this.contacts.set(router.id, c);
    }
    if (error === null) {
      c.okAt = Date.now();
      c.alerted = false;
      return;
    }
    c.failAt = Date.now();
    c.error = error;
    if (c.alerted || this.status(router).breaker !== 'open') return;
    c.alerted = true;
    for (const l of this.outageListeners) {
      try {
        l(router, error);
      } catch (err) {
        this.deps.logger?.warn({ err, routerId: router.id }, 'aviso de router caído falló');
      }
    }
  }

  /** Stable function (part of the pool key's options, not of its identity). */
  private readonly resolveAddress = async (host: string, port: number): Promise<string> => {
    try {
      return await this.networks.resolveForConnect(host, port);
    } catch (err) {
      if (err instanceof RouterNetworkError) throw new ConnectError('forbidden_network', `Router no permitido: ${err.message}`);
      throw err;
    }
  };

  private companyGate(empresaId: string): CompanyGate {
    let gate = this.companyGates.get(empresaId);
    if (!gate) {
      if (this.companyGates.size > 10_000) for (const [k, g] of this.companyGates) if (g.idle) this.companyGates.delete(k);
      gate = new CompanyGate(this.deps.config.maxConnectionsPerCompany);
      this.companyGates.set(empresaId, gate);
    }
    return gate;
  }

  /** Cached per router address (a router row pointed at another device re-detects). */
  private async majorVersion(key: string, conn: RouterOSConnection): Promise<number> {
    const hit = this.versions.get(key);
    if (hit && Date.now() - hit.at < VERSION_TTL_MS) return hit.major;
    const major = await detectMajorVersion(conn);
    if (this.versions.size > 10_000) this.versions.clear();
    this.versions.set(key, { major, at: Date.now() });
    return major;
  }
}

/**
 * At most `max` router operations of one company at once (each holds one connection), so that one
 * company's slow or hostile routers cannot take every socket and every waiting request of the instance.
 */
class CompanyGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  get idle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }

  enter(timeoutMs: number): Promise<void> {
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.active++;
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(wake);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new ConnectError('busy', 'la empresa ya usa todas sus conexiones simultáneas con routers; intente de nuevo en unos segundos'));
      }, timeoutMs);
      this.waiting.push(wake);
    });
  }

  leave(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}

function mapError(err: unknown): unknown {
  if (err instanceof RouterUnreachableError || err instanceof RouterProfileMissingError || err instanceof VoucherNameTakenError) return err;
  if (err instanceof ConnectError) return new RouterUnreachableError(err.message, err.reason, { cause: err });
  if (isUnreachable(err)) return new RouterUnreachableError(`el router dejó de responder (${errText(err)})`, 'timeout', { cause: err });
  if (err instanceof TrapError) return new RouterCommandError(err.message, { cause: err });
  return err;
}

async function findByName(conn: RouterOSConnection, name: string, proplist = ['.id', 'name', 'profile', 'comment', 'disabled']): Promise<Record<string, string> | null> {
  const { rows } = await conn.command('/ip/hotspot/user/print', { proplist, query: { name } });
  return rows.find((r) => r.name === name) ?? null;
}

function sameVoucher(existing: Record<string, string>, spec: VoucherSpec): { created: boolean } {
  if ((existing.comment ?? '') === spec.comment) return { created: false };
  throw new VoucherNameTakenError(spec.username);
}

async function removeIgnoringMissing(conn: RouterOSConnection, command: string, id: string | undefined): Promise<void> {
  if (!id) return;
  try {
    await conn.command(command, { attrs: { '.id': id } });
  } catch (err) {
    // Already gone (a concurrent removal, or the session ended by itself).
    if (!(err instanceof TrapError && /no such item/i.test(err.message))) throw err;
  }
}

function assertVoucherSpec(spec: VoucherSpec): void {
  const bad = (what: string) => new TypeError(`VoucherSpec inválido: ${what}`);
  if (!VOUCHER_NAME.test(spec.username)) throw bad('username');
  if (spec.password.length > 64 || !PRINTABLE_ASCII.test(spec.password)) throw bad('password');
  if (!spec.profile || spec.profile.length > 100 || !PRINTABLE_ASCII.test(spec.profile)) throw bad('profile');
  if (spec.comment.length > 255 || !PRINTABLE_ASCII.test(spec.comment)) throw bad('comment');
  const m = spec.limitUptimeMinutes;
  if (m !== null && m !== undefined && (!Number.isInteger(m) || m < 0)) throw bad('limitUptimeMinutes');
  const b = spec.limitBytesTotal;
  if (b !== null && b !== undefined && (!Number.isSafeInteger(b) || b < 0)) throw bad('limitBytesTotal');
}

/** A random-MAC clone's voucher (`PT-X_RANDMAC2` → `PT-X`). */
function baseName(name: string): string {
  return name.replace(/_RANDMAC\d+$/, '');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
