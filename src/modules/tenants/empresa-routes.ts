/** `/admin/empresas`, `/admin/dashboard`: companies (super admin). */
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { SESSION_SECURITY, auditActor } from '../auth/guards.js';
import { createEmpresa, dashboard, empresaDetail, empresaStats, findEmpresa, listEmpresas, updateEmpresa } from './empresa-service.js';
import { PagingQuery, sendTotal } from './paging.js';
import {
  DashboardResponse,
  ERRORS,
  EmpresaCreateBody,
  EmpresaDetail,
  EmpresaId,
  EmpresaResponse,
  EmpresaStatsResponse,
  EmpresaUpdateBody,
} from './schemas.js';

const tags = ['super admin: empresas'];
const security = SESSION_SECURITY;

export default async function empresaRoutes(app: App) {
  const ctx = app.ctx;

  app.post(
    '/admin/empresas',
    {
      schema: {
        tags,
        security,
        summary: 'Crear empresa (sin llaves de Conekta usa CONEKTA_DEFAULT_*)',
        body: EmpresaCreateBody,
        response: { 200: EmpresaResponse, ...ERRORS },
      },
    },
    async (request) => createEmpresa(ctx, auditActor(request), request.body),
  );

  app.get(
    '/admin/empresas',
    { schema: { tags, security, summary: 'Listar empresas (paginado; total en X-Total-Count)', querystring: PagingQuery, response: { 200: Type.Array(EmpresaResponse), ...ERRORS } } },
    async (request, reply) => {
      const { items, total } = await listEmpresas(ctx, request.query.limit, request.query.offset);
      sendTotal(reply, total);
      return items;
    },
  );

  app.get(
    '/admin/dashboard',
    { schema: { tags, security, summary: 'Resumen global', response: { 200: DashboardResponse, ...ERRORS } } },
    async () => dashboard(ctx),
  );

  app.get(
    '/admin/empresas/:empresa_id',
    { schema: { tags, security, summary: 'Ver una empresa (secretos enmascarados)', params: EmpresaId, response: { 200: EmpresaDetail, ...ERRORS } } },
    async (request) => empresaDetail(await findEmpresa(ctx, request.params.empresa_id)),
  );

  app.put(
    '/admin/empresas/:empresa_id',
    {
      schema: {
        tags,
        security,
        summary: 'Editar, activar o desactivar una empresa (desactivarla detiene sus API keys y sus administradores al instante)',
        params: EmpresaId,
        body: EmpresaUpdateBody,
        response: { 200: Type.Object({ message: Type.String(), empresa: EmpresaDetail }), ...ERRORS },
      },
    },
    async (request) => updateEmpresa(ctx, auditActor(request), request.params.empresa_id, request.body),
  );

  app.get(
    '/admin/empresas/:empresa_id/stats',
    { schema: { tags, security, summary: 'Estadísticas de una empresa', params: EmpresaId, response: { 200: EmpresaStatsResponse, ...ERRORS } } },
    async (request) => empresaStats(ctx, request.params.empresa_id),
  );
}
