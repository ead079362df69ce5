/**
 * Wire timestamps are naive ISO-8601 in UTC without offset, as the legacy service emits them
 * (`2025-12-16T15:14:17.411702`, fraction omitted when zero). The database stores naive UTC.
 */

/** Database text (`2025-12-16 15:14:17.4117`) → wire format (`2025-12-16T15:14:17.411700`). */
export function naiveIso(value: string | null | undefined): string | null {
  if (!value) return null;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?/.exec(value);
  if (!m) return value;
  const frac = m[3] ? m[3].padEnd(6, '0') : '';
  return frac && !/^0+$/.test(frac) ? `${m[1]}T${m[2]}.${frac}` : `${m[1]}T${m[2]}`;
}

/** A JS Date → naive UTC ISO (millisecond precision, padded to microseconds). */
export function dateToNaiveIso(d: Date): string {
  return naiveIso(d.toISOString().replace('Z', ''))!;
}

/** A JS Date → the database's naive UTC text. */
export function dateToDb(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** Naive UTC database/wire text → Date. */
export function naiveToDate(value: string): Date {
  return new Date(value.replace(' ', 'T') + (value.endsWith('Z') ? '' : 'Z'));
}
