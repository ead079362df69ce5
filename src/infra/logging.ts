import pino, { type Logger, type LoggerOptions } from 'pino';

/** Paths never written to a log line, wherever they appear. */
/** Field names never written to a log line, at the top level or one level down. */
const SECRET_FIELDS = [
  'password',
  'new_password',
  'current_password',
  'password_encrypted',
  'access_token',
  'api_key',
  'new_api_key',
  'token',
  'secret',
  'private_key',
  'conekta_private_key',
  'mercado_pago_access_token',
  'webhook_secret',
  'telegram_bot_token',
  'token_tarjeta',
  'card_token',
  'contrasena',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
];

/** Driver errors quote the query's parameters ("params: ..."); those can be secrets, so they never reach a log. */
const withoutParams = (text: unknown) => (typeof text === 'string' ? text.replace(/\nparams: [^\n]*/g, '\nparams: [oculto]') : text);

function errSerializer(err: unknown) {
  if (!err || typeof err !== 'object') return withoutParams(err);
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  out.message = withoutParams(out.message);
  out.stack = withoutParams(out.stack);
  if ('params' in out) out.params = '[oculto]';
  return out;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    serializers: { err: errSerializer },
    redact: { paths: REDACT_PATHS, censor: '[oculto]' },
    base: { service: 'pagos-hotspot' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

const { chindingsSym } = pino.symbols;
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * Fastify's per-request child logger. pino's `child()` runs the redaction (wildcard paths) over the
 * bindings on every request, about 2 µs of a ~30 µs captive-portal request; the only binding here is
 * the request id, which is a UUID or a header value already restricted to [A-Za-z0-9._-] (see app.ts),
 * so it is appended as pino itself would, without that pass. Anything else takes pino's own path.
 */
export function requestChildLogger<L extends { child(bindings: Record<string, unknown>, opts?: object): L }>(logger: L, bindings: Record<string, unknown>, opts: object): L {
  const id = bindings.reqId;
  let only = true;
  for (const k in bindings) if (k !== 'reqId') only = false;
  for (const _ in opts) only = false;
  if (!only || typeof id !== 'string' || !SAFE_REQUEST_ID.test(id)) return logger.child(bindings, opts);
  const child = Object.create(logger) as Record<symbol, string>;
  child[chindingsSym] = `${(logger as unknown as Record<symbol, string>)[chindingsSym]},"reqId":"${id}"`;
  return child as unknown as L;
}
