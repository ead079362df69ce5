/**
 * One error shape for the whole API: `{"detail": <text or pydantic-style list>, "code": <stable id>}`.
 * Validation failures are 422 with the legacy (pydantic) item shape; anything unexpected is a generic 500
 * whose details only reach the log.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';
import type { App } from './types.js';
import { ApiError, ValidationFailed, isDatabaseUnavailable, type ValidationItem } from '../errors.js';
import { SecretUnreadableError } from '../crypto/secrets.js';

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

const CONTEXT_LOC: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

function segment(s: string): string | number {
  const unescaped = s.replace(/~1/g, '/').replace(/~0/g, '~');
  return /^\d+$/.test(unescaped) ? Number(unescaped) : unescaped;
}

export function ajvToPydantic(errors: AjvError[], context: string, bodyMissing: boolean): ValidationItem[] {
  const where = CONTEXT_LOC[context] ?? context;
  if (context === 'body' && bodyMissing) return [{ type: 'missing', loc: ['body'], msg: 'Field required' }];
  const items: ValidationItem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const loc: (string | number)[] = [where, ...e.instancePath.split('/').filter(Boolean).map(segment)];
    let type = 'value_error';
    let msg = e.message ?? 'Invalid value';
    const p = e.params;
    switch (e.keyword) {
      case 'required':
        loc.push(String(p.missingProperty));
        type = 'missing';
        msg = 'Field required';
        break;
      case 'type': {
        const t = String(p.type);
        const map: Record<string, [string, string]> = {
          string: ['string_type', 'Input should be a valid string'],
          integer: ['int_parsing', 'Input should be a valid integer'],
          number: ['float_parsing', 'Input should be a valid number'],
          boolean: ['bool_parsing', 'Input should be a valid boolean'],
          object: [loc.length === 1 ? 'model_attributes_type' : 'dict_type', 'Input should be a valid dictionary or object'],
          array: ['list_type', 'Input should be a valid list'],
          null: ['none_required', 'Input should be None'],
        };
        [type, msg] = map[t.split(',')[0]] ?? ['type_error', `Input should be of type ${t}`];
        break;
      }
      case 'maxLength':
        type = 'string_too_long';
        msg = `String should have at most ${String(p.limit)} characters`;
        break;
      case 'minLength':
        type = 'string_too_short';
        msg = `String should have at least ${String(p.limit)} character${p.limit === 1 ? '' : 's'}`;
        break;
      case 'minimum':
      case 'exclusiveMinimum':
        type = e.keyword === 'minimum' ? 'greater_than_equal' : 'greater_than';
        msg = `Input should be greater than${e.keyword === 'minimum' ? ' or equal to' : ''} ${String(p.limit)}`;
        break;
      case 'maximum':
      case 'exclusiveMaximum':
        type = e.keyword === 'maximum' ? 'less_than_equal' : 'less_than';
        msg = `Input should be less than${e.keyword === 'maximum' ? ' or equal to' : ''} ${String(p.limit)}`;
        break;
      case 'pattern':
        type = 'string_pattern_mismatch';
        msg = `String should match pattern '${String(p.pattern)}'`;
        break;
      case 'enum':
      case 'const':
        type = 'enum';
        msg = `Input should be ${(p.allowedValues as unknown[] | undefined)?.map((v) => `'${String(v)}'`).join(' or ') ?? `'${String(p.allowedValue)}'`}`;
        break;
      case 'maxItems':
        type = 'too_long';
        msg = `List should have at most ${String(p.limit)} items`;
        break;
      case 'additionalProperties':
        loc.push(String(p.additionalProperty));
        type = 'extra_forbidden';
        msg = 'Extra inputs are not permitted';
        break;
      case 'format':
        type = 'value_error';
        msg = `Value is not a valid ${String(p.format)}`;
        break;
      default:
        break;
    }
    const key = `${loc.join('.')}|${type}`;
    if (seen.has(key)) continue;
    seen.add(key);
    items.push({ type, loc, msg });
  }
  return items.length > 0 ? items : [{ type: 'value_error', loc: [where], msg: 'Invalid input' }];
}

/**
 * Errors Fastify raises before routing (a malformed percent-encoding, a path parameter longer than the
 * router accepts) bypass the error handler; answer them in the API's shape, without echoing the URL.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void reply.code(414).send({ detail: 'La URL es demasiado larga', code: 'uri_too_long' });
    return;
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    void reply.code(400).send({ detail: 'URL inválida', code: 'bad_url' });
    return;
  }
  void reply.code(500).send({ detail: 'Error interno del servidor', code: 'internal_error' });
}

interface PathNode {
  key: string | number;
  parent: PathNode | null;
}

/** Text PostgreSQL cannot store: NUL, or a lone UTF-16 surrogate (a JSON "\\ud83d" escape parses to one; jsonb refuses it). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorable = (s: string) => s.includes('\u0000') || LONE_SURROGATE.test(s);

function locOf(node: PathNode): (string | number)[] {
  const out: (string | number)[] = [];
  for (let n: PathNode | null = node; n; n = n.parent) out.unshift(n.key);
  return out;
}

/** Where the first unstorable string of a parsed input is, or null (iterative: bodies may nest deeply). */
function findUnstorable(root: unknown, part: string): (string | number)[] | null {
  if (root === undefined || root === null) return null;
  const stack: Array<[unknown, PathNode]> = [[root, { key: part, parent: null }]];
  while (stack.length > 0) {
    const [value, node] = stack.pop()!;
    if (typeof value === 'string') {
      if (unstorable(value)) return locOf(node);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    // Parsed JSON and query strings only (the query parser's objects have their own empty prototype).
    if (ArrayBuffer.isView(value) || typeof (value as { pipe?: unknown }).pipe === 'function') continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], { key: i, parent: node }]);
      continue;
    }
    for (const k in value) {
      if (unstorable(k)) return locOf({ key: k, parent: node });
      stack.push([(value as Record<string, unknown>)[k], { key: k, parent: node }]);
    }
  }
  return null;
}

