/**
 * Company self-service for the company admin (legacy §3.5): my company, its dashboard, its routers and
 * its transactions. Everything is scoped by the session user's company: another company's router is a 404.
 */
import { Readable } from 'node:stream';
import { asc, count, desc, eq, sql } from 'drizzle-orm';
import { Type } from 'typebox';
import { ErrorBody, Nullable } from './schemas.js';
import type { App } from '../../infra/http/types.js';
import { routers, transacciones } from '../../infra/db/schema.js';
import { ApiError, ValidationFailed, badRequest } from '../../infra/errors.js';
import { naiveIso } from '../../infra/time.js';
import { MASK } from '../../infra/crypto/secrets.js';
import { SESSION_SECURITY, auditActor, currentUser } from '../auth/guards.js';
import { TelegramError, escapeHtml } from '../notifications/telegram.js';
import { type EmpresaRow, interpret, loadEmpresa, masked, updateSettings } from './settings.js';
import { rejectNulls } from './validation.js';
import { RouterUpdateBody, RouterUpdated, updateRouterSettings } from '../tenants/router-update.js';
import { OptionalPaging, pageOf, sendTotal } from '../tenants/paging.js';
import { DATE_PATTERN, checkFilters, listTransactions, netAmountSql, paidPredicate, transactionsCsv, transactionsHaveEstado, type TransactionFilters } from './transactions.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Legacy `EmpresaInfoResponse`, with the Telegram token masked and NULLs that used to crash it defaulted. */
export function empresaInfo(e: EmpresaRow) {
  return {
    id: e.id,
    nombre: e.nombre,
    contacto_email: e.contactoEmail,
    contacto_telefono: e.contactoTelefono,
    logo_url: e.logoUrl,
    conekta_mode: e.conektaMode ?? 'test',
    conekta_public_key: e.conektaPublicKey,
    mercado_pago_mode: e.mercadoPagoMode,
    mercado_pago_public_key: e.mercadoPagoPublicKey,
    activa: e.activa !== false,
    creada_en: naiveIso(e.creadaEn),
    telegram_bot_token: masked(e.telegramBotToken),
    telegram_chat_id: e.telegramChatId,
    notificaciones_telegram: e.notificacionesTelegram === true,
    zona_horaria: e.zonaHoraria,
    aviso_privacidad: e.avisoPrivacidad ?? null,
  };
}

const EmpresaInfo = Type.Object({
  id: Type.String(),
  nombre: Type.String(),
  contacto_email: Nullable(Type.String()),
  contacto_telefono: Nullable(Type.String()),
  logo_url: Nullable(Type.String()),
  conekta_mode: Type.String(),
  conekta_public_key: Nullable(Type.String()),
  mercado_pago_mode: Nullable(Type.String()),
  mercado_pago_public_key: Nullable(Type.String()),
  activa: Type.Boolean(),
  creada_en: Nullable(Type.String()),
  telegram_bot_token: Nullable(Type.String()),
  telegram_chat_id: Nullable(Type.String()),
  notificaciones_telegram: Type.Boolean(),
  zona_horaria: Type.String(),
  aviso_privacidad: Nullable(Type.String()),
});

const RouterListItem = Type.Object({
  id: Type.String(),
  nombre: Type.String(),
  host: Type.String(),
  ubicacion: Nullable(Type.String()),
  activo: Type.Boolean(),
  creado_en: Nullable(Type.String()),
  /** The hotspot's login address for the batch QR codes; null: read from the router's hotspot profile. */
  dns_name: Nullable(Type.String()),
});


const Filters = {
  desde: Type.Optional(Type.String({ pattern: DATE_PATTERN, maxLength: 32 })),
  hasta: Type.Optional(Type.String({ pattern: DATE_PATTERN, maxLength: 32 })),
  estado: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
  router_id: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  producto_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647 })),
  pasarela: Type.Optional(Type.Union([Type.Literal('conekta'), Type.Literal('mercado_pago')])),
  q: Type.Optional(Type.String({ maxLength: 100 })),
};

