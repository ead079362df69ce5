/**
 * Strict shapes for everything a client sends that ends up on a router, and the one way we quote a value
 * inside a RouterOS script. Nothing client-supplied reaches a router without passing through here.
 */
import net from 'node:net';

const MAC = /^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}$/;

/** `aa-bb-cc-dd-ee-ff` / `AA:BB:...` → `AA:BB:CC:DD:EE:FF`; anything else → null. */
export function normaliseMac(value: string | null | undefined): string | null {
  const v = (value ?? '').trim();
  return MAC.test(v) ? v.toUpperCase().replace(/-/g, ':') : null;
}

/** Legacy loose normalisation, only for comparing values read from the router. */
export function looseMac(value: string | null | undefined): string {
  return (value ?? '').trim().toUpperCase().replace(/[-.]/g, ':');
}

/** The legacy `es_mac`: is this (user name) shaped like a MAC address? Such names are MAC-auth users. */
export function looksLikeMac(value: string): boolean {
  const v = value.trim();
  if (/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/.test(v)) return true;
  const up = v.toUpperCase().replace(/[-.]/g, ':');
  const groups = up.match(/[0-9A-F]{2}/g) ?? [];
  return groups.length === 6 && (up.match(/:/g) ?? []).length >= 5;
}

/** A client IPv4 address; '', null and 0.0.0.0 mean "not given" (discover it on the router). */
export function normaliseClientIp(value: string | null | undefined): { ok: true; ip: string | null } | { ok: false } {
  const v = (value ?? '').trim();
  if (v === '' || v === '0.0.0.0') return { ok: true, ip: null };
  return net.isIPv4(v) ? { ok: true, ip: v } : { ok: false };
}

/** Printable ASCII without control characters (names, passwords and comments we write to a router). */
export const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Voucher user names we create: letters, digits and a few separators. */
export const VOUCHER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$/;

/**
 * A RouterOS script string literal holding exactly `value`. Every byte outside a small safe set is
 * written as `\XX` (RouterOS hex escape), so quotes, backslashes, `$` (variable and `$[...]` command
 * substitution), `?`, newlines and any other control or non-ASCII byte can never end the string or be
 * evaluated.
 */
export function routerosString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    const safe = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x2e || byte === 0x3a || byte === 0x5f || byte === 0x40;
    out += safe ? String.fromCharCode(byte) : '\\' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out + '"';
}

/** Minutes → RouterOS duration (`1d2h30m`). */
export function minutesToDuration(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return `${d ? `${d}d` : ''}${h ? `${h}h` : ''}${m ? `${m}m` : ''}` || '0s';
}

/** RouterOS duration (`1w2d3h4m5s`, `01:02:03`, `1d 02:03:04`, `3h4m5s200ms`) → seconds, or null. */
export function durationToSeconds(value: string | null | undefined): number | null {
  const v = (value ?? '').trim();
  if (!v) return null;
  let m = /^(?:(\d+)d\s*)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$/.exec(v);
  if (m) return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  m = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(v);
  if (!m || v === '') return null;
  return Number(m[1] ?? 0) * 604800 + Number(m[2] ?? 0) * 86400 + Number(m[3] ?? 0) * 3600 + Number(m[4] ?? 0) * 60 + Number(m[5] ?? 0);
}

/** Seconds → RouterOS duration (`1d2h3m4s`). */
export function secondsToDuration(total: number): string {
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${d ? `${d}d` : ''}${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}` || '0s';
}

/** RouterOS booleans as the API prints them. */
export function routerBool(value: string | undefined): boolean {
  return value === 'true' || value === 'yes';
}

/** Router API user and password: printable characters only (no control, format or line-separator characters). */
const PRINTABLE = /^[^\p{C}\p{Zl}\p{Zp}]*$/u;
export const ROUTER_USER_MAX = 50;
export const ROUTER_PASSWORD_MAX = 255;

/** Why a router API user name or password may not be stored or sent, or null. */
export function routerCredentialProblem(field: 'usuario' | 'password', value: string): string | null {
  const max = field === 'usuario' ? ROUTER_USER_MAX : ROUTER_PASSWORD_MAX;
  if (value.length > max) return `${field}: máximo ${max} caracteres`;
  if (!PRINTABLE.test(value)) return `${field}: solo caracteres imprimibles (sin saltos de línea ni caracteres de control)`;
  return null;
}
