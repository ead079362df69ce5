/**
 * Routers and their API keys as the super admin manages them (legacy-admin.md §3.3, §2.6).
 *
 * Invariant kept by every write here: a router has at most one active (unrevoked) key, and
 * `routers.api_key_hash` is that key's hash, or NULL when the router has none. Writes that touch a
 * router's keys lock the router row first, so concurrent regenerations/revocations serialise.
 */
import { randomBytes } from 'node:crypto';
import { and, asc, count, desc, eq, sql } from 'drizzle-orm';
import type { AppContext } from '../../context.js';
import type { Tx } from '../../infra/db/index.js';
import { apiKeysTracking, empresas, productos, routers, transacciones } from '../../infra/db/schema.js';
import { ValidationFailed, badRequest, isForeignKeyViolation, isUniqueViolation, notFound } from '../../infra/errors.js';
import { dateToDb, naiveIso, naiveToDate } from '../../infra/time.js';
import { KEY_TOPICS, RouterKeyService } from '../auth/router-keys.js';
import type { AuditActor } from './audit.js';
import { announce } from './announce.js';
import { EMPRESA_NOT_FOUND } from './empresa-service.js';
import { HOST_MAX, isValidRouterHost } from './host.js';
import { assertRouterSettings } from './router-settings.js';

type RouterRow = typeof routers.$inferSelect;
type KeyRow = typeof apiKeysTracking.$inferSelect;

export const ROUTER_NOT_FOUND = 'Router no encontrado o no pertenece a la empresa';
const routerNotFound = () => notFound(ROUTER_NOT_FOUND, 'router_not_found');
const newRouterId = () => 'RTR_' + randomBytes(4).toString('hex').toUpperCase();
const ACTIVE = sql`${apiKeysTracking.revoked} IS NOT TRUE`;

export function routerResponse(r: RouterRow) {
  return {
    id: r.id,
    empresa_id: r.empresaId,
    nombre: r.nombre,
    host: r.host,
    puerto: r.puerto,
    ubicacion: r.ubicacion,
    activo: r.activo !== false,
    creado_en: naiveIso(r.creadoEn),
  };
}

function keyResponse(k: KeyRow) {
  return {
    key_id: k.keyId,
    router_id: k.routerId,
    empresa_id: k.empresaId,
    issued_at: naiveIso(k.issuedAt),
    expires_at: naiveIso(k.expiresAt),
    revoked: k.revoked === true,
    revoked_at: naiveIso(k.revokedAt),
    last_used: naiveIso(k.lastUsed),
    use_count: k.useCount ?? 0,
  };
}

async function empresaExists(ctx: AppContext, empresaId: string): Promise<void> {
  const [row] = await ctx.db.orm.select({ id: empresas.id }).from(empresas).where(eq(empresas.id, empresaId)).limit(1);
  if (!row) throw notFound(EMPRESA_NOT_FOUND, 'empresa_not_found');
}

async function findRouter(ctx: AppContext, empresaId: string, routerId: string): Promise<RouterRow> {
  const [row] = await ctx.db.orm
    .select()
    .from(routers)
    .where(and(eq(routers.id, routerId), eq(routers.empresaId, empresaId)))
    .limit(1);
  if (!row) throw routerNotFound();
  return row;
}

/** The router row, locked until the transaction ends (serialises every key change of that router). */
async function lockRouter(tx: Tx, empresaId: string, routerId: string): Promise<RouterRow> {
  const [row] = await tx
    .select()
    .from(routers)
    .where(and(eq(routers.id, routerId), eq(routers.empresaId, empresaId)))
    .for('update');
  if (!row) throw routerNotFound();
  return row;
}

export interface RouterCreateInput {
  nombre: string;
  host: string;
  puerto?: number;
  usuario: string;
  password: string;
  ubicacion?: string | null;
  tls?: boolean | null;
  tls_ca?: string | null;
  tls_fingerprint?: string | null;
}

