/**
 * Logging a device into the hotspot from the server (legacy §5): RouterOS v6 logs in directly over the
 * API (three argument variants); v7 writes, runs and deletes a temporary script. Inputs arrive validated
 * (MAC canonical, IP strict IPv4 or null); the script quotes every value with `routerosString`.
 * Result objects keep the legacy keys and Spanish texts.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RouterOSConnection } from './routeros/connection.js';
import { TrapError, isUnreachable } from './routeros/errors.js';
import { routerosString } from './validation.js';

export interface AutoConnectInput {
  username: string;
  password: string;
  /** Canonical `AA:BB:CC:DD:EE:FF`. */
  mac: string;
  /** Strict IPv4, or null to discover it in the host table. */
  ip: string | null;
}

export interface AutoConnectTiming {
  /** Pause after ending old sessions, and between session polls. */
  settleMs: number;
}

export type AutoConnectResult = Record<string, unknown>;

const SESSION_PROPS = ['.id', 'user', 'address', 'mac-address', 'uptime', 'bytes-in', 'bytes-out'];

function sessionResult(input: AutoConnectInput, session: Record<string, string>, metodo: string): AutoConnectResult {
  return {
    success: true,
    conectado: true,
    ip: session.address ?? input.ip,
    mac: input.mac.toLowerCase(),
    username: input.username,
    session_info: {
      user: session.user ?? input.username,
      address: session.address ?? null,
      uptime: session.uptime ?? '0s',
      'bytes-in': session['bytes-in'] ?? '0',
      'bytes-out': session['bytes-out'] ?? '0',
    },
    metodo_usado: metodo,
    mensaje: `Conexión exitosa (método: ${metodo})`,
  };
}

const noIp = (): AutoConnectResult => ({
  success: false,
  conectado: false,
  error: 'No se pudo detectar IP del cliente',
  mensaje: 'El dispositivo debe estar conectado al hotspot primero',
});

/** End this user's current sessions (a re-login replaces them); other users' sessions are untouched. */
async function endSessionsOf(conn: RouterOSConnection, username: string): Promise<void> {
  const want = username.trim().toLowerCase();
  const { rows } = await conn.command('/ip/hotspot/active/print', { proplist: ['.id', 'user'] });
  for (const row of rows) {
    if ((row.user ?? '').trim().toLowerCase() !== want || !row['.id']) continue;
    try {
      await conn.command('/ip/hotspot/active/remove', { attrs: { '.id': row['.id'] } });
    } catch (err) {
      if (!(err instanceof TrapError)) throw err;
    }
  }
}

/** The client's address from the hotspot host table (v7 prefers `to-address`). */
async function discoverIp(conn: RouterOSConnection, mac: string, preferToAddress: boolean): Promise<string | null> {
  const { rows } = await conn.command('/ip/hotspot/host/print', { proplist: ['mac-address', 'address', 'to-address'] });
  const host = rows.find((r) => (r['mac-address'] ?? '').toUpperCase() === mac);
  if (!host) return null;
  return (preferToAddress ? host['to-address'] || host.address : host.address) || null;
}

async function findSession(conn: RouterOSConnection, username: string): Promise<Record<string, string> | null> {
  const want = username.trim().toLowerCase();
  const { rows } = await conn.command('/ip/hotspot/active/print', { proplist: SESSION_PROPS });
  return rows.find((r) => (r.user ?? '').trim().toLowerCase() === want) ?? null;
}

async function pollSession(conn: RouterOSConnection, username: string, reads: number, intervalMs: number): Promise<Record<string, string> | null> {
  for (let i = 0; i < reads; i++) {
    const s = await findSession(conn, username);
    if (s) return s;
    if (i < reads - 1) await sleep(intervalMs);
  }
  return null;
}

