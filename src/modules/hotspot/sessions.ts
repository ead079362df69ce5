/**
 * The hotspot's active sessions on a router and "disconnect" (RouterOS `/ip/hotspot/active print` and
 * `remove`, https://help.mikrotik.com/docs/spaces/ROS/pages/56459266/HotSpot+-+Captive+portal, "Active"
 * menu). Removing an active entry logs the device out; its user (voucher) stays and may log in again.
 * The router's answers are hostile input: only the listed properties are read, each bounded.
 */
import { RouterCommandError, type HotspotService, type RouterRecord } from './service.js';
import { TrapError } from './routeros/errors.js';

const PROPS = ['.id', 'server', 'user', 'address', 'mac-address', 'uptime', 'session-time-left', 'idle-time', 'bytes-in', 'bytes-out', 'login-by'];
const ID = /^\*[0-9A-Fa-f]{1,8}$/;
const MAX_SESSIONS = 2000;

const clip = (v: string | undefined, n = 100) => (v === undefined ? null : v.slice(0, n));
const num = (v: string | undefined) => (v !== undefined && /^\d{1,18}$/.test(v) ? Number(v) : null);

export interface ActiveSession {
  id: string;
  servidor: string | null;
  usuario: string | null;
  direccion: string | null;
  mac: string | null;
  tiempo_activo: string | null;
  tiempo_restante: string | null;
  inactivo: string | null;
  bytes_entrada: number | null;
  bytes_salida: number | null;
  metodo: string | null;
}

export async function listActiveSessions(hotspot: HotspotService, router: RouterRecord): Promise<ActiveSession[]> {
  const rows = await hotspot.withRecord(router, async (conn) => (await conn.command('/ip/hotspot/active/print', { proplist: PROPS })).rows);
  return rows
    .filter((r) => ID.test(r['.id'] ?? ''))
    .slice(0, MAX_SESSIONS)
    .map((r) => ({
      id: r['.id'],
      servidor: clip(r.server),
      usuario: clip(r.user),
      direccion: clip(r.address, 45),
      mac: clip(r['mac-address'], 17),
      tiempo_activo: clip(r.uptime, 30),
      tiempo_restante: clip(r['session-time-left'], 30),
      inactivo: clip(r['idle-time'], 30),
      bytes_entrada: num(r['bytes-in']),
      bytes_salida: num(r['bytes-out']),
      metodo: clip(r['login-by'], 50),
    }));
}

export function isSessionId(id: string): boolean {
  return ID.test(id);
}

/** Remove one active entry; false when the router no longer has it (already gone). */
export async function disconnectSession(hotspot: HotspotService, router: RouterRecord, id: string): Promise<{ found: boolean; user: string | null }> {
  return hotspot.withRecord(router, async (conn) => {
    const { rows } = await conn.command('/ip/hotspot/active/print', { proplist: ['.id', 'user'] });
    const row = rows.find((r) => r['.id'] === id);
    if (!row) return { found: false, user: null };
    try {
      await conn.command('/ip/hotspot/active/remove', { attrs: { '.id': id } });
    } catch (err) {
      // Gone between the print and the remove (the device logged out): the wanted outcome.
      if (err instanceof TrapError && /no such item/i.test(err.message)) return { found: false, user: row.user ?? null };
      if (err instanceof TrapError) throw new RouterCommandError(err.message, { cause: err });
      throw err;
    }
    return { found: true, user: row.user ?? null };
  });
}
