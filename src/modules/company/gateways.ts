/**
 * Payment-gateway credentials (legacy §3.6 and payments §2.4, §2.6, §2.7). The legacy had four endpoints
 * with four storage rules; here every one of them goes through `updateSettings` (settings.ts), so secrets
 * are always encrypted, masked on read, cleared with "" and a missing `mode` never resets the mode.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ErrorBody, Nullable } from './schemas.js';
import type { App } from '../../infra/http/types.js';
import { count, eq } from 'drizzle-orm';
import { transacciones } from '../../infra/db/schema.js';
import { ValidationFailed, badRequest, notFound } from '../../infra/errors.js';
import { dateToNaiveIso } from '../../infra/time.js';
import { SESSION_SECURITY, auditActor, currentUser } from '../auth/guards.js';
import { type EmpresaRow, interpret, isSet, loadEmpresa, masked, updateSettings } from './settings.js';

const Message = Type.Object({ message: Type.String() });

// Conekta and the admin-router Mercado Pago endpoint accepted any mode string; downstream only
// "test" vs anything else matters, and historical data holds "production".
const ModeField = Type.Optional(Nullable(Type.String({ maxLength: 20 })));

/** `null`/absent → unchanged; otherwise one of `allowed`, or the legacy pydantic literal_error 422. */
function checkMode(value: string | null | undefined, field: string, allowed: readonly string[]): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (allowed.includes(value)) return value;
  const expected = allowed.map((v) => `'${v}'`).join(' or ').replace(/ or (?=.* or )/g, ', ');
  throw new ValidationFailed([{ type: 'literal_error', loc: ['body', field], msg: `Input should be ${expected}`, input: value, ctx: { expected } }]);
}
const LOOSE_MODES = ['test', 'live', 'production'] as const;
const MP_MODES = ['test', 'live'] as const;
const Secret = (maxLength = 500) => Type.Optional(Nullable(Type.String({ maxLength })));

const ConektaBody = Type.Object({
  conekta_private_key: Secret(),
  conekta_public_key: Secret(255),
  conekta_mode: ModeField,
  /** Conekta's webhook public key (PEM, from its dashboard): once set, POST /api/v1/webhook/conekta requires a valid signature. */
  conekta_webhook_public_key: Type.Optional(Nullable(Type.String({ maxLength: 4000 }))),
});

function conektaChanges(b: { conekta_private_key?: string | null; conekta_public_key?: string | null; conekta_mode?: string | null; conekta_webhook_public_key?: string | null }) {
  const webhookKey = interpret(b.conekta_webhook_public_key);
  if (typeof webhookKey === 'string' && !/^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----$/.test(webhookKey)) {
    throw new ValidationFailed([{ type: 'value_error', loc: ['body', 'conekta_webhook_public_key'], msg: 'Debe ser una llave pública PEM (-----BEGIN PUBLIC KEY-----)' }]);
  }
  return {
    conektaWebhookPublicKey: webhookKey,
    conektaPrivateKey: interpret(b.conekta_private_key, true),
    conektaPublicKey: interpret(b.conekta_public_key),
    conektaMode: checkMode(b.conekta_mode, 'conekta_mode', LOOSE_MODES),
  };
}

function mpStatus(e: EmpresaRow) {
  return {
    access_token: isSet(e.mercadoPagoAccessToken),
    webhook_secret: isSet(e.mercadoPagoWebhookSecret),
    public_key: isSet(e.mercadoPagoPublicKey),
    mode: e.mercadoPagoMode ?? 'test',
    telegram_configurado: isSet(e.telegramBotToken) && isSet(e.telegramChatId),
    telegram_activo: e.notificacionesTelegram === true,
  };
}

const MpStatus = Type.Object({
  access_token: Type.Boolean(),
  webhook_secret: Type.Boolean(),
  public_key: Type.Boolean(),
  mode: Type.String(),
  telegram_configurado: Type.Boolean(),
  telegram_activo: Type.Boolean(),
});

/** Where Mercado Pago must send notifications: PUBLIC_BASE_URL, else the address this request came to. */
function webhookUrl(app: App, request: FastifyRequest): string {
  const base = app.ctx.config.publicBaseUrl || `${request.protocol}://${request.host}`;
  return `${base}/api/v1/webhook/mercado-pago`;
}

