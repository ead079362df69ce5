/**
 * The HTTP application: infrastructure plugins first (security headers, CORS, rate limiting, OpenAPI),
 * then the auth guards, then one plugin per route group, with one error and one not-found handler.
 */
import { createServer } from 'node:http';
import Fastify from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from './context.js';
import type { App } from './infra/http/types.js';
import { frameworkErrors, registerErrorHandling } from './infra/http/error-handling.js';
import { registerSecurityHeaders } from './infra/http/security-headers.js';
import { requestIdOf } from './infra/http/request-id.js';
import { lazyCompilersFactory } from './infra/http/lazy-compilers.js';
import { registerBodyShapeRules } from './infra/http/body-shape.js';
import { registerCors } from './infra/http/cors.js';
import pino from 'pino';
import { requestChildLogger } from './infra/logging.js';
import { createGuards, type Guards } from './modules/auth/guards.js';
import authRoutes from './modules/auth/routes.js';
import companyModule from './modules/company/index.js';
import catalogRoutes from './modules/catalog/routes.js';
import { portalFastPath, type FastPath } from './modules/catalog/fast-path.js';
import systemRoutes from './modules/system/routes.js';
import hotspotRoutes from './modules/hotspot/routes.js';
import paymentRoutes from './modules/payments/routes.js';
import webhookRoutes from './modules/payments/webhook-routes.js';
import portalRoutes from './modules/portal/routes.js';
import checkoutRoutes from './modules/checkout/routes.js';
import panelRoutes from './modules/panel/routes.js';
import { PORTAL_CORS, isPortalApiPath } from './modules/portal/cors.js';
import tenantsRoutes from './modules/tenants/routes.js';
import voucherRoutes from './modules/vouchers/routes.js';

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

/**
 * TRUST_PROXY as Fastify wants it: a hop count n believes the n addresses nearest to us in
 * X-Forwarded-For (so `true`, read as 1, takes the address our own proxy appended, never the leftmost
 * one a client can write); a list believes only those proxies.
 */
function trustProxyOption(t: false | number | string[]): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof t === 'number') return (_address: string, hop: number) => hop < t;
  return t;
}

export async function buildApp(ctx: AppContext, opts: BuildOptions = {}): Promise<App> {
  // The portal's hottest reads, answered before Fastify when their caches hold everything (catalog/fast-path.ts).
  let fastPath: FastPath | null = null;
  const app = Fastify({
    // Fastify's own HTTP/1 server (lib/server.js: the same timeouts), with the fast path in front of its handler.
    serverFactory: (handler, options) => {
      // Fastify hands its resolved options (defaults filled in).
      const o = options as { http?: object; keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket: number };
      const server = createServer(o.http ?? {}, (req, res) => {
        if (fastPath?.(req, res)) return;
        handler(req, res);
      });
      server.keepAliveTimeout = o.keepAliveTimeout;
      server.requestTimeout = o.requestTimeout;
      server.setTimeout(o.connectionTimeout);
      if (o.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = o.maxRequestsPerSocket;
      return server;
    },
    loggerInstance: opts.logger === false ? pino({ level: 'silent' }) : ctx.logger,
    genReqId: (req) => requestIdOf(req.headers['x-request-id']),
    trustProxy: trustProxyOption(ctx.config.trustProxy),
    bodyLimit: 1024 * 1024,
    schemaController: { compilersFactory: lazyCompilersFactory() as never },
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', useDefaults: true, removeAdditional: true, strictNumbers: true } },
    // While closing, a request already on a kept-alive connection is served, not refused with 503: a load
    // balancer that sent it could not know (its health check has taken the instance out by then).
    return503OnClosing: false,
    frameworkErrors,
    childLoggerFactory: requestChildLogger,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  app.decorate('ctx', ctx);
  app.decorate('guards', createGuards(ctx));
  app.decorateRequest('sessionUser', null);
  app.decorateRequest('routerPrincipal', null);

  registerErrorHandling(app);
  registerBodyShapeRules(app);

  // Callback-style hooks: they run on every request, and an async hook costs a promise each.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // While draining, each answer (in flight ones included) closes its connection: a kept-alive idle socket
  // would otherwise hold the closing server open until its keep-alive timeout (72 s), past the shutdown's deadline.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (ctx.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    ctx.metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  // Helmet's headers, computed once (see security-headers.ts: per-request helmet was a measurable cost).
  const securityHeaders = registerSecurityHeaders(app, {
    // The API serves JSON, logos embedded by captive portals on other origins, and the docs UI.
    contentSecurityPolicy: false,
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });
  const origins = ctx.config.corsOrigins;
  const configuredCors = {
    // "*" means any origin, but then without credentials (the legacy reflected any origin with credentials).
    origin: origins.includes('*') ? true : origins.length > 0 ? origins : false,
    credentials: !origins.includes('*'),
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  };
  // Captive-portal endpoints answer any origin (see modules/portal/cors.ts); the rest, the configured ones.
  // Both policies are prepared once (infra/http/cors.ts; @fastify/cors re-normalised them per request).
  registerCors(app, (url) => (isPortalApiPath(url) ? PORTAL_CORS : configuredCors));
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
  await app.register(paymentRoutes);
  await app.register(webhookRoutes);
  await app.register(hotspotRoutes, { prefix: '/api/v1' });
  await app.register(companyModule);
  await app.register(catalogRoutes);
  await app.register(tenantsRoutes);
  await app.register(portalRoutes);
  await app.register(checkoutRoutes);
  await app.register(voucherRoutes);
  await app.register(panelRoutes);

  await app.ready();
  fastPath = portalFastPath(ctx, securityHeaders);
  return app;
}
