import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { SESSION_SECURITY, currentUser } from './guards.js';
import { changePassword, login, revokeSessions } from './service.js';

const ErrorBody = Type.Object({ detail: Type.Any(), code: Type.String() });
const Message = Type.Object({ message: Type.String() });

export default async function authRoutes(app: App) {
  app.post(
    '/login',
    {
      config: { rateLimit: { max: app.ctx.config.loginRequestsPerMinute, timeWindow: '1 minute' } },
      schema: {
        tags: ['auth'],
        summary: 'Iniciar sesión (administradores)',
        body: Type.Object({ email: Type.String({ maxLength: 320 }), password: Type.String({ maxLength: 1024 }) }),
        response: {
          200: Type.Object({
            access_token: Type.String(),
            token_type: Type.String(),
            expires_at: Type.String(),
            user: Type.Object({
              id: Type.Integer(),
              email: Type.String(),
              nombre: Type.String(),
              rol: Type.String(),
              empresa_id: Type.Union([Type.String(), Type.Null()]),
              activo: Type.Boolean(),
            }),
          }),
          401: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request) => login(app.ctx, request.body, request.ip),
  );

  app.post(
    '/logout',
    { preHandler: app.guards.session, schema: { tags: ['auth'], summary: 'Cerrar sesión (revoca las sesiones emitidas)', security: SESSION_SECURITY, response: { 200: Message } } },
    async (request) => {
      await revokeSessions(app.ctx, currentUser(request).id);
      return { message: 'Sesión cerrada exitosamente' };
    },
  );

  app.post(
    '/change-password',
    {
      preHandler: app.guards.session,
      schema: {
        tags: ['auth'],
        summary: 'Cambiar la contraseña propia (revoca las sesiones anteriores y entrega una nueva)',
        security: SESSION_SECURITY,
        body: Type.Object({ current_password: Type.String({ maxLength: 1024 }), new_password: Type.String({ maxLength: 1024 }) }),
        response: { 200: Type.Object({ message: Type.String(), access_token: Type.String(), token_type: Type.String() }), 400: ErrorBody },
      },
    },
    async (request) => changePassword(app.ctx, currentUser(request), request.body, request.ip),
  );
}
