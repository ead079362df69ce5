/**
 * Guards (Fastify preHandlers) for the two credentials: admin sessions and router API keys.
 * Missing credentials are 401 (the legacy answered 403); each error keeps the legacy Spanish text.
 */
import type { FastifyRequest, preHandlerAsyncHookHandler, preHandlerHookHandler } from 'fastify';
import type { AppContext } from '../../context.js';
import { ApiError, forbidden, unauthorized } from '../../infra/errors.js';
import type { RouterPrincipal } from './router-keys.js';
import { authenticateSession, type SessionUser } from './service.js';

declare module 'fastify' {
  interface FastifyRequest {
    sessionUser: SessionUser | null;
    routerPrincipal: RouterPrincipal | null;
  }
}

export const SESSION_SECURITY = [{ bearerAuth: [] }];
export const ROUTER_KEY_SECURITY = [{ bearerAuth: [] }, { apiKeyHeader: [] }];

const notAuthenticated = () => unauthorized('Not authenticated', 'not_authenticated');
const badScheme = () => unauthorized('Invalid authentication credentials', 'invalid_credentials_scheme');

/** The credential of `Authorization: Bearer <x>`; null when the header is absent or empty. */
function bearer(request: Pick<FastifyRequest, 'headers'>): string | null {
  const header = request.headers.authorization;
  if (!header || header.trim() === '') return null;
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  const credential = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme.toLowerCase() !== 'bearer') throw badScheme();
  if (!credential) throw notAuthenticated();
  return credential;
}

/**
 * The router key a request presents: `Authorization: Bearer <key>`, else `X-API-Key`; throws the 401s of a
 * missing or malformed credential. (The guard below and the portal's fast path, catalog/fast-path.ts.)
 */
export function routerCredential(request: Pick<FastifyRequest, 'headers'>): string {
  let credential: string | null = null;
  try {
    credential = bearer(request);
  } catch (err) {
    // A non-Bearer Authorization header is fine when the key comes in X-API-Key.
    if (!(err instanceof ApiError) || !request.headers['x-api-key']) throw err;
  }
  if (!credential) {
    const header = request.headers['x-api-key'];
    credential = (Array.isArray(header) ? header[0] : header)?.trim() || null;
  }
  if (!credential) throw notAuthenticated();
  return credential;
}

export interface Guards {
  session: preHandlerAsyncHookHandler;
  superAdmin: preHandlerAsyncHookHandler;
  clienteAdmin: preHandlerAsyncHookHandler;
  /** A company admin, or a super admin (for the few endpoints a super admin may use on a company). */
  clienteAdminOrSuperAdmin: preHandlerAsyncHookHandler;
  routerKey: preHandlerHookHandler;
}

export function createGuards(ctx: AppContext): Guards {
  const session = async (request: FastifyRequest) => {
    const token = bearer(request);
    if (!token) throw notAuthenticated();
    request.sessionUser = await authenticateSession(ctx, token);
    return request.sessionUser;
  };
  return {
    async session(request) {
      await session(request);
    },
    async superAdmin(request) {
      const user = await session(request);
      if (user.rol !== 'super_admin') throw forbidden('Se requiere rol SUPER_ADMIN', 'role_required');
    },
    async clienteAdmin(request) {
      const user = await session(request);
      if (user.rol !== 'cliente_admin') throw forbidden('Se requiere rol CLIENTE_ADMIN', 'role_required');
    },
    async clienteAdminOrSuperAdmin(request) {
      await session(request);
    },
    // Callback style: a key this instance verified recently passes without a promise (every portal call).
    routerKey(request, _reply, done) {
      let credential: string;
      try {
        credential = routerCredential(request);
        const hit = ctx.routerKeys.verifyCached(credential);
        if (hit) {
          request.routerPrincipal = hit;
          return done();
        }
      } catch (err) {
        return done(err as Error);
      }
      ctx.routerKeys.verify(credential).then(
        (principal) => {
          request.routerPrincipal = principal;
          done();
        },
        (err: Error) => done(err),
      );
    },
  };
}

/** The authenticated admin of a request that went through a session guard. */
export function currentUser(request: FastifyRequest): SessionUser {
  if (!request.sessionUser) throw notAuthenticated();
  return request.sessionUser;
}

/** The router key's principal of a request that went through the router-key guard. */
export function currentRouter(request: FastifyRequest): RouterPrincipal {
  if (!request.routerPrincipal) throw notAuthenticated();
  return request.routerPrincipal;
}

/** The audit actor of an authenticated admin request. */
export function auditActor(request: FastifyRequest) {
  const u = request.sessionUser;
  return { usuarioId: u?.id ?? null, email: u?.email ?? null, rol: u?.rol ?? null, ip: request.ip ?? null };
}
