/**
 * Production entry: read the configuration, migrate, bootstrap, serve, and shut down gracefully
 * (in-flight requests finish, counters are flushed, connections closed).
 */
// First: keeps nextTick's record shape alive before any full GC (see the module).
import './infra/tick-shape.js';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config/index.js';
import { createLogger } from './infra/logging.js';
import { startContext, type AppContext } from './context.js';
import { buildApp } from './app.js';
import type { App } from './infra/http/types.js';

export interface RunningService {
  app: App;
  ctx: AppContext;
  url: string;
  stop(): Promise<void>;
}

export async function startService(config: Config): Promise<RunningService> {
  const logger = createLogger(config.logLevel);
  const ctx = await startContext(config, logger);
  const app = await buildApp(ctx);
  await app.listen({ host: config.host, port: config.port });
  if (!config.metricsToken) logger.warn('METRICS_TOKEN no está definido: /metrics responde a cualquiera (defínalo en producción)');
  if (!config.routeros.allowedNetworks) logger.info('ROUTER_ALLOWED_NETWORKS no está definido: routers en cualquier dirección unicast salvo loopback, link-local y metadatos');
  // Delivery, refunds, reconciliation and notifications (any number of instances may run them).
  if (config.workersEnabled) {
    await ctx.validity.start();
    await ctx.payments.startWorkers();
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  let stopping: Promise<void> | null = null;
  return {
    app,
    ctx,
    url: `http://${host}:${port}`,
    stop() {
      stopping ??= (async () => {
        // Not ready first, so a load balancer's health check takes this instance out before it stops accepting;
        // then in-flight requests (purchases included) finish, then the background jobs in progress.
        ctx.draining = true;
        if (config.drainDelayMs > 0) await new Promise((r) => setTimeout(r, config.drainDelayMs));
        await app.close();
        await ctx.payments.stopWorkers();
        await ctx.stop();
        await ctx.db.close();
      })();
      return stopping;
    },
  };
}

/** Load the configuration or exit 1 with one clear message (no stack trace). */
export function configOrExit(env = readEnvironment()): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(1);
    }
    throw err;
  }
}

export function handleSignals(service: RunningService): void {
  const shutdown = (signal: string) => {
    service.ctx.logger.info({ signal }, 'apagando');
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        service.ctx.logger.error({ err }, 'error al apagar');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

async function main() {
  const config = configOrExit();
  try {
    const service = await startService(config);
    handleSignals(service);
  } catch (err) {
    process.stderr.write(`No se pudo iniciar el servicio: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

/** Whether this module is the process's entry (src/server.ts under tsx, or the bundle dist/server.js). */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntry() || process.argv[1]?.endsWith('src/server.ts')) {
  void main();
}
