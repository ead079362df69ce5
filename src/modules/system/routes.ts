import { timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';

export default async function systemRoutes(app: App) {
  app.get(
    '/',
    {
      schema: {
        tags: ['sistema'],
        summary: 'Información del servicio',
        response: { 200: Type.Object({ message: Type.String(), version: Type.String(), status: Type.String(), timestamp: Type.String(), docs: Type.String() }) },
      },
    },
    async () => ({
      message: 'Sistema de pagos y gestión de accesos WiFi para hotspots MikroTik',
      version: '2.0.0',
      status: 'running',
      // The legacy emitted "+00:00Z" (a doubled zone marker); one marker is enough.
      timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      docs: '/docs',
    }),
  );

  app.get('/health', { schema: { tags: ['sistema'], summary: 'Vivo (liveness)', response: { 200: Type.Object({ status: Type.String() }) } } }, async () => ({
    status: 'healthy',
  }));

  app.get(
    '/ready',
    {
      schema: {
        tags: ['sistema'],
        summary: 'Listo: la base de datos responde',
        response: { 200: Type.Object({ status: Type.String() }), 503: Type.Object({ detail: Type.String(), code: Type.String() }) },
      },
    },
    async (_request, reply) => {
      if (app.ctx.draining) return reply.code(503).send({ detail: 'El servicio se está apagando', code: 'draining' });
      try {
        await withTimeout(app.ctx.db.ping(), 2000);
        return { status: 'ready' };
      } catch {
        return reply.code(503).send({ detail: 'Base de datos no disponible', code: 'database_unavailable' });
      }
    },
  );

  const metricsToken = app.ctx.config.metricsToken;
  const expected = Buffer.from(`Bearer ${metricsToken}`, 'utf8');
  app.get('/metrics', { schema: { tags: ['sistema'], summary: 'Métricas Prometheus (con METRICS_TOKEN: solo con ese bearer)' } }, async (request, reply) => {
    if (metricsToken) {
      const given = Buffer.from(request.headers.authorization ?? '', 'utf8');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ detail: 'Not authenticated', code: 'metrics_token_required' });
      }
    }
    const registry = app.ctx.metrics.registry;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
