/**
 * The application's dependencies, built once per process (or per test) and handed to the HTTP app,
 * the workers and the scripts. Modules add their services here.
 */
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import { openDatabase, migrate, type Database } from './infra/db/index.js';
import { ChangeBus } from './infra/bus.js';
import { createMetrics, type Metrics } from './infra/metrics.js';
import { createSecretBoxes, type SecretBoxes } from './infra/crypto/secrets.js';
import { PasswordHasher } from './modules/auth/passwords.js';
import { SessionTokens } from './modules/auth/session-tokens.js';
import { RouterKeyService } from './modules/auth/router-keys.js';
import { FailureLimiter } from './infra/failure-limiter.js';
import { AuditLog } from './modules/tenants/audit.js';
import { bootstrapSuperAdmin } from './modules/auth/service.js';
import { HotspotService } from './modules/hotspot/service.js';
import { CatalogService } from './modules/catalog/service.js';
import { CompanyService } from './modules/company/service.js';
import { TelegramService } from './modules/notifications/telegram.js';
import { PaymentsService } from './modules/payments/service.js';
import { ValidityService } from './modules/vouchers/validity.js';
import { ReceiptService } from './modules/vouchers/receipts.js';
import { BatchService } from './modules/vouchers/batches.js';
import { RouterNetworkPolicy, serviceEndpoint, type ServiceEndpoint } from './infra/router-networks.js';

export interface AppContext {
  config: Config;
  logger: Logger;
  db: Database;
  bus: ChangeBus;
  metrics: Metrics;
  secrets: SecretBoxes;
  passwords: PasswordHasher;
  sessions: SessionTokens;
  routerKeys: RouterKeyService;
  loginLimiter: FailureLimiter;
  /** Failed voucher checks (auto-reconnect, profile-info), per router+device and router+IP. */
  voucherLimiter: FailureLimiter;
  audit: AuditLog;
  catalog: CatalogService;
  companies: CompanyService;
  telegram: TelegramService;
  hotspot: HotspotService;
  payments: PaymentsService;
  /** Voucher validity (first login, expiry sweep) on the payments outbox. */
  validity: ValidityService;
  /** E-mail receipts (SMTP_URL), an outbox job. */
  receipts: ReceiptService;
  /** Counter batches (delivery to the router in chunks on the outbox). */
  batches: BatchService;
  /** Stop background activity and release resources (not the database: `db.close()`). */
  stop(): Promise<void>;
  /** Set on SIGTERM: /ready answers 503 so load balancers stop sending before the server closes. */
  draining: boolean;
}

/** Services over an open, migrated database. */
export async function createContext(config: Config, logger: Logger, db: Database): Promise<AppContext> {
  const bus = new ChangeBus(db, logger);
  await bus.start();
  const metrics = createMetrics();
  const secrets = createSecretBoxes(config.secretKey, config.encryptionKeyMercadoPago);
  // Optional Redis shared by instances for rate-limit counters; never blocks a request when it is down.
  // ioredis is loaded only when configured (about 20 MB of an idle instance's memory otherwise).
  const redis = config.redisUrl
    ? new (await import('ioredis')).Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false })
    : null;
  redis?.on('error', () => undefined);
  const onRedisError = (err: Error) => logger.warn({ err: err.message }, 'Redis no disponible para los límites de intentos; se usa memoria local');
  const hotspot = new HotspotService({ db, secrets: secrets.general, config: config.routeros, logger, networks: routerNetworks(config) });
  const routerKeys = new RouterKeyService(db, config.jwtApikeySecret, config.jwtAlgorithm, config.jwtApikeyExpireDays, { bus, metrics, logger });
  const audit = new AuditLog(db.orm);
  const companies = new CompanyService(db, secrets, config);
  const catalog = new CatalogService(db, bus, config);
  const telegram = new TelegramService(config.telegramApiBase, logger);
  const payments = new PaymentsService({ config, logger, db, secrets, audit, catalog, companies, telegram, metrics, hotspot: () => hotspot });
  const validity = new ValidityService({ db, outbox: payments.outbox, hotspot, logger, config });
  const receipts = new ReceiptService({ db, outbox: payments.outbox, secrets: secrets.general, logger, config });
  const batches = new BatchService({ db, outbox: payments.outbox, hotspot, secrets: secrets.general, logger });
  const ctx: AppContext = {
    draining: false,
    config,
    logger,
    db,
    bus,
    metrics,
    secrets,
    passwords: new PasswordHasher(config.bcryptRounds),
    sessions: new SessionTokens(config.jwtSessionSecret, config.jwtAlgorithm, config.jwtSessionExpireHours),
    routerKeys,
    loginLimiter: new FailureLimiter({
      name: 'login',
      windowSeconds: config.loginWindowSeconds,
      redis,
      onRedisError,
    }),
    voucherLimiter: new FailureLimiter({
      name: 'voucher',
      windowSeconds: config.hotspotFailureWindowSeconds,
      redis,
      onRedisError,
    }),
    audit,
    catalog,
    companies,
    telegram,
    hotspot,
    payments,
    validity,
    receipts,
    batches,
    async stop() {
      // Background jobs finish before the routers and the database go away.
      await payments.stopWorkers();
      receipts.close();
      await hotspot.stop();
      redis?.disconnect();
      await routerKeys.stop();
      await bus.stop();
    },
  };
  return ctx;
}

/** The allowed router networks, never including our own database and Redis. */
export function routerNetworks(config: Config): RouterNetworkPolicy {
  const services = [
    config.database.kind === 'postgres' ? serviceEndpoint(config.database.url, 5432) : null,
    config.redisUrl ? serviceEndpoint(config.redisUrl, 6379) : null,
  ].filter((s): s is ServiceEndpoint => s !== null);
  return new RouterNetworkPolicy({ allowed: config.routeros.allowedNetworks, services });
}

/** Open the configured database, migrate it, build the services and make sure the super admin exists. */
export async function startContext(config: Config, logger: Logger): Promise<AppContext> {
  const db = await openDatabase(config.database, { poolSize: config.databasePoolSize, logger, idleInTransactionTimeoutMs: config.databaseIdleInTransactionTimeoutMs });
  try {
    await migrate(db, logger);
    const ctx = await createContext(config, logger, db);
    await bootstrapSuperAdmin(ctx);
    return ctx;
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
