/**
 * Endpoints the operators' panel needs (issue 14), for the company admin and scoped by its company:
 * a transaction's detail with its history, sales by day and by plan, home alerts, a router's status,
 * and the hotspot's active sessions with "disconnect". Another company's ids are a 404, never a 403.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../infra/http/types.js';
import { badRequest, notFound } from '../../infra/errors.js';
import { SESSION_SECURITY, auditActor, currentUser } from '../auth/guards.js';
import { RouterCommandError, RouterUnreachableError, type RouterRecord } from '../hotspot/service.js';
import { disconnectSession, isSessionId, listActiveSessions } from '../hotspot/sessions.js';
import { ErrorBody, Nullable } from './schemas.js';
import { announceOutage, companyAlerts, salesSummary, transactionDetail } from './panel.js';

const S = Type.String();
const NS = Nullable(Type.String());
const NI = Nullable(Type.Integer());

const TransactionDetail = Type.Object({
  transaccion: Type.Object({
    id: Type.Integer(),
    referencia: NS,
    transaccion_id: NS,
    external_reference: NS,
    monto: Nullable(Type.Number()),
    monto_reembolsado: Type.Number(),
    moneda: NS,
    estado: NS,
    estado_pago: NS,
    estado_hotspot: NS,
    estado_detalle: NS,
    pasarela: NS,
    cliente_nombre: NS,
    cliente_email: NS,
    cliente_telefono: NS,
    usuario_hotspot: NS,
    perfil_hotspot: NS,
    router_id: S,
    router_nombre: NS,
    producto_id: NI,
    producto_nombre: NS,
    error_codigo: NS,
    error_detalle: NS,
    reembolso_id: NS,
    intentos_entrega: Type.Integer(),
    creada_en: NS,
    pagada_en: NS,
    reembolsada_en: NS,
    webhook_recibido_en: NS,
  }),
  historial: Type.Array(
    Type.Object({
      en: S,
      tipo: Type.Union([Type.Literal('estado'), Type.Literal('pasarela')]),
      estado_anterior: NS,
      estado_nuevo: NS,
      estado_pago_anterior: NS,
      estado_pago_nuevo: NS,
      estado_hotspot: NS,
      detalle: NS,
    }),
  ),
  trabajos: Type.Array(
    Type.Object({ id: S, tipo: S, estado: S, intentos: Type.Integer(), ultimo_error: NS, creado_en: S, programado_para: S, terminado_en: NS }),
  ),
});

const Money = Type.Object({ monto: Type.Number(), ventas: Type.Integer() });
const Sales = Type.Object({
  zona_horaria: S,
  hoy: Type.Object({ fecha: S, monto: Type.Number(), ventas: Type.Integer() }),
  mes: Money,
  /** Counter (cash) sales, apart: at the batch's price, on the local day each voucher was first used. */
  efectivo: Type.Object({ hoy: Money, mes: Money }),
  dias: Type.Integer(),
  por_dia: Type.Array(Type.Object({ fecha: S, monto: Type.Number(), ventas: Type.Integer(), efectivo_monto: Type.Number(), efectivo_ventas: Type.Integer() })),
  por_plan: Type.Array(Type.Object({ producto_id: NI, nombre: S, monto: Type.Number(), ventas: Type.Integer() })),
});

const Alerts = Type.Object({
  alertas: Type.Array(Type.Object({ tipo: S, mensaje: S, cantidad: Type.Integer(), router_id: NS })),
});

const RouterStatus = Type.Object({
  router_id: S,
  nombre: S,
  activo: Type.Boolean(),
  circuito: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half_open')]),
  sin_conexion: Type.Boolean(),
  ultimo_contacto: NS,
  ultimo_fallo: NS,
  ultimo_error: NS,
});

const Session = Type.Object({
  id: S,
  servidor: NS,
  usuario: NS,
  direccion: NS,
  mac: NS,
  tiempo_activo: NS,
  tiempo_restante: NS,
  inactivo: NS,
  bytes_entrada: Nullable(Type.Number()),
  bytes_salida: Nullable(Type.Number()),
  metodo: NS,
});

const RouterIdParams = Type.Object({ router_id: Type.String({ maxLength: 50 }) });
const NOT_MINE = 'Router no encontrado o no pertenece a tu empresa';