export async function createRouter(ctx: AppContext, actor: AuditActor, empresaId: string, input: RouterCreateInput) {
  const host = input.host.trim();
  if (!isValidRouterHost(host)) {
    throw new ValidationFailed([
      {
        type: 'value_error',
        loc: ['body', 'host'],
        msg: `Value error, host debe ser una dirección IPv4, IPv6 o un nombre de host válido (máximo ${HOST_MAX} caracteres)`,
        input: input.host,
      },
    ]);
  }
  await assertRouterSettings(ctx, { host, puerto: input.puerto ?? 8728, usuario: input.usuario, password: input.password, tls_ca: input.tls_ca, tls_fingerprint: input.tls_fingerprint });
  await empresaExists(ctx, empresaId);
  for (let attempt = 0; ; attempt++) {
    const id = newRouterId();
    const key = await ctx.routerKeys.mint(id, empresaId);
    try {
      const row = await ctx.db.transaction(async (tx) => {
        const [inserted] = await tx
          .insert(routers)
          .values({
            id,
            empresaId,
            nombre: input.nombre,
            host,
            puerto: input.puerto ?? 8728,
            usuario: input.usuario,
            // An empty RouterOS password (factory default) is not a secret: stored as ''.
            passwordEncrypted: ctx.secrets.general.encrypt(input.password) ?? '',
            ubicacion: input.ubicacion ?? null,
            tls: input.tls ?? null,
            tlsCa: input.tls_ca?.trim() || null,
            tlsFingerprint: input.tls_fingerprint?.trim() || null,
            apiKeyHash: key.keyHash,
            activo: true,
            creadoEn: dateToDb(new Date()),
          })
          .returning();
        await ctx.routerKeys.track(tx, key, id, empresaId);
        await ctx.audit.record(
          actor,
          { accion: 'router.crear', empresaId, recurso: 'router', recursoId: id, detalles: { nombre: input.nombre, host, puerto: inserted.puerto, key_id: key.keyId } },
          tx,
        );
        return inserted;
      });
      const r = routerResponse(row);
      return {
        id: r.id,
        empresa_id: r.empresa_id,
        nombre: r.nombre,
        host: r.host,
        puerto: r.puerto,
        ubicacion: r.ubicacion,
        activo: r.activo,
        api_key: key.apiKey,
        api_key_info: RouterKeyService.info(key),
        creado_en: r.creado_en,
      };
    } catch (err) {
      if (attempt < 3 && isUniqueViolation(err)) continue;
      if (isForeignKeyViolation(err)) throw notFound(EMPRESA_NOT_FOUND, 'empresa_not_found');
      throw err;
    }
  }
}

export async function listRouters(ctx: AppContext, empresaId: string, limit: number, offset: number) {
  await empresaExists(ctx, empresaId);
  const where = eq(routers.empresaId, empresaId);
  const [rows, [{ total }]] = await Promise.all([
    ctx.db.orm.select().from(routers).where(where).orderBy(asc(routers.creadoEn), asc(routers.id)).limit(limit).offset(offset),
    ctx.db.orm.select({ total: count() }).from(routers).where(where),
  ]);
  return { items: rows.map(routerResponse), total: Number(total) };
}

export async function getRouter(ctx: AppContext, empresaId: string, routerId: string) {
  return routerResponse(await findRouter(ctx, empresaId, routerId));
}

export async function toggleRouter(ctx: AppContext, actor: AuditActor, empresaId: string, routerId: string) {
  const activo = await ctx.db.transaction(async (tx) => {
    const router = await lockRouter(tx, empresaId, routerId);
    const next = router.activo === false;
    await tx.update(routers).set({ activo: next }).where(eq(routers.id, routerId));
    await ctx.audit.record(actor, { accion: next ? 'router.activar' : 'router.desactivar', empresaId, recurso: 'router', recursoId: routerId }, tx);
    await announce(ctx, [KEY_TOPICS.router(routerId)], tx);
    return next;
  });
  await announce(ctx, [KEY_TOPICS.router(routerId)]);
  return { message: activo ? 'Router activado correctamente' : 'Router desactivado correctamente', router_id: routerId, activo };
}

