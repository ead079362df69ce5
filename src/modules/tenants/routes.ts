/**
 * The super-admin API at `/admin/...` (legacy paths, no `/api/v1`). Every route here needs a super admin
 * session; the guard runs first (onRequest), so an anonymous caller learns nothing from validation.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { ValidationFailed, type ValidationItem } from '../../infra/errors.js';
import { SESSION_SECURITY } from '../auth/guards.js';
import empresaRoutes from './empresa-routes.js';
import routerRoutes from './router-routes.js';
import userRoutes from './user-routes.js';
import { PagingQuery, sendTotal } from './paging.js';
import { AuditRow, ERRORS } from './schemas.js';

/** PostgreSQL text cannot hold U+0000: refuse it as a validation error instead of a database error. */
function findNullBytes(value: unknown, loc: (string | number)[], out: ValidationItem[], depth = 0): void {
  if (depth > 8 || out.length > 10) return;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) out.push({ type: 'string_pattern_mismatch', loc, msg: 'String should not contain NUL characters' });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => findNullBytes(v, [...loc, i], out, depth + 1));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) findNullBytes(v, [...loc, k], out, depth + 1);
  }
}

async function rejectNullBytes(request: FastifyRequest): Promise<void> {
  const items: ValidationItem[] = [];
  findNullBytes(request.body, ['body'], items);
  findNullBytes(request.query, ['query'], items);
  findNullBytes(request.params, ['path'], items);
  if (items.length > 0) throw new ValidationFailed(items);
}

const AuditQuery = Type.Object({
  ...PagingQuery.properties,
  empresa_id: Type.Optional(Type.String({ maxLength: 50 })),
  accion: Type.Optional(Type.String({ maxLength: 100 })),
});

export default async function tenantsRoutes(app: App) {
  app.addHook('onRequest', app.guards.superAdmin);
  // The legacy ignored the body of body-less actions (toggle, regenerate, revoke); clients that send
  // `Content-Type: application/json` with an empty body must keep working. Parsing is otherwise the default.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    defaultJson(request, text, done);
  });
  app.addHook('preValidation', rejectNullBytes);

  await app.register(empresaRoutes);
  await app.register(routerRoutes);
  await app.register(userRoutes);

  app.get(
    '/admin/auditoria',
    {
      schema: {
        tags: ['super admin: auditoría'],
        security: SESSION_SECURITY,
        summary: 'Registro de auditoría de escrituras de administradores, lo más reciente primero (paginado)',
        querystring: AuditQuery,
        response: { 200: Type.Array(AuditRow), ...ERRORS },
      },
    },
    async (request, reply) => {
      const { limit, offset, empresa_id, accion } = request.query;
      const { items, total } = await app.ctx.audit.list({ empresaId: empresa_id || undefined, accion: accion || undefined }, limit, offset);
      sendTotal(reply, total);
      return items;
    },
  );
}