/** RouterOS v6: direct API login with the legacy's three fallbacks. */
export async function autoConnectV6(conn: RouterOSConnection, input: AutoConnectInput, timing: AutoConnectTiming): Promise<AutoConnectResult> {
  await endSessionsOf(conn, input.username);
  await sleep(timing.settleMs);
  const ip = input.ip ?? (await discoverIp(conn, input.mac, false));
  if (!ip) return noIp();
  const attempts: Array<[string, Record<string, string>]> = [
    ['ip_user_pass', { ip, user: input.username, password: input.password }],
    ['ip_mac_user_pass', { ip, 'mac-address': input.mac, user: input.username, password: input.password }],
    ['user_pass', { user: input.username, password: input.password }],
  ];
  let firstError: string | null = null;
  let metodo: string | null = null;
  for (const [name, attrs] of attempts) {
    try {
      await conn.command('/ip/hotspot/active/login', { attrs });
      metodo = name;
      break;
    } catch (err) {
      if (!(err instanceof TrapError)) throw err;
      firstError ??= err.message;
    }
  }
  // Only a session of THIS user counts (the legacy also accepted any session on the same IP).
  const session = metodo ? await pollSession(conn, input.username, 8, Math.round(timing.settleMs * 0.8)) : null;
  if (metodo && session) return sessionResult({ ...input, ip }, session, metodo);
  return {
    success: false,
    conectado: false,
    error: firstError ?? 'No se pudo autenticar con ninguno de los métodos',
    mensaje: 'Login directo falló después de varios intentos. Revisa logs del router.',
  };
}

/** The v7 login script: four quoted locals and one login line (values can only ever be data). */
export function buildLoginScript(values: { user: string; pass: string; mac: string; ip: string }): string {
  return [
    `:local user ${routerosString(values.user)}`,
    `:local pass ${routerosString(values.pass)}`,
    `:local mac ${routerosString(values.mac)}`,
    `:local ip ${routerosString(values.ip)}`,
    '',
    '/ip hotspot active login user=$user password=$pass ip=$ip mac-address=$mac',
  ].join('\n');
}

/** RouterOS v7: login through a temporary script, always removed afterwards. */
export async function autoConnectV7(conn: RouterOSConnection, input: AutoConnectInput, timing: AutoConnectTiming): Promise<AutoConnectResult> {
  await endSessionsOf(conn, input.username);
  await sleep(timing.settleMs);
  const ip = input.ip ?? (await discoverIp(conn, input.mac, true));
  if (!ip) return noIp();
  const name = `__login_${randomBytes(4).toString('hex')}`;
  let scriptId: string | null = null;
  try {
    const added = await conn.command('/system/script/add', {
      attrs: { name, source: buildLoginScript({ user: input.username, pass: input.password, mac: input.mac, ip }) },
    });
    scriptId = added.done.ret ?? null;
    if (!scriptId) {
      const found = await conn.command('/system/script/print', { proplist: ['.id', 'name'], query: { name } });
      scriptId = found.rows[0]?.['.id'] ?? null;
    }
    if (!scriptId) throw new Error('No se pudo obtener ID del script');
    await conn.command('/system/script/run', { attrs: { '.id': scriptId } });
    const session = await pollSession(conn, input.username, 6, timing.settleMs);
    if (session) return sessionResult({ ...input, ip }, session, 'script_login');
    return {
      success: false,
      conectado: false,
      error: 'Login ejecutado pero la sesión no apareció a tiempo',
      mensaje: 'El script se ejecutó correctamente pero RouterOS no confirmó la sesión',
    };
  } catch (err) {
    if (isUnreachable(err)) throw err;
    const text = err instanceof Error ? err.message : String(err);
    if (/already logged in/i.test(text)) {
      return { success: true, conectado: true, error: null, mensaje: 'El usuario ya estaba conectado previamente' };
    }
    return { success: false, conectado: false, error: text, mensaje: 'Error durante el proceso de auto-login en RouterOS v7' };
  } finally {
    // The script holds the voucher password: it never stays on the router (unless the router is gone).
    if (!conn.closed) {
      const target = scriptId ? { '.id': scriptId } : null;
      try {
        if (target) await conn.command('/system/script/remove', { attrs: target });
        else {
          const found = await conn.command('/system/script/print', { proplist: ['.id', 'name'], query: { name } });
          for (const row of found.rows) await conn.command('/system/script/remove', { attrs: { '.id': row['.id'] } });
        }
      } catch {
        /* best effort */
      }
    }
  }
}

/** Major RouterOS version from `/system/resource/print` (`7.14.3 (stable)` → 7); 6 when unknown. */
export async function detectMajorVersion(conn: RouterOSConnection): Promise<number> {
  try {
    const { rows } = await conn.command('/system/resource/print', { proplist: ['version'] });
    const major = parseInt((rows[0]?.version ?? '6.48').split('.')[0], 10);
    return Number.isFinite(major) ? major : 6;
  } catch (err) {
    if (isUnreachable(err)) throw err;
    return 6;
  }
}
