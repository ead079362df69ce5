/**
 * Purchase endpoints (router API key) with the legacy request fields (both spellings) and response shapes,
 * the transaction lookup a portal uses to recover, the Mercado Pago status poll, and the company admin's
 * refund. Every purchase response, success or error, carries our `referencia`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { and, eq, type SQL } from 'drizzle-orm';
import type { App } from '../../infra/http/types.js';
import { ApiError, ValidationFailed, type ValidationItem } from '../../infra/errors.js';
import { naiveIso } from '../../infra/time.js';
import { transacciones } from '../../infra/db/schema.js';
import { limitRules } from '../../infra/failure-limiter.js';
import { ROUTER_KEY_SECURITY as ROUTER_KEY_SECURITY_UNION, SESSION_SECURITY, auditActor, currentRouter, currentUser } from '../auth/guards.js';
import { normalizeEmail } from '../auth/email.js';
import { requestHash, validIdempotencyKey } from './idempotency.js';
import { purchase, purchaseUnderKey, type PurchaseInput } from './purchase.js';
import { findByReferencia } from './repository.js';
import { proveVoucher } from './recargas.js';
import { estadoHotspotWire } from './responses.js';
import { settle } from './settle.js';
import { centsToNumber, priceToCents } from './money.js';

const ROUTER_KEY_SECURITY = ROUTER_KEY_SECURITY_UNION as unknown as Array<Record<string, string[]>>;
const Str = (max: number) => Type.Optional(Type.String({ maxLength: max }));
const NStr = (max: number) => Type.Optional(Type.Union([Type.String({ maxLength: max }), Type.Null()]));
const ProductId = Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647 }));
const Tipo = Type.Optional(Type.Union([Type.Literal('usuario_contrasena'), Type.Literal('pin'), Type.Null()]));
const Bool = Type.Optional(Type.Boolean());

/** Fields both endpoints share, under both legacy spellings; bounds are the database columns'. */
const customerFields = {
  producto_id: ProductId,
  product_id: ProductId,
  nombre_cliente: Str(100),
  customer_name: Str(100),
  email_cliente: Str(100),
  customer_email: Str(100),
  telefono_cliente: NStr(20),
  customer_phone: NStr(20),
  tipo_usuario: Tipo,
  user_type: Tipo,
  mac_cliente: NStr(64),
  mac_address: NStr(64),
  ip_cliente: NStr(64),
  ip_address: NStr(64),
  info_dispositivo: NStr(2000),
  device_info: NStr(2000),
  conexion_automatica: Bool,
  auto_connect: Bool,
};

const ConektaBody = Type.Object({ ...customerFields, token_tarjeta: Str(255), card_token: Str(255) });
const MercadoPagoBody = Type.Object({
  ...customerFields,
  payment_method_id: Str(50),
  token: Str(255),
  issuer_id: NStr(50),
  monto: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 99_999_999 })),
  transaction_amount: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 99_999_999 })),
  cuotas: Type.Optional(Type.Integer({ minimum: 1, maximum: 48 })),
  installments: Type.Optional(Type.Integer({ minimum: 1, maximum: 48 })),
  device_id: NStr(255),
  payer: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
});

/** A top-up names the voucher and proves it is the buyer's: its password (none for a PIN voucher: the name is the PIN). */
const topUpFields = {
  usuario: Type.String({ minLength: 1, maxLength: 50 }),
  contrasena: NStr(50),
};
const TopUpConektaBody = Type.Object({ ...ConektaBody.properties, ...topUpFields });
const TopUpMercadoPagoBody = Type.Object({ ...MercadoPagoBody.properties, ...topUpFields });

type Body = Record<string, unknown>;
const pick = (b: Body, a: string, alt?: string): unknown => (b[a] !== undefined ? b[a] : alt !== undefined ? b[alt] : undefined);
const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/** Required fields under either spelling, reported with the legacy (alias) names in the legacy order. */
function requireFields(body: Body, fields: [string, string | undefined][]): void {
  const missing: ValidationItem[] = [];
  for (const [alias, alt] of fields) {
    if (pick(body, alias, alt) === undefined) missing.push({ type: 'missing', loc: ['body', alias], msg: 'Field required', input: body });
  }
  if (missing.length > 0) throw new ValidationFailed(missing);
}

