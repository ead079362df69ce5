/**
 * Company admin's product catalogue (legacy §3.7) with the fixes: currency and price validated on every
 * write, one `detalles` shape, and re-creating a soft-deleted product reactivates it instead of a 409.
 * Every change is announced as `catalog:<routerId>` so the public catalog caches drop it.
 */
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { AppContext } from '../../context.js';
import type { AuditActor } from '../tenants/audit.js';
import type { Tx } from '../../infra/db/index.js';
import { productos, routers } from '../../infra/db/schema.js';
import { ApiError, ValidationFailed, conflict, isUniqueViolation, notFound } from '../../infra/errors.js';
import { naiveIso } from '../../infra/time.js';
import { detallesForStorage, normalizeDetalles } from './detalles.js';

export const MONEDAS = ['MXN', 'USD', 'EUR'] as const;
export const TIPOS_USUARIO = ['usuario_contrasena', 'pin'] as const;

export type ProductRow = typeof productos.$inferSelect;
type DetalleInput = string | { texto: string };

export interface ProductInput {
  router_id: string;
  perfil_mikrotik_id: string;
  perfil_mikrotik_nombre: string;
  nombre_venta: string;
  descripcion?: string | null;
  imagen_url?: string | null;
  precio: number;
  moneda?: string;
  detalles?: DetalleInput[] | null;
  activo?: boolean;
  orden_visual?: number;
  destacado?: boolean;
  duracion_minutos?: number | null;
  tipo_usuario_default?: string | null;
  vigencia_minutos?: number | null;
  vigencia_desde?: string | null;
  limite_bytes?: number | null;
}

export type ProductUpdate = Partial<Omit<ProductInput, 'router_id' | 'perfil_mikrotik_id' | 'perfil_mikrotik_nombre' | 'moneda'>> & { moneda?: string | null };

export const catalogTopic = (routerId: string) => `catalog:${routerId}`;

/** The admin API's product JSON (legacy key order; `detalles` as the legacy list of texts; new fields last). */
export function adminProductJson(p: ProductRow) {
  return {
    id: p.id,
    router_id: p.routerId,
    perfil_mikrotik_id: p.perfilMikrotikId,
    perfil_mikrotik_nombre: p.perfilMikrotikNombre,
    nombre_venta: p.nombreVenta,
    descripcion: p.descripcion,
    imagen_url: p.imagenUrl,
    precio: Number(p.precio),
    moneda: p.moneda ?? 'MXN',
    detalles: normalizeDetalles(p.detalles).map((d) => d.texto),
    activo: p.activo === true,
    orden_visual: p.ordenVisual ?? 0,
    destacado: p.destacado === true,
    creado_en: naiveIso(p.creadoEn),
    duracion_minutos: p.duracionMinutos,
    tipo_usuario_default: p.tipoUsuarioDefault,
    vigencia_minutos: p.vigenciaMinutos,
    vigencia_desde: p.vigenciaMinutos ? (p.vigenciaDesde ?? 'primer_uso') : null,
    limite_bytes: p.limiteBytes,
  };
}

/** The public catalog's product JSON (legacy shape; `detalles` as `[{texto}]`; new fields last). */
export function publicProductJson(p: ProductRow) {
  return {
    id: p.id,
    perfil_mikrotik_id: p.perfilMikrotikId,
    perfil_mikrotik_nombre: p.perfilMikrotikNombre,
    nombre_venta: p.nombreVenta,
    descripcion: p.descripcion,
    imagen_url: p.imagenUrl,
    precio: Number(p.precio),
    moneda: p.moneda ?? 'MXN',
    detalles: normalizeDetalles(p.detalles),
    destacado: p.destacado === true,
    creado_en: naiveIso(p.creadoEn),
    duracion_minutos: p.duracionMinutos,
    tipo_usuario_default: p.tipoUsuarioDefault,
    vigencia_minutos: p.vigenciaMinutos,
    vigencia_desde: p.vigenciaMinutos ? (p.vigenciaDesde ?? 'primer_uso') : null,
    limite_bytes: p.limiteBytes,
  };
}

const monedaInvalida = () => new ApiError(422, 'Moneda no válida. Valores permitidos: MXN, USD, EUR', 'validation_error');

function normalizeMoneda(m: string): string {
  const up = m.trim().toUpperCase();
  if (!(MONEDAS as readonly string[]).includes(up)) throw monedaInvalida();
  return up;
}

