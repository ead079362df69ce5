/** `/admin/usuarios/...`: admin users (super admin). */
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { SESSION_SECURITY, auditActor } from '../auth/guards.js';
import { PagingQuery, sendTotal } from './paging.js';
import { createUser, getUser, listUsers, resetPassword, toggleUser, updateUser } from './user-service.js';
import {
  ERRORS,
  ResetPasswordBody,
  ResetPasswordResponse,
  UserCreateBody,
  UserEnvelope,
  UserResponse,
  UserToggleResponse,
  UserUpdateBody,
  UsuarioIdParam,
} from './schemas.js';

const tags = ['super admin: usuarios'];
const security = SESSION_SECURITY;

const UserListQuery = Type.Object({
  ...PagingQuery.properties,
  rol: Type.Optional(Type.String({ maxLength: 20 })),
  empresa_id: Type.Optional(Type.String({ maxLength: 50 })),
});

export default async function userRoutes(app: App) {
  const ctx = app.ctx;

  app.post(
    '/admin/usuarios',
    {
      schema: {
        tags,
        security,
        summary: 'Crear un administrador (email normalizado como en el login; contraseña de al menos 8 caracteres)',
        body: UserCreateBody,
        response: { 200: UserEnvelope, ...ERRORS },
      },
    },
    async (request) => createUser(ctx, auditActor(request), request.body),
  );

  app.get(
    '/admin/usuarios',
    {
      schema: { tags, security, summary: 'Listar administradores (filtros rol, empresa_id; paginado; total en X-Total-Count)', querystring: UserListQuery, response: { 200: Type.Array(UserResponse), ...ERRORS } },
    },
    async (request, reply) => {
      const { limit, offset, rol, empresa_id } = request.query;
      const { items, total } = await listUsers(ctx, { rol, empresa_id }, limit, offset);
      sendTotal(reply, total);
      return items;
    },
  );

  app.get(
    '/admin/usuarios/:usuario_id',
    { schema: { tags, security, summary: 'Ver un administrador', params: UsuarioIdParam, response: { 200: UserResponse, ...ERRORS } } },
    async (request) => getUser(ctx, request.params.usuario_id),
  );

  app.put(
    '/admin/usuarios/:usuario_id',
    {
      schema: {
        tags,
        security,
        summary: 'Editar nombre, email, rol o empresa de un administrador',
        params: UsuarioIdParam,
        body: UserUpdateBody,
        response: { 200: UserEnvelope, ...ERRORS },
      },
    },
    async (request) => updateUser(ctx, auditActor(request), request.params.usuario_id, request.body),
  );

  app.put(
    '/admin/usuarios/:usuario_id/toggle-activo',
    { schema: { tags, security, summary: 'Activar o desactivar un administrador (no a uno mismo)', params: UsuarioIdParam, response: { 200: UserToggleResponse, ...ERRORS } } },
    async (request) => toggleUser(ctx, auditActor(request), request.params.usuario_id),
  );

  app.post(
    '/admin/usuarios/:usuario_id/reset-password',
    {
      schema: {
        tags,
        security,
        summary: 'Restablecer la contraseña de otro administrador (cierra todas sus sesiones)',
        params: UsuarioIdParam,
        body: ResetPasswordBody,
        response: { 200: ResetPasswordResponse, ...ERRORS },
      },
    },
    async (request) => resetPassword(ctx, auditActor(request), request.params.usuario_id, request.body.new_password),
  );
}
