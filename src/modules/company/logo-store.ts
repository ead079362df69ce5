/**
 * Company logos, stored in the database (table `empresa_logos`, migration 0004) so that every instance
 * serves them; the legacy wrote them to a local folder. Image type comes from the content (magic bytes),
 * never from the client's file name or content type.
 */
import { randomBytes, createHash } from 'node:crypto';
import { customType, pgTable, timestamp, varchar } from 'drizzle-orm/pg-core';
import { eq, sql } from 'drizzle-orm';
import type { AppContext } from '../../context.js';
import { empresas } from '../../infra/db/schema.js';
import type { AuditActor } from '../tenants/audit.js';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)),
});

export const empresaLogos = pgTable('empresa_logos', {
  archivo: varchar('archivo', { length: 100 }).primaryKey(),
  empresaId: varchar('empresa_id', { length: 50 }).notNull(),
  contentType: varchar('content_type', { length: 50 }).notNull(),
  contenido: bytea('contenido').notNull(),
  sha256: varchar('sha256', { length: 64 }).notNull(),
  creadoEn: timestamp('creado_en', { mode: 'string' }).notNull().default(sql`(now() AT TIME ZONE 'utc')`),
});

export const MAX_LOGO_BYTES = 2 * 1024 * 1024;
export const LOGO_URL_PREFIX = '/static/logos/';

export interface ImageType {
  ext: '.png' | '.jpg' | '.webp';
  contentType: 'image/png' | 'image/jpeg' | 'image/webp';
}

/** PNG (signature + IHDR), JPEG (SOI marker) or WebP (RIFF....WEBPVP8); anything else is null. */
export function sniffImage(b: Buffer): ImageType | null {
  if (b.length >= 16 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) && b.toString('latin1', 12, 16) === 'IHDR') {
    return { ext: '.png', contentType: 'image/png' };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { ext: '.jpg', contentType: 'image/jpeg' };
  if (b.length >= 16 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP' && b.toString('latin1', 12, 15) === 'VP8') {
    return { ext: '.webp', contentType: 'image/webp' };
  }
  return null;
}

export const LOGO_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** Store the new logo, delete the company's previous ones, point `logo_url` at it; one transaction. */
export async function replaceLogo(ctx: AppContext, actor: AuditActor, empresaId: string, content: Buffer, type: ImageType): Promise<string> {
  const archivo = `logo_${empresaId.replace(/[^A-Za-z0-9_-]/g, '')}_${randomBytes(6).toString('hex')}${type.ext}`;
  const sha256 = createHash('sha256').update(content).digest('hex');
  const logoUrl = LOGO_URL_PREFIX + archivo;
  await ctx.db.transaction(async (tx) => {
    const removed = await tx.delete(empresaLogos).where(eq(empresaLogos.empresaId, empresaId)).returning({ archivo: empresaLogos.archivo });
    await tx.insert(empresaLogos).values({ archivo, empresaId, contentType: type.contentType, contenido: content, sha256 });
    await tx.update(empresas).set({ logoUrl }).where(eq(empresas.id, empresaId));
    await ctx.audit.record(
      actor,
      { accion: 'empresa.logo_actualizar', empresaId, recurso: 'empresa', recursoId: empresaId, detalles: { archivo, bytes: content.length, tipo: type.contentType, reemplazados: removed.map((r) => r.archivo) } },
      tx,
    );
    await ctx.bus.publish(`empresa:${empresaId}`, tx);
  });
  return logoUrl;
}

export async function findLogo(ctx: AppContext, archivo: string) {
  const [row] = await ctx.db.orm
    .select({ contentType: empresaLogos.contentType, contenido: empresaLogos.contenido, sha256: empresaLogos.sha256 })
    .from(empresaLogos)
    .where(eq(empresaLogos.archivo, archivo))
    .limit(1);
  return row ?? null;
}
