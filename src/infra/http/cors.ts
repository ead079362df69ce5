/**
 * CORS with a policy chosen by path (captive-portal endpoints vs the rest), answering exactly as
 * @fastify/cors did with a `delegator` — same headers, same preflight rules (strict: Origin and
 * Access-Control-Request-Method required, 204 with Content-Length 0, requested headers reflected) — but
 * with both policies prepared once: the delegator re-normalised its options on every request, a
 * measurable share of the captive portal's hottest reads (see bench/results.md).
 */
import type { FastifyReply } from 'fastify';
import type { App } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    corsPreflightEnabled: boolean;
  }
}

export interface CorsPolicy {
  /** true: reflect any origin; a list: reflect those; false: no CORS headers at all. */
  origin: boolean | readonly string[];
  credentials: boolean;
  methods: readonly string[];
  maxAge?: number | null;
}

interface Prepared {
  origin: boolean | readonly string[];
  credentials: boolean;
  methods: string;
  maxAge: string | null;
}

function addVary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  if (current === undefined || current === '') {
    reply.header('vary', field);
    return;
  }
  const text = Array.isArray(current) ? current.join(', ') : String(current);
  if (text.trim() === '*') return;
  const wanted = field.toLowerCase();
  if (text.split(',').some((f) => f.trim().toLowerCase() === wanted)) return;
  reply.header('vary', `${text}, ${field}`);
}

export function registerCors(app: App, choose: (url: string) => CorsPolicy): void {
  const cache = new Map<CorsPolicy, Prepared>();
  const prepare = (p: CorsPolicy): Prepared => {
    let out = cache.get(p);
    if (!out) {
      out = {
        origin: Array.isArray(p.origin) && p.origin.includes('*') ? true : p.origin,
        credentials: p.credentials,
        methods: p.methods.join(', '),
        maxAge: p.maxAge === null || p.maxAge === undefined ? null : String(p.maxAge),
      };
      cache.set(p, out);
    }
    return out;
  };

  app.decorateRequest('corsPreflightEnabled', false);
  app.addHook('onRequest', (request, reply, done) => {
    const p = prepare(choose(request.url));
    addVary(reply, 'Origin');
    if (p.origin === false) return done();
    const origin = request.headers.origin;
    const allowed = p.origin === true ? origin : origin !== undefined && (p.origin as readonly string[]).includes(origin) ? origin : undefined;
    if (allowed) reply.header('access-control-allow-origin', allowed);
    if (p.credentials) reply.header('access-control-allow-credentials', 'true');
    if (request.raw.method === 'OPTIONS') {
      if (!origin || !request.headers['access-control-request-method']) {
        void reply.code(400).type('text/plain').send('Invalid Preflight Request');
        return;
      }
      request.corsPreflightEnabled = true;
      reply.header('access-control-allow-methods', p.methods);
      addVary(reply, 'Access-Control-Request-Headers');
      const requested = request.headers['access-control-request-headers'];
      if (requested !== undefined) reply.header('access-control-allow-headers', requested);
      if (p.maxAge !== null) reply.header('access-control-max-age', p.maxAge);
      void reply.code(204).header('content-length', '0').send();
      return;
    }
    done();
  });

  // Lets Fastify accept preflights on any path; the hook above answers them (or CORS is off: 404).
  app.options('*', { schema: { hide: true } }, (request, reply) => {
    if (!request.corsPreflightEnabled) {
      reply.callNotFound();
      return;
    }
    void reply.send();
  });
}