/** NUMERIC(10,2) text of a positive price with at most two decimals (no binary-float rounding surprises). */
export function priceToDb(precio: number): string {
  const cents = Math.round(precio * 100);
  if (!Number.isFinite(precio) || precio <= 0 || cents < 1 || Math.abs(precio * 100 - cents) > 1e-6) {
    throw new ValidationFailed([
      {
        type: 'decimal_max_places',
        loc: ['body', 'precio'],
        msg: 'El precio debe ser mayor que 0 y tener como máximo dos decimales',
        input: precio,
      },
    ]);
  }
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

function requireText(value: string, field: string): string {
  const v = value.trim();
  if (v === '') throw new ValidationFailed([{ type: 'string_too_short', loc: ['body', field], msg: 'String should have at least 1 character', input: value }]);
  return v;
}

const blankToNull = (v: string | null | undefined) => (v === null || v === undefined || v.trim() === '' ? null : v.trim());

async function myRouter(tx: Tx | AppContext['db']['orm'], empresaId: string, routerId: string) {
  const [r] = await tx
    .select({ id: routers.id })
    .from(routers)
    .where(and(eq(routers.id, routerId), eq(routers.empresaId, empresaId)))
    .limit(1);
  return r ?? null;
}

export async function listProducts(ctx: AppContext, empresaId: string, routerId?: string) {
  if (routerId !== undefined && !(await myRouter(ctx.db.orm, empresaId, routerId))) throw notFound('Router no encontrado', 'router_not_found');
  const where = routerId === undefined ? eq(productos.empresaId, empresaId) : and(eq(productos.empresaId, empresaId), eq(productos.routerId, routerId));
  const rows = await ctx.db.orm
    .select()
    .from(productos)
    .where(where)
    .orderBy(asc(sql`coalesce(${productos.ordenVisual}, 0)`), desc(productos.creadoEn), desc(productos.id));
  return rows.map(adminProductJson);
}

export async function getProduct(ctx: AppContext, empresaId: string, id: number, message = 'Producto no encontrado'): Promise<ProductRow> {
  const [p] = await ctx.db.orm
    .select()
    .from(productos)
    .where(and(eq(productos.id, id), eq(productos.empresaId, empresaId)))
    .limit(1);
  if (!p) throw notFound(message, 'product_not_found');
  return p;
}

/**
 * Create a product. A product for the same router profile that was soft-deleted is reactivated with the
 * new values (the legacy answered 409 forever); an active one is still a 409 with the legacy message.
 */
export async function createProduct(ctx: AppContext, actor: AuditActor, empresaId: string, input: ProductInput) {
  const values = {
    perfilMikrotikNombre: requireText(input.perfil_mikrotik_nombre, 'perfil_mikrotik_nombre'),
    nombreVenta: requireText(input.nombre_venta, 'nombre_venta'),
    descripcion: input.descripcion ?? null,
    imagenUrl: blankToNull(input.imagen_url),
    precio: priceToDb(input.precio),
    moneda: normalizeMoneda(input.moneda ?? 'MXN'),
    detalles: detallesForStorage(input.detalles),
    activo: input.activo ?? true,
    ordenVisual: input.orden_visual ?? 0,
    destacado: input.destacado ?? false,
    duracionMinutos: input.duracion_minutos ?? null,
    tipoUsuarioDefault: input.tipo_usuario_default ?? null,
    vigenciaMinutos: input.vigencia_minutos ?? null,
    vigenciaDesde: input.vigencia_desde ?? null,
    limiteBytes: input.limite_bytes ?? null,
  };
  const perfilId = requireText(input.perfil_mikrotik_id, 'perfil_mikrotik_id');
  const duplicate = () => conflict(`Ya existe un producto con el perfil '${perfilId}' para este router (${input.router_id})`, 'product_duplicate');
  try {
    const { row, reactivated } = await ctx.db.transaction(async (tx) => {
      if (!(await myRouter(tx, empresaId, input.router_id))) throw notFound('Router no encontrado o no pertenece a esta empresa', 'router_not_found');
      const [existing] = await tx
        .select({ id: productos.id, activo: productos.activo })
        .from(productos)
        .where(and(eq(productos.empresaId, empresaId), eq(productos.routerId, input.router_id), eq(productos.perfilMikrotikId, perfilId)))
        .for('update')
        .limit(1);
      if (existing && existing.activo !== false) throw duplicate();
      let row: ProductRow;
      if (existing) {
        [row] = await tx.update(productos).set(values).where(eq(productos.id, existing.id)).returning();
      } else {
        [row] = await tx
          .insert(productos)
          .values({ ...values, empresaId, routerId: input.router_id, perfilMikrotikId: perfilId })
          .returning();
      }
      await ctx.audit.record(
        actor,
        {
          accion: existing ? 'producto.reactivar' : 'producto.crear',
          empresaId,
          recurso: 'producto',
          recursoId: row.id,
          detalles: { router_id: row.routerId, perfil_mikrotik_id: row.perfilMikrotikId, precio: row.precio, moneda: row.moneda },
        },
        tx,
      );
      await ctx.bus.publish(catalogTopic(row.routerId), tx);
      return { row, reactivated: !!existing };
    });
    return { product: adminProductJson(row), reactivated };
  } catch (err) {
    // Two admins creating the same profile at once: the unique constraint decides, the loser gets the 409.
    if (isUniqueViolation(err)) throw duplicate();
    throw err;
  }
}

export async function updateProduct(ctx: AppContext, actor: AuditActor, empresaId: string, id: number, body: ProductUpdate) {
  const set: Partial<typeof productos.$inferInsert> = {};
  // `moneda` first: the legacy refused a bad currency before looking at anything else.
  if ('moneda' in body) {
    if (typeof body.moneda !== 'string') throw monedaInvalida();
    set.moneda = normalizeMoneda(body.moneda);
  }
  if (body.nombre_venta !== undefined) set.nombreVenta = requireText(body.nombre_venta, 'nombre_venta');
  if (body.descripcion !== undefined) set.descripcion = body.descripcion;
  if (body.imagen_url !== undefined) set.imagenUrl = blankToNull(body.imagen_url);
  if (body.precio !== undefined) set.precio = priceToDb(body.precio);
  if (body.detalles !== undefined) set.detalles = detallesForStorage(body.detalles);
  if (body.activo !== undefined) set.activo = body.activo;
  if (body.orden_visual !== undefined) set.ordenVisual = body.orden_visual;
  if (body.destacado !== undefined) set.destacado = body.destacado;
  if (body.duracion_minutos !== undefined) set.duracionMinutos = body.duracion_minutos;
  if (body.tipo_usuario_default !== undefined) set.tipoUsuarioDefault = body.tipo_usuario_default;
  if (body.vigencia_minutos !== undefined) set.vigenciaMinutos = body.vigencia_minutos;
  if (body.vigencia_desde !== undefined) set.vigenciaDesde = body.vigencia_desde;
  if (body.limite_bytes !== undefined) set.limiteBytes = body.limite_bytes;

  const row = await ctx.db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(productos)
      .where(and(eq(productos.id, id), eq(productos.empresaId, empresaId)))
      .for('update')
      .limit(1);
    if (!current) throw notFound('Producto no encontrado o no pertenece a esta empresa', 'product_not_found');
    if (Object.keys(set).length === 0) return current;
    const [updated] = await tx.update(productos).set(set).where(eq(productos.id, id)).returning();
    await ctx.audit.record(
      actor,
      { accion: 'producto.actualizar', empresaId, recurso: 'producto', recursoId: id, detalles: { campos: Object.keys(body).sort() } },
      tx,
    );
    await ctx.bus.publish(catalogTopic(updated.routerId), tx);
    return updated;
  });
  return adminProductJson(row);
}

export async function deactivateProduct(ctx: AppContext, actor: AuditActor, empresaId: string, id: number) {
  await ctx.db.transaction(async (tx) => {
    const [current] = await tx
      .select({ id: productos.id, routerId: productos.routerId, activo: productos.activo })
      .from(productos)
      .where(and(eq(productos.id, id), eq(productos.empresaId, empresaId)))
      .for('update')
      .limit(1);
    if (!current) throw notFound('Producto no encontrado', 'product_not_found');
    if (current.activo === false) return; // idempotent
    await tx.update(productos).set({ activo: false }).where(eq(productos.id, id));
    await ctx.audit.record(actor, { accion: 'producto.desactivar', empresaId, recurso: 'producto', recursoId: id }, tx);
    await ctx.bus.publish(catalogTopic(current.routerId), tx);
  });
  return { message: 'Producto desactivado', producto_id: id, activo: false };
}
