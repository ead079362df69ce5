import pino, { type Logger, type LoggerOptions } from 'pino';

/** Paths never written to a log line, wherever they appear. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.password',
  '*.new_password',
  '*.current_password',
  '*.password_encrypted',
  '*.access_token',
  '*.api_key',
  '*.new_api_key',
  '*.token',
  '*.secret',
  '*.private_key',
  '*.conekta_private_key',
  '*.mercado_pago_access_token',
  '*.webhook_secret',
  '*.telegram_bot_token',
  '*.token_tarjeta',
  '*.card_token',
  '*.contrasena',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[oculto]' },
    base: { service: 'pagos-hotspot' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
