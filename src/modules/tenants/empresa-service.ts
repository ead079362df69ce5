/** Companies as the super admin manages them (legacy-admin.md §3.2, plus edit and activation). */
import { randomBytes } from 'node:crypto';
import { and, asc, count, eq, gt, isNotNull, sql } from 'drizzle-orm';
import type { AppContext } from '../../context.js';
import { apiKeysTracking, empresas, routers, usuarios } from '../../infra/db/schema.js';
import { isUniqueViolation, notFound } from '../../infra/errors.js';
import { mask } from '../../infra/crypto/secrets.js';
import { dateToDb, dateToNaiveIso, naiveIso } from '../../infra/time.js';
import { KEY_TOPICS } from '../auth/router-keys.js';
import type { AuditActor } from './audit.js';
import { announce } from './announce.js';

type EmpresaRow = typeof empresas.$inferSelect;

/** Values of the legacy service when neither the request nor CONEKTA_DEFAULT_* give keys. */
export const LEGACY_CONEKTA_PRIVATE = 'key_test_default';
export const LEGACY_CONEKTA_PUBLIC = 'key_test_default_pub';

export const EMPRESA_NOT_FOUND = 'Empresa no encontrada';

const nonBlank = (s: string | null | undefined): string | null => (s && s.trim() !== '' ? s.trim() : null);
const newEmpresaId = () => 'EMP_' + randomBytes(5).toString('hex').toUpperCase();

export function empresaResponse(e: EmpresaRow) {
  return {
    id: e.id,
    nombre: e.nombre,
    contacto_email: e.contactoEmail,
    contacto_telefono: e.contactoTelefono,
    conekta_mode: e.conektaMode,
    activa: e.activa !== false,
    creada_en: naiveIso(e.creadaEn),
  };
}

export function empresaDetail(e: EmpresaRow) {
  return {
    ...empresaResponse(e),
    logo_url: e.logoUrl,
    conekta_public_key: e.conektaPublicKey,
    conekta_private_key: mask(nonBlank(e.conektaPrivateKey)),
    mercado_pago_mode: e.mercadoPagoMode,
    mercado_pago_public_key: e.mercadoPagoPublicKey,
    mercado_pago_access_token: mask(nonBlank(e.mercadoPagoAccessToken)),
    mercado_pago_webhook_secret: mask(nonBlank(e.mercadoPagoWebhookSecret)),
    telegram_chat_id: e.telegramChatId,
    telegram_bot_token: mask(nonBlank(e.telegramBotToken)),
    notificaciones_telegram: e.notificacionesTelegram === true,
  };
}

export interface EmpresaCreateInput {
  nombre: string;
  contacto_email: string;
  contacto_telefono?: string | null;
  conekta_private_key?: string | null;
  conekta_public_key?: string | null;
  conekta_mode?: string | null;
}

export async function createEmpresa(ctx: AppContext, actor: AuditActor, input: EmpresaCreateInput) {
  const ownPrivate = nonBlank(input.conekta_private_key);
  const ownPublic = nonBlank(input.conekta_public_key);
  const privateKey = ownPrivate ?? nonBlank(ctx.config.conektaDefaultPrivateKey) ?? LEGACY_CONEKTA_PRIVATE;
  const publicKey = ownPublic ?? nonBlank(ctx.config.conektaDefaultPublicKey) ?? LEGACY_CONEKTA_PUBLIC;
  for (let attempt = 0; ; attempt++) {
    const id = newEmpresaId();
    try {
      return await ctx.db.transaction(async (tx) => {
        const [row] = await tx
          .insert(empresas)
          .values({
            id,
            nombre: input.nombre,
            contactoEmail: input.contacto_email,
            contactoTelefono: input.contacto_telefono ?? null,
            conektaPrivateKey: ctx.secrets.general.encrypt(privateKey)!,
            conektaPublicKey: publicKey,
            conektaMode: nonBlank(input.conekta_mode) ?? 'test',
            activa: true,
            notificacionesTelegram: false,
            creadaEn: dateToDb(new Date()),
          })
          .returning();
        await ctx.audit.record(
          actor,
          {
            accion: 'empresa.crear',
            empresaId: id,
            recurso: 'empresa',
            recursoId: id,
            detalles: { nombre: input.nombre, conekta_propia: ownPrivate !== null || ownPublic !== null, conekta_mode: row.conektaMode },
          },
          tx,
        );
        return empresaResponse(row);
      });
    } catch (err) {
      // A 40-bit id colliding is rare but possible: draw another one.
      if (attempt < 3 && isUniqueViolation(err)) continue;
      throw err;
    }
  }
}

export async function listEmpresas(ctx: AppContext, limit: number, offset: number) {
  const [rows, [{ total }]] = await Promise.all([
    ctx.db.orm.select().from(empresas).orderBy(asc(empresas.creadaEn), asc(empresas.id)).limit(limit).offset(offset),
    ctx.db.orm.select({ total: count() }).from(empresas),
  ]);
  return { items: rows.map(empresaResponse), total: Number(total) };
}

