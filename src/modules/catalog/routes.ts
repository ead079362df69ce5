/**
 * Products: the company admin's CRUD (`/api/v1/admin/products`) and the captive portal's catalog and
 * public configuration (router API key).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ErrorBody, Nullable, StringEnum } from '../company/schemas.js';
import type { App } from '../../infra/http/types.js';
import { notFound } from '../../infra/errors.js';
import { ROUTER_KEY_SECURITY as ROUTER_KEY_SECURITY_RAW, SESSION_SECURITY, auditActor, currentRouter, currentUser } from '../auth/guards.js';
import { rejectNulls } from '../company/validation.js';
import { etagMatches, type CachedBody } from './cache.js';
import { OptionalPaging, pageOf, sendTotal } from '../tenants/paging.js';
import { TIPOS_USUARIO, adminProductJson, createProduct, deactivateProduct, getProduct, listProducts, updateProduct } from './products.js';

const ROUTER_KEY_SECURITY = ROUTER_KEY_SECURITY_RAW as unknown as Array<Record<string, string[]>>;

const Detalle = Type.Union([Type.String({ maxLength: 500 }), Type.Object({ texto: Type.String({ maxLength: 500 }) })]);
const Detalles = Nullable(Type.Array(Detalle, { maxItems: 50 }));
const Precio = Type.Number({ exclusiveMinimum: 0, maximum: 99999999.99 });
const Int4 = Type.Integer({ minimum: -2147483648, maximum: 2147483647 });
const Duracion = Nullable(Type.Integer({ minimum: 1, maximum: 5_256_000 }));
const TipoUsuario = Nullable(StringEnum(TIPOS_USUARIO));
// Validity up to ten years; a data allowance up to 100 TB (RouterOS limit-bytes-total is a 64-bit count).
const Vigencia = Nullable(Type.Integer({ minimum: 1, maximum: 5_256_000 }));
const VigenciaDesde = Nullable(StringEnum(['primer_uso', 'venta'] as const));
const LimiteBytes = Nullable(Type.Integer({ minimum: 1, maximum: 100_000_000_000_000 }));

const ProductCreate = Type.Object({
  router_id: Type.String({ minLength: 1, maxLength: 50 }),
  perfil_mikrotik_id: Type.String({ minLength: 1, maxLength: 100 }),
  perfil_mikrotik_nombre: Type.String({ minLength: 1, maxLength: 100 }),
  nombre_venta: Type.String({ minLength: 1, maxLength: 100 }),
  descripcion: Type.Optional(Nullable(Type.String({ maxLength: 5000 }))),
  imagen_url: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  precio: Precio,
  moneda: Type.Optional(Type.String({ maxLength: 10 })),
  detalles: Type.Optional(Detalles),
  activo: Type.Optional(Type.Boolean()),
  orden_visual: Type.Optional(Int4),
  destacado: Type.Optional(Type.Boolean()),
  duracion_minutos: Type.Optional(Duracion),
  tipo_usuario_default: Type.Optional(TipoUsuario),
  vigencia_minutos: Type.Optional(Vigencia),
  vigencia_desde: Type.Optional(VigenciaDesde),
  limite_bytes: Type.Optional(LimiteBytes),
});

const ProductUpdateBody = Type.Object({
  nombre_venta: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  descripcion: Type.Optional(Nullable(Type.String({ maxLength: 5000 }))),
  imagen_url: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  precio: Type.Optional(Precio),
  // Any value reaches the handler: a bad currency (null included) is the legacy's string-detail 422.
  moneda: Type.Optional(Nullable(Type.String({ maxLength: 10 }))),
  detalles: Type.Optional(Detalles),
  activo: Type.Optional(Type.Boolean()),
  orden_visual: Type.Optional(Int4),
  destacado: Type.Optional(Type.Boolean()),
  duracion_minutos: Type.Optional(Duracion),
  tipo_usuario_default: Type.Optional(TipoUsuario),
  vigencia_minutos: Type.Optional(Vigencia),
  vigencia_desde: Type.Optional(VigenciaDesde),
  limite_bytes: Type.Optional(LimiteBytes),
});

const AdminProduct = Type.Object({
  id: Type.Integer(),
  router_id: Type.String(),
  perfil_mikrotik_id: Type.String(),
  perfil_mikrotik_nombre: Type.String(),
  nombre_venta: Type.String(),
  descripcion: Nullable(Type.String()),
  imagen_url: Nullable(Type.String()),
  precio: Type.Number(),
  moneda: Type.String(),
  detalles: Type.Array(Type.String()),
  activo: Type.Boolean(),
  orden_visual: Type.Integer(),
  destacado: Type.Boolean(),
  creado_en: Nullable(Type.String()),
  duracion_minutos: Nullable(Type.Integer()),
  tipo_usuario_default: Nullable(Type.String()),
  vigencia_minutos: Nullable(Type.Integer()),
  vigencia_desde: Nullable(Type.String()),
  limite_bytes: Nullable(Type.Integer()),
});

const PublicProduct = Type.Object({
  id: Type.Integer(),
  perfil_mikrotik_id: Type.String(),
  perfil_mikrotik_nombre: Type.String(),
  nombre_venta: Type.String(),
  descripcion: Nullable(Type.String()),
  imagen_url: Nullable(Type.String()),
  precio: Type.Number(),
  moneda: Type.String(),
  detalles: Type.Array(Type.Object({ texto: Type.String() })),
  destacado: Type.Boolean(),
  creado_en: Nullable(Type.String()),
  duracion_minutos: Nullable(Type.Integer()),
  tipo_usuario_default: Nullable(Type.String()),
  vigencia_minutos: Nullable(Type.Integer()),
  vigencia_desde: Nullable(Type.String()),
  limite_bytes: Nullable(Type.Integer()),
});

const PublicConfig = Type.Object({
  empresa: Type.Object({
    id: Type.String(),
    nombre: Type.String(),
    conekta_public_key: Nullable(Type.String()),
    mercadopago_public_key: Nullable(Type.String()),
    conekta_mode: Type.String(),
    logo_url: Nullable(Type.String()),
  }),
  router: Type.Object({ id: Type.String(), nombre: Type.String(), ubicacion: Nullable(Type.String()) }),
});

const ProductIdParams = Type.Object({ producto_id: Int4 });
const NOT_NULL_PRODUCT_FIELDS = ['nombre_venta', 'precio', 'activo', 'orden_visual', 'destacado', 'router_id', 'perfil_mikrotik_id', 'perfil_mikrotik_nombre'];

/** Send a pre-serialized body with its ETag, or 304 when the client already has it. */
function sendCached(request: FastifyRequest, reply: FastifyReply, c: CachedBody) {
  // Per-key content that changes whenever the company edits it: cache, but revalidate every time.
  reply.header('etag', c.etag).header('cache-control', 'private, no-cache');
  if (etagMatches(request.headers['if-none-match'], c.etag)) return reply.code(304).send();
  return reply.type('application/json; charset=utf-8').send(c.body);
}

