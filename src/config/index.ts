import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { Fernet } from '../infra/crypto/fernet.js';
import { cidrProblem, parseNetworkList } from '../infra/router-networks.js';

/** Raised when the environment cannot produce a valid configuration; the message names every problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Configuración inválida:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512';

export interface DatabaseTarget {
  kind: 'postgres' | 'pglite';
  /** postgres: a node-postgres connection string; pglite: a directory or 'memory'. */
  url: string;
}

export interface Config {
  database: DatabaseTarget;
  databasePoolSize: number;
  /** PostgreSQL ends a session idle inside a transaction this long (0: never); see infra/db/index.ts. */
  databaseIdleInTransactionTimeoutMs: number;
  jwtApikeySecret: string;
  jwtSessionSecret: string;
  jwtAlgorithm: JwtAlgorithm;
  jwtApikeyExpireDays: number;
  jwtSessionExpireHours: number;
  secretKey: string;
  bcryptRounds: number;
  corsOrigins: string[];
  superAdminEmail: string;
  superAdminPassword: string;
  conektaDefaultPrivateKey: string;
  conektaDefaultPublicKey: string;
  encryptionKeyMercadoPago: string;
  appName: string;
  debug: boolean;
  host: string;
  port: number;
  // Additions (all with safe defaults).
  logLevel: string;
  conektaApiBase: string;
  mercadoPagoApiBase: string;
  telegramApiBase: string;
  publicBaseUrl: string;
  provisionDeadlineMinutes: number;
  /** Timeout of one call to a payment gateway (Conekta, Mercado Pago), in ms. */
  gatewayTimeoutMs: number;
  /** How long a same-key duplicate waits for the first request to record its attempt (then 409), in ms (≤ 10 s). */
  idempotencyWaitMs: number;
  idempotencyStaleMs: number;
  drainDelayMs: number;
  /** A charge the gateway does not show (search index lag) is not declared unpaid before this, in ms. */
  paymentNotFoundHorizonMs: number;
  /** Stored purchase answers lose their voucher credentials, and finished jobs are deleted, after this many hours. */
  paymentsRetentionHours: number;
  /** Generated voucher lengths: characters after `PT-`, password digits, PIN digits. */
  voucherUsernameLength: number;
  voucherPasswordLength: number;
  voucherPinLength: number;
  /** Voucher validity sweeper (issue 15): how often each router is checked, and the longest wait after a failure. */
  vigenciaSweepMs: number;
  /** Seconds in one minute of validity: 60 (enforced in production); tests shorten it, same code path. */
  vigenciaMinuteSeconds: number;
  /** E-mail receipts after an approved online sale: SMTP URL (empty: off) and sender. */
  smtpUrl: string;
  smtpFrom: string;
  vigenciaMaxBackoffMs: number;
  redisUrl: string;
  /** Background workers (outbox, reconciliation) run in this process. */
  workersEnabled: boolean;
  /** Failed logins allowed per account / per IP within loginWindowSeconds. */
  loginMaxFailuresPerAccount: number;
  loginMaxFailuresPerIp: number;
  loginWindowSeconds: number;
  /** Login requests (successful or not) allowed per client IP per minute. */
  loginRequestsPerMinute: number;
  /**
   * Which X-Forwarded-For hops to believe (handed to Fastify): false (none), a hop count (`true` is read
   * as 1: only the address our own proxy appended), or the proxies' addresses/CIDRs.
   */
  trustProxy: false | number | string[];
  /** RouterOS API client (hotspot module). */
  routeros: {
    connectTimeoutMs: number;
    commandTimeoutMs: number;
    poolMax: number;
    poolIdleMs: number;
    breakerThreshold: number;
    breakerCooldownMs: number;
    /** Pause after ending a user's old sessions and between session polls during auto-connect. */
    loginSettleMs: number;
    /** Caps on one router reply (a hostile router must not exhaust memory). */
    maxReplyBytes: number;
    maxReplyRows: number;
    maxWordBytes: number;
    /** Router connections one company may have in use at once, over all its routers (this instance). */
    maxConnectionsPerCompany: number;
    /** Networks a router may be on (ROUTER_ALLOWED_NETWORKS); null: the default (see infra/router-networks). */
    allowedNetworks: string[] | null;
  };
  /** Failed voucher checks per router (every device and IP together) before checks are paced. */
  hotspotRouterFailureBudget: number;
  /** Explicit router connection tests (test-connection) per company per minute. */
  routerTestsPerMinute: number;
  /** Bearer token required by /metrics; empty: /metrics is open (the start-up log says so). */
  metricsToken: string;
  /** Failed voucher checks (auto-reconnect, profile-info) allowed per router and client device / per router and IP. */
  hotspotMaxFailuresPerClient: number;
  hotspotMaxFailuresPerIp: number;
  hotspotFailureWindowSeconds: number;
  /** Gateway tokenizer scripts the captive-portal kit loads (the sandbox's in the demo and tests). */
  portalConektaJsUrl: string;
  portalMercadoPagoJsUrl: string;
  /** Checkout page (issue 13): the gateways' own card-field scripts (the sandbox's stand-ins in the demo and tests). */
  checkoutMercadoPagoJsUrl: string;
  checkoutConektaJsUrl: string;
  /** Minutes a checkout session (`/pagar/{sesion}`) stays usable. */
  checkoutSessionMinutes: number;
  /** How long a 3-D Secure challenge stays open before the purchase expires (never delivered; a later approval is refunded). */
  threeDsChallengeTimeoutMs: number;
  /** NODE_ENV=production: PUBLIC_BASE_URL must be https. */
  production: boolean;
}