export async function findEmpresa(ctx: AppContext, id: string): Promise<EmpresaRow> {
  const [row] = await ctx.db.orm.select().from(empresas).where(eq(empresas.id, id)).limit(1);
  if (!row) throw notFound(EMPRESA_NOT_FOUND, 'empresa_not_found');
  return row;
}

export interface EmpresaUpdateInput {
  nombre?: string;
  contacto_email?: string | null;
  contacto_telefono?: string | null;
  conekta_private_key?: string;
  conekta_public_key?: string;
  conekta_mode?: string;
  activa?: boolean;
}

/** Apply the fields present in the body; deactivation stops the company's keys and admins at once. */
export async function updateEmpresa(ctx: AppContext, actor: AuditActor, id: string, input: EmpresaUpdateInput) {
  const changes: Partial<typeof empresas.$inferInsert> = {};
  if (input.nombre !== undefined) changes.nombre = input.nombre;
  if (input.contacto_email !== undefined) changes.contactoEmail = input.contacto_email;
  if (input.contacto_telefono !== undefined) changes.contactoTelefono = input.contacto_telefono;
  if (input.conekta_private_key !== undefined) changes.conektaPrivateKey = ctx.secrets.general.encrypt(input.conekta_private_key) ?? undefined;
  if (input.conekta_public_key !== undefined) changes.conektaPublicKey = input.conekta_public_key.trim() || undefined;
  if (input.conekta_mode !== undefined) changes.conektaMode = input.conekta_mode;
  if (input.activa !== undefined) changes.activa = input.activa;
  const fields = Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined);

  const topic = KEY_TOPICS.empresa(id);
  const row = await ctx.db.transaction(async (tx) => {
    const [current] = await tx.select().from(empresas).where(eq(empresas.id, id)).for('update');
    if (!current) throw notFound(EMPRESA_NOT_FOUND, 'empresa_not_found');
    const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
    if (Object.keys(defined).length === 0) return current;
    const [updated] = await tx.update(empresas).set(defined).where(eq(empresas.id, id)).returning();
    const detalles: Record<string, unknown> = { campos: fields };
    if (input.activa !== undefined && (current.activa !== false) !== input.activa) detalles.activa = input.activa;
    const accion = detalles.activa === false ? 'empresa.desactivar' : detalles.activa === true ? 'empresa.activar' : 'empresa.actualizar';
    await ctx.audit.record(actor, { accion, empresaId: id, recurso: 'empresa', recursoId: id, detalles }, tx);
    await announce(ctx, [topic], tx);
    return updated;
  });
  await announce(ctx, [topic]);
  return { message: 'Empresa actualizada correctamente', empresa: empresaDetail(row) };
}

export async function dashboard(ctx: AppContext) {
  const [[e], [u]] = await Promise.all([
    ctx.db.orm
      .select({ total: count(), activas: sql<number>`count(*) FILTER (WHERE ${empresas.activa} = true)` })
      .from(empresas),
    ctx.db.orm.select({ total: count() }).from(usuarios),
  ]);
  return {
    estadisticas: { total_empresas: Number(e.total), empresas_activas: Number(e.activas), total_usuarios: Number(u.total) },
    timestamp: dateToNaiveIso(new Date()),
  };
}

export async function empresaStats(ctx: AppContext, id: string) {
  const e = await findEmpresa(ctx, id);
  const now = dateToDb(new Date());
  const [[r], [u], [k]] = await Promise.all([
    ctx.db.orm
      .select({ total: count(), activos: sql<number>`count(*) FILTER (WHERE ${routers.activo} IS NOT FALSE)` })
      .from(routers)
      .where(eq(routers.empresaId, id)),
    ctx.db.orm
      .select({ total: count() })
      .from(usuarios)
      .where(and(eq(usuarios.empresaId, id), eq(usuarios.rol, 'cliente_admin'))),
    ctx.db.orm
      .select({ total: count() })
      .from(apiKeysTracking)
      .where(and(eq(apiKeysTracking.empresaId, id), sql`${apiKeysTracking.revoked} IS NOT TRUE`, isNotNull(apiKeysTracking.expiresAt), gt(apiKeysTracking.expiresAt, now))),
  ]);
  const total = Number(r.total);
  const activos = Number(r.activos);
  return {
    empresa: { id: e.id, nombre: e.nombre, activa: e.activa !== false, creada_en: naiveIso(e.creadaEn), contacto_email: e.contactoEmail },
    estadisticas: {
      total_routers: total,
      routers_activos: activos,
      routers_inactivos: total - activos,
      total_usuarios_admin: Number(u.total),
      api_keys_activas: Number(k.total),
    },
  };
}