/** Revoke every active key of the router and mint a new one, in one transaction under the router lock. */
export async function regenerateKey(ctx: AppContext, actor: AuditActor, empresaId: string, routerId: string) {
  const topics = [KEY_TOPICS.keys, KEY_TOPICS.router(routerId)];
  const result = await ctx.db.transaction(async (tx) => {
    const router = await lockRouter(tx, empresaId, routerId);
    if (router.activo === false) throw badRequest('No se puede regenerar API key de un router inactivo', 'router_inactive');
    const now = new Date();
    const revoked = await tx
      .update(apiKeysTracking)
      .set({ revoked: true, revokedAt: dateToDb(now) })
      .where(and(eq(apiKeysTracking.routerId, routerId), ACTIVE))
      .returning({ keyId: apiKeysTracking.keyId });
    const key = await ctx.routerKeys.mint(routerId, empresaId, now);
    await ctx.routerKeys.track(tx, key, routerId, empresaId);
    await tx.update(routers).set({ apiKeyHash: key.keyHash }).where(eq(routers.id, routerId));
    await ctx.audit.record(
      actor,
      {
        accion: 'router.regenerar_api_key',
        empresaId,
        recurso: 'router',
        recursoId: routerId,
        detalles: { key_id: key.keyId, revocadas: revoked.map((r) => r.keyId) },
      },
      tx,
    );
    await announce(ctx, topics, tx);
    return { key, previousRevoked: revoked.length > 0 };
  });
  await announce(ctx, topics);
  return {
    message: 'API Key regenerada exitosamente',
    router_id: routerId,
    new_api_key: result.key.apiKey,
    api_key_info: RouterKeyService.info(result.key),
    previous_key_revoked: result.previousRevoked,
  };
}

export async function listKeys(ctx: AppContext, empresaId: string, routerId: string, limit: number, offset: number) {
  await findRouter(ctx, empresaId, routerId);
  const where = eq(apiKeysTracking.routerId, routerId);
  const [rows, [{ total }]] = await Promise.all([
    ctx.db.orm.select().from(apiKeysTracking).where(where).orderBy(desc(apiKeysTracking.issuedAt), asc(apiKeysTracking.keyId)).limit(limit).offset(offset),
    ctx.db.orm.select({ total: count() }).from(apiKeysTracking).where(where),
  ]);
  return { items: rows.map(keyResponse), total: Number(total) };
}

/**
 * Revoke one key. `routers.api_key_hash` then points at the router's remaining active key (normally
 * none: NULL), never at a revoked one.
 */
export async function revokeKey(ctx: AppContext, actor: AuditActor, empresaId: string, routerId: string, keyId: string) {
  const topics = [KEY_TOPICS.keys, KEY_TOPICS.router(routerId)];
  const revokedAt = await ctx.db.transaction(async (tx) => {
    await lockRouter(tx, empresaId, routerId);
    const [key] = await tx
      .select()
      .from(apiKeysTracking)
      .where(and(eq(apiKeysTracking.keyId, keyId), eq(apiKeysTracking.routerId, routerId), eq(apiKeysTracking.empresaId, empresaId)))
      .limit(1);
    if (!key) throw notFound('API Key no encontrada', 'api_key_not_found');
    if (key.revoked === true) throw badRequest('La API Key ya está revocada', 'api_key_already_revoked');
    const at = dateToDb(new Date());
    await tx.update(apiKeysTracking).set({ revoked: true, revokedAt: at }).where(eq(apiKeysTracking.keyId, keyId));
    const [remaining] = await tx
      .select({ keyHash: apiKeysTracking.keyHash })
      .from(apiKeysTracking)
      .where(and(eq(apiKeysTracking.routerId, routerId), ACTIVE))
      .orderBy(desc(apiKeysTracking.issuedAt))
      .limit(1);
    await tx.update(routers).set({ apiKeyHash: remaining?.keyHash ?? null }).where(eq(routers.id, routerId));
    await ctx.audit.record(actor, { accion: 'router.revocar_api_key', empresaId, recurso: 'api_key', recursoId: keyId, detalles: { router_id: routerId } }, tx);
    await announce(ctx, topics, tx);
    return at;
  });
  await announce(ctx, topics);
  return { message: 'API Key revocada exitosamente', key_id: keyId, router_id: routerId, revoked_at: naiveIso(revokedAt)! };
}

