/**
 * RouterOS-facing endpoints (legacy paths and shapes, fixed per contract §2):
 * - company admin: GET /admin/routers/{id}/mikrotik-profiles, GET /admin/routers/{id}/test-connection;
 * - router key: POST /routers/validar-empresa-router, POST /hotspot/auto-reconnect, POST /hotspot/user/profile-info.
 * Registered under /api/v1. No response carries a password or a raw router record; an unreachable router
 * is a 503 on the captive-portal endpoints (never "expired voucher" / "wrong credentials").
 */
import { timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../infra/http/types.js';
import { ApiError, ValidationFailed, badRequest, notFound, unavailable } from '../../infra/errors.js';
import { dateToNaiveIso } from '../../infra/time.js';
import { ROUTER_KEY_SECURITY as ROUTER_KEY_SECURITY_UNION, SESSION_SECURITY, auditActor, currentRouter, currentUser } from '../auth/guards.js';
import { RouterCommandError, RouterUnreachableError, errText, type RouterRecord } from './service.js';
import { limitRules } from '../../infra/failure-limiter.js';
import { PRINTABLE_ASCII, looksLikeMac, normaliseClientIp, normaliseMac, routerBool } from './validation.js';

// The guard module's constant is a union-typed literal; Fastify wants the plain OpenAPI shape.
const ROUTER_KEY_SECURITY = ROUTER_KEY_SECURITY_UNION as unknown as Array<Record<string, string[]>>;

const ErrorBody = Type.Object({ detail: Type.Any(), code: Type.String() });
const NullableString = Type.Union([Type.String(), Type.Null()]);
const RouterIdParams = Type.Object({ router_id: Type.String({ maxLength: 50 }) });

const NOT_MINE = 'Router no encontrado o no pertenece a tu empresa';
const UNREACHABLE_DETAIL = 'No se pudo conectar con el router del hotspot. Intenta de nuevo en unos minutos.';

const Profile = Type.Object({
  id: NullableString,
  name: NullableString,
  session_timeout: NullableString,
  idle_timeout: NullableString,
  keepalive_timeout: NullableString,
  status_autorefresh: NullableString,
  shared_users: NullableString,
  rate_limit: NullableString,
  address_list: NullableString,
  mac_cookie_timeout: NullableString,
});

const TestConnection = Type.Object({
  success: Type.Boolean(),
  message: Type.String(),
  router: Type.Object({ id: Type.String(), nombre: Type.String(), host: Type.String(), puerto: Type.Integer(), activo: Type.Boolean() }),
  perfiles_encontrados: Type.Integer(),
  router_name: NullableString,
  error: NullableString,
  timestamp: Type.String(),
});

const Validation = Type.Object({
  success: Type.Boolean(),
  estado: Type.String(),
  mensaje: Type.String(),
  error_detalle: NullableString,
  conexion_ok: Type.Boolean(),
  timestamp: Type.String(),
});

const AutoReconnectBody = Type.Object({
  username: Type.String({ maxLength: 100 }),
  password: Type.String({ maxLength: 100, default: '' }),
  stored_mac: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  current_mac: Type.String({ maxLength: 64 }),
  current_ip: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  current_ssid: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
});

const AutoReconnectResponse = Type.Object({
  success: Type.Boolean(),
  estado: Type.String(),
  auto_conexion: Type.String(),
  datos_sesion: Type.Union([Type.Record(Type.String(), Type.Any()), Type.Null()]),
  nueva_mac: NullableString,
  tiempo_acumulado: Type.Null(),
  /** Seconds of validity left (plans with `vigencia_minutos`; null otherwise, as the legacy always was). */
  tiempo_restante: Type.Union([Type.Integer(), Type.Null()]),
  primera_sesion: Type.Null(),
  mensaje: NullableString,
  error_detalle: NullableString,
  timestamp: Type.String(),
});

const ProfileInfoBody = Type.Object({
  username: Type.String({ maxLength: 100 }),
  password: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
});

const ProfileInfoResponse = Type.Object({
  success: Type.Boolean(),
  estado: Type.String(),
  username: NullableString,
  tipo_usuario: NullableString,
  profile: NullableString,
  mac_cookie_timeout: NullableString,
  mac_authentication: Type.Union([Type.Boolean(), Type.Null()]),
  disabled: Type.Union([Type.Boolean(), Type.Null()]),
  comment: NullableString,
  limit_uptime: NullableString,
  /** Seconds of validity left (the whole validity until the first login); null without a validity. New. */
  tiempo_restante: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  /** When the validity ends (UTC, naive ISO), once the first login is known. New. */
  expira_en: Type.Optional(NullableString),
  /** Data allowance (`limit-bytes-total`), when the plan has one. New. */
  limite_bytes: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  datos_completos: Type.Union([Type.Record(Type.String(), Type.Any()), Type.Null()]),
  mensaje: NullableString,
  error_detalle: NullableString,
  timestamp: Type.String(),
});

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

const tooMany = (seconds: number) =>
  new ApiError(429, `Demasiados intentos fallidos. Intenta de nuevo en ${seconds} segundos.`, 'too_many_attempts', { 'retry-after': String(seconds) });

const routerDown = (err: unknown) => unavailable(UNREACHABLE_DETAIL, err instanceof RouterCommandError ? 'router_error' : 'router_unreachable');

export default async function hotspotRoutes(app: App) {
  const { ctx } = app;
  const hotspot = ctx.hotspot;
  const limiter = ctx.voucherLimiter;
  const voucherRules = (routerId: string, client: string, ip: string) =>
    limitRules.voucher(routerId, client, ip, {
      maxPerClient: ctx.config.hotspotMaxFailuresPerClient,
      maxPerIp: ctx.config.hotspotMaxFailuresPerIp,
      routerBudget: ctx.config.hotspotRouterFailureBudget,
    });

  const myRouter = async (request: FastifyRequest, routerId: string): Promise<RouterRecord> => {
    const router = await hotspot.loadRouter(routerId);
    if (!router || router.empresaId !== currentUser(request).empresaId) throw notFound(NOT_MINE, 'router_not_found');
    return router;
  };

  const testConnection = async (request: FastifyRequest, router: RouterRecord) => {
    const base = { router: { id: router.id, nombre: router.nombre, host: router.host, puerto: router.puerto, activo: router.activo } };
    // Limited per company and audited: a router row is an address the admin chose (no port scanning).
    const rules = limitRules.routerTest(router.empresaId, ctx.config.routerTestsPerMinute);
    const wait = await limiter.attempt(rules);
    await ctx.audit.record(auditActor(request), {
      accion: 'router.probar_conexion',
      empresaId: router.empresaId,
      recurso: 'router',
      recursoId: router.id,
      detalles: { host: router.host, puerto: router.puerto, limitado: wait > 0 },
    });
    if (wait > 0) throw new ApiError(429, `Demasiadas pruebas de conexión. Intenta de nuevo en ${wait} segundos.`, 'too_many_tests', { 'retry-after': String(wait) });
    await limiter.recordFailure(rules);
    try {
      // An explicit test uses a fresh connection (through the circuit breaker, like every connection).
      const { name, profiles } = await hotspot.withRecord(
        router,
        async (conn) => {
          const identity = await conn.command('/system/identity/print');
          const list = await conn.command('/ip/hotspot/user/profile/print', { proplist: ['.id', 'name'] });
          return { name: identity.rows[0]?.name ?? null, profiles: list.rows.length };
        },
        { fresh: true },
      );
      return { success: true, message: 'Conexión exitosa', ...base, perfiles_encontrados: profiles, router_name: name, error: null, timestamp: dateToNaiveIso(new Date()) };
    } catch (err) {
      if (!(err instanceof RouterUnreachableError || err instanceof RouterCommandError)) throw err;
      return {
        success: false,
        message: 'Error de conexión',
        ...base,
        perfiles_encontrados: 0,
        router_name: null,
        error: `No se pudo conectar: ${err.message}`,
        timestamp: dateToNaiveIso(new Date()),
      };
    }
  };

  // ---------------------------------------------------------------- company admin

  app.get(
    '/admin/routers/:router_id/mikrotik-profiles',
    {
      preHandler: app.guards.clienteAdmin,
      schema: {
        tags: ['mikrotik'],
        summary: 'Perfiles de usuario hotspot del router (RouterOS)',
        security: SESSION_SECURITY,
        params: RouterIdParams,
        response: { 200: Type.Array(Profile), 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const router = await myRouter(request, request.params.router_id);
      if (!router.activo) throw badRequest('El router está inactivo. Actívalo primero desde el panel.', 'router_inactive');
      if (!router.host.trim() || !router.usuario.trim() || !router.password) {
        throw badRequest('El router no tiene credenciales configuradas completas (host, usuario, contraseña)', 'router_credentials_incomplete');
      }
      try {
        const rows = await hotspot.withRecord(router, async (conn) => (await conn.command('/ip/hotspot/user/profile/print')).rows);
        const s = (v: string | undefined) => (v === undefined ? null : v);
        return rows.map((p) => ({
          id: s(p['.id']),
          name: s(p.name),
          session_timeout: s(p['session-timeout']),
          idle_timeout: s(p['idle-timeout']),
          keepalive_timeout: s(p['keepalive-timeout']),
          status_autorefresh: s(p['status-autorefresh']),
          shared_users: s(p['shared-users']),
          rate_limit: s(p['rate-limit']),
          address_list: s(p['address-list']),
          mac_cookie_timeout: s(p['mac-cookie-timeout']),
        }));
      } catch (err) {
        if (err instanceof RouterUnreachableError) throw badRequest(`No se pudo conectar al router: ${err.message}`, 'router_unreachable');
        if (err instanceof RouterCommandError) throw badRequest(`Error al obtener perfiles: ${err.message}`, 'router_error');
        throw err;
      }
    },
  );

  app.get(
    '/admin/routers/:router_id/test-connection',
    {
      preHandler: app.guards.clienteAdmin,
      schema: {
        tags: ['mikrotik'],
        summary: 'Probar la conexión con el router (RouterOS API)',
        security: SESSION_SECURITY,
        params: RouterIdParams,
        response: { 200: TestConnection, 404: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => testConnection(request, await myRouter(request, request.params.router_id)),
  );

  // The super admin tests any company's router (same limits, same audit).
  app.get(
    '/admin/empresas/:empresa_id/routers/:router_id/test-connection',
    {
      preHandler: app.guards.superAdmin,
      schema: {
        tags: ['super admin: routers'],
        summary: 'Probar la conexión con un router de cualquier empresa (RouterOS API)',
        security: SESSION_SECURITY,
        params: Type.Object({ empresa_id: Type.String({ maxLength: 50 }), router_id: Type.String({ maxLength: 50 }) }),
        response: { 200: TestConnection, 404: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => {
      const router = await hotspot.loadRouter(request.params.router_id);
      if (!router || router.empresaId !== request.params.empresa_id) throw notFound('Router no encontrado', 'router_not_found');
      return testConnection(request, router);
    },
  );

  // ---------------------------------------------------------------- router key

  app.post(
    '/routers/validar-empresa-router',
    {
      preHandler: app.guards.routerKey,
      schema: { tags: ['hotspot'], summary: 'Validar que el router de la API key está en línea', security: ROUTER_KEY_SECURITY, response: { 200: Validation } },
    },
    async (request) => {
      const timestamp = dateToNaiveIso(new Date());
      const principal = currentRouter(request);
      try {
        const router = await hotspot.loadRouter(principal.routerId);
        if (!router) {
          return { success: false, estado: 'sin_routers', mensaje: 'No se encontró router asociado', error_detalle: 'sin_router_asociado', conexion_ok: false, timestamp };
        }
        await hotspot.withRecord(router, (conn) => conn.command('/system/identity/print'), { connectTimeoutMs: Math.min(5000, ctx.config.routeros.connectTimeoutMs) });
        return { success: true, estado: 'activo', mensaje: 'Router en línea y responde correctamente', error_detalle: null, conexion_ok: true, timestamp };
      } catch (err) {
        if (err instanceof RouterUnreachableError || err instanceof RouterCommandError) {
          return { success: false, estado: 'router_inactivo', mensaje: 'El router no está en línea (conexión fallida)', error_detalle: 'router_inactivo', conexion_ok: false, timestamp };
        }
        request.log.error({ err: errText(err) }, 'validar-empresa-router');
        return { success: false, estado: 'internal_error', mensaje: 'Error interno al validar conexión', error_detalle: 'internal_error', conexion_ok: false, timestamp };
      }
    },
  );

  app.post(
    '/hotspot/auto-reconnect',
    {
      preHandler: app.guards.routerKey,
      schema: {
        tags: ['hotspot'],
        summary: 'Reconectar un dispositivo con su ficha (requiere la contraseña de la ficha; fichas PIN: el PIN)',
        security: ROUTER_KEY_SECURITY,
        body: AutoReconnectBody,
        response: { 200: AutoReconnectResponse, 422: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const timestamp = dateToNaiveIso(new Date());
      const body = request.body;
      const mac = normaliseMac(body.current_mac);
      const ip = normaliseClientIp(body.current_ip);
      const problems = [];
      if (!mac) problems.push({ type: 'value_error', loc: ['body', 'current_mac'], msg: 'Value error, MAC inválida: se espera el formato AA:BB:CC:DD:EE:FF' });
      if (!ip.ok) problems.push({ type: 'value_error', loc: ['body', 'current_ip'], msg: 'Value error, IP inválida: se espera una dirección IPv4' });
      if (problems.length) throw new ValidationFailed(problems);

      const reply = (fields: Partial<Record<string, unknown>>) => ({
        success: false,
        estado: 'error',
        auto_conexion: 'no_conectado',
        datos_sesion: null,
        nueva_mac: body.current_mac,
        tiempo_acumulado: null,
        tiempo_restante: null,
        primera_sesion: null,
        mensaje: null,
        error_detalle: null,
        timestamp,
        ...fields,
      });
      const principal = currentRouter(request);
      const router = await hotspot.loadRouter(principal.routerId);
      if (!router || !router.activo) return reply({ estado: 'router_inactivo', mensaje: 'Router inactivo' });

      const rules = voucherRules(router.id, `mac:${mac}`, request.ip);
      const wait = await limiter.attempt(rules);
      if (wait > 0) throw tooMany(wait);

      const username = body.username.trim();
      const notFoundReply = async () => {
        await limiter.recordFailure(rules);
        return reply({ estado: 'expirado', mensaje: 'Usuario no encontrado' });
      };
      if (!username || looksLikeMac(username) || !PRINTABLE_ASCII.test(username)) return notFoundReply();

      try {
        const user = await hotspot.lookupUser(router.id, username);
        if (!user) return notFoundReply();
        const routerPassword = user.password ?? '';
        // Proof of the voucher: its password; a PIN voucher's secret is its name (rate-limited above).
        if (routerPassword !== '' && !safeEqual(body.password ?? '', routerPassword)) {
          await limiter.recordFailure(rules);
          return reply({ estado: 'credenciales_invalidas', mensaje: 'Credenciales incorrectas o no autorizado', error_detalle: 'credenciales_invalidas' });
        }
        await limiter.recordSuccess(limitRules.voucherSuccess(rules));
        const loginName = await hotspot.resolveLoginName(router.id, user, mac!);
        const { result, unreachable } = await hotspot.autoConnectDetailed(router.id, { username: loginName, password: routerPassword, mac: mac!, ip: ip.ok ? ip.ip : null });
        if (unreachable) throw routerDown(null);
        const connected = result.conectado === true;
        const session = result.session_info;
        const validity = await ctx.validity.secondsLeft(router.id, user.name);
        return reply({
          tiempo_restante: validity?.segundos ?? null,
          success: result.success === true,
          estado: connected ? 'activo' : 'no_conectado',
          auto_conexion: connected ? 'conectado' : 'no_conectado',
          datos_sesion: session && typeof session === 'object' ? session : null,
          mensaje: typeof result.mensaje === 'string' ? result.mensaje : null,
          error_detalle: typeof result.error === 'string' ? result.error : null,
        });
      } catch (err) {
        if (err instanceof ApiError) throw err;
        if (err instanceof RouterUnreachableError || err instanceof RouterCommandError) throw routerDown(err);
        request.log.error({ err: errText(err) }, 'auto-reconnect');
        return reply({ estado: 'error', mensaje: 'Error interno del servidor', error_detalle: 'error_interno' });
      }
    },
  );

  app.post(
    '/hotspot/user/profile-info',
    {
      preHandler: app.guards.routerKey,
      schema: {
        tags: ['hotspot'],
        summary: 'Verificar las credenciales de una ficha y ver su plan',
        security: ROUTER_KEY_SECURITY,
        body: ProfileInfoBody,
        response: { 200: ProfileInfoResponse, 422: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const timestamp = dateToNaiveIso(new Date());
      const username = request.body.username;
      const password = request.body.password ?? null;
      const reply = (fields: Partial<Record<string, unknown>>) => ({
        success: false,
        estado: 'error',
        username,
        tipo_usuario: null,
        profile: null,
        mac_cookie_timeout: null,
        mac_authentication: null,
        disabled: null,
        comment: null,
        limit_uptime: null,
        datos_completos: null,
        mensaje: null,
        error_detalle: null,
        timestamp,
        ...fields,
      });
      const principal = currentRouter(request);
      const router = await hotspot.loadRouter(principal.routerId);
      if (!router || !router.activo) return reply({ estado: 'router_inactivo', mensaje: 'Router inactivo' });

      const rules = voucherRules(router.id, `user:${username}`, request.ip);
      const wait = await limiter.attempt(rules);
      if (wait > 0) throw tooMany(wait);
      const invalid = async () => {
        await limiter.recordFailure(rules);
        return reply({ estado: 'credenciales_invalidas', mensaje: 'Credenciales incorrectas o no autorizado', error_detalle: 'credenciales_invalidas' });
      };
      if (!username.trim() || !PRINTABLE_ASCII.test(username)) return invalid();

      try {
        const user = await hotspot.lookupUser(router.id, username);
        if (!user) return invalid();
        const routerPassword = user.password ?? '';
        // PIN vouchers (no router password): valid only without a password, as the legacy decided.
        const valid = routerPassword === '' ? password === null : password !== null && safeEqual(password, routerPassword);
        if (!valid) return invalid();
        await limiter.recordSuccess(limitRules.voucherSuccess(rules));
        const profileName = user.profile || 'default';
        const profile = await hotspot.profileByName(router.id, profileName);
        const details: Record<string, unknown> = { name: user.name, profile: profileName, disabled: routerBool(user.disabled) };
        if (user.comment !== undefined) details.comment = user.comment;
        if (user['limit-uptime'] !== undefined) details['limit-uptime'] = user['limit-uptime'];
        const validity = await ctx.validity.secondsLeft(router.id, user.name);
        return reply({
          // Only for plans with a validity or data allowance: the legacy shape stays as it was otherwise.
          ...(validity
            ? { tiempo_restante: validity.segundos, expira_en: validity.expiraEn ? validity.expiraEn.replace(' ', 'T') : null, limite_bytes: validity.limiteBytes }
            : {}),
          success: true,
          estado: 'ok',
          tipo_usuario: routerPassword === '' ? 'pin' : 'usuario_contrasena',
          profile: profileName,
          mac_cookie_timeout: profile?.['mac-cookie-timeout'] ?? null,
          mac_authentication: routerBool(profile?.['mac-authentication']),
          disabled: routerBool(user.disabled),
          comment: user.comment ?? '',
          limit_uptime: user['limit-uptime'] ?? null,
          datos_completos: details,
        });
      } catch (err) {
        if (err instanceof RouterUnreachableError || err instanceof RouterCommandError) throw routerDown(err);
        request.log.error({ err: errText(err) }, 'profile-info');
        return reply({ estado: 'error', mensaje: 'Error interno del servidor', error_detalle: 'error_interno' });
      }
    },
  );
}