function customer(body: Body): Omit<PurchaseInput, 'gateway' | 'cardToken' | 'mercadoPago'> {
  const rawEmail = String(pick(body, 'email_cliente', 'customer_email'));
  const email = normalizeEmail(rawEmail);
  if (!email.ok || email.email.length > 100) {
    throw new ValidationFailed([
      { type: 'value_error', loc: ['body', 'email_cliente'], msg: `value is not a valid email address: ${email.ok ? 'The email address is too long.' : email.reason}`, input: rawEmail },
    ]);
  }
  return {
    productoId: Number(pick(body, 'producto_id', 'product_id')),
    nombre: String(pick(body, 'nombre_cliente', 'customer_name')),
    email: email.email,
    telefono: text(pick(body, 'telefono_cliente', 'customer_phone')),
    tipoUsuario: (text(pick(body, 'tipo_usuario', 'user_type')) as PurchaseInput['tipoUsuario']) ?? null,
    mac: text(pick(body, 'mac_cliente', 'mac_address')),
    ip: text(pick(body, 'ip_cliente', 'ip_address')),
    autoConnect: pick(body, 'conexion_automatica', 'auto_connect') === true,
  };
}

/** Rate limit purchases per router key (many customers share a hotspot's public IP). */
function credentialKey(request: FastifyRequest): string {
  const h = request.headers.authorization ?? request.headers['x-api-key'] ?? request.ip;
  return createHash('sha256').update(String(h)).digest('hex');
}

