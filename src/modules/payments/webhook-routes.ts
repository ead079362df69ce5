/**
 * Gateway notifications. The body is read raw (signatures cover bytes). A notice only says "payment X
 * changed": the payment is re-read from the gateway by a job before anything happens, so a forged or
 * replayed body cannot change a purchase; duplicates are no-ops. Signatures are enforced when the company
 * configured a secret (Mercado Pago) or a webhook key (Conekta): an invalid one is refused with 401.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { eq, or } from 'drizzle-orm';
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { ApiError } from '../../infra/errors.js';
import { dateToNaiveIso, naiveIso } from '../../infra/time.js';
import { empresas, transacciones } from '../../infra/db/schema.js';
import { SESSION_SECURITY, currentUser } from '../auth/guards.js';
import { enqueue } from '../../infra/outbox.js';
import type { GatewayName, WebhookInput } from './gateways/types.js';
import { JOB } from './repository.js';

const KEEP_HEADERS = ['x-signature', 'x-request-id', 'digest', 'content-type'];
/** Unknown-payment notices waiting for a lookup, at most (each costs gateway reads). */
const UNKNOWN_WEBHOOKS_MAX = 500;

function webhookInput(request: FastifyRequest): WebhookInput {
  const raw = typeof request.body === 'string' ? request.body : '';
  const query: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string') query[k] = s.slice(0, 200);
  }
  const headers: Record<string, string | undefined> = {};
  for (const h of KEEP_HEADERS) {
    const v = request.headers[h];
    headers[h] = Array.isArray(v) ? v[0] : v;
  }
  return { rawBody: raw, headers, query };
}

