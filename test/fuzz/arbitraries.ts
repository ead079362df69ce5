/**
 * fast-check generators for hostile HTTP input, driven by the OpenAPI (JSON Schema) of each operation:
 * values that are nearly valid (right type, odd content) to get past validation and reach the handler and
 * the database, and values that are plainly malformed (wrong types, huge strings, deep JSON, unicode,
 * injection-looking text, missing and extra fields, prototype keys).
 */
import fc from 'fast-check';

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  nullable?: boolean;
  maxLength?: number;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
  format?: string;
  maxItems?: number;
  additionalProperties?: boolean | JsonSchema;
};

/** Text that looks like an attack on SQL, RouterOS scripts, HTML/Telegram, paths, templates or parsers. */
export const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE empresas; --",
  '" OR ""="',
  '1; SELECT pg_sleep(0)',
  '$(reboot)',
  '`id`',
  ':put [/system reboot]',
  '";/system reset-configuration;"',
  '/ip hotspot user remove [find]',
  'admin\r\n!done',
  '<script>alert(1)</script>',
  '<b onmouseover=alert(1)>x</b>',
  '&lt;&amp;&gt;',
  '{{7*7}}',
  '${jndi:ldap://127.0.0.1/x}',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%00',
  '\u0000',
  '\u0000\u0001\u001f',
  '\uffff\ufffe',
  '\ud800',
  '\u202e\u202dabc',
  'ñandú Ünïcödé 漢字 🎉👨‍👩‍👧',
  'Z̷̢͉̀a̶l̸g̵o̴',
  '',
  ' ',
  '\t\n\r',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '99999999999999999999999',
  '0x7fffffff',
  '2147483648',
  '-2147483649',
  '1.5',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'EMP_0000000000',
  'RTR_00000000',
  'key_0000000000000000',
  'jwt_eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  'Bearer x',
  'a@b',
  'x@x.x',
  'user@localhost',
  '@',
  '00:00:00:00:00:00',
  'ZZ:ZZ:ZZ:ZZ:ZZ:ZZ',
  '999.999.999.999',
  '::1',
];

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('\u0000', '\ud83d', '\ude00', '\u200b', '\n', '"', "'", '\\', '%'), maxLength: 20 }) },
  // Long enough to exceed every column (varchar(20)…(500), text).
  { weight: 2, arbitrary: fc.integer({ min: 21, max: 5000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 50_000, max: 200_000 }).map((n) => 'ñ'.repeat(n)) },
);

/**
 * Deeply nested JSON is generated as a marker and expanded only when the body is serialized (see
 * `serialize`): fast-check prints and clones values recursively, which a 5000-level value would overflow.
 */
export class DeepJson {
  constructor(
    readonly depth: number,
    readonly array: boolean,
  ) {}
  text(): string {
    return this.array ? '['.repeat(this.depth) + '1' + ']'.repeat(this.depth) : '{"a":'.repeat(this.depth) + '1' + '}'.repeat(this.depth);
  }
  toString(): string {
    return `DeepJson(${this.depth}, ${this.array ? 'array' : 'object'})`;
  }
}

export const deepJson: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 20, max: 5000 }), fc.boolean()).map(([d, a]) => new DeepJson(d, a));

/** JSON text of a generated value, deep markers expanded in place. */
export function serialize(value: unknown): string {
  const deep: DeepJson[] = [];
  const text =
    JSON.stringify(value, (_k, v: unknown) => {
      if (v instanceof DeepJson) {
        deep.push(v);
        return `\u0001DEEP${deep.length - 1}\u0001`;
      }
      return v;
    }) ?? 'null';
  return text.replace(/"\\u0001DEEP(\d+)\\u0001"/g, (_m, i: string) => deep[Number(i)].text());
}

const weirdNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1.5, 2147483647, 2147483648, -2147483649, Number.MAX_SAFE_INTEGER, 1e21, -1e21, 1e308, 5e-324, 0.001, 99999999.995, 100000000),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Anything of the wrong kind for a field. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: nastyString },
  { weight: 2, arbitrary: weirdNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(fc.oneof(nastyString, weirdNumber, fc.constant(null)), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(nastyString, fc.oneof(nastyString, weirdNumber), { maxKeys: 4 }) },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const EXTRA_KEYS = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'id', 'empresa_id', 'rol', 'activo', 'password_hash', 'api_key_hash', 'estado_pago', 'monto', 'is_admin'),
  fc.string({ maxLength: 20 }),
);

function types(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (schema.type) return [schema.type];
  if (schema.properties) return ['object'];
  return [];
}