export default async function paymentRoutes(app: App) {
  const ctx = app.ctx;
  const svc = ctx.payments;

  // Every answer of a purchase endpoint carries the request's referencia (validation errors included).
  app.addHook('onSend', async (request, reply, payload) => {
    const ref = (request as FastifyRequest & { referencia?: string }).referencia;
    if (!ref || typeof payload !== 'string' || !reply.getHeader('content-type')?.toString().includes('json')) return payload;
    try {
      const body = JSON.parse(payload) as unknown;
      if (body && typeof body === 'object' && !Array.isArray(body) && !('referencia' in body)) {
        return JSON.stringify({ ...(body as object), referencia: ref });
      }
    } catch {
      /* not JSON */
    }
    return payload;
  });

  const voucherLimits = {
    maxPerClient: ctx.config.hotspotMaxFailuresPerClient,
    maxPerIp: ctx.config.hotspotMaxFailuresPerIp,
    routerBudget: ctx.config.hotspotRouterFailureBudget,
  };

  const purchaseRoute = (gateway: 'conekta' | 'mercado_pago', topUp = false) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body as Body;
    const r = request as FastifyRequest & { referencia?: string };
    if (gateway === 'conekta') {
      requireFields(body, [
        ['producto_id', 'product_id'],
        ['token_tarjeta', 'card_token'],
        ['nombre_cliente', 'customer_name'],
        ['email_cliente', 'customer_email'],
      ]);
    } else {
      requireFields(body, [
        ['producto_id', 'product_id'],
        ['payment_method_id', undefined],
        ['token', undefined],
        ['monto', 'transaction_amount'],
        ['nombre_cliente', 'customer_name'],
        ['email_cliente', 'customer_email'],
      ]);
    }
    const input: PurchaseInput = {
      gateway,
      ...customer(body),
      cardToken: String(gateway === 'conekta' ? pick(body, 'token_tarjeta', 'card_token') : body.token),
      ...(gateway === 'mercado_pago'
        ? {
            mercadoPago: {
              paymentMethodId: String(body.payment_method_id),
              issuerId: text(body.issuer_id),
              monto: Number(pick(body, 'monto', 'transaction_amount')),
              cuotas: Number(pick(body, 'cuotas', 'installments') ?? 1),
              deviceId: text(body.device_id),
            },
          }
        : {}),
    };
    const buyer = currentRouter(request);
    const endpoint = (topUp ? 'recargar-' : 'pagar-') + (gateway === 'conekta' ? 'conekta' : 'mercado-pago');
    const recarga = topUp ? { usuario: String(body.usuario).trim(), contrasena: text(body.contrasena) } : null;
    const key = request.headers['idempotency-key'];
    const idemKey = typeof key === 'string' && key !== '' ? key : null;
    // This request's token on its Idempotency-Key (its referencia): the attempt commits only while the key names it.
    const owner = (r.referencia ??= randomUUID());
    if (idemKey !== null) {
      if (!validIdempotencyKey(idemKey)) {
        throw new ApiError(400, 'Idempotency-Key inválida (1 a 255 caracteres ASCII visibles)', 'invalid_idempotency_key');
      }
      const claim = await svc.idempotency.claim(buyer.routerId, idemKey, endpoint, requestHash(endpoint, body), owner);
      if (claim.kind === 'replay') {
        r.referencia = String(claim.response.body.referencia ?? '');
        return reply.code(claim.response.status).header('idempotent-replayed', 'true').send(claim.response.body);
      }
      if (claim.kind === 'attempt') {
        r.referencia = claim.referencia;
        return reply.code(202).header('idempotent-replayed', 'true').send(await attemptAnswer(buyer.routerId, claim.referencia));
      }
      if (claim.kind === 'conflict') {
        // No referencia on this answer (it would open the first purchase's transaction).
        r.referencia = undefined;
        throw new ApiError(409, claim.detail, claim.code);
      }
    }
    // The request's referencia is the purchase's (any answer, a 503 included, carries it); the key gets it
    // in the same commit as the attempt. purchase() throws only while nothing was charged.
    const buy = async (withAttempt?: (referencia: string) => SQL) => {
      if (recarga) {
        // The proof, through the voucher limiter (as profile-info); a failure throws before any attempt.
        await proveVoucher(svc, ctx.voucherLimiter, voucherLimits, { empresaId: buyer.empresaId, routerId: buyer.routerId, ip: request.ip, ...recarga });
        input.recarga = { ...recarga, verificada: true };
      }
      return purchase(svc, { empresaId: buyer.empresaId, routerId: buyer.routerId, keyId: buyer.keyId }, input, { referencia: owner, withAttempt });
    };
    const outcome = idemKey ? await purchaseUnderKey(svc, { routerId: buyer.routerId, key: idemKey, owner }, buy, { log: request.log }) : await buy();
    r.referencia = outcome.referencia;
    return reply.code(outcome.response.status).send(outcome.response.body);
  };

  /** A same-key retry whose first request never completed: the attempt's state, from its row, at once. */
  const attemptAnswer = async (routerId: string, referencia: string) => {
    const tx = await findByReferencia(ctx.db.orm, referencia);
    const mine = tx && tx.routerId === routerId ? tx : null;
    return {
      detail: 'Su compra ya está registrada; consulte su referencia para ver el resultado. No vuelva a ingresar su tarjeta.',
      code: 'purchase_in_progress',
      referencia,
      estado: mine?.estado ?? 'iniciada',
      estado_pago: mine?.estadoPago ?? 'pending',
      estado_hotspot: mine ? estadoHotspotWire(mine) : 'pendiente',
    };
  };

  const purchaseConfig = {
    preHandler: app.guards.routerKey,
    config: { rateLimit: { max: 120, timeWindow: '1 minute', keyGenerator: credentialKey } },
  };
  const preValidation = async (request: FastifyRequest) => {
    // The request's reference, so that even a 422 carries one; the purchase is recorded under it.
    (request as FastifyRequest & { referencia?: string }).referencia = randomUUID();
  };

  app.post(
    '/api/v1/payments/pagar-conekta',
    {
      ...purchaseConfig,
      preValidation,
      schema: {
        tags: ['payments'],
        summary: 'Comprar una ficha con tarjeta (Conekta)',
        description: 'Cabecera opcional `Idempotency-Key`: la misma clave con el mismo cuerpo devuelve la misma respuesta sin cobrar otra vez.',
        security: ROUTER_KEY_SECURITY,
        body: ConektaBody,
      },
    },
    purchaseRoute('conekta'),
  );

  app.post(
    '/api/v1/payments/pagar-mercado-pago',
    {
      ...purchaseConfig,
      preValidation,
      schema: {
        tags: ['payments'],
        summary: 'Comprar una ficha con tarjeta (Mercado Pago)',
        description: 'Un pago pendiente (pending/in_process) no entrega credenciales: responde 202 y se consulta por la referencia.',
        security: ROUTER_KEY_SECURITY,
        body: MercadoPagoBody,
      },
    },
    purchaseRoute('mercado_pago'),
  );

  const topUpDescription =
    'Recarga: más tiempo (o datos) en la MISMA ficha, sin crear otro usuario. `usuario` y `contrasena` (ninguna para una ficha PIN) prueban que la ficha es del comprador (con límite de intentos, como profile-info); también una ficha de lote (vendida en mostrador), con su contraseña impresa. ' +
    'La entrega fija en el router el límite total calculado al registrar la compra (nunca suma), y un reembolso lo revierte sin borrar el usuario. ' +
    'Errores: 404 ficha_no_encontrada (también la ficha de otra empresa), 401 credenciales_invalidas, 409 ficha_vencida, 409 ficha_anulada (ficha de lote anulada), 409 recarga_en_curso, 400 recarga_sin_efecto, 429 too_many_attempts. Cabecera opcional `Idempotency-Key`.';
  app.post(
    '/api/v1/payments/recargar-conekta',
    {
      ...purchaseConfig,
      preValidation,
      schema: { tags: ['payments'], summary: 'Recargar una ficha con tarjeta (Conekta)', description: topUpDescription, security: ROUTER_KEY_SECURITY, body: TopUpConektaBody },
    },
    purchaseRoute('conekta', true),
  );
  app.post(
    '/api/v1/payments/recargar-mercado-pago',
    {
      ...purchaseConfig,
      preValidation,
      schema: { tags: ['payments'], summary: 'Recargar una ficha con tarjeta (Mercado Pago)', description: topUpDescription, security: ROUTER_KEY_SECURITY, body: TopUpMercadoPagoBody },
    },
    purchaseRoute('mercado_pago', true),
  );

  app.get(
    '/api/v1/payments/transacciones/:referencia',
    {
      preHandler: app.guards.routerKey,
      schema: {
        tags: ['payments'],
        summary: 'Estado de una compra por su referencia (y sus credenciales una vez entregadas)',
        security: ROUTER_KEY_SECURITY,
        params: Type.Object({ referencia: Type.String({ maxLength: 64 }) }),
      },
    },
    async (request) => {
      const principal = currentRouter(request);
      const tx = await findByReferencia(ctx.db.orm, request.params.referencia);
      if (!tx || tx.routerId !== principal.routerId || tx.empresaId !== principal.empresaId) {
        throw new ApiError(404, 'Transacción no encontrada', 'transaction_not_found');
      }
      // A partial refund leaves the voucher active: its credentials are still shown.
      const delivered = tx.estado === 'entregada' || (tx.estado === 'reembolso_parcial' && tx.estadoHotspot === 'active');
      const password = delivered && tx.passwordHotspot ? (ctx.secrets.general.decrypt(tx.passwordHotspot) ?? '') : '';
      const cents = tx.montoCentavos ?? priceToCents(tx.monto) ?? 0;
      return {
        referencia: tx.referencia,
        estado: tx.estado,
        estado_pago: tx.estadoPago,
        estado_hotspot: estadoHotspotWire(tx),
        pasarela: tx.pasarela,
        id_transaccion: tx.transaccionId,
        monto: centsToNumber(cents),
        monto_reembolsado: centsToNumber(tx.reembolsadoCentavos ?? 0),
        moneda: tx.moneda,
        producto_id: tx.productoId,
        tipo_usuario: tx.tipoUsuario,
        usuario_hotspot: delivered ? { usuario: tx.usuarioHotspot, contrasena: password } : null,
        mensaje: tx.estado === 'rechazada' || tx.estado === 'en_revision' ? tx.errorDetalle : null,
        creada_en: naiveIso(tx.creadaEn),
        pagada_en: naiveIso(tx.pagadaEn),
        entregada_en: delivered ? naiveIso(tx.usuarioCreadoEn) : null,
        reembolsada_en: naiveIso(tx.reembolsadaEn),
      };
    },
  );

  app.get(
    '/api/v1/payments/estado-pago/:payment_id',
    {
      preHandler: app.guards.routerKey,
      schema: {
        tags: ['payments'],
        summary: 'Estado de un pago de Mercado Pago (consulta a Mercado Pago; una aprobación tardía entrega la ficha)',
        security: ROUTER_KEY_SECURITY,
        params: Type.Object({ payment_id: Type.Integer({ minimum: 1, maximum: 9_007_199_254_740_991 }) }),
      },
    },
    async (request) => {
      const principal = currentRouter(request);
      const paymentId = String(request.params.payment_id);
      const creds = await ctx.companies.getGatewayCredentials(principal.empresaId);
      if (!creds?.mercadoPago.accessToken) throw new ApiError(400, 'La empresa no tiene configurado Mercado Pago', 'mercado_pago_not_configured');
      // Only this router's purchases (the legacy answered for any id the token could see; payment ids are
      // close to sequential, so lookups of ids this router has no purchase for are rate-limited).
      const lookupRules = limitRules.unknownPayment(principal.routerId, request.ip);
      const wait = await ctx.voucherLimiter.attempt(lookupRules);
      if (wait > 0) throw new ApiError(429, `Demasiadas consultas de pagos desconocidos. Intenta de nuevo en ${wait} segundos.`, 'too_many_attempts', { 'retry-after': String(wait) });
      const [tx] = await ctx.db.orm
        .select()
        .from(transacciones)
        .where(and(eq(transacciones.transaccionId, paymentId), eq(transacciones.empresaId, principal.empresaId), eq(transacciones.routerId, principal.routerId)))
        .limit(1);
      if (!tx || (tx.pasarela !== null && tx.pasarela !== 'mercado_pago')) {
        await ctx.voucherLimiter.recordFailure(lookupRules);
        throw new ApiError(404, 'Pago no encontrado', 'payment_not_found');
      }
      let p;
      try {
        p = await svc.mercadoPago.getPayment({ accessToken: creds.mercadoPago.accessToken }, paymentId);
      } catch {
        throw new ApiError(502, 'Error al consultar estado del pago: Mercado Pago no respondió', 'gateway_unavailable');
      }
      if (!p) throw new ApiError(404, 'Pago no encontrado', 'payment_not_found');
      if (tx.referencia) await settle(svc, tx, p);
      const raw = p.raw;
      return {
        success: true,
        payment_id: request.params.payment_id,
        status: p.rawStatus || 'unknown',
        status_detail: p.statusDetail,
        amount: typeof raw.transaction_amount === 'number' ? raw.transaction_amount : 0,
        currency_id: p.currency ?? 'MXN',
        date_approved: raw.date_approved ?? null,
        date_last_updated: raw.date_last_updated ?? null,
        // Never the referencia here: with the (public) router key it opens the buyer's credentials.
      };
    },
  );

  app.post(
    '/api/v1/admin/mi-empresa/transacciones/:id/reembolso',
    {
      preHandler: app.guards.clienteAdmin,
      schema: {
        tags: ['mi-empresa'],
        summary: 'Reembolsar una venta (en la pasarela) y dar de baja su ficha',
        security: SESSION_SECURITY,
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) }),
        body: Type.Optional(Type.Union([Type.Object({ motivo: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])) }), Type.Null()])),
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const motivo = (request.body as { motivo?: string | null } | null | undefined)?.motivo ?? null;
      const { tx, job } = await svc.adminRefund(auditActor(request), user.empresaId!, request.params.id, motivo);
      // 202: the refund is a durable job; `reembolso` is its state (completado, or still running with its last error).
      reply.code(202);
      return {
        success: true,
        message: job.estado === 'completado' ? 'Reembolso realizado correctamente' : 'Reembolso en proceso: se completará automáticamente',
        reembolso: job,
        transaccion: {
          id: tx.id,
          referencia: tx.referencia,
          estado: tx.estado,
          estado_pago: tx.estadoPago,
          estado_hotspot: estadoHotspotWire(tx),
          monto: centsToNumber(tx.montoCentavos ?? priceToCents(tx.monto) ?? 0),
          monto_reembolsado: centsToNumber(tx.reembolsadoCentavos ?? 0),
          moneda: tx.moneda,
          reembolsada_en: naiveIso(tx.reembolsadaEn),
        },
      };
    },
  );
}
