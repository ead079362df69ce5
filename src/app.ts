/**
 * The HTTP application: infrastructure plugins first (security headers, CORS, rate limiting, OpenAPI),
 * then the auth guards, then one plugin per route group, with one error and one not-found handler.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from './context.js';
import type { App } from './infra/http/types.js';
import { registerErrorHandling } from './infra/http/error-handling.js';
import pino from 'pino';
import { createGuards, type Guards } from './modules/auth/guards.js';
import authRoutes from './modules/auth/routes.js';
import systemRoutes from './modules/system/routes.js';

declare module 'fastify' {
  interface FastifyInstance {
    ctx: AppContext;
    guards: Guards;
  }
}

export interface BuildOptions {
  /** Log requests (off in tests unless asked). */
  logger?: boolean;
}

export async function buildApp(ctx: AppContext, opts: BuildOptions = {}): Promise<App> {
  const app = Fastify({
    loggerInstance: opts.logger === false ? pino({ level: 'silent' }) : ctx.logger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,100}$/.test(given) ? given : randomUUID();
    },
    trustProxy: ctx.config.trustProxy,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', useDefaults: true, removeAdditional: true } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  app.decorate('ctx', ctx);
  app.decorate('guards', createGuards(ctx));
  app.decorateRequest('sessionUser', null);
  app.decorateRequest('routerPrincipal', null);

  registerErrorHandling(app);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    ctx.metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(helmet, {
    // The API serves JSON, logos embedded by captive portals on other origins, and the docs UI.
    contentSecurityPolicy: false,
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });
  const origins = ctx.config.corsOrigins;
  await app.register(cors, {
    // "*" means any origin, but then without credentials (the legacy reflected any origin with credentials).
    origin: origins.includes('*') ? true : origins.length > 0 ? origins : false,
    credentials: !origins.includes('*'),
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  });
  await app.register(rateLimit, { global: false });

  await app.register(swagger, {
    openapi: {
      info: { title: ctx.config.appName, version: '2.0.0', description: 'Venta de fichas de acceso WiFi para hotspots MikroTik, con Conekta y Mercado Pago.' },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'Sesión de administrador, o API key de router (jwt_...)' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API key de router (jwt_...)' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(systemRoutes);
  await app.register(authRoutes, { prefix: '/api/v1/auth' });

  await app.ready();
  return app;
}
