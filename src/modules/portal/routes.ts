import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { ApiError } from '../../infra/errors.js';
import { SESSION_SECURITY, auditActor, currentUser } from '../auth/guards.js';
import { PORTAL_GATEWAYS, type PortalGateway } from './kit.js';
import { issuePortalKit } from './service.js';

const ErrorBody = Type.Object({ detail: Type.Any(), code: Type.String() });

export default async function portalRoutes(app: App) {
  app.get(
    '/api/v1/admin/routers/:router_id/portal-kit',
    {
      preHandler: app.guards.clienteAdminOrSuperAdmin,
      schema: {
        tags: ['portal cautivo'],
        summary: 'Kit del portal cautivo (zip para el router)',
        description:
          'Archivos del hotspot MikroTik (login.html y sus recursos) con la URL de la API y una API key NUEVA del router; ' +
          'las keys anteriores del router quedan revocadas (solo si el kit se generó). Requiere PUBLIC_BASE_URL. El README.txt del zip lista el walled garden necesario. ' +
          'Administrador de la empresa del router, o super admin.',
        security: SESSION_SECURITY,
        params: Type.Object({ router_id: Type.String({ minLength: 1, maxLength: 50 }) }),
        querystring: Type.Object({
          pasarela: Type.Optional(Type.Unsafe<PortalGateway>({ type: 'string', enum: [...PORTAL_GATEWAYS], default: 'auto', description: 'Pasarela del portal: auto (Conekta, o Mercado Pago si no hay Conekta), conekta o mercado_pago' })),
        }),
        produces: ['application/zip'],
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'Archivo zip del kit' }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      // Never from the Host header: a kit pointing at whatever address a request named would stop the
      // router selling (its old key is revoked by the same call).
      const apiBase = app.ctx.config.publicBaseUrl;
      if (!apiBase) {
        throw new ApiError(409, 'Falta PUBLIC_BASE_URL (la dirección pública de esta API) en la configuración del servicio; el kit no se puede generar sin ella y ninguna key se revocó', 'public_base_url_required');
      }
      const kit = await issuePortalKit(app.ctx, auditActor(request), currentUser(request), request.params.router_id, {
        gateway: request.query.pasarela ?? 'auto',
        apiBase,
      });
      return reply
        .header('content-type', 'application/zip')
        .header('content-disposition', `attachment; filename="${kit.filename}"`)
        .header('cache-control', 'no-store')
        .header('x-api-key-id', kit.keyId)
        .send(Buffer.from(kit.zip));
    },
  );
}
