/**
 * The operators' panel (web/, built by `npm run build:panel` into web/dist) served at /panel/.
 * Hashed assets are cached for a year (`immutable`: their name changes with their content); index.html
 * is `no-cache` so a new build is picked up at once. /panel carries a strict Content-Security-Policy: no
 * inline script, no eval, connections only to this origin (the API), no framing.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { App } from '../../infra/http/types.js';

export const PANEL_DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web', 'dist');

export const PANEL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export default async function panelRoutes(app: App, opts: { root?: string }) {
  const root = opts.root ?? PANEL_DIST;
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('content-security-policy', PANEL_CSP);
    done();
  });
  app.get('/panel', { schema: { hide: true } }, (_request, reply) => reply.redirect('/panel/', 308));
  if (!existsSync(join(root, 'index.html'))) {
    // Not built (a fresh clone without `npm run build:panel`): say so instead of a bare 404.
    app.get('/panel/*', { schema: { hide: true } }, (_request, reply) =>
      reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send('El panel no está compilado: ejecute `npm run build:panel`.\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/panel/',
    index: ['index.html'],
    wildcard: true,
    cacheControl: false,
    setHeaders(reply, path) {
      const hashed = /[\\/]assets[\\/][^\\/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(path);
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
