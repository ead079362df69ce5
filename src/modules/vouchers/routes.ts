/** Counter batches (company admin): create, follow the delivery to the router, print. */
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { notFound, unavailable } from '../../infra/errors.js';
import { SESSION_SECURITY, currentUser } from '../auth/guards.js';
import { ErrorBody, StringEnum } from '../company/schemas.js';
import { RouterUnreachableError } from '../hotspot/service.js';
import { FORMATOS, batchStamp, renderSheet, type Formato } from './batch-pdf.js';
import { MAX_BATCH } from './batches.js';
import { formatBytes } from './receipts.js';

const Batch = Type.Object({
  id: Type.Integer(),
  producto_id: Type.Integer(),
  router_id: Type.String(),
  cantidad: Type.Integer(),
  prefijo: Type.String(),
  plan: Type.String(),
  precio: Type.Number(),
  moneda: Type.String(),
  /** generado (some wait at the counter), vendido (all used), expirado (all expired), anulado. */
  estado: Type.String(),
  /** Vouchers already on the router (delivery progress). */
  en_router: Type.Integer(),
  /** en_router / cantidad, 0–1. */
  progreso: Type.Number(),
  /** Vouchers used at least once (vendido or expirado) / cantidad, 0–1. */
  vendido: Type.Number(),
  fichas: Type.Object({ generado: Type.Integer(), vendido: Type.Integer(), expirado: Type.Integer(), anulado: Type.Integer() }),
  creado_en: Type.String(),
});

const Id = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });

export default async function voucherRoutes(app: App) {
  const ctx = app.ctx;
  const admin = { preHandler: app.guards.clienteAdmin };
  const tags = ['lotes'];

  app.post(
    '/api/v1/admin/lotes',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Crear un lote de fichas para venta en mostrador (se entregan al router en tramos)',
        security: SESSION_SECURITY,
        body: Type.Object({
          producto_id: Type.Integer({ minimum: 1, maximum: 2147483647 }),
          cantidad: Type.Integer({ minimum: 1, maximum: MAX_BATCH }),
          prefijo: Type.Optional(Type.String({ minLength: 1, maxLength: 10 })),
        }),
        response: { 201: Batch, 404: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const batch = await ctx.batches.create(currentUser(request).empresaId!, request.body);
      return reply.code(201).send(batch);
    },
  );

  app.get(
    '/api/v1/admin/lotes',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Lotes de mi empresa, del más nuevo al más viejo (total también en X-Total-Count)',
        security: SESSION_SECURITY,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }) }),
        response: { 200: Type.Object({ total: Type.Integer(), lotes: Type.Array(Batch) }), 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const page = await ctx.batches.list(currentUser(request).empresaId!, request.query.limit, request.query.offset);
      void reply.header('x-total-count', String(page.total));
      return page;
    },
  );

  app.get(
    '/api/v1/admin/lotes/:id',
    { ...admin, schema: { tags, summary: 'Un lote y el avance de su entrega', security: SESSION_SECURITY, params: Id, response: { 200: Batch, 404: ErrorBody } } },
    async (request) => {
      const batch = await ctx.batches.view(currentUser(request).empresaId!, request.params.id);
      if (!batch) throw notFound('Lote no encontrado', 'batch_not_found');
      return batch;
    },
  );

  app.post(
    '/api/v1/admin/lotes/:id/anular',
    { ...admin, schema: { tags, summary: 'Anular un lote: sus fichas sin usar salen del router', security: SESSION_SECURITY, params: Id, response: { 200: Batch, 404: ErrorBody } } },
    async (request) => {
      const batch = await ctx.batches.void(currentUser(request).empresaId!, request.params.id);
      if (!batch) throw notFound('Lote no encontrado', 'batch_not_found');
      return batch;
    },
  );

  app.get(
    '/api/v1/admin/lotes/:id/pdf',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Hoja imprimible del lote (A4 o rollo térmico de 58/80 mm) con QR de acceso',
        security: SESSION_SECURITY,
        params: Id,
        querystring: Type.Object({ formato: Type.Optional(StringEnum(FORMATOS)) }),
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'PDF' }), 404: ErrorBody, 422: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const empresaId = currentUser(request).empresaId!;
      const batch = await ctx.batches.view(empresaId, request.params.id);
      if (!batch) throw notFound('Lote no encontrado', 'batch_not_found');
      const [e] = await ctx.db.query<{ nombre: string; zona_horaria: string; logo: Buffer | null; content_type: string | null; limite_bytes: number | string | null; creado_en: string }>(
        `SELECT e.nombre, e.zona_horaria, g.contenido AS logo, g.content_type, l.limite_bytes, l.creado_en::text AS creado_en
           FROM empresas e JOIN lotes l ON l.empresa_id = e.id AND l.id = $2
           LEFT JOIN LATERAL (SELECT contenido, content_type FROM empresa_logos WHERE empresa_id = e.id AND content_type IN ('image/png', 'image/jpeg') ORDER BY creado_en DESC LIMIT 1) g ON true
          WHERE e.id = $1`,
        [empresaId, batch.id],
      );
      let loginBase: string;
      try {
        loginBase = await ctx.batches.loginBase(batch.router_id);
      } catch (err) {
        if (err instanceof RouterUnreachableError) throw unavailable('No se pudo leer el hotspot del router (su dirección de acceso va en los QR). Intente de nuevo.', 'router_unreachable');
        throw err;
      }
      const pdf = await renderSheet(
        {
          empresa: e.nombre,
          logo: e.logo ? Buffer.from(e.logo) : null,
          plan: batch.plan,
          detalle: e.limite_bytes ? formatBytes(Number(e.limite_bytes)) : null,
          pie: `Lote ${batch.id} · ${batchStamp(e.creado_en, e.zona_horaria)}`,
          loginBase,
          vouchers: await ctx.batches.vouchers(empresaId, batch.id),
        },
        (request.query.formato ?? 'a4') as Formato,
      );
      return reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', `attachment; filename="lote-${batch.id}-${request.query.formato ?? 'a4'}.pdf"`)
        .header('cache-control', 'no-store')
        .send(pdf);
    },
  );
}
