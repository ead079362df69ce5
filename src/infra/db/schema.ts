/**
 * Drizzle view of the tables (the SQL in migrations/ is what creates them). Timestamps are read as the
 * database's text (`mode: 'string'`) and are naive UTC, as the legacy wire format expects.
 * Modules add their own tables in their own files; this file holds the shared legacy tables.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  integer,
  jsonb,
  numeric,
  pgTable,
  serial,
  text,
  timestamp,
  varchar,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { mode: 'string', withTimezone: false });

export const empresas = pgTable('empresas', {
  id: varchar('id', { length: 50 }).primaryKey(),
  nombre: varchar('nombre', { length: 100 }).notNull(),
  contactoEmail: varchar('contacto_email', { length: 100 }),
  contactoTelefono: varchar('contacto_telefono', { length: 20 }),
  logoUrl: varchar('logo_url', { length: 255 }),
  conektaPrivateKey: text('conekta_private_key').notNull(),
  conektaPublicKey: varchar('conekta_public_key', { length: 255 }).notNull(),
  conektaMode: varchar('conekta_mode', { length: 10 }).default('test'),
  /** Conekta's webhook signing public key (PEM), set by the company; migration 0006. */
  conektaWebhookPublicKey: text('conekta_webhook_public_key'),
  mercadoPagoAccessToken: text('mercado_pago_access_token'),
  mercadoPagoPublicKey: varchar('mercado_pago_public_key', { length: 255 }),
  mercadoPagoMode: varchar('mercado_pago_mode', { length: 20 }).default('test'),
  mercadoPagoWebhookSecret: text('mercado_pago_webhook_secret'),
  telegramBotToken: text('telegram_bot_token'),
  telegramChatId: varchar('telegram_chat_id', { length: 50 }),
  notificacionesTelegram: boolean('notificaciones_telegram'),
  activa: boolean('activa').default(true),
  // 0011: IANA time zone for screens and tickets (storage stays UTC).
  zonaHoraria: varchar('zona_horaria', { length: 64 }).notNull().default('America/Mexico_City'),
  /** The company's privacy notice (aviso de privacidad) linked on the checkout page; NULL: the default text. Migration 0009. */
  avisoPrivacidad: text('aviso_privacidad'),
  creadaEn: ts('creada_en').default(sql`(now() AT TIME ZONE 'utc')`),
});

export const usuarios = pgTable('usuarios', {
  id: serial('id').primaryKey(),
  rol: varchar('rol', { length: 20 }).notNull(),
  empresaId: varchar('empresa_id', { length: 50 }),
  email: varchar('email', { length: 100 }).notNull(),
  passwordHash: varchar('password_hash', { length: 255 }).notNull(),
  nombre: varchar('nombre', { length: 100 }).notNull(),
  activo: boolean('activo').default(true),
  ultimoLogin: ts('ultimo_login'),
  creadoEn: ts('creado_en').default(sql`(now() AT TIME ZONE 'utc')`),
  sessionVersion: integer('session_version').notNull().default(0),
});

export const routers = pgTable('routers', {
  id: varchar('id', { length: 50 }).primaryKey(),
  empresaId: varchar('empresa_id', { length: 50 }).notNull(),
  nombre: varchar('nombre', { length: 100 }).notNull(),
  host: varchar('host', { length: 50 }).notNull(),
  puerto: integer('puerto').default(8728),
  usuario: varchar('usuario', { length: 50 }).notNull(),
  passwordEncrypted: text('password_encrypted').notNull(),
  ubicacion: varchar('ubicacion', { length: 200 }),
  // NULL when the router has no active key (migration 0003).
  apiKeyHash: varchar('api_key_hash', { length: 64 }),
  activo: boolean('activo').default(true),
  creadoEn: ts('creado_en').default(sql`(now() AT TIME ZONE 'utc')`),
  // 0005: API-SSL. tls NULL = legacy rule (TLS only on port 8729); CA (PEM) or SHA-256 fingerprint = verified.
  tls: boolean('tls'),
  tlsCa: text('tls_ca'),
  tlsFingerprint: varchar('tls_fingerprint', { length: 128 }),
  // 0015: the hotspot's login address (QR codes on batch tickets); NULL: the router profile's dns-name.
  dnsName: varchar('dns_name', { length: 253 }),
});