const DAY_MS = 86_400_000;

export async function keyStatus(ctx: AppContext, empresaId: string, routerId: string) {
  await findRouter(ctx, empresaId, routerId);
  // Usage is counted in memory and flushed every second; flush ours so the answer is current.
  await ctx.routerKeys.flushUsage();
  const [key] = await ctx.db.orm
    .select()
    .from(apiKeysTracking)
    .where(and(eq(apiKeysTracking.routerId, routerId), ACTIVE))
    .orderBy(desc(apiKeysTracking.issuedAt))
    .limit(1);
  if (!key) {
    return {
      router_id: routerId,
      has_active_key: false,
      key_id: null,
      issued_at: null,
      expires_at: null,
      expires_in_days: null,
      last_used: null,
      use_count: null,
      status: 'no_key',
      warning: null,
      recommendation: 'Generar una nueva API Key',
    };
  }
  // Whole days, floored like Python's timedelta.days (negative once expired).
  const days = Math.floor((naiveToDate(key.expiresAt).getTime() - Date.now()) / DAY_MS);
  let warning: string | null = null;
  let recommendation: string | null = null;
  if (days < 30) {
    warning = `La API Key expira en ${days} días`;
    recommendation = 'Considerar regenerar la API Key pronto';
  }
  if (key.useCount === 0) {
    warning = 'Esta API Key nunca ha sido usada';
    recommendation = 'Verificar que el cliente la esté usando correctamente';
  }
  return {
    router_id: routerId,
    has_active_key: true,
    key_id: key.keyId,
    issued_at: naiveIso(key.issuedAt),
    expires_at: naiveIso(key.expiresAt),
    expires_in_days: days,
    last_used: naiveIso(key.lastUsed),
    use_count: key.useCount,
    status: 'active',
    warning,
    recommendation,
  };
}

/** Delete a router with its key history, in one transaction; refused while sales data references it. */
export async function deleteRouter(ctx: AppContext, actor: AuditActor, empresaId: string, routerId: string) {
  const topics = [KEY_TOPICS.keys, KEY_TOPICS.router(routerId)];
  try {
    await ctx.db.transaction(async (tx) => {
      const router = await lockRouter(tx, empresaId, routerId);
      const [p] = await tx.select({ n: count() }).from(productos).where(eq(productos.routerId, routerId));
      const [t] = await tx.select({ n: count() }).from(transacciones).where(eq(transacciones.routerId, routerId));
      if (Number(p.n) > 0) {
        throw badRequest(`No se puede eliminar el router porque tiene ${Number(p.n)} producto(s) asociado(s)`, 'router_has_products');
      }
      if (Number(t.n) > 0) {
        throw badRequest(`No se puede eliminar el router porque tiene ${Number(t.n)} transacción(es) asociada(s)`, 'router_has_transactions');
      }
      const keys = await tx.delete(apiKeysTracking).where(eq(apiKeysTracking.routerId, routerId)).returning({ keyId: apiKeysTracking.keyId });
      await tx.delete(routers).where(eq(routers.id, routerId));
      await ctx.audit.record(
        actor,
        { accion: 'router.eliminar', empresaId, recurso: 'router', recursoId: routerId, detalles: { nombre: router.nombre, host: router.host, llaves_eliminadas: keys.length } },
        tx,
      );
      await announce(ctx, topics, tx);
    });
  } catch (err) {
    // Another module's rows (added after this check was written) may still reference the router.
    if (isForeignKeyViolation(err)) {
      throw badRequest('No se puede eliminar el router porque tiene registros asociados', 'router_in_use');
    }
    throw err;
  }
  await announce(ctx, topics);
  return { message: 'Router eliminado exitosamente', router_id: routerId, empresa_id: empresaId };
}
