/**
 * Body rules that run before schema validation (preValidation), for every route:
 * - depth: a JSON body nested deeper than MAX_BODY_DEPTH is a 422 (a deeply nested `payer` overflowed the
 *   stack of the recursive idempotency hashing: a 500);
 * - the legacy's lax coercion (legacy-payments.md "Lax coercion", Pydantic v2): nothing is coerced into a
 *   string field (a JSON number or boolean there is a 422 `string_type`, which Ajv's coerceTypes would
 *   have turned into "12345"), while boolean fields keep Pydantic's lax strings ("yes", "on", "t", "1" …)
 *   and integer/number fields keep Ajv's ("5" → 5), which match the legacy's.
 */
import type { FastifyRequest } from 'fastify';
import { ValidationFailed, type ValidationItem } from '../errors.js';
import type { App } from './types.js';

export const MAX_BODY_DEPTH = 32;

/** Depth of the deepest container, or Infinity once it passes `limit` (iterative: no recursion). */
export function depthExceeds(root: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > limit) return true;
    if (Array.isArray(v)) for (const x of v) stack.push([x, d + 1]);
    else for (const k in v) stack.push([(v as Record<string, unknown>)[k], d + 1]);
  }
  return false;
}

type Schema = { type?: string | string[]; anyOf?: Schema[]; oneOf?: Schema[]; properties?: Record<string, Schema> };

function typesOf(s: Schema): Set<string> | null {
  if (s.type !== undefined) return new Set(Array.isArray(s.type) ? s.type : [s.type]);
  const members = s.anyOf ?? s.oneOf;
  if (!members) return null;
  const out = new Set<string>();
  for (const m of members) {
    const t = typesOf(m);
    if (!t) return null;
    for (const x of t) out.add(x);
  }
  return out;
}

// Pydantic v2's lax booleans (strings; numbers 0/1 are Ajv's already).
const LAX_TRUE = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const LAX_FALSE = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

function objectMember(s: Schema): Schema | null {
  if (s.properties) return s;
  for (const m of s.anyOf ?? s.oneOf ?? []) if (m.properties) return m;
  return null;
}

/** Walk the body along its schema: collect string_type problems, convert lax booleans in place. */
function strictStrings(schema: Schema, container: Record<string | number, unknown>, key: string | number, loc: Array<string | number>, items: ValidationItem[], depth: number): void {
  if (depth > MAX_BODY_DEPTH) return;
  const value = container[key];
  if (value === null || value === undefined) return;
  const types = typesOf(schema);
  if (types) {
    const t = typeof value;
    if ((t === 'number' || t === 'boolean') && types.has('string') && !types.has(t) && !(t === 'number' && types.has('integer'))) {
      items.push({ type: 'string_type', loc, msg: 'Input should be a valid string', input: value });
      return;
    }
    if (t === 'string' && types.has('boolean') && !types.has('string')) {
      const v = (value as string).trim().toLowerCase();
      if (LAX_TRUE.has(v)) container[key] = true;
      else if (LAX_FALSE.has(v)) container[key] = false;
      return;
    }
  }
  // Not into arrays: the one array of objects we validate (product `detalles`) is `List[Dict[str, Any]]`
  // in the legacy, where any value goes (our `texto` string is a normalisation, coerced on purpose).
  if (Array.isArray(value)) return;
  if (typeof value === 'object') {
    const obj = objectMember(schema);
    if (!obj?.properties) return;
    for (const [k, s] of Object.entries(obj.properties)) {
      if (Object.prototype.hasOwnProperty.call(value, k)) strictStrings(s, value as Record<string, unknown>, k, [...loc, k], items, depth + 1);
    }
  }
}

function checkBody(request: FastifyRequest): void {
  const body = request.body;
  if (body === null || typeof body !== 'object') return;
  if (depthExceeds(body, MAX_BODY_DEPTH)) {
    throw new ValidationFailed([{ type: 'too_deep', loc: ['body'], msg: `El cuerpo anida más de ${MAX_BODY_DEPTH} niveles` }]);
  }
  const schema = request.routeOptions.schema?.body as Schema | undefined;
  if (!schema) return;
  const items: ValidationItem[] = [];
  const holder = { body } as Record<string, unknown>;
  strictStrings(schema, holder, 'body', ['body'], items, 0);
  if (items.length > 0) throw new ValidationFailed(items);
  request.body = holder.body;
}

export function registerBodyShapeRules(app: App): void {
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      checkBody(request);
    } catch (err) {
      return done(err as Error);
    }
    done();
  });
}
