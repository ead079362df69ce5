/**
 * Issuing a captive-portal kit. Router keys are stored only as hashes, so an existing key cannot be put
 * into a kit: every kit carries a key minted for it, and the router's previous keys are revoked in the
 * same transaction (exactly like regenerate-api-key), so at most one portal key per router is live.
 * The kit's README says so; the audit log records who did it.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { AppContext } from '../../context.js';
import { apiKeysTracking, empresas, routers } from '../../infra/db/schema.js';
import { ApiError, badRequest, notFound } from '../../infra/errors.js';
import { dateToDb } from '../../infra/time.js';
import { KEY_TOPICS } from '../auth/router-keys.js';
import type { SessionUser } from '../auth/service.js';
import { announce } from '../tenants/announce.js';
import type { AuditActor } from '../tenants/audit.js';
import { buildKitZip, buildPortalFiles, type PortalGateway } from './kit.js';

export const PORTAL_ROUTER_NOT_FOUND = 'Router no encontrado o no pertenece a tu empresa';

export interface PortalKit {
  zip: Uint8Array;
  filename: string;
  keyId: string;
  revoked: string[];
}

export async function issuePortalKit(
  ctx: AppContext,
  actor: AuditActor,
  user: SessionUser,
  routerId: string,
  opts: { gateway: PortalGateway; apiBase: string },
): Promise<PortalKit> {
  const topics = [KEY_TOPICS.keys, KEY_TOPICS.router(routerId)];
  const issued = await ctx.db.transaction(async (tx) => {
    // A company admin sees only their company's routers (another company's router is "not found").
    const scope = user.rol === 'super_admin' ? eq(routers.id, routerId) : and(eq(routers.id, routerId), eq(routers.empresaId, user.empresaId ?? ''));
    const [router] = await tx.select().from(routers).where(scope).for('update');
    if (!router) throw notFound(PORTAL_ROUTER_NOT_FOUND, 'router_not_found');
    if (router.activo === false) throw badRequest('El router está inactivo. Actívalo primero desde el panel.', 'router_inactive');
    const [empresa] = await tx.select({ nombre: empresas.nombre, activa: empresas.activa }).from(empresas).where(eq(empresas.id, router.empresaId));
    if (!empresa || empresa.activa === false) throw new ApiError(400, 'La empresa del router está inactiva', 'empresa_inactive');

    const now = new Date();
    const revoked = await tx
      .update(apiKeysTracking)
      .set({ revoked: true, revokedAt: dateToDb(now) })
      .where(and(eq(apiKeysTracking.routerId, routerId), sql`${apiKeysTracking.revoked} IS NOT TRUE`))
      .returning({ keyId: apiKeysTracking.keyId });
    const key = await ctx.routerKeys.mint(routerId, router.empresaId, now);
    await ctx.routerKeys.track(tx, key, routerId, router.empresaId);
    await tx.update(routers).set({ apiKeyHash: key.keyHash }).where(eq(routers.id, routerId));
    await ctx.audit.record(
      actor,
      {
        accion: 'router.portal_kit',
        empresaId: router.empresaId,
        recurso: 'router',
        recursoId: routerId,
        detalles: { key_id: key.keyId, revocadas: revoked.map((r) => r.keyId), pasarela: opts.gateway },
      },
      tx,
    );
    // The zip is built before this transaction commits: if building fails, no key was revoked.
    const files = buildPortalFiles({
      apiBase: opts.apiBase,
      apiKey: key.apiKey,
      keyId: key.keyId,
      routerId,
      routerNombre: router.nombre,
      empresaNombre: empresa.nombre,
      gateway: opts.gateway,
      conektaJsUrl: ctx.config.portalConektaJsUrl,
      mercadoPagoJsUrl: ctx.config.portalMercadoPagoJsUrl,
      generatedAt: now,
    });
    const zip = buildKitZip(files, now);
    await announce(ctx, topics, tx);
    return { key, revoked: revoked.map((r) => r.keyId), zip };
  });
  await announce(ctx, topics);

  return {
    zip: issued.zip,
    filename: `portal-${routerId}.zip`,
    keyId: issued.key.keyId,
    revoked: issued.revoked,
  };
}