export default async function panelRoutes(app: App) {
  const ctx = app.ctx;
  const admin = { preHandler: app.guards.clienteAdmin };
  const tags = ['mi-empresa'];

  // Router outages reach the company's Telegram chat (when configured), once per outage.
  ctx.hotspot.onOutage((router, error) => {
    announceOutage(ctx, router, error).catch((err: unknown) => ctx.logger.warn({ err, routerId: router.id }, 'aviso de router sin conexión no enviado'));
  });

  const myRouter = async (request: FastifyRequest, routerId: string): Promise<RouterRecord> => {
    const router = await ctx.hotspot.loadRouter(routerId);
    if (!router || router.empresaId !== currentUser(request).empresaId) throw notFound(NOT_MINE, 'router_not_found');
    return router;
  };
  const routerError = (err: unknown): never => {
    if (err instanceof RouterUnreachableError) throw badRequest(`No se pudo conectar al router: ${err.message}`, 'router_unreachable');
    if (err instanceof RouterCommandError) throw badRequest(`Error del router: ${err.message}`, 'router_error');
    throw err;
  };

  app.get(
    '/api/v1/admin/mi-empresa/transacciones/:id',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Detalle de una transacción con su historial (estados, trabajos, avisos de la pasarela)',
        security: SESSION_SECURITY,
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) }),
        response: { 200: TransactionDetail, 404: ErrorBody },
      },
    },
    async (request) => transactionDetail(ctx, currentUser(request).empresaId!, request.params.id),
  );

  app.get(
    '/api/v1/admin/mi-empresa/ventas',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Ventas con tarjeta cobradas (netas de reembolsos) y, aparte, ventas en efectivo de lotes (al precio del lote, el día del primer uso): hoy, mes, por día y por plan, en la zona horaria de la empresa',
        security: SESSION_SECURITY,
        querystring: Type.Object({ dias: Type.Integer({ minimum: 1, maximum: 366, default: 30 }) }),
        response: { 200: Sales },
      },
    },
    async (request) => salesSummary(ctx, currentUser(request).empresaId!, request.query.dias),
  );

  app.get(
    '/api/v1/admin/mi-empresa/alertas',
    { ...admin, schema: { tags, summary: 'Alertas: routers sin conexión, compras en revisión, entregas fallidas', security: SESSION_SECURITY, response: { 200: Alerts } } },
    async (request) => ({ alertas: await companyAlerts(ctx, currentUser(request).empresaId!) }),
  );

  app.get(
    '/api/v1/admin/mi-empresa/routers/:router_id/estado',
    {
      ...admin,
      schema: { tags, summary: 'Estado de un router: último contacto y circuito (vistos por esta instancia)', security: SESSION_SECURITY, params: RouterIdParams, response: { 200: RouterStatus, 404: ErrorBody } },
    },
    async (request) => {
      const router = await myRouter(request, request.params.router_id);
      const st = ctx.hotspot.status(router);
      return {
        router_id: router.id,
        nombre: router.nombre,
        activo: router.activo,
        circuito: st.breaker,
        sin_conexion: st.unreachable,
        ultimo_contacto: st.lastContactAt?.toISOString() ?? null,
        ultimo_fallo: st.lastFailureAt?.toISOString() ?? null,
        ultimo_error: st.lastError,
      };
    },
  );

  app.get(
    '/api/v1/admin/routers/:router_id/sesiones',
    {
      ...admin,
      schema: { tags: ['mikrotik'], summary: 'Sesiones activas del hotspot en el router (RouterOS /ip/hotspot/active)', security: SESSION_SECURITY, params: RouterIdParams, response: { 200: Type.Array(Session), 400: ErrorBody, 404: ErrorBody } },
    },
    async (request) => {
      const router = await myRouter(request, request.params.router_id);
      if (!router.activo) throw badRequest('El router está inactivo. Actívalo primero desde el panel.', 'router_inactive');
      return listActiveSessions(ctx.hotspot, router).catch(routerError);
    },
  );

  app.post(
    '/api/v1/admin/routers/:router_id/sesiones/desconectar',
    {
      ...admin,
      schema: {
        tags: ['mikrotik'],
        summary: 'Desconectar una sesión activa del hotspot (la ficha sigue vigente)',
        security: SESSION_SECURITY,
        params: RouterIdParams,
        body: Type.Object({ sesion_id: Type.String({ minLength: 2, maxLength: 10 }) }),
        response: { 200: Type.Object({ message: S, desconectada: Type.Boolean() }), 400: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      },
    },
    async (request) => {
      const router = await myRouter(request, request.params.router_id);
      const id = request.body.sesion_id;
      if (!isSessionId(id)) throw badRequest('Identificador de sesión inválido', 'invalid_session_id');
      const { found, user } = await disconnectSession(ctx.hotspot, router, id).catch(routerError);
      await ctx.audit.record(auditActor(request), {
        accion: 'router.desconectar_sesion',
        empresaId: router.empresaId,
        recurso: 'router',
        recursoId: router.id,
        detalles: { sesion_id: id, usuario: user, encontrada: found },
      });
      if (!found) throw notFound('La sesión ya no está activa', 'session_not_found');
      return { message: 'Sesión desconectada', desconectada: true };
    },
  );
}
