/**
 * Helmet's security headers, computed once at start-up and set with one hook.
 *
 * With Content-Security-Policy off, every header helmet sets is the same on every response, yet
 * @fastify/helmet runs helmet's eleven middlewares per request (about 6 µs of a ~60 µs captive-portal
 * request on the benchmark machine, see bench/results.md). Same headers, same values, computed by helmet
 * itself, so upgrading helmet changes both alike.
 */
import helmet, { type HelmetOptions } from 'helmet';
import type { App } from './types.js';

/** The headers helmet sets for these options (it never reads the request when CSP nonces are off). */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
    },
  };
  let failed: unknown = null;
  helmet(options)({} as never, res as never, (err?: unknown) => {
    failed = err ?? null;
  });
  if (failed) throw failed;
  return headers;
}

/** Sets helmet's headers on every response; returns them (lower-case names) for answers made outside Fastify. */
export function registerSecurityHeaders(app: App, options: Readonly<HelmetOptions>): ReadonlyArray<readonly [string, string]> {
  const headers = helmetHeaders(options);
  // Lower-case names: what Fastify stores anyway, so reply.header does no extra work.
  const entries = Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value] as const);
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of entries) reply.header(name, value);
    done();
  });
  return entries;
}
