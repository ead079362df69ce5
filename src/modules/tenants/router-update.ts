/**
 * Editing a router's settings (name, address, RouterOS credentials, TLS): one rule for the company admin
 * (`PUT /api/v1/admin/mi-empresa/routers/{id}`) and the super admin (`PUT /admin/empresas/{e}/routers/{id}`).
 * Only the fields sent change; the password mask means "unchanged"; a connection change is audited with
 * the addresses (never the secrets) and announced so every instance drops its pools and caches.
 */
import { and, eq } from 'drizzle-orm';
import { Type, type Static } from 'typebox';
import type { AppContext } from '../../context.js';
import { routers } from '../../infra/db/schema.js';
import { ValidationFailed, notFound } from '../../infra/errors.js';
import { MASK } from '../../infra/crypto/secrets.js';
import { Nullable } from '../company/schemas.js';
import { isHotspotDnsName, isValidHost } from '../company/validation.js';
import type { AuditActor } from './audit.js';
import { assertRouterSettings, tlsSummary, TLS_CA_MAX } from './router-settings.js';

export const RouterUpdateBody = Type.Object({
          nombre: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          host: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
          puerto: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          usuario: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
          // The legacy name; it carries the clear RouterOS password, which we encrypt.
          password_encrypted: Type.Optional(Type.String({ maxLength: 200 })),
          ubicacion: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
          // API-SSL: null = legacy rule (TLS only on port 8729); a CA (PEM) or the certificate's SHA-256 pin.
          tls: Type.Optional(Nullable(Type.Boolean())),
          tls_ca: Type.Optional(Nullable(Type.String({ maxLength: TLS_CA_MAX }))),
          tls_fingerprint: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
          // The hotspot's login address for the batch QR codes (e.g. wifi.cafe.example); null or '': read
          // the router's hotspot profile `dns-name` instead.
          dns_name: Type.Optional(Nullable(Type.String({ maxLength: 253 }))),
        });
export type RouterUpdate = Static<typeof RouterUpdateBody>;

export const RouterUpdated = Type.Object({
  id: Type.String(),
  nombre: Type.String(),
  host: Type.String(),
  puerto: Nullable(Type.Integer()),
  usuario: Type.String(),
  ubicacion: Nullable(Type.String()),
  activo: Type.Boolean(),
  // TLS settings are shown as "set or not", never echoed back in full.
  tls: Type.Boolean(),
  tls_ca_configurada: Type.Boolean(),
  tls_fingerprint: Nullable(Type.String()),
  dns_name: Nullable(Type.String()),
});

export async function updateRouterSettings(ctx: AppContext, actor: AuditActor, empresaId: string, routerId: string, b: RouterUpdate) {
  const problems = [];
  const host = b.host?.trim();
  if (host !== undefined && !isValidHost(host)) problems.push({ type: 'value_error', loc: ['body', 'host'], msg: 'Host inválido: use un nombre de host o una dirección IP, sin puerto ni esquema' });
  const nombre = b.nombre?.trim();
  if (nombre !== undefined && nombre === '') problems.push({ type: 'string_too_short', loc: ['body', 'nombre'], msg: 'String should have at least 1 character' });
  const usuario = b.usuario?.trim();
  if (usuario !== undefined && usuario === '') problems.push({ type: 'string_too_short', loc: ['body', 'usuario'], msg: 'String should have at least 1 character' });
  const dnsName = b.dns_name === undefined ? undefined : b.dns_name?.trim().toLowerCase() || null;
  if (dnsName && !isHotspotDnsName(dnsName)) problems.push({ type: 'value_error', loc: ['body', 'dns_name'], msg: 'dns_name inválido: un nombre de host (p. ej. wifi.mi-negocio.com) o una IPv4, sin esquema, puerto ni ruta' });
  if (problems.length > 0) throw new ValidationFailed(problems);
  const newPassword = b.password_encrypted !== undefined && b.password_encrypted !== MASK ? b.password_encrypted : undefined;
  if (host !== undefined || b.puerto !== undefined) {
    // The address is checked with the port it will have (either may be the unchanged one).
    const [cur] = await ctx.db.orm.select({ host: routers.host, puerto: routers.puerto }).from(routers).where(and(eq(routers.id, routerId), eq(routers.empresaId, empresaId))).limit(1);
    if (cur) await assertRouterSettings(ctx, { host: host ?? cur.host, puerto: b.puerto ?? cur.puerto ?? 8728 });
  }
  await assertRouterSettings(ctx, { usuario, password: newPassword, tls_ca: b.tls_ca, tls_fingerprint: b.tls_fingerprint }, { password: 'password_encrypted' });

  const set: Partial<typeof routers.$inferInsert> = {};
  if (nombre !== undefined) set.nombre = nombre;
  if (host !== undefined) set.host = host;
  if (b.puerto !== undefined) set.puerto = b.puerto; // absent: unchanged (the legacy reset it to 8728)
  if (usuario !== undefined) set.usuario = usuario;
  // The mask means "unchanged"; an empty password (RouterOS factory default) is stored as empty.
  if (b.password_encrypted !== undefined && b.password_encrypted !== MASK) set.passwordEncrypted = ctx.secrets.general.encrypt(b.password_encrypted) ?? '';
  if (b.ubicacion !== undefined) set.ubicacion = b.ubicacion;
  if (b.tls !== undefined) set.tls = b.tls;
  if (b.tls_ca !== undefined) set.tlsCa = b.tls_ca?.trim() || null;
  if (b.tls_fingerprint !== undefined) set.tlsFingerprint = b.tls_fingerprint?.trim() || null;
  if (dnsName !== undefined) set.dnsName = dnsName;

  const updated = await ctx.db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(routers)
      .where(and(eq(routers.id, routerId), eq(routers.empresaId, empresaId)))
      .for('update')
      .limit(1);
    if (!current) throw notFound('Router no encontrado o no pertenece a tu empresa', 'router_not_found');
    if (Object.keys(set).length === 0) return current;
    const [row] = await tx.update(routers).set(set).where(eq(routers.id, current.id)).returning();
    const detalles: Record<string, unknown> = { campos: Object.keys(set).map((k) => (k === 'passwordEncrypted' ? 'password' : k)) };
    // A TLS change is a connection change too (field names only in the audit, never the values).
    const connectionChanged = row.host !== current.host || row.puerto !== current.puerto || row.tls !== current.tls || row.tlsCa !== current.tlsCa || row.tlsFingerprint !== current.tlsFingerprint;
    if (connectionChanged) Object.assign(detalles, { host_anterior: current.host, host_nuevo: row.host, puerto_anterior: current.puerto, puerto_nuevo: row.puerto });
    await ctx.audit.record(
      actor,
      { accion: connectionChanged ? 'router.conexion_actualizada' : 'router.actualizar', empresaId: empresaId, recurso: 'router', recursoId: row.id, detalles },
      tx,
    );
    await ctx.bus.publish(`router:${row.id}`, tx);
    return row;
  });
  return {
    message: 'Router actualizado correctamente',
    router: {
      id: updated.id,
      nombre: updated.nombre,
      host: updated.host,
      puerto: updated.puerto,
      usuario: updated.usuario,
      ubicacion: updated.ubicacion,
      activo: updated.activo !== false,
      ...tlsSummary(updated),
      dns_name: updated.dnsName ?? null,
    },
  };
}
