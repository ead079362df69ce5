/**
 * Helpers of the super-admin API tests.
 *
 * `keyProbe` answers whether a router key is accepted, through HTTP and the real router-key guard of the
 * application under test (same context, cache and database): a minimal Fastify app with one route
 * protected by `createGuards(ctx).routerKey`. It keeps these tests independent of which public
 * router-key endpoints exist yet; the guard is the one every such endpoint uses.
 */
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { bearer, type TestApp } from '../helpers/app.js';
import { createGuards, currentRouter } from '../../src/modules/auth/guards.js';
import { registerErrorHandling } from '../../src/infra/http/error-handling.js';
import type { App } from '../../src/infra/http/types.js';

export interface KeyProbe {
  check(apiKey: string): Promise<{ status: number; data: any }>;
  close(): Promise<void>;
}

export async function keyProbe(t: TestApp): Promise<KeyProbe> {
  const probe = Fastify().withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
  probe.decorateRequest('sessionUser', null);
  probe.decorateRequest('routerPrincipal', null);
  registerErrorHandling(probe);
  const guards = createGuards(t.ctx);
  probe.get('/probe', { preHandler: guards.routerKey }, async (request) => {
    const p = currentRouter(request);
    return { router_id: p.routerId, empresa_id: p.empresaId, key_id: p.keyId };
  });
  await probe.ready();
  return {
    async check(apiKey) {
      const res = await probe.inject({ method: 'GET', url: '/probe', headers: bearer(apiKey) });
      return { status: res.statusCode, data: JSON.parse(res.body) };
    },
    close: () => probe.close(),
  };
}

/** Shorthand for authenticated JSON requests as the super admin. */
export function asAdmin(t: TestApp, token: string) {
  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    t.request({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
  return {
    get: (url: string) => call('GET', url),
    post: (url: string, payload?: unknown) => call('POST', url, payload),
    put: (url: string, payload?: unknown) => call('PUT', url, payload),
    del: (url: string) => call('DELETE', url),
  };
}

export const NAIVE_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$/;