export default async function catalogRoutes(app: App) {
  const ctx = app.ctx;
  const admin = { preHandler: app.guards.clienteAdmin };
  const tags = ['productos'];

  app.post(
    '/api/v1/admin/products',
    {
      ...admin,
      preValidation: rejectNulls(NOT_NULL_PRODUCT_FIELDS),
      schema: {
        tags,
        summary: 'Crear producto (reactiva uno desactivado del mismo perfil)',
        security: SESSION_SECURITY,
        body: ProductCreate,
        response: { 201: AdminProduct, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const { product } = await createProduct(ctx, auditActor(request), user.empresaId!, request.body);
      return reply.code(201).send(product);
    },
  );

  app.get(
    '/api/v1/admin/products',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Productos de mi empresa (activos e inactivos; con limit/offset, una página y el total en X-Total-Count)',
        security: SESSION_SECURITY,
        querystring: Type.Object({ router_id: Type.Optional(Type.String({ maxLength: 50 })), ...OptionalPaging.properties }),
        response: { 200: Type.Array(AdminProduct), 404: ErrorBody },
      },
    },
    async (request, reply) => {
      // A company has tens of products: read them all, answer the page (legacy: all, without limit/offset).
      const all = await listProducts(ctx, currentUser(request).empresaId!, request.query.router_id);
      sendTotal(reply, all.length);
      return pageOf(all, request.query);
    },
  );

  app.get(
    '/api/v1/admin/products/:producto_id',
    {
      ...admin,
      schema: { tags, summary: 'Un producto de mi empresa', security: SESSION_SECURITY, params: ProductIdParams, response: { 200: AdminProduct, 404: ErrorBody } },
    },
    async (request) => adminProductJson(await getProduct(ctx, currentUser(request).empresaId!, request.params.producto_id)),
  );

  app.put(
    '/api/v1/admin/products/:producto_id',
    {
      ...admin,
      preValidation: rejectNulls(NOT_NULL_PRODUCT_FIELDS),
      schema: {
        tags,
        summary: 'Actualizar producto (solo los campos enviados)',
        security: SESSION_SECURITY,
        params: ProductIdParams,
        body: ProductUpdateBody,
        response: { 200: AdminProduct, 404: ErrorBody, 422: ErrorBody },
      },
    },
    async (request) => updateProduct(ctx, auditActor(request), currentUser(request).empresaId!, request.params.producto_id, request.body),
  );

  app.delete(
    '/api/v1/admin/products/:producto_id',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Desactivar producto (borrado lógico)',
        security: SESSION_SECURITY,
        params: ProductIdParams,
        response: { 200: Type.Object({ message: Type.String(), producto_id: Type.Integer(), activo: Type.Boolean() }), 404: ErrorBody },
      },
    },
    async (request) => deactivateProduct(ctx, auditActor(request), currentUser(request).empresaId!, request.params.producto_id),
  );

  // ---- Captive portal (router API key) ----
  const portal = { preHandler: app.guards.routerKey };
  const portalTags = ['portal'];

  app.get(
    '/api/v1/config/public',
    {
      ...portal,
      schema: { tags: portalTags, summary: 'Configuración pública de la empresa y el router de la API key', security: ROUTER_KEY_SECURITY, response: { 200: PublicConfig } },
    },
    // Not async: a cache hit is answered without a promise (the portal's hottest read).
    (request, reply) => {
      const key = currentRouter(request);
      const send = (config: CachedBody | null): void => {
        if (!config) throw notFound('Router no encontrado', 'router_not_found');
        sendCached(request, reply, config);
      };
      const hit = ctx.catalog.peekConfig(key.empresaId, key.routerId);
      if (hit !== undefined) return send(hit);
      return ctx.catalog.publicConfig(key.empresaId, key.routerId).then(send);
    },
  );

  app.get(
    '/api/v1/catalogo_perfiles_venta',
    {
      ...portal,
      schema: { tags: portalTags, summary: 'Catálogo de fichas a la venta en este router', security: ROUTER_KEY_SECURITY, response: { 200: Type.Array(PublicProduct) } },
    },
    (request, reply) => {
      const key = currentRouter(request);
      const hit = ctx.catalog.peekCatalog(key.empresaId, key.routerId);
      if (hit) {
        sendCached(request, reply, hit.list);
        return;
      }
      return ctx.catalog.publicCatalog(key.empresaId, key.routerId).then((catalog) => void sendCached(request, reply, catalog.list));
    },
  );

  // The legacy debug dump leaked inactive products to anyone holding the (public) router key: gone.
  app.get('/api/v1/catalogo_perfiles_venta/debug', { schema: { hide: true } }, async (_request, reply) =>
    reply.code(404).send({ detail: 'Not Found', code: 'not_found' }),
  );

  app.get(
    '/api/v1/catalogo_perfiles_venta/:producto_id',
    {
      ...portal,
      schema: {
        tags: portalTags,
        summary: 'Un producto del catálogo de este router',
        security: ROUTER_KEY_SECURITY,
        params: ProductIdParams,
        response: { 200: PublicProduct, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const key = currentRouter(request);
      const catalog = await ctx.catalog.publicCatalog(key.empresaId, key.routerId);
      const item = catalog.items.get(request.params.producto_id);
      if (!item) throw notFound('Producto no encontrado o no disponible', 'product_not_found');
      return sendCached(request, reply, item);
    },
  );
}