const TransactionList = Type.Object({
  empresa_id: Type.String(),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
  transacciones: Type.Array(
    Type.Object({
      id: Type.Integer(),
      transaccion_id: Nullable(Type.String()),
      monto: Nullable(Type.Number()),
      estado_pago: Nullable(Type.String()),
      cliente_nombre: Nullable(Type.String()),
      creada_en: Nullable(Type.String()),
      external_reference: Nullable(Type.String()),
      moneda: Nullable(Type.String()),
      estado_hotspot: Nullable(Type.String()),
      estado: Type.Optional(Nullable(Type.String())),
      router_id: Type.String(),
      producto_id: Nullable(Type.Integer()),
      cliente_email: Nullable(Type.String()),
      usuario_hotspot: Nullable(Type.String()),
      pagada_en: Nullable(Type.String()),
    }),
  ),
});

function filtersOf(q: TransactionFilters): TransactionFilters {
  return { desde: q.desde, hasta: q.hasta, estado: q.estado, router_id: q.router_id, producto_id: q.producto_id, pasarela: q.pasarela, q: q.q };
}

/** An IANA zone name the runtime knows (Intl's own list, plus UTC, which it accepts but does not list). */
function isTimeZone(zone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(zone)) return false;
  if (zone === 'UTC') return true;
  // Intl.supportedValuesOf lists ICU's canonical names only (Asia/Calcutta, not the IANA Asia/Kolkata):
  // a name counts when the formatter accepts it (aliases included) and it is an Area/Location name.
  if (!zone.includes('/')) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The sales queries convert with `AT TIME ZONE`: a zone the database does not know would break them. */