const REQUIRED = [
  'DATABASE_URL',
  'JWT_APIKEY_SECRET',
  'JWT_SESSION_SECRET',
  'SECRET_KEY',
  'SUPER_ADMIN_INITIAL_EMAIL',
  'SUPER_ADMIN_INITIAL_PASSWORD',
] as const;

/** Every variable we read, with the comment that goes into .env.example. */
export const VARIABLES: ReadonlyArray<{ name: string; required: boolean; default: string; doc: string }> = [
  { name: 'DATABASE_URL', required: true, default: '', doc: 'postgresql://user:pass@host:5432/db (also postgres:// and postgresql+asyncpg://), or pglite:./data/db / pglite:memory for the embedded database' },
  { name: 'DATABASE_POOL_SIZE', required: false, default: '20', doc: 'Maximum PostgreSQL connections per instance' },
  {
    name: 'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS',
    required: false,
    default: '60000',
    doc: 'PostgreSQL ends a session left idle inside a transaction this long (a frozen instance would otherwise hold its row locks); above the RouterOS timeouts; 0 disables',
  },
  { name: 'JWT_APIKEY_SECRET', required: true, default: '', doc: 'Secret that signs router API keys (jwt_...); keep the legacy value so existing keys stay valid' },
  { name: 'JWT_SESSION_SECRET', required: true, default: '', doc: 'Secret that signs admin session tokens' },
  { name: 'JWT_ALGORITHM', required: false, default: 'HS256', doc: 'HS256, HS384 or HS512' },
  { name: 'JWT_APIKEY_EXPIRE_DAYS', required: false, default: '365', doc: 'Lifetime of newly minted router API keys, in days' },
  { name: 'JWT_SESSION_EXPIRE_HOURS', required: false, default: '24', doc: 'Lifetime of admin sessions, in hours' },
  { name: 'SECRET_KEY', required: true, default: '', doc: 'Master secret: derives the key that encrypts secrets at rest (router passwords, gateway keys, tokens)' },
  { name: 'BCRYPT_ROUNDS', required: false, default: '12', doc: 'bcrypt cost for new password hashes' },
  { name: 'BACKEND_CORS_ORIGINS', required: false, default: '[]', doc: 'Allowed browser origins: JSON array ["https://a","https://b"] or comma list https://a,https://b' },
  { name: 'SUPER_ADMIN_INITIAL_EMAIL', required: true, default: '', doc: 'Super admin created at start-up when no user has this email' },
  { name: 'SUPER_ADMIN_INITIAL_PASSWORD', required: true, default: '', doc: 'Its initial password (never logged)' },
  { name: 'CONEKTA_DEFAULT_PRIVATE_KEY', required: false, default: '', doc: 'Conekta private key used by companies that have none' },
  { name: 'CONEKTA_DEFAULT_PUBLIC_KEY', required: false, default: '', doc: 'Conekta public key used by companies that have none' },
  { name: 'ENCRYPTION_KEY_MERCADO_PAGO', required: false, default: '', doc: 'Fernet key (44 chars url-safe base64) for Mercado Pago secrets; empty: a key derived from SECRET_KEY' },
  { name: 'APP_NAME', required: false, default: 'MikroTik Payment API', doc: 'Title of the OpenAPI document at /docs' },
  { name: 'DEBUG', required: false, default: 'false', doc: 'Verbose (debug) logging; secrets stay redacted' },
  { name: 'HOST', required: false, default: '0.0.0.0', doc: 'Address to listen on' },
  { name: 'PORT', required: false, default: '8000', doc: 'Port to listen on' },
  { name: 'LOG_LEVEL', required: false, default: 'info', doc: 'pino level: fatal, error, warn, info, debug, trace, silent' },
  { name: 'CONEKTA_API_BASE', required: false, default: 'https://api.conekta.io', doc: 'Conekta API base URL' },
  { name: 'MERCADO_PAGO_API_BASE', required: false, default: 'https://api.mercadopago.com', doc: 'Mercado Pago API base URL' },
  { name: 'TELEGRAM_API_BASE', required: false, default: 'https://api.telegram.org', doc: 'Telegram Bot API base URL' },
  { name: 'PUBLIC_BASE_URL', required: false, default: '', doc: 'Public URL of this service, used to build gateway notification (webhook) URLs' },
  { name: 'PROVISION_DEADLINE_MINUTES', required: false, default: '30', doc: 'Minutes to keep retrying voucher delivery before refunding automatically' },
  { name: 'GATEWAY_TIMEOUT_MS', required: false, default: '30000', doc: 'Timeout of one call to Conekta or Mercado Pago, in milliseconds (an unanswered charge is reconciled later)' },
  { name: 'IDEMPOTENCY_WAIT_MS', required: false, default: '10000', doc: 'Milliseconds a same-key purchase retry waits for the first request to record its attempt (then 409; at most 10000)' },
  { name: 'IDEMPOTENCY_STALE_MS', required: false, default: '15000', doc: 'Milliseconds after which a key whose request recorded no attempt (it died) is taken over by a same-key retry; the old request can then no longer charge' },
  { name: 'DRAIN_DELAY_MS', required: false, default: '2000', doc: 'On SIGTERM, milliseconds /ready answers 503 (so a load balancer stops sending) before the server stops accepting; in-flight requests always finish' },
  { name: 'PAYMENT_NOT_FOUND_HORIZON_MS', required: false, default: '21600000', doc: 'Milliseconds a charge the gateway does not show yet (search lag) keeps being looked up, with backoff, before it is declared unpaid' },
  { name: 'PAYMENTS_RETENTION_HOURS', required: false, default: '72', doc: 'Hours after which stored purchase answers lose their voucher credentials and finished background jobs are deleted' },
  { name: 'VOUCHER_USERNAME_LENGTH', required: false, default: '5', doc: 'Characters after PT- in generated voucher usernames (A-Z0-9)' },
  { name: 'VOUCHER_PASSWORD_LENGTH', required: false, default: '4', doc: 'Digits of generated voucher passwords' },
  { name: 'VOUCHER_PIN_LENGTH', required: false, default: '8', doc: 'Digits after PT- in generated PIN vouchers (8: with the voucher-check limits, over 30 days of guessing per live PIN on a router with 500 live vouchers)' },
  { name: 'VIGENCIA_SWEEP_MS', required: false, default: '10000', doc: 'Voucher validity: how often each router is checked for first logins and expired vouchers, in milliseconds' },
  { name: 'VIGENCIA_MINUTE_SECONDS', required: false, default: '60', doc: 'Voucher validity: seconds in one minute of a plan\'s vigencia_minutos (60; only tests shorten it, so a 1-minute validity lasts seconds through the same code; must be 60 when NODE_ENV=production)' },
  { name: 'VIGENCIA_MAX_BACKOFF_MS', required: false, default: '15000', doc: 'Voucher validity: longest wait between checks of a router that does not answer, in milliseconds (it is swept when it returns)' },
  { name: 'SMTP_URL', required: false, default: '', doc: 'E-mail receipts to buyers after an approved online sale (smtp:// or smtps:// URL with credentials); empty: no receipts' },
  { name: 'SMTP_FROM', required: false, default: 'Pagos Hotspot <no-reply@localhost>', doc: 'Sender of the e-mail receipts' },
  { name: 'REDIS_URL', required: false, default: '', doc: 'Optional Redis shared by instances for rate-limit counters' },
  { name: 'WORKERS_ENABLED', required: false, default: 'true', doc: 'Run background workers (delivery, refunds, reconciliation) in this instance' },
  { name: 'LOGIN_MAX_FAILURES_PER_ACCOUNT', required: false, default: '5', doc: 'Failed logins allowed per account per window' },
  { name: 'LOGIN_MAX_FAILURES_PER_IP', required: false, default: '20', doc: 'Failed logins allowed per client IP per window' },
  { name: 'LOGIN_WINDOW_SECONDS', required: false, default: '900', doc: 'Login failure window, in seconds' },
  { name: 'LOGIN_REQUESTS_PER_MINUTE', required: false, default: '60', doc: 'Login requests allowed per client IP per minute (any outcome)' },
  { name: 'TRUST_PROXY', required: false, default: 'false', doc: 'X-Forwarded-For hops to trust: false, a hop count (true = 1, the address your own proxy appended), or a comma list of proxy IPs/CIDRs' },
  { name: 'ROUTER_ALLOWED_NETWORKS', required: false, default: '', doc: 'Comma list of CIDRs a router may be on (e.g. 10.8.0.0/16 for a VPN); empty: any unicast address except loopback, link-local, multicast, broadcast and cloud metadata. Never the database or Redis' },
  { name: 'ROUTEROS_MAX_REPLY_BYTES', required: false, default: '8388608', doc: 'RouterOS API: most bytes one reply may carry (larger replies are refused)' },
  { name: 'ROUTEROS_MAX_REPLY_ROWS', required: false, default: '100000', doc: 'RouterOS API: most rows one reply may carry' },
  { name: 'ROUTEROS_MAX_WORD_BYTES', required: false, default: '1048576', doc: 'RouterOS API: longest word accepted from a router' },
  { name: 'ROUTEROS_MAX_CONNECTIONS_PER_COMPANY', required: false, default: '16', doc: 'RouterOS API: connections one company may use at once over all its routers, per instance' },
  { name: 'HOTSPOT_ROUTER_FAILURE_BUDGET', required: false, default: '30', doc: 'Failed voucher checks per router per window (all devices and IPs); beyond it one check per window/budget, not a lock. With 8-digit PINs and 500 live vouchers: about 35 days of guessing per expected hit' },
  { name: 'ROUTER_TESTS_PER_MINUTE', required: false, default: '10', doc: 'Router connection tests (test-connection) a company may run per minute' },
  { name: 'METRICS_TOKEN', required: false, default: '', doc: 'Bearer token /metrics requires; empty: /metrics is open (set it in production)' },
  { name: 'ROUTEROS_CONNECT_TIMEOUT_MS', required: false, default: '10000', doc: 'RouterOS API: connect + login timeout, in milliseconds' },
  { name: 'ROUTEROS_COMMAND_TIMEOUT_MS', required: false, default: '10000', doc: 'RouterOS API: timeout of each command, in milliseconds' },
  { name: 'ROUTEROS_POOL_MAX', required: false, default: '4', doc: 'RouterOS API: maximum simultaneous connections per router and instance' },
  { name: 'ROUTEROS_POOL_IDLE_MS', required: false, default: '30000', doc: 'RouterOS API: close pooled connections unused for this long, in milliseconds' },
  { name: 'ROUTEROS_BREAKER_THRESHOLD', required: false, default: '3', doc: 'RouterOS API: consecutive connection failures that make a router fail fast' },
  { name: 'ROUTEROS_BREAKER_COOLDOWN_MS', required: false, default: '30000', doc: 'RouterOS API: how long a failing router fails fast before one retry, in milliseconds' },
  { name: 'HOTSPOT_LOGIN_SETTLE_MS', required: false, default: '1000', doc: 'Auto-connect: pause after ending old sessions and between session checks, in milliseconds' },
  { name: 'HOTSPOT_MAX_FAILURES_PER_CLIENT', required: false, default: '5', doc: 'Failed voucher checks (auto-reconnect, profile-info) per router and device per window' },
  { name: 'HOTSPOT_MAX_FAILURES_PER_IP', required: false, default: '50', doc: 'Failed voucher checks per router and client IP per window' },
  { name: 'HOTSPOT_FAILURE_WINDOW_SECONDS', required: false, default: '900', doc: 'Window of the voucher-check failure limits, in seconds' },
  { name: 'CHECKOUT_MERCADO_PAGO_JS_URL', required: false, default: 'https://sdk.mercadopago.com/js/v2', doc: 'Checkout page: Mercado Pago SDK JS v2 (Card Payment Brick); its origin is allowed by the page CSP' },
  { name: 'CHECKOUT_CONEKTA_JS_URL', required: false, default: 'https://pay.conekta.com/v1.0/js/conekta-checkout.min.js', doc: 'Checkout page: Conekta Tokenizer component script; its origin is allowed by the page CSP' },
  { name: 'CHECKOUT_SESSION_MINUTES', required: false, default: '15', doc: 'Minutes a checkout session (/pagar/{sesion}) stays usable' },
  { name: 'THREE_DS_CHALLENGE_TIMEOUT_MS', required: false, default: '600000', doc: 'Milliseconds a 3-D Secure challenge stays open; then the purchase expires (never delivered) and a later approval is refunded in full' },
  { name: 'PORTAL_CONEKTA_JS_URL', required: false, default: 'https://cdn.conekta.io/js/latest/conekta.js', doc: 'Conekta.js URL written into captive-portal kits' },
  { name: 'PORTAL_MERCADO_PAGO_JS_URL', required: false, default: 'https://sdk.mercadopago.com/js/v2', doc: 'Mercado Pago SDK URL written into captive-portal kits' },
];