function checkStorable(request: FastifyRequest): void {
  const loc = findUnstorable(request.params, 'path') ?? findUnstorable(request.query, 'query') ?? findUnstorable(request.body, 'body');
  if (loc) throw new ValidationFailed([{ type: 'string_unicode', loc, msg: 'El texto contiene caracteres no válidos (NUL o Unicode mal formado)' }]);
}

export function registerErrorHandling(app: App): void {
  // Refuse text the database cannot hold up front (422) instead of failing in the driver (500).
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      checkStorable(request);
    } catch (err) {
      return done(err as Error);
    }
    done();
  });

  // Ajv's type coercion turns "Infinity" and "1e309" in a query or path into Infinity and lets it through
  // integer/maximum checks; the database then fails (500). Refuse non-finite numbers after validation.
  app.addHook('preHandler', (request, _reply, done) => {
    for (const [part, value] of [
      ['query', request.query],
      ['path', request.params],
    ] as const) {
      if (!value || typeof value !== 'object') continue;
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        if (typeof v === 'number' && !Number.isFinite(v)) {
          return done(new ValidationFailed([{ type: 'finite_number', loc: [part, k], msg: 'Input should be a finite number' }]));
        }
      }
    }
    done();
  });

  // 404 vs 405: remember every route so an unknown method on a known path answers 405 like the legacy.
  const known = FindMyWay();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) {
      if (m === 'HEAD' || m === 'OPTIONS') continue;
      try {
        known.on(m as 'GET', route.url, () => undefined);
      } catch {
        /* duplicates (e.g. prefixed twice) are fine */
      }
    }
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0];
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].filter((m) => m !== request.method && known.find(m as 'GET', path));
    if (methods.length > 0) {
      return reply.code(405).header('allow', methods.join(', ')).send({ detail: 'Method Not Allowed', code: 'method_not_allowed' });
    }
    return reply.code(404).send({ detail: 'Not Found', code: 'not_found' });
  });

  app.setErrorHandler((error: FastifyError & { validationContext?: string }, request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).headers(error.headers).send({ ...error.extra, detail: error.detail, code: error.code });
    }
    if (error instanceof ValidationFailed) {
      return reply.code(422).send({ detail: error.items, code: 'validation_error' });
    }
    if (error.validation) {
      const bodyMissing = request.body === undefined || request.body === null;
      const items = ajvToPydantic(error.validation as unknown as AjvError[], error.validationContext ?? 'body', bodyMissing);
      return reply.code(422).send({ detail: items, code: 'validation_error' });
    }
    if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return reply.code(422).send({ detail: [{ type: 'missing', loc: ['body'], msg: 'Field required' }], code: 'validation_error' });
    }
    if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (error instanceof SyntaxError && error.statusCode === 400)) {
      return reply.code(422).send({ detail: [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error' }], code: 'json_invalid' });
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ detail: 'El cuerpo de la petición es demasiado grande', code: 'payload_too_large' });
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send({ detail: 'Tipo de contenido no soportado', code: 'unsupported_media_type' });
    }
    if (error.statusCode === 429) {
      return reply.code(429).send({ detail: 'Demasiadas solicitudes. Intenta de nuevo más tarde.', code: 'rate_limited' });
    }
    if (error instanceof SecretUnreadableError) {
      request.log.error({ err: error }, 'secreto ilegible');
      return reply.code(500).send({ detail: 'Error interno del servidor', code: 'secret_unreadable' });
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ detail: error.message, code: (error.code ?? 'bad_request').toLowerCase() });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'base de datos no disponible');
      return reply.code(503).header('retry-after', '5').send({ detail: 'Servicio no disponible temporalmente; intenta de nuevo en unos segundos', code: 'database_unavailable' });
    }
    request.log.error({ err: error }, 'error no controlado');
    return reply.code(500).send({ detail: 'Error interno del servidor', code: 'internal_error' });
  });
}
