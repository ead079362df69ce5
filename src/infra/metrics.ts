import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so that tests building several apps do not collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const routerKeyCache = new Counter({
    name: 'router_key_verifications_total',
    help: 'Router API key verifications by cache outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const outboxDeadJobs = new Counter({
    name: 'outbox_dead_jobs_total',
    help: 'Background jobs that exhausted their retries (kept as dead, alerted)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const portalFastPath = new Counter({
    name: 'portal_fast_path_responses_total',
    help: 'Captive-portal reads answered from the caches without the framework (modules/catalog/fast-path.ts)',
    registers: [registry],
  });
  return { registry, httpDuration, routerKeyCache, outboxDeadJobs, portalFastPath };
}

export type Metrics = ReturnType<typeof createMetrics>;