/** Environment as the service sees it: `.env` at the project root, with real variables taking precedence. */
export function readEnvironment(root = process.cwd(), env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const file = resolve(root, '.env');
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  return { ...fromFile, ...env };
}

const TRUE = new Set(['1', 'true', 't', 'yes', 'y', 'on']);
const FALSE = new Set(['0', 'false', 'f', 'no', 'n', 'off', '']);

export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const missing = REQUIRED.filter((name) => !env[name] || env[name]!.trim() === '');
  if (missing.length > 0) problems.push(`Faltan variables de entorno obligatorias: ${missing.join(', ')}`);

  const get = (name: string): string => {
    const v = env[name];
    return v === undefined ? VARIABLES.find((x) => x.name === name)!.default : v.trim();
  };
  const int = (name: string, min: number, max: number): number => {
    const raw = get(name);
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      problems.push(`${name} debe ser un entero entre ${min} y ${max} (recibido: ${JSON.stringify(raw)})`);
      return Number(VARIABLES.find((x) => x.name === name)!.default);
    }
    return n;
  };
  const bool = (name: string): boolean => {
    const raw = get(name).toLowerCase();
    if (TRUE.has(raw)) return true;
    if (FALSE.has(raw)) return false;
    problems.push(`${name} debe ser true o false (recibido: ${JSON.stringify(raw)})`);
    return false;
  };

  const algorithm = get('JWT_ALGORITHM').toUpperCase();
  if (!['HS256', 'HS384', 'HS512'].includes(algorithm)) {
    problems.push(`JWT_ALGORITHM debe ser HS256, HS384 o HS512 (recibido: ${JSON.stringify(get('JWT_ALGORITHM'))})`);
  }

  let database: DatabaseTarget = { kind: 'postgres', url: '' };
  if (!missing.includes('DATABASE_URL')) {
    const parsed = parseDatabaseUrl(get('DATABASE_URL'));
    if (typeof parsed === 'string') problems.push(parsed);
    else database = parsed;
  }

  let corsOrigins: string[] = [];
  const cors = parseCorsOrigins(get('BACKEND_CORS_ORIGINS'));
  if (typeof cors === 'string') problems.push(cors);
  else corsOrigins = cors;

  const config: Config = {
    database,
    databasePoolSize: int('DATABASE_POOL_SIZE', 1, 1000),
    databaseIdleInTransactionTimeoutMs: int('DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS', 0, 3_600_000),
    jwtApikeySecret: get('JWT_APIKEY_SECRET'),
    jwtSessionSecret: get('JWT_SESSION_SECRET'),
    jwtAlgorithm: algorithm as JwtAlgorithm,
    jwtApikeyExpireDays: int('JWT_APIKEY_EXPIRE_DAYS', 1, 36500),
    jwtSessionExpireHours: int('JWT_SESSION_EXPIRE_HOURS', 1, 8760),
    secretKey: get('SECRET_KEY'),
    bcryptRounds: int('BCRYPT_ROUNDS', 4, 31),
    corsOrigins,
    superAdminEmail: get('SUPER_ADMIN_INITIAL_EMAIL'),
    superAdminPassword: env.SUPER_ADMIN_INITIAL_PASSWORD ?? '',
    conektaDefaultPrivateKey: get('CONEKTA_DEFAULT_PRIVATE_KEY'),
    conektaDefaultPublicKey: get('CONEKTA_DEFAULT_PUBLIC_KEY'),
    encryptionKeyMercadoPago: get('ENCRYPTION_KEY_MERCADO_PAGO'),
    appName: get('APP_NAME') || 'MikroTik Payment API',
    debug: bool('DEBUG'),
    host: get('HOST') || '0.0.0.0',
    port: int('PORT', 0, 65535),
    logLevel: get('LOG_LEVEL') || 'info',
    conektaApiBase: stripSlash(get('CONEKTA_API_BASE')),
    mercadoPagoApiBase: stripSlash(get('MERCADO_PAGO_API_BASE')),
    telegramApiBase: stripSlash(get('TELEGRAM_API_BASE')),
    publicBaseUrl: stripSlash(get('PUBLIC_BASE_URL')),
    provisionDeadlineMinutes: int('PROVISION_DEADLINE_MINUTES', 1, 7 * 24 * 60),
    gatewayTimeoutMs: int('GATEWAY_TIMEOUT_MS', 100, 300_000),
    idempotencyWaitMs: int('IDEMPOTENCY_WAIT_MS', 0, 10_000),
    idempotencyStaleMs: int('IDEMPOTENCY_STALE_MS', 1000, 600_000),
    drainDelayMs: int('DRAIN_DELAY_MS', 0, 25_000),
    paymentNotFoundHorizonMs: int('PAYMENT_NOT_FOUND_HORIZON_MS', 0, 30 * 24 * 3600_000),
    paymentsRetentionHours: int('PAYMENTS_RETENTION_HOURS', 1, 24 * 365),
    voucherUsernameLength: int('VOUCHER_USERNAME_LENGTH', 5, 40),
    voucherPasswordLength: int('VOUCHER_PASSWORD_LENGTH', 4, 40),
    voucherPinLength: int('VOUCHER_PIN_LENGTH', 5, 40),
    vigenciaSweepMs: int('VIGENCIA_SWEEP_MS', 50, 3_600_000),
    vigenciaMinuteSeconds: int('VIGENCIA_MINUTE_SECONDS', 1, 60),
    smtpUrl: get('SMTP_URL'),
    smtpFrom: get('SMTP_FROM'),
    vigenciaMaxBackoffMs: int('VIGENCIA_MAX_BACKOFF_MS', 50, 3_600_000),
    redisUrl: get('REDIS_URL'),
    workersEnabled: bool('WORKERS_ENABLED'),
    loginMaxFailuresPerAccount: int('LOGIN_MAX_FAILURES_PER_ACCOUNT', 1, 100000),
    loginMaxFailuresPerIp: int('LOGIN_MAX_FAILURES_PER_IP', 1, 100000),
    loginWindowSeconds: int('LOGIN_WINDOW_SECONDS', 1, 86400),
    loginRequestsPerMinute: int('LOGIN_REQUESTS_PER_MINUTE', 1, 1_000_000),
    trustProxy: parseTrustProxy(get('TRUST_PROXY'), problems),
    routeros: {
      connectTimeoutMs: int('ROUTEROS_CONNECT_TIMEOUT_MS', 50, 300_000),
      commandTimeoutMs: int('ROUTEROS_COMMAND_TIMEOUT_MS', 50, 300_000),
      poolMax: int('ROUTEROS_POOL_MAX', 1, 64),
      poolIdleMs: int('ROUTEROS_POOL_IDLE_MS', 100, 3_600_000),
      breakerThreshold: int('ROUTEROS_BREAKER_THRESHOLD', 1, 1000),
      breakerCooldownMs: int('ROUTEROS_BREAKER_COOLDOWN_MS', 0, 3_600_000),
      loginSettleMs: int('HOTSPOT_LOGIN_SETTLE_MS', 0, 10_000),
      maxReplyBytes: int('ROUTEROS_MAX_REPLY_BYTES', 64 * 1024, 256 * 1024 * 1024),
      maxReplyRows: int('ROUTEROS_MAX_REPLY_ROWS', 100, 10_000_000),
      maxWordBytes: int('ROUTEROS_MAX_WORD_BYTES', 4096, 64 * 1024 * 1024),
      maxConnectionsPerCompany: int('ROUTEROS_MAX_CONNECTIONS_PER_COMPANY', 1, 10_000),
      allowedNetworks: allowedNetworks(get('ROUTER_ALLOWED_NETWORKS'), problems),
    },
    hotspotRouterFailureBudget: int('HOTSPOT_ROUTER_FAILURE_BUDGET', 1, 1_000_000),
    routerTestsPerMinute: int('ROUTER_TESTS_PER_MINUTE', 1, 10_000),
    metricsToken: get('METRICS_TOKEN'),
    hotspotMaxFailuresPerClient: int('HOTSPOT_MAX_FAILURES_PER_CLIENT', 1, 100_000),
    hotspotMaxFailuresPerIp: int('HOTSPOT_MAX_FAILURES_PER_IP', 1, 1_000_000),
    hotspotFailureWindowSeconds: int('HOTSPOT_FAILURE_WINDOW_SECONDS', 1, 86_400),
    portalConektaJsUrl: get('PORTAL_CONEKTA_JS_URL'),
    portalMercadoPagoJsUrl: get('PORTAL_MERCADO_PAGO_JS_URL'),
    checkoutMercadoPagoJsUrl: get('CHECKOUT_MERCADO_PAGO_JS_URL'),
    checkoutConektaJsUrl: get('CHECKOUT_CONEKTA_JS_URL'),
    checkoutSessionMinutes: int('CHECKOUT_SESSION_MINUTES', 1, 120),
    threeDsChallengeTimeoutMs: int('THREE_DS_CHALLENGE_TIMEOUT_MS', 1000, 3600_000),
    production: (env.NODE_ENV ?? '').trim() === 'production',
  };
  const publicProblem = publicBaseUrlProblem(config.publicBaseUrl, config.production);
  if (publicProblem) problems.push(publicProblem);
  if (config.production && config.vigenciaMinuteSeconds !== 60) problems.push('VIGENCIA_MINUTE_SECONDS debe ser 60 cuando NODE_ENV=production (solo las pruebas acortan el minuto de vigencia)');
  if (config.encryptionKeyMercadoPago) {
    try {
      new Fernet(config.encryptionKeyMercadoPago);
    } catch {
      problems.push('ENCRYPTION_KEY_MERCADO_PAGO inválida: debe ser una clave Fernet (32 bytes en base64 url-safe, 44 caracteres)');
    }
  }
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(config.logLevel)) problems.push(`LOG_LEVEL debe ser uno de ${levels.join(', ')}`);
  for (const name of ['PORTAL_CONEKTA_JS_URL', 'PORTAL_MERCADO_PAGO_JS_URL', 'CHECKOUT_MERCADO_PAGO_JS_URL', 'CHECKOUT_CONEKTA_JS_URL']) {
    if (!/^https?:\/\/[^\s"'<>]+$/.test(get(name))) problems.push(`${name} debe ser una URL http(s)`);
  }
  if (config.debug && config.logLevel === 'info') config.logLevel = 'debug';
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * PUBLIC_BASE_URL: empty is allowed (legacy .env files; checkout and kits are then disabled). Otherwise an
 * http(s) origin (optionally with a path); in production only https, except http://localhost and
 * http://127.0.0.1, which browsers treat as secure contexts (demo, tests). The checkout page collects card
 * data through the gateways' fields, which they only allow on HTTPS pages.
 */
export function publicBaseUrlProblem(raw: string, production: boolean): string | null {
  if (raw === '') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `PUBLIC_BASE_URL debe ser una URL http(s) (recibido: ${JSON.stringify(raw)})`;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
    return `PUBLIC_BASE_URL debe ser una URL http(s) sin usuario, consulta ni fragmento (recibido: ${JSON.stringify(raw)})`;
  }
  const local = url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1');
  if (production && url.protocol !== 'https:' && !local) {
    return `PUBLIC_BASE_URL debe ser https cuando NODE_ENV=production (la página de pago recibe datos de tarjeta; recibido: ${JSON.stringify(raw)})`;
  }
  return null;
}

function allowedNetworks(raw: string, problems: string[]): string[] | null {
  if (raw === '') return null;
  const { networks, problems: bad } = parseNetworkList(raw);
  for (const b of bad) problems.push(`ROUTER_ALLOWED_NETWORKS: ${b}`);
  return networks.length > 0 ? networks : null;
}

/** TRUST_PROXY: false/true (true = 1 hop), a hop count, or a comma list of proxy addresses/CIDRs. */
export function parseTrustProxy(raw: string, problems: string[]): false | number | string[] {
  const v = raw.trim().toLowerCase();
  if (FALSE.has(v)) return false;
  if (TRUE.has(v)) return 1;
  if (/^\d{1,3}$/.test(v)) return Number(v) === 0 ? false : Number(v);
  const list = raw.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = list.map(cidrProblem).filter((p) => p !== null);
  if (bad.length > 0 || list.length === 0) {
    problems.push(`TRUST_PROXY debe ser false, un número de saltos o una lista de IPs/CIDRs de los proxies (recibido: ${JSON.stringify(raw)})`);
    return false;
  }
  return list;
}

function stripSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

export function parseDatabaseUrl(raw: string): DatabaseTarget | string {
  if (raw.startsWith('pglite:')) {
    const rest = raw.slice('pglite:'.length).replace(/^\/\//, '');
    return { kind: 'pglite', url: rest === '' ? 'memory' : rest };
  }
  const m = /^(postgresql\+asyncpg|postgresql|postgres):\/\//.exec(raw);
  if (!m) {
    return 'DATABASE_URL debe empezar con postgresql://, postgres://, postgresql+asyncpg:// o pglite:';
  }
  return { kind: 'postgres', url: 'postgresql://' + raw.slice(m[0].length) };
}

export function parseCorsOrigins(raw: string): string[] | string {
  const value = raw.trim();
  if (value === '') return [];
  if (value.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) {
        return parsed.map((x: string) => x.trim()).filter(Boolean);
      }
    } catch {
      /* fall through to the error below */
    }
    return 'BACKEND_CORS_ORIGINS debe ser un arreglo JSON de cadenas o una lista separada por comas';
  }
  return value.split(',').map((x) => x.trim()).filter(Boolean);
}
