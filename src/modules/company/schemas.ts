/**
 * Schema helpers. A nullable field is written as `type: [T, "null"]` rather than `anyOf [T, null]`:
 * with Ajv's type coercion on, an anyOf branch coerces in place (null → "" or 0, 0 → null, arrays
 * mangled), while a multi-type keyword only coerces when no listed type matches.
 */
import { Type, type Static, type TSchema } from 'typebox';

export function Nullable<T extends TSchema>(t: T) {
  const s = t as unknown as Record<string, unknown>;
  if (typeof s.type !== 'string') throw new Error('Nullable: unsupported schema');
  const out: Record<string, unknown> = { ...s, type: [s.type, 'null'] };
  if (Array.isArray(s.enum)) out.enum = [...(s.enum as unknown[]), null];
  return Type.Unsafe<Static<T> | null>(out);
}

/** A string enum (plain `enum`, so Ajv reports one clear error). */
export function StringEnum<const V extends readonly string[]>(values: V) {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values] });
}

export const ErrorBody = Type.Object({ detail: Type.Any(), code: Type.String() });