async function databaseKnowsZone(ctx: App['ctx'], zone: string): Promise<boolean> {
  const [row] = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_timezone_names WHERE name = $1`, [zone]);
  return Number(row?.n) > 0;
}

export default async function companyRoutes(app: App) {
  const ctx = app.ctx;
  const admin = { preHandler: app.guards.clienteAdmin };
  const tags = ['mi-empresa'];

  app.get(
    '/api/v1/admin/mi-empresa',
    { ...admin, schema: { tags, summary: 'Mi empresa', security: SESSION_SECURITY, response: { 200: EmpresaInfo, 404: ErrorBody } } },
    async (request) => empresaInfo(await loadEmpresa(ctx, currentUser(request).empresaId)),
  );

  app.put(
    '/api/v1/admin/mi-empresa',
    {
      ...admin,
      preValidation: rejectNulls(['nombre', 'contacto_email', 'notificaciones_telegram']),
      schema: {
        tags,
        summary: 'Actualizar mi empresa (solo los campos enviados; "" borra los opcionales)',
        security: SESSION_SECURITY,
        body: Type.Object({
          nombre: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          contacto_email: Type.Optional(Type.String({ maxLength: 100 })),
          contacto_telefono: Type.Optional(Nullable(Type.String({ maxLength: 20 }))),
          telegram_bot_token: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
          telegram_chat_id: Type.Optional(Nullable(Type.String({ maxLength: 50 }))),
          notificaciones_telegram: Type.Optional(Type.Boolean()),
          /** IANA time zone for screens and tickets (e.g. America/Mexico_City). */
          zona_horaria: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          /** Privacy notice linked on the checkout page before paying ("" or null: the default text). */
          aviso_privacidad: Type.Optional(Nullable(Type.String({ maxLength: 20000 }))),
        }),
        response: {
          200: Type.Object({
            message: Type.String(),
            empresa: Type.Object({
              nombre: Type.String(),
              contacto_email: Nullable(Type.String()),
              contacto_telefono: Nullable(Type.String()),
              telegram_bot_token: Nullable(Type.String()),
              telegram_chat_id: Nullable(Type.String()),
              notificaciones_telegram: Type.Boolean(),
              zona_horaria: Type.String(),
              aviso_privacidad: Nullable(Type.String()),
            }),
          }),
          404: ErrorBody,
          422: ErrorBody,
        },
      },
    },
    async (request) => {
      const b = request.body;
      const problems = [];
      const nombre = b.nombre?.trim();
      if (nombre !== undefined && nombre === '') problems.push({ type: 'string_too_short', loc: ['body', 'nombre'], msg: 'String should have at least 1 character' });
      const email = b.contacto_email?.trim();
      if (email !== undefined && email !== '' && !EMAIL.test(email)) problems.push({ type: 'value_error', loc: ['body', 'contacto_email'], msg: 'Correo electrónico inválido' });
      const zona = b.zona_horaria?.trim();
      if (zona !== undefined && !(isTimeZone(zona) && (await databaseKnowsZone(ctx, zona)))) problems.push({ type: 'value_error', loc: ['body', 'zona_horaria'], msg: 'Zona horaria inválida: se espera un nombre IANA como America/Mexico_City' });
      if (problems.length > 0) throw new ValidationFailed(problems);
      // `telegram_bot_token` sent back as the mask means "unchanged" (the GET shows the mask).
      const { row } = await updateSettings(
        ctx,
        auditActor(request),
        currentUser(request).empresaId,
        {
          nombre,
          contactoEmail: email,
          contactoTelefono: interpret(b.contacto_telefono),
          telegramBotToken: interpret(b.telegram_bot_token, true),
          telegramChatId: interpret(b.telegram_chat_id),
          notificacionesTelegram: b.notificaciones_telegram,
          zonaHoraria: zona,
          avisoPrivacidad: interpret(b.aviso_privacidad),
        },
        'empresa.actualizar',
      );
      const info = empresaInfo(row);
      return {
        message: 'Información de la empresa actualizada correctamente',
        empresa: {
          nombre: info.nombre,
          contacto_email: info.contacto_email,
          contacto_telefono: info.contacto_telefono,
          telegram_bot_token: info.telegram_bot_token,
          telegram_chat_id: info.telegram_chat_id,
          notificaciones_telegram: info.notificaciones_telegram,
          zona_horaria: info.zona_horaria,
          aviso_privacidad: info.aviso_privacidad,
        },
      };
    },
  );

  app.post(
    '/api/v1/admin/test-telegram',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Enviar un mensaje de prueba por Telegram (credenciales enviadas o guardadas)',
        security: SESSION_SECURITY,
        body: Type.Object({
          token: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
          chat_id: Type.Optional(Nullable(Type.String({ maxLength: 50 }))),
        }),
        response: { 200: Type.Object({ message: Type.String() }), 400: ErrorBody, 404: ErrorBody, 502: ErrorBody },
      },
    },
    async (request) => {
      const e = await loadEmpresa(ctx, currentUser(request).empresaId);
      const given = request.body.token?.trim();
      const token = given && given !== MASK ? given : ctx.secrets.general.decrypt(e.telegramBotToken);
      const chatId = request.body.chat_id?.trim() || e.telegramChatId;
      if (!token || !chatId) throw badRequest('Faltan credenciales (Token o Chat ID)', 'telegram_missing_credentials');
      const text = ['⚡ <b>Prueba de Conexión en Vivo</b>', `🏢 Empresa: ${escapeHtml(e.nombre)}`, '✅ ¡Tus credenciales son correctas!'].join('\n');
      try {
        await ctx.telegram.send(token, chatId, text);
      } catch (err) {
        if (!(err instanceof TelegramError)) throw err;
        // An upstream failure, not ours: 502 (the legacy said 500) with the legacy text.
        throw new ApiError(502, 'Error de Telegram. Verifica que el Token sea válido y que hayas iniciado chat con el bot.', 'telegram_error');
      }
      return { message: 'Mensaje de prueba enviado con éxito' };
    },
  );

  app.get(
    '/api/v1/admin/mi-empresa/dashboard',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Resumen de mi empresa (ingresos: solo pagos cobrados)',
        security: SESSION_SECURITY,
        response: {
          200: Type.Object({
            empresa: Type.Object({ nombre: Type.String(), activa: Type.Boolean() }),
            estadisticas: Type.Object({
              total_transacciones: Type.Integer(),
              ingresos_totales: Type.Number(),
              transacciones_pagadas: Type.Integer(),
              transacciones_pendientes: Type.Integer(),
              total_routers: Type.Integer(),
            }),
            transacciones_recientes: Type.Array(
              Type.Object({ id: Type.Integer(), transaccion_id: Nullable(Type.String()), monto: Type.Number(), estado: Nullable(Type.String()), fecha: Nullable(Type.String()) }),
            ),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const e = await loadEmpresa(ctx, currentUser(request).empresaId);
      const withEstado = await transactionsHaveEstado(ctx);
      const paid = paidPredicate(withEstado);
      const [stats] = await ctx.db.query<{ total: number; ingresos: string; pagadas: number; pendientes: number }>(
        `SELECT count(*)::int AS total,
                coalesce(sum(${netAmountSql(withEstado)}) FILTER (WHERE ${paid}), 0)::text AS ingresos,
                (count(*) FILTER (WHERE ${paid}))::int AS pagadas,
                (count(*) FILTER (WHERE t.estado_pago IN ('pending', 'in_process') AND NOT ${paid}))::int AS pendientes
           FROM transacciones t WHERE t.empresa_id = $1`,
        [e.id],
      );
      const [routerCount] = await ctx.db.orm.select({ n: count() }).from(routers).where(eq(routers.empresaId, e.id));
      const recent = await ctx.db.orm
        .select({ id: transacciones.id, transaccionId: transacciones.transaccionId, monto: transacciones.monto, estado: transacciones.estadoPago, fecha: transacciones.creadaEn })
        .from(transacciones)
        .where(eq(transacciones.empresaId, e.id))
        .orderBy(sql`${transacciones.creadaEn} DESC NULLS LAST`, desc(transacciones.id))
        .limit(5);
      return {
        empresa: { nombre: e.nombre, activa: e.activa !== false },
        estadisticas: {
          total_transacciones: Number(stats.total),
          ingresos_totales: Number(stats.ingresos),
          transacciones_pagadas: Number(stats.pagadas),
          transacciones_pendientes: Number(stats.pendientes),
          total_routers: Number(routerCount.n),
        },
        transacciones_recientes: recent.map((r) => ({ id: r.id, transaccion_id: r.transaccionId, monto: Number(r.monto), estado: r.estado, fecha: naiveIso(r.fecha) })),
      };
    },
  );

  app.get(
    '/api/v1/admin/mi-empresa/routers',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Routers de mi empresa (todos; con limit/offset, una página y el total en X-Total-Count)',
        security: SESSION_SECURITY,
        querystring: OptionalPaging,
        response: { 200: Type.Object({ empresa_id: Type.String(), total: Type.Integer(), routers: Type.Array(RouterListItem) }) },
      },
    },
    async (request, reply) => {
      const empresaId = currentUser(request).empresaId!;
      const all = await ctx.db.orm
        .select({ id: routers.id, nombre: routers.nombre, host: routers.host, ubicacion: routers.ubicacion, activo: routers.activo, creadoEn: routers.creadoEn, dnsName: routers.dnsName })
        .from(routers)
        .where(eq(routers.empresaId, empresaId))
        .orderBy(asc(routers.creadoEn), asc(routers.id));
      // Without limit/offset, the legacy answer (every router); `total` is the full count either way.
      const rows = pageOf(all, request.query);
      sendTotal(reply, all.length);
      return {
        empresa_id: empresaId,
        total: all.length,
        routers: rows.map((r) => ({ id: r.id, nombre: r.nombre, host: r.host, ubicacion: r.ubicacion, activo: r.activo !== false, creado_en: naiveIso(r.creadoEn), dns_name: r.dnsName ?? null })),
      };
    },
  );

  app.put(
    '/api/v1/admin/mi-empresa/routers/:router_id',
    {
      ...admin,
      preValidation: rejectNulls(['nombre', 'host', 'puerto', 'usuario', 'password_encrypted']),
      schema: {
        tags,
        summary: 'Actualizar un router de mi empresa (solo los campos enviados)',
        security: SESSION_SECURITY,
        params: Type.Object({ router_id: Type.String({ maxLength: 50 }) }),
        body: RouterUpdateBody,
        response: { 200: Type.Object({ message: Type.String(), router: RouterUpdated }), 404: ErrorBody, 422: ErrorBody },
      },
    },
    async (request) => updateRouterSettings(ctx, auditActor(request), currentUser(request).empresaId!, request.params.router_id, request.body),
  );

  app.get(
    '/api/v1/admin/mi-empresa/transacciones',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Transacciones de mi empresa (filtros y paginación)',
        security: SESSION_SECURITY,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          offset: Type.Integer({ minimum: 0, maximum: 100_000_000, default: 0 }),
          ...Filters,
        }),
        response: { 200: TransactionList, 422: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query;
      return listTransactions(ctx, currentUser(request).empresaId!, filtersOf(q), q.limit, q.offset);
    },
  );

  app.get(
    '/api/v1/admin/mi-empresa/transacciones.csv',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Exportar transacciones de mi empresa (CSV, mismos filtros)',
        security: SESSION_SECURITY,
        querystring: Type.Object(Filters),
      },
    },
    async (request, reply) => {
      const empresaId = currentUser(request).empresaId!;
      const filters = filtersOf(request.query);
      await checkFilters(ctx, empresaId, filters);
      const stamp = new Date().toISOString().slice(0, 10);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="transacciones_${empresaId.replace(/[^A-Za-z0-9_-]/g, '')}_${stamp}.csv"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(transactionsCsv(ctx, empresaId, filters)));
    },
  );
}