export const apiKeysTracking = pgTable('api_keys_tracking', {
  keyId: varchar('key_id', { length: 50 }).primaryKey(),
  empresaId: varchar('empresa_id', { length: 50 }).notNull(),
  routerId: varchar('router_id', { length: 50 }).notNull(),
  keyHash: varchar('key_hash', { length: 64 }).notNull(),
  issuedAt: ts('issued_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  revoked: boolean('revoked').default(false),
  revokedAt: ts('revoked_at'),
  lastUsed: ts('last_used'),
  useCount: integer('use_count').default(0),
});

export const productos = pgTable('productos', {
  id: serial('id').primaryKey(),
  empresaId: varchar('empresa_id', { length: 50 }).notNull(),
  routerId: varchar('router_id', { length: 50 }).notNull(),
  perfilMikrotikId: varchar('perfil_mikrotik_id', { length: 100 }).notNull(),
  perfilMikrotikNombre: varchar('perfil_mikrotik_nombre', { length: 100 }).notNull(),
  nombreVenta: varchar('nombre_venta', { length: 100 }).notNull(),
  descripcion: text('descripcion'),
  imagenUrl: varchar('imagen_url', { length: 500 }),
  precio: numeric('precio', { precision: 10, scale: 2 }).notNull(),
  moneda: varchar('moneda', { length: 3 }).default('MXN'),
  detalles: jsonb('detalles').default(sql`'[]'::jsonb`),
  activo: boolean('activo').default(true),
  ordenVisual: integer('orden_visual').default(0),
  destacado: boolean('destacado').default(false),
  // 0004: voucher duration (limit-uptime) and the voucher kind this product sells.
  duracionMinutos: integer('duracion_minutos'),
  tipoUsuarioDefault: varchar('tipo_usuario_default', { length: 20 }),
  // 0011: validity (minutes from the first login or from the sale) and data allowance (limit-bytes-total).
  vigenciaMinutos: integer('vigencia_minutos'),
  vigenciaDesde: varchar('vigencia_desde', { length: 10 }),
  limiteBytes: bigint('limite_bytes', { mode: 'number' }),
  creadoEn: ts('creado_en').default(sql`(now() AT TIME ZONE 'utc')`),
});

export const transacciones = pgTable('transacciones', {
  id: serial('id').primaryKey(),
  transaccionId: varchar('transaccion_id', { length: 100 }),
  externalReference: varchar('external_reference', { length: 256 }),
  empresaId: varchar('empresa_id', { length: 50 }).notNull(),
  routerId: varchar('router_id', { length: 50 }).notNull(),
  productoId: integer('producto_id'),
  monto: numeric('monto', { precision: 10, scale: 2 }).notNull(),
  moneda: varchar('moneda', { length: 3 }).default('MXN'),
  clienteNombre: varchar('cliente_nombre', { length: 100 }),
  clienteEmail: varchar('cliente_email', { length: 100 }),
  clienteTelefono: varchar('cliente_telefono', { length: 20 }),
  usuarioHotspot: varchar('usuario_hotspot', { length: 50 }),
  passwordHotspot: text('password_hotspot'),
  expiracionHotspot: ts('expiracion_hotspot'),
  estadoPago: varchar('estado_pago', { length: 20 }).default('pending'),
  estadoHotspot: varchar('estado_hotspot', { length: 20 }).default('pending'),
  notificationId: varchar('notification_id', { length: 100 }),
  webhookProcessed: boolean('webhook_processed').default(false),
  metadataJson: jsonb('metadata_json').default(sql`'{}'::jsonb`),
  apiKeyUsada: varchar('api_key_usada', { length: 64 }),
  creadaEn: ts('creada_en').default(sql`(now() AT TIME ZONE 'utc')`),
  pagadaEn: ts('pagada_en'),
  usuarioCreadoEn: ts('usuario_creado_en'),
  webhookReceivedAt: ts('webhook_received_at'),
  // 0006 (payments): state machine and delivery bookkeeping.
  referencia: varchar('referencia', { length: 64 }),
  estado: varchar('estado', { length: 20 }).notNull().default('entregada'),
  pasarela: varchar('pasarela', { length: 20 }),
  montoCentavos: integer('monto_centavos'),
  estadoDetalle: varchar('estado_detalle', { length: 100 }),
  tipoUsuario: varchar('tipo_usuario', { length: 20 }),
  perfilHotspot: varchar('perfil_hotspot', { length: 100 }),
  limiteMinutos: integer('limite_minutos'),
  errorCodigo: varchar('error_codigo', { length: 50 }),
  errorDetalle: text('error_detalle'),
  cobroIntentadoEn: ts('cobro_intentado_en'),
  entregaLimite: ts('entrega_limite'),
  intentosEntrega: integer('intentos_entrega').notNull().default(0),
  reembolsoId: varchar('reembolso_id', { length: 100 }),
  reembolsadaEn: ts('reembolsada_en'),
  actualizadaEn: ts('actualizada_en'),
  // 0007 (money): cents given back so far (partial refunds add up).
  reembolsadoCentavos: integer('reembolsado_centavos').notNull().default(0),
  // 0011 (vouchers): the plan's terms at the sale, and the validity the sweeper enforces.
  vigenciaMinutos: integer('vigencia_minutos'),
  vigenciaDesde: varchar('vigencia_desde', { length: 10 }),
  limiteBytes: bigint('limite_bytes', { mode: 'number' }),
  primerUsoEn: ts('primer_uso_en'),
  expiraEn: ts('expira_en'),
  expiradaEn: ts('expirada_en'),
  // 0014 (top-ups): the sale this row extends, and the targets its delivery sets (previo_*: before it).
  recargaDe: integer('recarga_de'),
  recargaMinutos: integer('recarga_minutos'),
  recargaBytes: bigint('recarga_bytes', { mode: 'number' }),
  recargaVigenciaMinutos: integer('recarga_vigencia_minutos'),
  recargaPrevioMinutos: integer('recarga_previo_minutos'),
  recargaPrevioBytes: bigint('recarga_previo_bytes', { mode: 'number' }),
  recargaPrevioVigenciaMinutos: integer('recarga_previo_vigencia_minutos'),
});

export const auditoria = pgTable('auditoria', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  creadoEn: ts('creado_en').notNull().default(sql`(now() AT TIME ZONE 'utc')`),
  usuarioId: integer('usuario_id'),
  usuarioEmail: varchar('usuario_email', { length: 100 }),
  rol: varchar('rol', { length: 20 }),
  empresaId: varchar('empresa_id', { length: 50 }),
  accion: varchar('accion', { length: 100 }).notNull(),
  recurso: varchar('recurso', { length: 100 }),
  recursoId: varchar('recurso_id', { length: 100 }),
  detalles: jsonb('detalles').notNull().default(sql`'{}'::jsonb`),
  ip: varchar('ip', { length: 64 }),
});
