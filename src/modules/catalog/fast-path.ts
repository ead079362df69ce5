/**
 * The captive portal's two hottest reads (GET catalogo_perfiles_venta and config/public) answered straight
 * from the caches when everything they need is already in memory: a router key this instance verified
 * recently (auth/router-keys.ts, dropped on every change-bus invalidation) and the router's body (cache.ts).
 * The profile of those requests through Fastify showed its per-request machinery (routing, eight hooks, the
 * child logger, reply bookkeeping) costing about twice the answer itself; here the answer costs a map lookup.
 *
 * Same answer as the Fastify route, byte for byte (test/catalog/fast-path.test.ts compares them): the same
 * security headers (computed once by helmet), request id, portal CORS, ETag / 304, content type and length,
 * the same request metric. Anything else — another method or path, a query string, no or a malformed or an
 * unverified credential, a body not cached, request logging at info or below (Fastify writes its two
 * lines per request) — returns false and Fastify serves the request as always, errors included.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../../context.js';
import { requestIdOf } from '../../infra/http/request-id.js';
import { routerCredential } from '../auth/guards.js';
import { etagMatches, type CachedBody } from './cache.js';

export const CATALOG_PATH = '/api/v1/catalogo_perfiles_venta';
export const CONFIG_PATH = '/api/v1/config/public';
const JSON_TYPE = 'application/json; charset=utf-8';

export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

export function portalFastPath(ctx: AppContext, securityHeaders: ReadonlyArray<readonly [string, string]>): FastPath {
  const routerKeys = ctx.routerKeys;
  const catalog = ctx.catalog;
  const logger = ctx.logger;
  const duration = ctx.metrics.httpDuration;
  const answered = ctx.metrics.portalFastPath;
  // Labelled children looked up once per route and status (prom-client hashes the labels on every call).
  const observers = new Map<string, { observe(v: number): void }>();
  const observerOf = (route: string, status: number) => {
    const k = `${route} ${status}`;
    let o = observers.get(k);
    if (!o) observers.set(k, (o = duration.labels({ method: 'GET', route, status: String(status) })));
    return o;
  };

  return (req, res) => {
    // While draining, Fastify answers (its onSend closes each connection, app.ts).
    if (req.method !== 'GET' || ctx.draining) return false;
    const url = req.url;
    const isCatalog = url === CATALOG_PATH;
    if (!isCatalog && url !== CONFIG_PATH) return false;
    if (logger.isLevelEnabled('info')) return false;
    const started = performance.now();
    let credential: string;
    try {
      credential = routerCredential(req);
    } catch {
      return false;
    }
    const principal = routerKeys.peekCached(credential);
    if (!principal) return false;
    const body: CachedBody | null | undefined = isCatalog ? catalog.peekCatalog(principal.empresaId, principal.routerId)?.list : catalog.peekConfig(principal.empresaId, principal.routerId);
    if (!body) return false;
    routerKeys.countHit(principal);

    // The headers in the order Fastify's hooks and reply set them (app.ts, security-headers.ts, cors.ts, routes.ts).
    const headers: Record<string, string | number> = { 'x-request-id': requestIdOf(req.headers['x-request-id']) };
    for (const [name, value] of securityHeaders) headers[name] = value;
    headers.vary = 'Origin';
    // The portal's CORS policy (portal/cors.ts): any origin, without credentials.
    const origin = req.headers.origin;
    if (origin) headers['access-control-allow-origin'] = origin;
    headers.etag = body.etag;
    headers['cache-control'] = 'private, no-cache';
    const status = etagMatches(req.headers['if-none-match'], body.etag) ? 304 : 200;
    if (status === 200) {
      headers['content-type'] = JSON_TYPE;
      headers['content-length'] = body.body.length;
    }
    res.writeHead(status, headers);
    res.end(status === 200 ? body.body : undefined);
    answered.inc();
    observerOf(isCatalog ? CATALOG_PATH : CONFIG_PATH, status).observe((performance.now() - started) / 1000);
    return true;
  };
}
