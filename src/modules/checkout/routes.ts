/**
 * Checkout hand-off (issue 13). The router page (router key) creates a session; the customer's browser
 * goes to `/pagar/{sesion}` on PUBLIC_BASE_URL, where the gateway's own fields tokenize the card; the page
 * buys with the session as its only credential and an Idempotency-Key, through the same purchase() and
 * Idempotency-Key machinery as the legacy endpoints (scoped to the session's router).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { eq } from 'drizzle-orm';
import { empresas } from '../../infra/db/schema.js';
import type { App } from '../../infra/http/types.js';
import { ApiError, ValidationFailed } from '../../infra/errors.js';
import { naiveIso } from '../../infra/time.js';
import { ROUTER_KEY_SECURITY as ROUTER_KEY_SECURITY_UNION, currentRouter } from '../auth/guards.js';
import { normalizeEmail } from '../auth/email.js';
import { requestHash, validIdempotencyKey } from '../payments/idempotency.js';
import { challengeBody, purchase, purchaseUnderKey, type PurchaseInput } from '../payments/purchase.js';
import { findByReferencia, type StoredChallenge } from '../payments/repository.js';
import { settle } from '../payments/settle.js';
import { autoConexion } from '../payments/responses.js';
import { centsToDecimal, priceToCents } from '../payments/money.js';
import { computeTargets, proveVoucher } from '../payments/recargas.js';
import { CheckoutSessions, SESSION_ID_RE, parseLoginContext, type CheckoutSession, type Pasarela } from './sessions.js';
import { PLAIN_CSP, basePath, checkoutCsp, checkoutPage, defaultNotice, errorPage, gatewayOrigins, noticePage } from './page.js';

const ROUTER_KEY_SECURITY = ROUTER_KEY_SECURITY_UNION as unknown as Array<Record<string, string[]>>;
const ASSETS = join(dirname(fileURLToPath(import.meta.url)), 'assets');
const NStr = (max: number) => Type.Optional(Type.Union([Type.String({ maxLength: max }), Type.Null()]));

const SessionBody = Type.Object({
  producto_id: Type.Integer({ minimum: 1, maximum: 2147483647 }),
  nombre_cliente: Type.String({ minLength: 1, maxLength: 100 }),
  email_cliente: Type.String({ minLength: 3, maxLength: 100 }),
  telefono_cliente: NStr(20),
  pasarela: Type.Optional(Type.Union([Type.Literal('conekta'), Type.Literal('mercado_pago'), Type.Null()])),
  link_login_only: NStr(500),
  chap_id: NStr(64),
  chap_challenge: NStr(256),
  mac: NStr(17),
  ip: NStr(45),
  dst: NStr(500),
  /** A top-up ("Recargar tiempo") of this voucher instead of a new one: its name and password (none for a PIN). */
  recarga_usuario: NStr(50),
  recarga_contrasena: NStr(50),
});

const PayBody = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 255 }),
  payment_method_id: NStr(50),
  issuer_id: Type.Optional(Type.Union([Type.String({ maxLength: 50 }), Type.Integer(), Type.Null()])),
  installments: Type.Optional(Type.Integer({ minimum: 1, maximum: 48 })),
  device_id: NStr(255),
});

const SesionParams = Type.Object({ sesion: Type.String({ maxLength: 64 }) });

function duration(minutes: number | null): string | null {
  if (!minutes) return null;
  if (minutes % 1440 === 0) return minutes === 1440 ? '1 día' : `${minutes / 1440} días`;
  if (minutes % 60 === 0) return minutes === 60 ? '1 hora' : `${minutes / 60} horas`;
  return `${minutes} minutos`;
}

/**
 * The kit's pagado.html on the router that served the page (from its validated link-login-only): it fetches
 * the credentials with the router key and logs in with a fresh CHAP challenge. Only the referencia travels.
 */
function pagadoUrl(s: CheckoutSession): string | null {
  if (!s.linkLoginOnly || !s.referencia) return null;
  try {
    const u = new URL(s.linkLoginOnly);
    u.pathname = '/pagado.html';
    u.hash = '';
    u.searchParams.set('referencia', s.referencia);
    // The page the person first asked for (validated http(s)); the router passes it on as $(link-orig).
    if (s.dst) u.searchParams.set('dst', s.dst);
    return u.toString();
  } catch {
    return null;
  }
}

