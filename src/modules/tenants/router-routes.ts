/** `/admin/empresas/{empresa_id}/routers/...`: routers and their API keys (super admin). */
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { SESSION_SECURITY, auditActor } from '../auth/guards.js';
import { PagingQuery, sendTotal } from './paging.js';
import { RouterUpdateBody, RouterUpdated, updateRouterSettings } from './router-update.js';
import { rejectNulls } from '../company/validation.js';
import { createRouter, deleteRouter, getRouter, keyStatus, listKeys, listRouters, regenerateKey, revokeKey, toggleRouter } from './router-service.js';
import {
  ApiKeyRow,
  ERRORS,
  EmpresaId,
  KeyParams,
  KeyStatusResponse,
  RegenerateResponse,
  RevokeResponse,
  RouterCreateBody,
  RouterCreatedResponse,
  RouterDeletedResponse,
  RouterParams,
  RouterResponse,
  RouterToggleResponse,
} from './schemas.js';

const tags = ['super admin: routers'];
const security = SESSION_SECURITY;
const BASE = '/admin/empresas/:empresa_id/routers';

export default async function routerRoutes(app: App) {
  const ctx = app.ctx;

  app.post(
    BASE,
    {
      schema: {
        tags,
        security,
        summary: 'Registrar un router y emitir su API key (la clave solo se muestra aquí)',
        params: EmpresaId,
        body: RouterCreateBody,
        response: { 200: RouterCreatedResponse, ...ERRORS },
      },
    },
    async (request) => createRouter(ctx, auditActor(request), request.params.empresa_id, request.body),
  );

  app.get(
    BASE,
    {
      schema: { tags, security, summary: 'Routers de una empresa (paginado; total en X-Total-Count)', params: EmpresaId, querystring: PagingQuery, response: { 200: Type.Array(RouterResponse), ...ERRORS } },
    },
    async (request, reply) => {
      const { items, total } = await listRouters(ctx, request.params.empresa_id, request.query.limit, request.query.offset);
      sendTotal(reply, total);
      return items;
    },
  );

  app.get(
    `${BASE}/:router_id`,
    { schema: { tags, security, summary: 'Ver un router', params: RouterParams, response: { 200: RouterResponse, ...ERRORS } } },
    async (request) => getRouter(ctx, request.params.empresa_id, request.params.router_id),
  );

  app.put(
    `${BASE}/:router_id`,
    {
      preValidation: rejectNulls(['nombre', 'host', 'puerto', 'usuario', 'password_encrypted']),
      schema: {
        tags,
        security,
        summary: 'Editar un router de cualquier empresa (solo los campos enviados; la contraseña enmascarada no cambia)',
        params: RouterParams,
        body: RouterUpdateBody,
        response: { 200: Type.Object({ message: Type.String(), router: RouterUpdated }), ...ERRORS },
      },
    },
    async (request) => {
      const { empresa_id, router_id } = request.params;
      // The company must exist (a 404 that names the company, like the other routes here).
      await getRouter(ctx, empresa_id, router_id);
      return updateRouterSettings(ctx, auditActor(request), empresa_id, router_id, request.body);
    },
  );

  app.delete(
    `${BASE}/:router_id`,
    {
      schema: {
        tags,
        security,
        summary: 'Eliminar un router con su historial de API keys (no si tiene productos o transacciones)',
        params: RouterParams,
        response: { 200: RouterDeletedResponse, ...ERRORS },
      },
    },
    async (request) => deleteRouter(ctx, auditActor(request), request.params.empresa_id, request.params.router_id),
  );

  app.put(
    `${BASE}/:router_id/toggle-activo`,
    { schema: { tags, security, summary: 'Activar o desactivar un router', params: RouterParams, response: { 200: RouterToggleResponse, ...ERRORS } } },
    async (request) => toggleRouter(ctx, auditActor(request), request.params.empresa_id, request.params.router_id),
  );

  app.post(
    `${BASE}/:router_id/regenerate-api-key`,
    {
      schema: {
        tags,
        security,
        summary: 'Revocar la API key actual y emitir otra (la anterior deja de funcionar al instante)',
        params: RouterParams,
        response: { 200: RegenerateResponse, ...ERRORS },
      },
    },
    async (request) => regenerateKey(ctx, auditActor(request), request.params.empresa_id, request.params.router_id),
  );

  app.get(
    `${BASE}/:router_id/api-keys`,
    {
      schema: {
        tags,
        security,
        summary: 'Historial de API keys del router, la más reciente primero (paginado)',
        params: RouterParams,
        querystring: PagingQuery,
        response: { 200: Type.Array(ApiKeyRow), ...ERRORS },
      },
    },
    async (request, reply) => {
      const { items, total } = await listKeys(ctx, request.params.empresa_id, request.params.router_id, request.query.limit, request.query.offset);
      sendTotal(reply, total);
      return items;
    },
  );

  app.post(
    `${BASE}/:router_id/api-keys/:key_id/revoke`,
    { schema: { tags, security, summary: 'Revocar una API key', params: KeyParams, response: { 200: RevokeResponse, ...ERRORS } } },
    async (request) => revokeKey(ctx, auditActor(request), request.params.empresa_id, request.params.router_id, request.params.key_id),
  );

  app.get(
    `${BASE}/:router_id/api-key-status`,
    { schema: { tags, security, summary: 'Estado de la API key activa, con avisos', params: RouterParams, response: { 200: KeyStatusResponse, ...ERRORS } } },
    async (request) => keyStatus(ctx, request.params.empresa_id, request.params.router_id),
  );
}
