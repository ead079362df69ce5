/** Money as integer cents: prices are NUMERIC text ("19.99") and never pass through a float. */

/** "19.99" → 1999, "60" → 6000, "0.5" → 50; null for anything that is not a non-negative decimal. */
export function priceToCents(price: string): number | null {
  const m = /^\s*(\d{1,12})(?:\.(\d{1,2})\d*)?\s*$/.exec(price);
  if (!m) return null;
  const frac = (m[2] ?? '').padEnd(2, '0');
  return Number(m[1]) * 100 + Number(frac);
}

/** A JSON number the client sent (e.g. 19.99) to the nearest cent, for comparison with a price. */
export function amountToCents(amount: number): number {
  return Math.round(amount * 100);
}

/** 1999 → "19.99" (the NUMERIC(10,2) text form). */
export function centsToDecimal(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** The legacy wire number for a price (`60.0`, `19.99`): JSON renders integers without decimals. */
export function centsToNumber(cents: number): number {
  return cents / 100;
}