/**
 * Where Mercado Pago's 3-D Secure challenge may be framed: any https origin (the issuer's ACS), plus the
 * configured API's own origin when it is not https (the sandbox serves its challenge page there).
 */
function challengeOrigins(apiBase: string): string[] {
  let origin: string | null;
  try {
    origin = new URL(apiBase).origin;
  } catch {
    origin = null;
  }
  return origin && !origin.startsWith('https:') ? ['https:', origin] : ['https:'];
}

/** The recurring job that deletes expired checkout sessions. */
export const PURGE_JOB = 'checkout.purgar';

const NOT_FOUND = () => new ApiError(404, 'Sesión de pago no encontrada', 'checkout_session_not_found');

export default async function checkoutRoutes(app: App) {
  const ctx = app.ctx;
  const sessions = new CheckoutSessions(ctx.db);
  // Retention: sessions expired for a day go, by a recurring outbox job (one per database, whichever instance runs it).
  ctx.payments.outbox.on(PURGE_JOB, async () => {
    const n = await sessions.purge();
    if (n > 0) app.log.info({ sesiones: n }, 'checkout: sesiones vencidas depuradas');
    return { retryInMs: 3600_000 };
  });
  app.addHook('onReady', async () => {
    await ctx.payments.outbox.enqueue(ctx.db.orm, PURGE_JOB, {}, { dedupeKey: 'checkout:purgar', delayMs: 60_000 }).catch((e: unknown) => app.log.warn({ err: e }, 'checkout: no se pudo programar la depuración'));
  });
  const voucherLimits = {
    maxPerClient: ctx.config.hotspotMaxFailuresPerClient,
    maxPerIp: ctx.config.hotspotMaxFailuresPerIp,
    routerBudget: ctx.config.hotspotRouterFailureBudget,
  };
  const assets = {
    js: readFileSync(join(ASSETS, 'checkout.js')),
    css: readFileSync(join(ASSETS, 'checkout.css')),
  };
  if (!ctx.config.publicBaseUrl) {
    app.log.warn('PUBLIC_BASE_URL no está definido: la página de pago (/pagar) y los kits del portal cautivo están deshabilitados; defina la dirección https pública del servicio');
  }
  const requireBase = () => {
    const base = ctx.config.publicBaseUrl;
    if (!base) {
      throw new ApiError(409, 'Falta PUBLIC_BASE_URL (la dirección pública https de esta API) en la configuración del servicio; el pago en línea está deshabilitado', 'public_base_url_required');
    }
    return base;
  };
  const scriptFor = (p: Pasarela) => (p === 'conekta' ? ctx.config.checkoutConektaJsUrl : ctx.config.checkoutMercadoPagoJsUrl);

  const load = async (id: string): Promise<CheckoutSession> => {
    const s = SESSION_ID_RE.test(id) ? await sessions.find(id) : null;
    if (!s) throw NOT_FOUND();
    return s;
  };

  app.post(
    '/api/v1/checkout/sesiones',
    {
      // Before the key check: without PUBLIC_BASE_URL nothing here works, whoever asks.
      onRequest: async () => void requireBase(),
      preHandler: app.guards.routerKey,
      config: { rateLimit: { max: 120, timeWindow: '1 minute' } },
      schema: {
        tags: ['checkout'],
        summary: 'Crear una sesión de pago (la página del router pasa la compra a /pagar/{sesion})',
        description: 'Corta (CHECKOUT_SESSION_MINUTES), de un solo uso, ligada al router y al producto. Responde {url, expira_en}: el portal navega la misma ventana a url.',
        security: ROUTER_KEY_SECURITY,
        body: SessionBody,
      },
    },
    async (request, reply) => {
      const base = requireBase();
      const principal = currentRouter(request);
      const b = request.body;
      const email = normalizeEmail(b.email_cliente);
      if (!email.ok || email.email.length > 100) {
        throw new ValidationFailed([{ type: 'value_error', loc: ['body', 'email_cliente'], msg: 'value is not a valid email address', input: b.email_cliente }]);
      }
      const login = parseLoginContext(b);
      if ('invalid' in login) {
        throw new ValidationFailed([{ type: 'value_error', loc: ['body', login.invalid], msg: 'Valor no válido para el contexto de login del router', input: (b as Record<string, unknown>)[login.invalid] }]);
      }
      const [creds, product] = await Promise.all([
        ctx.companies.getGatewayCredentials(principal.empresaId),
        ctx.catalog.getSellableProduct(principal.empresaId, principal.routerId, b.producto_id),
      ]);
      if (!creds) throw new ApiError(404, 'Empresa no encontrada', 'empresa_not_found');
      if (!product) throw new ApiError(404, 'Producto no encontrado', 'product_not_found');
      const cents = priceToCents(product.precio);
      if (cents === null || cents <= 0) throw new ApiError(400, 'El producto no tiene un precio válido', 'invalid_price');
      const hasConekta = !!creds.conekta.privateKey && !!creds.conekta.publicKey;
      const hasMp = !!creds.mercadoPago.accessToken && !!creds.mercadoPago.publicKey;
      const pasarela: Pasarela | null = b.pasarela ?? (hasConekta ? 'conekta' : hasMp ? 'mercado_pago' : null);
      if (pasarela === null || (pasarela === 'conekta' && !hasConekta)) throw new ApiError(400, 'La empresa no tiene configurado Conekta', 'conekta_not_configured');
      if (pasarela === 'mercado_pago' && !hasMp) throw new ApiError(400, 'La empresa no tiene configurado Mercado Pago', 'mercado_pago_not_configured');
      const nombre = b.nombre_cliente.trim();
      if (nombre === '') throw new ValidationFailed([{ type: 'value_error', loc: ['body', 'nombre_cliente'], msg: 'Nombre requerido', input: b.nombre_cliente }]);
      // A top-up: the voucher's proof now (through the voucher limiter), and a plan that adds something to it.
      const recargaUsuario = b.recarga_usuario?.trim() || null;
      if (recargaUsuario !== null) {
        const sale = await proveVoucher(ctx.payments, ctx.voucherLimiter, voucherLimits, {
          empresaId: principal.empresaId,
          routerId: principal.routerId,
          ip: request.ip,
          usuario: recargaUsuario,
          contrasena: b.recarga_contrasena?.trim() || null,
        });
        computeTargets(sale, product);
      }
      const created = await sessions.create({
        empresaId: principal.empresaId,
        routerId: principal.routerId,
        apiKeyId: principal.keyId,
        productoId: product.id,
        pasarela,
        nombre,
        email: email.email,
        telefono: b.telefono_cliente?.trim() || null,
        ...login,
        recargaUsuario,
        minutes: ctx.config.checkoutSessionMinutes,
      });
      reply.code(201).header('cache-control', 'no-store');
      return { url: `${base}/pagar/${created.id}`, expira_en: naiveIso(created.expiraEn) };
    },
  );

  // --- Our page and its assets (same origin as the API: PUBLIC_BASE_URL) ---

  const sendAsset = (type: string, body: Buffer) => async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.header('content-type', type).header('cache-control', 'public, max-age=300').header('content-security-policy', PLAIN_CSP).send(body);
  app.get('/pagar/assets/checkout.js', { schema: { hide: true } }, sendAsset('text/javascript; charset=utf-8', assets.js));
  app.get('/pagar/assets/checkout.css', { schema: { hide: true } }, sendAsset('text/css; charset=utf-8', assets.css));

  const html = (reply: FastifyReply, status: number, csp: string, body: string) =>
    reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', csp)
      .header('referrer-policy', 'no-referrer')
      .send(body);

  app.get(
    '/pagar/:sesion',
    { onRequest: async () => void requireBase(), schema: { hide: true, params: SesionParams } },
    async (request, reply) => {
      const s = SESSION_ID_RE.test(request.params.sesion) ? await sessions.find(request.params.sesion) : null;
      if (!s) return html(reply, 404, PLAIN_CSP, errorPage('Enlace de pago no válido', 'Este enlace de pago no existe.', basePath(ctx.config.publicBaseUrl)));
      if (!s.vigente && !s.referencia) return html(reply, 410, PLAIN_CSP, errorPage('El enlace de pago expiró', 'Por tu seguridad, los enlaces de pago duran pocos minutos.', basePath(ctx.config.publicBaseUrl)));
      const [creds, product, config] = await Promise.all([
        ctx.companies.getGatewayCredentials(s.empresaId),
        ctx.catalog.getSellableProduct(s.empresaId, s.routerId, s.productoId),
        ctx.catalog.publicConfig(s.empresaId, s.routerId),
      ]);
      if (!creds || !product || !config) return html(reply, 404, PLAIN_CSP, errorPage('Producto no disponible', 'Este plan ya no está a la venta.', basePath(ctx.config.publicBaseUrl)));
      const pub = JSON.parse(config.body.toString('utf8')) as { empresa: { logo_url: string | null }; router: { nombre: string; ubicacion: string | null } };
      const cents = priceToCents(product.precio) ?? 0;
      const script = scriptFor(s.pasarela);
      return html(
        reply,
        200,
        checkoutCsp(gatewayOrigins(script), s.pasarela === 'mercado_pago' ? challengeOrigins(ctx.config.mercadoPagoApiBase) : []),
        checkoutPage({
          sesion: request.params.sesion,
          empresa: creds.nombre,
          logoUrl: pub.empresa.logo_url,
          router: pub.router.ubicacion ? `${pub.router.nombre} · ${pub.router.ubicacion}` : pub.router.nombre,
          plan: s.recargaUsuario ? `Recarga: ${product.nombreVenta} para la ficha ${s.recargaUsuario}` : product.nombreVenta,
          precio: `$${centsToDecimal(cents)} ${product.moneda || 'MXN'}`,
          monto: cents / 100,
          moneda: product.moneda || 'MXN',
          duracion: duration(product.duracionMinutos),
          pasarela: s.pasarela,
          publicKey: (s.pasarela === 'conekta' ? creds.conekta.publicKey : creds.mercadoPago.publicKey) ?? '',
          email: s.email,
          nombre: s.nombre,
          gatewayScript: script,
          expiraEn: naiveIso(s.expiraEn) ?? '',
          base: basePath(ctx.config.publicBaseUrl),
        }),
      );
    },
  );

  app.get(
    '/pagar/:sesion/aviso-de-privacidad',
    { onRequest: async () => void requireBase(), schema: { hide: true, params: SesionParams } },
    async (request, reply) => {
      const s = SESSION_ID_RE.test(request.params.sesion) ? await sessions.find(request.params.sesion) : null;
      if (!s) return html(reply, 404, PLAIN_CSP, errorPage('Enlace no válido', 'Este enlace no existe.', basePath(ctx.config.publicBaseUrl)));
      const [e] = await ctx.db.orm.select({ nombre: empresas.nombre, aviso: empresas.avisoPrivacidad }).from(empresas).where(eq(empresas.id, s.empresaId)).limit(1);
      if (!e) return html(reply, 404, PLAIN_CSP, errorPage('Enlace no válido', 'Este enlace no existe.', basePath(ctx.config.publicBaseUrl)));
      return html(reply, 200, PLAIN_CSP, noticePage(e.nombre, e.aviso?.trim() || defaultNotice(e.nombre), basePath(ctx.config.publicBaseUrl)));
    },
  );

  // --- The page's API: the session is the credential ---

  app.post(
    '/api/v1/checkout/sesiones/:sesion/pago',
    {
      onRequest: async () => void requireBase(),
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
      schema: {
        tags: ['checkout'],
        summary: 'Pagar la sesión con el token de la pasarela (cabecera Idempotency-Key obligatoria)',
        params: SesionParams,
        body: PayBody,
      },
    },
    async (request, reply) => {
      const s = await load(request.params.sesion);
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || !validIdempotencyKey(key)) {
        throw new ApiError(400, 'Falta Idempotency-Key o no es válida (1 a 255 caracteres ASCII visibles)', 'invalid_idempotency_key');
      }
      const endpoint = `checkout:${s.id}`;
      const svc = ctx.payments;
      // The purchase's referencia is also this request's token on its key (the attempt commits only while the key names it).
      const referencia = randomUUID();
      const claim = await svc.idempotency.claim(s.routerId, key, endpoint, requestHash(endpoint, request.body), referencia);
      if (claim.kind === 'replay') return reply.code(claim.response.status).header('idempotent-replayed', 'true').send(claim.response.body);
      if (claim.kind === 'attempt') return reply.code(202).header('idempotent-replayed', 'true').send({ code: 'purchase_in_progress', referencia: claim.referencia, estado: 'iniciada' });
      if (claim.kind === 'conflict') throw new ApiError(409, claim.detail, claim.code);

      if (!(await sessions.claim(s.id, referencia))) {
        await svc.idempotency.release(s.routerId, key, referencia).catch(() => undefined);
        if (s.referencia && s.vigente) throw new ApiError(409, 'Esta sesión de pago ya se usó; consulta su estado', 'checkout_session_used');
        throw new ApiError(410, 'La sesión de pago expiró; vuelve a elegir tu ficha en la página del WiFi', 'checkout_session_expired');
      }
      const b = request.body;
      const product = await ctx.catalog.getSellableProduct(s.empresaId, s.routerId, s.productoId);
      const input: PurchaseInput = {
        gateway: s.pasarela,
        productoId: s.productoId,
        cardToken: b.token,
        nombre: s.nombre,
        email: s.email,
        telefono: s.telefono,
        tipoUsuario: null,
        mac: s.mac,
        ip: s.ip,
        // The server logs the device in through the RouterOS API when it can (the page then says so).
        autoConnect: s.mac !== null,
        // 3-D Secure: this page can show the bank's challenge; Conekta's redirect comes back here.
        threeDs: { returnUrl: `${requireBase()}/pagar/${request.params.sesion}` },
        // A top-up's proof was checked when the session was made (the session is single-use and short).
        ...(s.recargaUsuario ? { recarga: { usuario: s.recargaUsuario, contrasena: null, verificada: true } } : {}),
        ...(s.pasarela === 'mercado_pago'
          ? {
              mercadoPago: {
                paymentMethodId: b.payment_method_id ?? '',
                issuerId: b.issuer_id === undefined || b.issuer_id === null ? null : String(b.issuer_id),
                // The amount is ours (the product's price), never the page's.
                monto: (priceToCents(product?.precio ?? '0') ?? 0) / 100,
                cuotas: b.installments ?? 1,
                deviceId: b.device_id ?? null,
              },
            }
          : {}),
      };
      if (s.pasarela === 'mercado_pago' && !b.payment_method_id) {
        await sessions.release(s.id, referencia);
        await svc.idempotency.release(s.routerId, key, referencia).catch(() => undefined);
        throw new ValidationFailed([{ type: 'missing', loc: ['body', 'payment_method_id'], msg: 'Field required', input: b }]);
      }
      // Nothing charged (a decline, a dead router): the session is free for another card.
      const outcome = await purchaseUnderKey(
        svc,
        { routerId: s.routerId, key, owner: referencia },
        (withAttempt) => purchase(svc, { empresaId: s.empresaId, routerId: s.routerId, keyId: s.apiKeyId }, input, { referencia, withAttempt }),
        { log: request.log, onNotCharged: () => sessions.release(s.id, referencia) },
      );
      return reply.code(outcome.response.status).send(outcome.response.body);
    },
  );

  app.get(
    '/api/v1/checkout/sesiones/:sesion/estado',
    {
      onRequest: async () => void requireBase(),
      schema: { tags: ['checkout'], summary: 'Estado de la compra de la sesión (y la ficha una vez entregada)', params: SesionParams },
    },
    async (request, reply) => {
      const s = await load(request.params.sesion);
      reply.header('cache-control', 'no-store');
      if (!s.referencia) return { estado: s.vigente ? 'sin_pago' : 'expirada', referencia: null, usuario_hotspot: null };
      const tx = await findByReferencia(ctx.db.orm, s.referencia);
      if (!tx || tx.routerId !== s.routerId) return { estado: 'iniciada', referencia: s.referencia, usuario_hotspot: null };
      // The link is a bearer credential in a browser's history: it shows the voucher for a day, not forever.
      const delivered = s.reciente && (tx.estado === 'entregada' || (tx.estado === 'reembolso_parcial' && tx.estadoHotspot === 'active'));
      const password = delivered && tx.passwordHotspot ? (ctx.secrets.general.decrypt(tx.passwordHotspot) ?? '') : '';
      const reto = (tx.metadataJson as { autenticacion?: StoredChallenge } | null)?.autenticacion;
      return {
        estado: tx.estado,
        referencia: tx.referencia,
        ...(tx.estado === 'en_autenticacion' && reto ? { autenticacion: challengeBody(tx.referencia ?? '', reto, ctx.config.threeDsChallengeTimeoutMs).autenticacion } : {}),
        pagado_url: pagadoUrl(s),
        mensaje: tx.estado === 'rechazada' || tx.estado === 'en_revision' ? tx.errorDetalle : null,
        usuario_hotspot: delivered ? { usuario: tx.usuarioHotspot, contrasena: password, tipo: tx.tipoUsuario } : null,
      };
    },
  );

  // The customer is back from the bank's challenge (Conekta's return_url, or Mercado Pago's iframe said it is
  // complete): what happened is read from the gateway, never taken from the browser.
  app.post(
    '/api/v1/checkout/sesiones/:sesion/autenticacion',
    {
      onRequest: async () => void requireBase(),
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
      schema: { tags: ['checkout'], summary: 'Consultar en la pasarela el resultado de la verificación 3-D Secure de la sesión', params: SesionParams },
    },
    async (request, reply) => {
      const s = await load(request.params.sesion);
      reply.header('cache-control', 'no-store');
      const tx = s.referencia ? await findByReferencia(ctx.db.orm, s.referencia) : null;
      if (!tx || tx.routerId !== s.routerId) throw new ApiError(404, 'Esta sesión no tiene un pago en verificación', 'checkout_no_payment');
      // Also a customer back from the bank after the challenge expired: an approval then is refunded in full.
      const late = tx.estado === 'rechazada' && tx.errorCodigo === 'autenticacion_vencida';
      if (tx.estado !== 'en_autenticacion' && !late) return { estado: tx.estado, referencia: tx.referencia };
      try {
        const payment = await ctx.payments.lookupPayment(tx);
        if (payment) await settle(ctx.payments, tx, payment);
      } catch (e) {
        // The reconcile job keeps asking; the page keeps polling.
        request.log.warn({ err: e, referencia: tx.referencia }, 'no se pudo consultar la verificación 3-D Secure');
      }
      let now = await findByReferencia(ctx.db.orm, tx.referencia!);
      // Approved: the delivery job puts the voucher on the router (workers); then, as after a frictionless
      // payment, the server logs the device in through the RouterOS API (bounded wait; the page polls anyway).
      for (let i = 0; now?.estado === 'cobrada' && i < 40; i++) {
        await new Promise((r) => setTimeout(r, 250));
        now = await findByReferencia(ctx.db.orm, tx.referencia!);
      }
      let auto: Record<string, unknown> | null = null;
      if (now?.estado === 'entregada' && s.mac) {
        const password = now.passwordHotspot ? (ctx.secrets.general.decrypt(now.passwordHotspot) ?? '') : '';
        try {
          const r = await ctx.payments.hotspot().autoConnect(s.routerId, { username: now.usuarioHotspot ?? '', password, mac: s.mac, ip: s.ip ?? '' });
          auto = autoConexion(true, s.mac, s.ip, r);
        } catch (e) {
          auto = autoConexion(true, s.mac, s.ip, { conectado: false, error: e instanceof Error ? e.message : String(e) });
        }
      }
      return { estado: now?.estado ?? tx.estado, referencia: tx.referencia, ...(auto ? { auto_conexion: auto } : {}) };
    },
  );
}