export default async function webhookRoutes(app: App) {
  const ctx = app.ctx;
  const svc = ctx.payments;

  // Raw bodies for every content type here (JSON, legacy IPN form posts, empty bodies).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 256 * 1024 }, (_req, body, done) => done(null, body));

  const receive = async (gateway: GatewayName, request: FastifyRequest) => {
    const receivedAt = Date.now();
    const base = { status: 'received', message: 'Webhook received and queued', received_at: dateToNaiveIso(new Date(receivedAt)) };
    const input = webhookInput(request);
    const adapter = gateway === 'conekta' ? svc.conekta : svc.mercadoPago;
    const notice = adapter.parseWebhook(input);
    if (!notice) return base;
    if (notice.type === 'test') return { ...base, message: 'Test webhook received successfully', notification_id: notice.eventId || 'unknown' };
    const relevant = gateway === 'conekta' ? /^(order|charge)\./.test(notice.type) : notice.type === 'payment';
    if (!relevant) return { ...base, message: `Webhook type '${notice.type}' received`, notification_id: notice.eventId || 'unknown' };
    if (!notice.paymentId && !notice.reference) return base;
    const tx = await svc.findWebhookTransaction(gateway, notice);
    if (!tx) {
      // Not known yet (the purchase may still be committing, or its charge answer was lost): keep only the
      // payment id (never the body), once per payment, and a bounded number of such lookups at a time; the
      // job asks the gateway before anything happens.
      if (notice.paymentId && /^[A-Za-z0-9_-]{1,100}$/.test(notice.paymentId)) {
        const [open] = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE kind = $1 AND done_at IS NULL`, [JOB.webhookLookup]);
        if (Number(open?.n ?? 0) < UNKNOWN_WEBHOOKS_MAX) {
          await enqueue(
            ctx.db.orm,
            JOB.webhookLookup,
            { gateway, paymentId: notice.paymentId, eventId: (notice.eventId || '').slice(0, 100), receivedAt },
            { dedupeKey: `webhook:${gateway}:${notice.paymentId}` },
          );
        } else {
          request.log.warn({ gateway }, 'demasiados avisos de pagos desconocidos pendientes; se descarta este (la conciliación sigue)');
        }
      }
      return { ...base, notification_id: notice.eventId || 'unknown', type: notice.type };
    }
    if (!(await svc.webhookSignatureOk(gateway, tx, input, receivedAt))) {
      request.log.warn({ gateway, transaccion: tx.id }, 'webhook con firma inválida');
      throw new ApiError(401, 'Firma del webhook inválida', 'invalid_signature');
    }
    await enqueue(
      ctx.db.orm,
      JOB.applyPayment,
      { transaccionId: tx.id, paymentId: notice.paymentId, source: 'webhook', eventId: notice.eventId },
      { dedupeKey: `aplicar:${tx.id}:${notice.eventId || randomUUID()}` },
    );
    return { ...base, notification_id: notice.eventId || 'unknown', type: notice.type };
  };

  const routeConfig = { config: { rateLimit: { max: 600, timeWindow: '1 minute' } } };

  app.post(
    '/api/v1/webhook/mercado-pago',
    { ...routeConfig, schema: { tags: ['webhooks'], summary: 'Notificaciones de Mercado Pago (firma x-signature verificada si la empresa configuró su clave secreta)' } },
    async (request) => receive('mercado_pago', request),
  );

  app.post(
    '/api/v1/webhook/conekta',
    { ...routeConfig, schema: { tags: ['webhooks'], summary: 'Notificaciones de Conekta (firma digest verificada si la empresa configuró su llave de webhook)' } },
    async (request) => receive('conekta', request),
  );

  // Legacy 2.8: a static description of the webhook endpoint (URLs from PUBLIC_BASE_URL, not hard-coded).
  app.get('/api/v1/webhook/test-webhook', { schema: { tags: ['webhooks'], summary: 'Descripción del endpoint de webhooks' } }, async () => {
    const url = `${ctx.config.publicBaseUrl}/api/v1/webhook/mercado-pago`;
    return {
      status: 'active',
      service: 'Mercado Pago Webhook',
      endpoint: '/api/v1/webhook/mercado-pago',
      method: 'POST',
      description: 'Recibe notificaciones de pagos de Mercado Pago (Multi-tenant)',
      url_produccion: url,
      url_pruebas: url,
      health_check: 'ok',
      timestamp: dateToNaiveIso(new Date()),
    };
  });

  // Legacy 2.9, now only for an admin of the transaction's company (or a super admin): it was public.
  app.get(
    '/api/v1/webhook/transaccion/:external_reference',
    {
      preHandler: app.guards.clienteAdminOrSuperAdmin,
      schema: {
        tags: ['webhooks'],
        summary: 'Transacción por referencia externa (administrador de la empresa)',
        security: SESSION_SECURITY,
        params: Type.Object({ external_reference: Type.String({ maxLength: 256 }) }),
      },
    },
    async (request) => {
      const user = currentUser(request);
      const ref = request.params.external_reference;
      const [tx] = await ctx.db.orm
        .select()
        .from(transacciones)
        .where(or(eq(transacciones.externalReference, ref), eq(transacciones.referencia, ref)))
        .limit(1);
      if (!tx || (user.rol !== 'super_admin' && tx.empresaId !== user.empresaId)) throw new ApiError(404, 'Transaction not found', 'transaction_not_found');
      const [e] = await ctx.db.orm.select({ id: empresas.id, nombre: empresas.nombre, secret: empresas.mercadoPagoWebhookSecret }).from(empresas).where(eq(empresas.id, tx.empresaId)).limit(1);
      return {
        transaction: {
          id: tx.id,
          transaccion_id: tx.transaccionId,
          external_reference: tx.externalReference,
          empresa_id: tx.empresaId,
          estado_pago: tx.estadoPago,
          monto: tx.monto === null ? null : Number(tx.monto),
          usuario_hotspot: tx.usuarioHotspot,
          creada_en: naiveIso(tx.creadaEn),
          pagada_en: naiveIso(tx.pagadaEn),
          webhook_processed: tx.webhookProcessed,
          notification_id: tx.notificationId,
          metadata_json: tx.metadataJson,
          referencia: tx.referencia,
          estado: tx.estado,
        },
        empresa: e ? { id: e.id, nombre: e.nombre, tiene_webhook_secret: !!e.secret } : null,
      };
    },
  );
}
