/** Start the real application (real database, real HTTP stack) for a test file. */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/infra/logging.js';
import { startContext, type AppContext } from '../../src/context.js';
import { buildApp } from '../../src/app.js';
import type { App } from '../../src/infra/http/types.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const SUPER_ADMIN = { email: 'superadmin@example.com', password: 'SuperAdmin123!' };

export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    DATABASE_URL: 'pglite:memory',
    JWT_APIKEY_SECRET: 'test-apikey-secret-0123456789abcdef0123',
    JWT_SESSION_SECRET: 'test-session-secret-0123456789abcdef012',
    SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789',
    SUPER_ADMIN_INITIAL_EMAIL: SUPER_ADMIN.email,
    SUPER_ADMIN_INITIAL_PASSWORD: SUPER_ADMIN.password,
    BCRYPT_ROUNDS: '4',
    LOGIN_REQUESTS_PER_MINUTE: '100000',
    LOGIN_MAX_FAILURES_PER_IP: '100000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    WORKERS_ENABLED: 'false',
    // No load balancer in front of a test service: SIGTERM closes at once.
    DRAIN_DELAY_MS: '0',
    PORT: '0',
    HOST: '127.0.0.1',
    // Simulated routers are on loopback (refused by default); 10/8 and 2001:db8::/32 are fixture addresses.
    ROUTER_ALLOWED_NETWORKS: '127.0.0.1/32,10.0.0.0/8,2001:db8::/32',
    ...overrides,
  };
}

export interface TestApp {
  app: App;
  ctx: AppContext;
  config: Config;
  database: TestDatabase;
  /** Shorthand for app.inject returning the parsed JSON too. */
  request(opts: InjectOptions): Promise<LightMyRequestResponse & { body: string; data: any }>;
  login(email: string, password: string): Promise<string>;
  superAdminToken(): Promise<string>;
  /** Stop this instance (and drop its database unless shared). */
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string | undefined>;
  /** Reuse another instance's database (a second instance); it is not dropped by this one. */
  database?: TestDatabase;
  /** Prepare the empty database before migrations (e.g. load a legacy schema). */
  beforeMigrate?: (url: string) => Promise<void>;
  /** Receive every log line (JSON) instead of stdout. */
  logLines?: string[];
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const database = opts.database ?? (await createTestDatabase());
  const owns = !opts.database;
  if (opts.beforeMigrate) await opts.beforeMigrate(database.url);
  const config = loadConfig(testEnv({ DATABASE_URL: database.url, ...opts.env }));
  const lines = opts.logLines;
  const logger = createLogger(config.logLevel, lines ? { write: (line: string) => void lines.push(line) } : undefined);
  const ctx = await startContext(config, logger);
  const app = await buildApp(ctx);
  let saToken: string | null = null;
  const t: TestApp = {
    app,
    ctx,
    config,
    database,
    async request(o) {
      const res = await app.inject(o);
      let data: unknown;
      try {
        data = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        /* not JSON */
      }
      return Object.assign(res, { data });
    },
    async login(email, password) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
      if (res.statusCode !== 200) throw new Error(`login ${email} failed: ${res.statusCode} ${res.body}`);
      return (JSON.parse(res.body) as { access_token: string }).access_token;
    },
    async superAdminToken() {
      saToken ??= await t.login(SUPER_ADMIN.email, SUPER_ADMIN.password);
      return saToken;
    },
    async close() {
      await app.close();
      await ctx.stop();
      await ctx.db.close();
      if (owns) await database.drop();
    },
  };
  return t;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
