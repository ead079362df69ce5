/**
 * Products as other modules and the captive portal see them.
 * - `getSellableProduct`: the product of a purchase, always read from the database (never from the public
 *   cache), so a price or activation change applies to the next purchase at once.
 * - `publicCatalog` / `publicConfig`: the portal's hottest reads, served pre-serialized from a per-router
 *   cache that every product, router and company change invalidates on every instance (see cache.ts).
 */
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { ChangeBus } from '../../infra/bus.js';
import type { Database } from '../../infra/db/index.js';
import { empresas, productos, routers } from '../../infra/db/schema.js';
import { RouterScopedCache, cachedBody, type CachedBody } from './cache.js';
import { publicProductJson } from './products.js';

export interface SellableProduct {
  id: number;
  empresaId: string;
  routerId: string;
  perfilMikrotikId: string;
  perfilMikrotikNombre: string;
  nombreVenta: string;
  /** NUMERIC(10,2) text, e.g. "19.99". */
  precio: string;
  moneda: string;
  duracionMinutos: number | null;
  tipoUsuarioDefault: string | null;
  vigenciaMinutos?: number | null;
  vigenciaDesde?: string | null;
  limiteBytes?: number | null;
}

export interface PublicCatalog {
  list: CachedBody;
  items: Map<number, CachedBody>;
}

export interface ConektaDefaults {
  conektaDefaultPublicKey: string;
}

const MAX_INT4 = 2147483647;

/** The purchase's product read, built once and prepared (named statement): every purchase runs it. */
const prepareSellable = (db: Database) =>
  db.orm
    .select({
      id: productos.id,
      empresaId: productos.empresaId,
      routerId: productos.routerId,
      perfilMikrotikId: productos.perfilMikrotikId,
      perfilMikrotikNombre: productos.perfilMikrotikNombre,
      nombreVenta: productos.nombreVenta,
      precio: productos.precio,
      moneda: productos.moneda,
      duracionMinutos: productos.duracionMinutos,
      tipoUsuarioDefault: productos.tipoUsuarioDefault,
      vigenciaMinutos: productos.vigenciaMinutos,
      vigenciaDesde: productos.vigenciaDesde,
      limiteBytes: productos.limiteBytes,
    })
    .from(productos)
    .innerJoin(routers, eq(routers.id, productos.routerId))
    .where(
      and(
        eq(productos.id, sql.placeholder('productoId')),
        eq(productos.empresaId, sql.placeholder('empresaId')),
        eq(productos.routerId, sql.placeholder('routerId')),
        eq(productos.activo, true),
        eq(routers.empresaId, sql.placeholder('empresaId')),
      ),
    )
    .limit(1)
    .prepare('producto_vendible');

export class CatalogService {
  private sellableQuery: ReturnType<typeof prepareSellable> | null = null;
  private readonly catalogs: RouterScopedCache<PublicCatalog>;
  private readonly configs: RouterScopedCache<CachedBody | null>;

  constructor(
    private readonly db: Database,
    bus: ChangeBus | null,
    private readonly defaults: ConektaDefaults = { conektaDefaultPublicKey: '' },
  ) {
    this.catalogs = new RouterScopedCache(bus);
    this.configs = new RouterScopedCache(bus);
  }

  /** Active product of that router (and company), or null. */
  async getSellableProduct(empresaId: string, routerId: string, productoId: number): Promise<SellableProduct | null> {
    if (!Number.isSafeInteger(productoId) || productoId < 1 || productoId > MAX_INT4) return null;
    this.sellableQuery ??= prepareSellable(this.db);
    const [p] = await this.sellableQuery.execute({ productoId, empresaId, routerId });
    if (!p) return null;
    return { ...p, moneda: p.moneda ?? 'MXN' };
  }

  /** The router's active products in display order (orden_visual, then featured first), serialized. */
  /** Cache hits only, synchronously (undefined: ask publicCatalog / publicConfig). */
  peekCatalog(empresaId: string, routerId: string): PublicCatalog | undefined {
    return this.catalogs.peek(empresaId, routerId);
  }

  peekConfig(empresaId: string, routerId: string): CachedBody | null | undefined {
    return this.configs.peek(empresaId, routerId);
  }

  publicCatalog(empresaId: string, routerId: string): Promise<PublicCatalog> {
    return this.catalogs.get(empresaId, routerId, async () => {
      const rows = await this.db.orm
        .select()
        .from(productos)
        .where(and(eq(productos.empresaId, empresaId), eq(productos.routerId, routerId), eq(productos.activo, true)))
        .orderBy(asc(sql`coalesce(${productos.ordenVisual}, 0)`), desc(sql`coalesce(${productos.destacado}, false)`), asc(productos.id));
      const items = new Map<number, CachedBody>();
      const list = rows.map((r) => {
        const json = publicProductJson(r);
        items.set(r.id, cachedBody(json));
        return json;
      });
      return { list: cachedBody(list), items };
    });
  }

  /** The portal's company/router configuration (legacy shape plus `logo_url`), or null when the router is gone. */
  publicConfig(empresaId: string, routerId: string): Promise<CachedBody | null> {
    return this.configs.get(empresaId, routerId, async () => {
      const [row] = await this.db.orm
        .select({
          empresaId: empresas.id,
          empresaNombre: empresas.nombre,
          conektaPublicKey: empresas.conektaPublicKey,
          conektaPrivateKey: empresas.conektaPrivateKey,
          mercadoPagoPublicKey: empresas.mercadoPagoPublicKey,
          conektaMode: empresas.conektaMode,
          logoUrl: empresas.logoUrl,
          routerId: routers.id,
          routerNombre: routers.nombre,
          ubicacion: routers.ubicacion,
        })
        .from(routers)
        .innerJoin(empresas, eq(empresas.id, routers.empresaId))
        .where(and(eq(routers.id, routerId), eq(routers.empresaId, empresaId)))
        .limit(1);
      if (!row) return null;
      // Same rule as payments: a company without its own Conekta keys sells with the platform's.
      const ownConekta = !!row.conektaPublicKey?.trim() && !!row.conektaPrivateKey?.trim();
      return cachedBody({
        empresa: {
          id: row.empresaId,
          nombre: row.empresaNombre,
          conekta_public_key: ownConekta ? row.conektaPublicKey : this.defaults.conektaDefaultPublicKey,
          mercadopago_public_key: row.mercadoPagoPublicKey?.trim() ? row.mercadoPagoPublicKey : null,
          conekta_mode: row.conektaMode ?? 'test',
          logo_url: row.logoUrl ?? null,
        },
        router: { id: row.routerId, nombre: row.routerNombre, ubicacion: row.ubicacion },
      });
    });
  }
}
