/**
 * Logo upload (`POST /api/v1/admin/mi-empresa/logo`, multipart field `file`) and the legacy public URL
 * `/static/logos/<file>`. Multipart parsing is registered in this plugin only.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import multipart from '@fastify/multipart';
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { ApiError, ValidationFailed, badRequest } from '../../infra/errors.js';
import { SESSION_SECURITY, auditActor, currentUser } from '../auth/guards.js';
import { etagMatches } from '../catalog/cache.js';
import { loadEmpresa } from './settings.js';
import { LOGO_NAME, MAX_LOGO_BYTES, findLogo, replaceLogo, sniffImage } from './logo-store.js';

const ErrorBody = Type.Object({ detail: Type.Any(), code: Type.String() });
const tooLarge = () => new ApiError(413, 'El logo supera el tamaño máximo permitido (2 MB)', 'logo_too_large');
const missingFile = () => new ValidationFailed([{ type: 'missing', loc: ['body', 'file'], msg: 'Field required' }]);
// File names are unique per upload, so a served logo never changes.
const IMMUTABLE = 'public, max-age=31536000, immutable';

export default async function logoRoutes(app: App) {
  const ctx = app.ctx;
  await app.register(multipart, { limits: { fileSize: MAX_LOGO_BYTES, files: 1, fields: 10, parts: 12, fieldSize: 1024 } });

  app.post(
    '/api/v1/admin/mi-empresa/logo',
    {
      preHandler: app.guards.clienteAdmin,
      // Room for the multipart envelope around a 2 MB file; larger bodies are cut off by the file limit.
      bodyLimit: MAX_LOGO_BYTES + 64 * 1024,
      schema: {
        tags: ['mi-empresa'],
        summary: 'Subir el logo de mi empresa (PNG, JPEG o WebP, máximo 2 MB; reemplaza al anterior)',
        consumes: ['multipart/form-data'],
        security: SESSION_SECURITY,
        response: { 200: Type.Object({ message: Type.String(), logo_url: Type.String() }), 400: ErrorBody, 404: ErrorBody, 413: ErrorBody, 422: ErrorBody },
      },
    },
    async (request) => {
      const empresa = await loadEmpresa(ctx, currentUser(request).empresaId);
      if (!request.isMultipart()) throw missingFile();
      let content: Buffer | null = null;
      try {
        for await (const part of request.parts()) {
          if (part.type !== 'file') continue;
          if (part.fieldname !== 'file' || content) {
            part.file.resume();
            continue;
          }
          content = await part.toBuffer();
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'FST_REQ_FILE_TOO_LARGE' || code === 'FST_ERR_CTP_BODY_TOO_LARGE') throw tooLarge();
        if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') throw badRequest('Envía un solo archivo en el campo "file"', 'logo_multipart_invalid');
        // Anything else here is the multipart parser refusing the body (truncated, bad boundary...).
        throw badRequest('El cuerpo multipart/form-data es inválido', 'logo_multipart_invalid');
      }
      if (!content) throw missingFile();
      const type = sniffImage(content);
      if (!type) throw badRequest('Formato de imagen no permitido', 'logo_format_invalid');
      const logoUrl = await replaceLogo(ctx, auditActor(request), empresa.id, content, type);
      return { message: 'Logo actualizado correctamente', logo_url: logoUrl };
    },
  );

  app.get(
    '/static/logos/:archivo',
    { schema: { hide: true, params: Type.Object({ archivo: Type.String({ maxLength: 200 }) }) } },
    async (request, reply) => {
      const { archivo } = request.params;
      const notFound = () => reply.code(404).send({ detail: 'Not Found', code: 'not_found' });
      if (!LOGO_NAME.test(archivo) || archivo.startsWith('.')) return notFound();
      const logo = (await findLogo(ctx, archivo)) ?? (await legacyFile(archivo));
      if (!logo) return notFound();
      const etag = `"${logo.sha256}"`;
      reply.header('etag', etag).header('cache-control', IMMUTABLE).header('x-content-type-options', 'nosniff');
      if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
      return reply.type(logo.contentType).send(logo.contenido);
    },
  );
}

/** A logo the legacy service wrote to `static/logos/` (kept readable after the switch; images only). */
async function legacyFile(archivo: string) {
  try {
    const content = await readFile(resolve(process.cwd(), 'static', 'logos', archivo));
    const type = sniffImage(content);
    if (!type || content.length > 10 * MAX_LOGO_BYTES) return null;
    return { contentType: type.contentType, contenido: content, sha256: createHash('sha256').update(content).digest('hex') };
  } catch {
    return null;
  }
}