/** A value of the right JSON type with hostile content (within bounds when the schema has them). */
function plausible(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches && branches.length > 0) return fc.oneof(...branches.map((b) => valueFor(b, depth)));
  if (schema.allOf && schema.allOf.length > 0) return valueFor(Object.assign({}, ...schema.allOf) as JsonSchema, depth);
  const t = types(schema).filter((x) => x !== 'null');
  const options: fc.Arbitrary<unknown>[] = [];
  for (const type of t.length ? t : ['string']) {
    switch (type) {
      case 'string': {
        const max = schema.maxLength ?? 60;
        const min = schema.minLength ?? 0;
        const fit = (s: string) => (s.length > max ? s.slice(0, max) : s.length < min ? s.padEnd(min, 'x') : s);
        options.push(
          fc.oneof(
            nastyString.map(fit),
            fc.constantFrom('valid@example.com', 'Empresa Ñandú', 'Contraseña123!', 'MXN', 'usuario_contrasena', 'pin', '*1', 'default').map(fit),
            fc.integer({ min: 0, max: max }).map((n) => 'a'.repeat(Math.max(n, min))),
          ),
        );
        break;
      }
      case 'integer':
        options.push(
          fc.oneof(
            fc.integer({ min: Math.max(schema.minimum ?? -5, -2147483648), max: Math.min(schema.maximum ?? 5, 2147483647) }),
            fc.constantFrom(schema.minimum ?? 0, schema.maximum ?? 2147483647, 2147483647, 2147483648, -1, 0, 1, 9007199254740991),
          ),
        );
        break;
      case 'number':
        options.push(weirdNumber);
        break;
      case 'boolean':
        options.push(fc.boolean());
        break;
      case 'array':
        options.push(fc.array(schema.items ? valueFor(schema.items, depth + 1) : wrongValue, { maxLength: Math.min(schema.maxItems ?? 4, 6) }));
        break;
      case 'object':
        options.push(objectFor(schema, depth));
        break;
      default:
        options.push(wrongValue);
    }
  }
  return options.length === 1 ? options[0] : fc.oneof(...options);
}

/** Mostly plausible values, sometimes malformed ones, sometimes null. */
export function valueFor(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return wrongValue;
  return fc.oneof({ weight: 6, arbitrary: plausible(schema, depth) }, { weight: 3, arbitrary: wrongValue }, { weight: 1, arbitrary: fc.constant(null) });
}

/** An object for a schema with fields dropped and foreign fields added now and then. */
export function objectFor(schema: JsonSchema, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const props = schema.properties ?? {};
  const keys = Object.keys(props);
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const k of keys) record[k] = valueFor(props[k], depth + 1);
  return fc
    .tuple(fc.record(record), fc.subarray(keys), fc.option(fc.dictionary(EXTRA_KEYS, wrongValue, { maxKeys: 3 }), { freq: 3 }), fc.boolean())
    .map(([base, drop, extra, complete]) => {
      const out: Record<string, unknown> = {};
      // Half of the time every field is there (so the handler runs); otherwise some are missing.
      for (const k of keys) if (complete || !drop.includes(k)) out[k] = base[k];
      // defineProperty: a "__proto__" key must become a real own field, as JSON.parse would make it.
      if (extra) for (const [k, v] of Object.entries(extra)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      return out;
    });
}

/** A whole request body: shaped after the schema most of the time, or not an object at all. */
export function bodyFor(schema: JsonSchema | undefined): fc.Arbitrary<{ kind: 'json'; value: unknown } | { kind: 'raw'; text: string; contentType: string }> {
  const shaped = schema ? valueFor(schema).map((value) => ({ kind: 'json' as const, value })) : wrongValue.map((value) => ({ kind: 'json' as const, value }));
  const shapedObject = schema && types(schema).includes('object') ? objectFor(schema).map((value) => ({ kind: 'json' as const, value })) : shaped;
  const raw = fc.oneof(
    fc.constantFrom('{', '{"a":', '[1,2', 'null', '""', '{"__proto__":{"admin":true}}', '{"a":1,"a":2}', '\u0000', 'NaN', '{\'a\':1}').map((text) => ({ kind: 'raw' as const, text, contentType: 'application/json' })),
    fc.tuple(nastyString, fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/octet-stream')).map(([text, contentType]) => ({ kind: 'raw' as const, text, contentType })),
  );
  return fc.oneof({ weight: 7, arbitrary: shapedObject }, { weight: 2, arbitrary: shaped }, { weight: 1, arbitrary: raw });
}

/** A path segment value: a real id (to get past the lookup), someone else's, or garbage. */
export function pathValue(known: string[]): fc.Arbitrary<{ value: string; encode: boolean }> {
  const real = known.length ? fc.constantFrom(...known).map((value) => ({ value, encode: true })) : null;
  const fuzz = fc.oneof(nastyString, weirdNumber.map(String)).map((value) => ({ value, encode: true }));
  const rawBad = fc.constantFrom('%', '%zz', '..', '.', '%2e%2e%2f', '%00', 'a%2Fb').map((value) => ({ value, encode: false }));
  return real ? fc.oneof({ weight: 4, arbitrary: real }, { weight: 5, arbitrary: fuzz }, { weight: 1, arbitrary: rawBad }) : fc.oneof({ weight: 9, arbitrary: fuzz }, { weight: 1, arbitrary: rawBad });
}
