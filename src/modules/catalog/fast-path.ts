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
  // Labelled children made once for the four answers this path gives (two routes, 200 or 304).
  const observer = (route: string, status: number) => duration.labels({ method: 'GET', route, status: String(status) });
  const observers = {
    catalog: { 200: observer(CATALOG_PATH, 200), 304: observer(CATALOG_PATH, 304) },
    config: { 200: observer(CONFIG_PATH, 200), 304: observer(CONFIG_PATH, 304) },
  };

  // Flat [name, value, ...] lists: writeHead takes them as they are (an object's keys cost a map
  // transition each, per request); names in the order Fastify's hooks and reply set them (app.ts,
  // security-headers.ts, cors.ts, routes.ts).
  const leading: string[] = ['x-request-id', ''];
  for (const [name, value] of securityHeaders) leading.push(name, value);
  leading.push('vary', 'Origin');

  return (req, res) => {
    // While draining, Fastify answers (its onSend closes each connection, app.ts).
    if (req.method !== 'GET' || ctx.draining) return false;
    const url = req.url;
    const isCatalog = url === CATALOG_PATH;
    if (!isCatalog && url !== CONFIG_PATH) return false;
    if (logger.isLevelEnabled('info')) return false;
    const started = performance.now();
    const wanted = readWantedHeaders(req.rawHeaders);
    if (!wanted) return false;
    let credential: string;
    try {
      credential = routerCredential({ headers: { authorization: wanted.authorization, 'x-api-key': wanted.apiKey } });
    } catch {
      return false;
    }
    const principal = routerKeys.peekCached(credential);
    if (!principal) return false;
    const body: CachedBody | null | undefined = isCatalog ? catalog.peekCatalog(principal.empresaId, principal.routerId)?.list : catalog.peekConfig(principal.empresaId, principal.routerId);
    if (!body) return false;
    routerKeys.countHit(principal);

    const headers = leading.slice();
    headers[1] = requestIdOf(wanted.requestId);
    // The portal's CORS policy (portal/cors.ts): any origin, without credentials.
    if (wanted.origin) headers.push('access-control-allow-origin', wanted.origin);
    headers.push('etag', body.etag, 'cache-control', 'private, no-cache');
    const status = etagMatches(wanted.ifNoneMatch, body.etag) ? 304 : 200;
    if (status === 200) headers.push('content-type', JSON_TYPE, 'content-length', String(body.body.length));
    res.writeHead(status, headers);
    res.end(status === 200 ? body.body : undefined);
    answered.inc();
    observers[isCatalog ? 'catalog' : 'config'][status].observe((performance.now() - started) / 1000);
    return true;
  };
}

interface WantedHeaders {
  authorization?: string;
  apiKey?: string;
  requestId?: string;
  origin?: string;
  ifNoneMatch?: string;
}

/**
 * The five request headers the answer depends on, read from the raw list (building `req.headers` costs an
 * object per request). A repeated one gives null: Node would join or drop the copies, and Fastify's route,
 * which reads them that way, answers instead.
 */
function readWantedHeaders(raw: string[]): WantedHeaders | null {
  const wanted: WantedHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    let key: keyof WantedHeaders | null = null;
    switch (name.length) {
      case 13: {
        const lower = name.toLowerCase();
        key = lower === 'authorization' ? 'authorization' : lower === 'if-none-match' ? 'ifNoneMatch' : null;
        break;
      }
      case 9:
        key = name.toLowerCase() === 'x-api-key' ? 'apiKey' : null;
        break;
      case 12:
        key = name.toLowerCase() === 'x-request-id' ? 'requestId' : null;
        break;
      case 6:
        key = name.toLowerCase() === 'origin' ? 'origin' : null;
        break;
    }
    if (key === null) continue;
    if (wanted[key] !== undefined) return null;
    wanted[key] = raw[i + 1];
  }
  return wanted;
}
