/**
 * Product `detalles`: one shape everywhere, a list of `{texto}` objects. The legacy stored either plain
 * strings or objects; both are read as `{texto}` (an object without `texto` falls back to `value`, the key
 * the legacy public catalog invented for string rows).
 */

export interface Detalle {
  texto: string;
}

function fromItem(item: unknown): Detalle | null {
  if (item === null || item === undefined) return null;
  if (typeof item === 'string') return { texto: item };
  if (typeof item === 'number' || typeof item === 'boolean') return { texto: String(item) };
  if (typeof item === 'object' && !Array.isArray(item)) {
    const o = item as Record<string, unknown>;
    const v = o.texto ?? o.value;
    if (v === null || v === undefined) return { texto: '' };
    return { texto: typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v) };
  }
  return { texto: JSON.stringify(item) };
}

/** Whatever the column holds (JSONB list, JSON text, null) → `[{texto}]`. */
export function normalizeDetalles(stored: unknown): Detalle[] {
  let value = stored;
  if (typeof stored === 'string') {
    try {
      value = JSON.parse(stored);
    } catch {
      return stored.trim() === '' ? [] : [{ texto: stored }];
    }
  }
  if (!Array.isArray(value)) return [];
  const out: Detalle[] = [];
  for (const item of value) {
    const d = fromItem(item);
    if (d) out.push(d);
  }
  return out;
}

/** Request input (objects with `texto`, or plain strings) → what we store. Validation happened in the schema. */
export function detallesForStorage(input: ReadonlyArray<string | { texto: string }> | null | undefined): Detalle[] {
  if (!input) return [];
  return input.map((d) => ({ texto: typeof d === 'string' ? d : d.texto }));
}