export default async function gatewayRoutes(app: App) {
  const ctx = app.ctx;
  const admin = { preHandler: app.guards.clienteAdmin };
  const tags = ['pasarelas de pago'];

  for (const [method, url, message] of [
    ['PUT', '/api/v1/admin/mi-empresa/conekta-config', 'Configuración de Conekta actualizada'],
    ['POST', '/api/v1/admin/mi-empresa/configurar-conekta', 'Credenciales de Conekta actualizadas correctamente'],
  ] as const) {
    app.route({
      method,
      url,
      ...admin,
      schema: {
        tags,
        summary: 'Configurar Conekta ("" borra una llave; sin conekta_mode el modo no cambia)',
        security: SESSION_SECURITY,
        body: ConektaBody,
        response: { 200: Message, 404: ErrorBody, 422: ErrorBody },
      },
      handler: async (request) => {
        await updateSettings(ctx, auditActor(request), currentUser(request).empresaId, conektaChanges(request.body), 'empresa.conekta_configurar');
        return { message };
      },
    });
  }

  app.get(
    '/api/v1/admin/mi-empresa/conekta',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Configuración de Conekta (llave privada enmascarada)',
        security: SESSION_SECURITY,
        response: {
          200: Type.Object({
            message: Type.String(),
            configuracion_actual: Type.Object({
              conekta_public_key: Nullable(Type.String()),
              conekta_mode: Type.String(),
              conekta_private_key: Nullable(Type.String()),
              conekta_webhook_configurado: Type.Boolean(),
            }),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const e = await loadEmpresa(ctx, currentUser(request).empresaId);
      return {
        message: 'Configuración cargada',
        configuracion_actual: {
          conekta_public_key: e.conektaPublicKey,
          conekta_mode: e.conektaMode ?? 'test',
          conekta_private_key: masked(e.conektaPrivateKey),
          conekta_webhook_configurado: isSet(e.conektaWebhookPublicKey),
        },
      };
    },
  );

  app.get(
    '/api/v1/admin/mi-empresa/mercado-pago',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Configuración de Mercado Pago (secretos enmascarados)',
        security: SESSION_SECURITY,
        response: {
          200: Type.Object({
            message: Type.String(),
            configuracion_actual: Type.Object({
              access_token: Nullable(Type.String()),
              public_key: Nullable(Type.String()),
              mode: Nullable(Type.String()),
              webhook_secret: Nullable(Type.String()),
            }),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const e = await loadEmpresa(ctx, currentUser(request).empresaId);
      return {
        message: 'Configuración cargada',
        configuracion_actual: {
          access_token: masked(e.mercadoPagoAccessToken),
          public_key: e.mercadoPagoPublicKey,
          mode: e.mercadoPagoMode,
          webhook_secret: masked(e.mercadoPagoWebhookSecret),
        },
      };
    },
  );

  app.post(
    '/api/v1/admin/mi-empresa/configurar-credenciales',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Configurar Mercado Pago ("" borra; sin mode el modo no cambia; secretos cifrados)',
        security: SESSION_SECURITY,
        body: Type.Object({ access_token: Secret(), public_key: Secret(255), webhook_secret: Secret(), mode: ModeField }),
        response: { 200: Message, 404: ErrorBody, 422: ErrorBody },
      },
    },
    async (request) => {
      const b = request.body;
      await updateSettings(
        ctx,
        auditActor(request),
        currentUser(request).empresaId,
        {
          mercadoPagoAccessToken: interpret(b.access_token, true),
          mercadoPagoPublicKey: interpret(b.public_key),
          mercadoPagoWebhookSecret: interpret(b.webhook_secret, true),
          mercadoPagoMode: checkMode(b.mode, 'mode', LOOSE_MODES),
        },
        'empresa.mercado_pago_configurar',
      );
      return { message: 'Credenciales de Mercado Pago actualizadas correctamente' };
    },
  );

  app.post(
    '/api/v1/payments/configurar-credenciales',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Configurar Mercado Pago y Telegram ("" borra; sin mode el modo no cambia)',
        security: SESSION_SECURITY,
        body: Type.Object({
          access_token: Secret(),
          webhook_secret: Secret(),
          public_key: Secret(255),
          mode: ModeField,
          telegram_bot_token: Secret(200),
          telegram_chat_id: Type.Optional(Nullable(Type.String({ maxLength: 50 }))),
          notificaciones_telegram: Type.Optional(Nullable(Type.Boolean())),
        }),
        response: {
          200: Type.Object({
            success: Type.Boolean(),
            message: Type.String(),
            empresa: Type.Object({ id: Type.String(), nombre: Type.String() }),
            configurado: Type.Optional(MpStatus),
            campos_modificados: Type.Optional(Type.Array(Type.String())),
            configuracion_actual: Type.Optional(MpStatus),
          }),
          400: ErrorBody,
          404: ErrorBody,
          422: ErrorBody,
        },
      },
    },
    async (request) => {
      const b = request.body;
      const mode = checkMode(b.mode, 'mode', MP_MODES);
      const accessToken = interpret(b.access_token, true);
      const webhookSecret = interpret(b.webhook_secret, true);
      const publicKey = interpret(b.public_key);
      const botToken = interpret(b.telegram_bot_token, true);
      const chatId = interpret(b.telegram_chat_id);
      // Legacy labels, in the legacy order.
      const labels: string[] = [];
      if (accessToken !== undefined) labels.push(`access_token (${accessToken === null ? 'eliminado' : 'actualizado'})`);
      if (webhookSecret !== undefined) labels.push(`webhook_secret (${webhookSecret === null ? 'eliminado' : 'actualizado'})`);
      if (publicKey !== undefined) labels.push('public_key');
      if (mode !== undefined) labels.push('mode');
      if (botToken !== undefined) labels.push('telegram_bot_token');
      if (chatId !== undefined) labels.push('telegram_chat_id');
      if (b.notificaciones_telegram !== undefined && b.notificaciones_telegram !== null) labels.push('notificaciones_telegram');

      const { row } = await updateSettings(
        ctx,
        auditActor(request),
        currentUser(request).empresaId,
        {
          mercadoPagoAccessToken: accessToken,
          mercadoPagoWebhookSecret: webhookSecret,
          mercadoPagoPublicKey: publicKey,
          mercadoPagoMode: mode,
          telegramBotToken: botToken,
          telegramChatId: chatId,
          notificacionesTelegram: b.notificaciones_telegram ?? undefined,
        },
        'empresa.mercado_pago_configurar',
        (current) => {
          if (current.activa === false) throw badRequest('Empresa inactiva', 'empresa_inactive');
        },
      );
      const empresa = { id: row.id, nombre: row.nombre };
      if (labels.length === 0) {
        return { success: true, message: 'No se enviaron cambios. Credenciales actuales se mantienen.', empresa, configurado: mpStatus(row) };
      }
      return { success: true, message: 'Credenciales actualizadas correctamente', empresa, campos_modificados: labels, configuracion_actual: mpStatus(row) };
    },
  );

  // ---- Webhook secret (the legacy left these two unauthenticated) ----
  const owner = { preHandler: app.guards.clienteAdminOrSuperAdmin };
  /** The company a caller may administer: its own (company admin) or any (super admin); else 404. */
  const companyFor = async (request: FastifyRequest, empresaId: string) => {
    const user = currentUser(request);
    if (user.rol !== 'super_admin' && user.empresaId !== empresaId) throw notFound('Empresa no encontrada', 'empresa_not_found');
    return loadEmpresa(ctx, empresaId);
  };
  const EmpresaParams = Type.Object({ empresa_id: Type.String({ maxLength: 50 }) });

  app.post(
    '/api/v1/webhook/empresa/:empresa_id/configurar-webhook',
    {
      ...owner,
      schema: {
        tags: ['webhooks'],
        summary: 'Configurar la clave secreta del webhook de Mercado Pago (admin de la empresa o super admin)',
        security: SESSION_SECURITY,
        params: EmpresaParams,
        body: Type.Object({ webhook_secret: Type.Optional(Nullable(Type.String({ maxLength: 500 }))) }),
        response: {
          200: Type.Object({
            success: Type.Boolean(),
            message: Type.String(),
            empresa: Type.Object({ id: Type.String(), nombre: Type.String() }),
            webhook_url: Type.String(),
            instrucciones: Type.Array(Type.String()),
          }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const e = await companyFor(request, request.params.empresa_id);
      const secret = interpret(request.body.webhook_secret, true);
      if (!secret) throw badRequest('webhook_secret es requerido', 'webhook_secret_required');
      await updateSettings(ctx, auditActor(request), e.id, { mercadoPagoWebhookSecret: secret }, 'empresa.webhook_configurar');
      const url = webhookUrl(app, request);
      return {
        success: true,
        message: 'Clave secreta configurada correctamente',
        empresa: { id: e.id, nombre: e.nombre },
        webhook_url: url,
        // The legacy echoed the first characters of the secret here; never again.
        instrucciones: [
          '1. Ir al panel de Mercado Pago',
          '2. Configurar Webhooks',
          `3. URL: ${url}`,
          '4. Usar la misma clave secreta que acabas de guardar',
          "5. Suscribir eventos: 'payment'",
        ],
      };
    },
  );

  app.get(
    '/api/v1/webhook/empresa/:empresa_id/estado-webhook',
    {
      ...owner,
      schema: {
        tags: ['webhooks'],
        summary: 'Estado de la configuración del webhook de Mercado Pago (admin de la empresa o super admin)',
        security: SESSION_SECURITY,
        params: EmpresaParams,
        response: {
          200: Type.Object({
            empresa: Type.Object({
              id: Type.String(),
              nombre: Type.String(),
              modo_mercado_pago: Nullable(Type.String()),
              access_token_configurado: Type.Boolean(),
              webhook_secret_configurado: Type.Boolean(),
            }),
            estadisticas: Type.Object({ total_transacciones: Type.Integer() }),
            configuracion_webhook: Type.Object({ url: Type.String(), metodo: Type.String(), header_firma: Type.String(), tipo_contenido: Type.String() }),
            estado: Type.String(),
            timestamp: Type.String(),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const e = await companyFor(request, request.params.empresa_id);
      const [{ n }] = await ctx.db.orm.select({ n: count() }).from(transacciones).where(eq(transacciones.empresaId, e.id));
      const secretSet = isSet(e.mercadoPagoWebhookSecret);
      return {
        empresa: {
          id: e.id,
          nombre: e.nombre,
          modo_mercado_pago: e.mercadoPagoMode,
          access_token_configurado: isSet(e.mercadoPagoAccessToken),
          webhook_secret_configurado: secretSet,
        },
        estadisticas: { total_transacciones: Number(n) },
        configuracion_webhook: { url: webhookUrl(app, request), metodo: 'POST', header_firma: 'X-Signature', tipo_contenido: 'application/json' },
        estado: secretSet ? 'configurado' : 'pendiente',
        timestamp: dateToNaiveIso(new Date()),
      };
    },
  );
}
