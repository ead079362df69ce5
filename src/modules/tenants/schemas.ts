/**
 * Wire schemas of the super-admin API. Response objects keep the legacy key order; string limits are the
 * database column widths (legacy-admin.md §4), so an oversize value is a 422, never a database error.
 */
import { Type, type TSchema } from 'typebox';

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Str = (maxLength: number, minLength = 0) => Type.String({ maxLength, minLength });
/**
 * A nullable string for request bodies: one schema with a type list, so that Ajv's type coercion leaves
 * JSON null alone (an anyOf with a string branch would coerce null to "").
 */
const NullableStr = (maxLength: number) => Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength });
const NStr = Nullable(Type.String());

export const ErrorBody = Type.Object({ detail: Type.Any(), code: Type.String() });
export const ERRORS = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody };
export const Message = Type.Object({ message: Type.String() });

// ---- empresas -------------------------------------------------------------------------------------

export const EmpresaId = Type.Object({ empresa_id: Str(50) });

export const EmpresaCreateBody = Type.Object({
  nombre: Str(100, 1),
  contacto_email: Str(100),
  contacto_telefono: Type.Optional(NullableStr(20)),
  conekta_private_key: Type.Optional(NullableStr(100)),
  conekta_public_key: Type.Optional(NullableStr(100)),
  conekta_mode: Type.Optional(NullableStr(10)),
});

export const EmpresaUpdateBody = Type.Object({
  nombre: Type.Optional(Str(100, 1)),
  contacto_email: Type.Optional(NullableStr(100)),
  contacto_telefono: Type.Optional(NullableStr(20)),
  conekta_private_key: Type.Optional(Str(100, 1)),
  conekta_public_key: Type.Optional(Str(100, 1)),
  conekta_mode: Type.Optional(Str(10, 1)),
  activa: Type.Optional(Type.Boolean()),
});

/** Legacy `EmpresaResponse` (no secrets). */
export const EmpresaResponse = Type.Object({
  id: Type.String(),
  nombre: Type.String(),
  contacto_email: NStr,
  contacto_telefono: NStr,
  conekta_mode: NStr,
  activa: Type.Boolean(),
  creada_en: NStr,
});

/** New `GET /admin/empresas/{id}`: the legacy object plus every setting, secrets masked. */
export const EmpresaDetail = Type.Object({
  id: Type.String(),
  nombre: Type.String(),
  contacto_email: NStr,
  contacto_telefono: NStr,
  conekta_mode: NStr,
  activa: Type.Boolean(),
  creada_en: NStr,
  logo_url: NStr,
  conekta_public_key: NStr,
  conekta_private_key: NStr,
  mercado_pago_mode: NStr,
  mercado_pago_public_key: NStr,
  mercado_pago_access_token: NStr,
  mercado_pago_webhook_secret: NStr,
  telegram_chat_id: NStr,
  telegram_bot_token: NStr,
  notificaciones_telegram: Type.Boolean(),
});

export const DashboardResponse = Type.Object({
  estadisticas: Type.Object({ total_empresas: Type.Integer(), empresas_activas: Type.Integer(), total_usuarios: Type.Integer() }),
  timestamp: Type.String(),
});

export const EmpresaStatsResponse = Type.Object({
  empresa: Type.Object({ id: Type.String(), nombre: Type.String(), activa: Type.Boolean(), creada_en: NStr, contacto_email: NStr }),
  estadisticas: Type.Object({
    total_routers: Type.Integer(),
    routers_activos: Type.Integer(),
    routers_inactivos: Type.Integer(),
    total_usuarios_admin: Type.Integer(),
    api_keys_activas: Type.Integer(),
  }),
});

// ---- routers and keys -----------------------------------------------------------------------------

export const RouterParams = Type.Object({ empresa_id: Str(50), router_id: Str(50) });
export const KeyParams = Type.Object({ empresa_id: Str(50), router_id: Str(50), key_id: Str(50) });

export const RouterCreateBody = Type.Object({
  // Required by the legacy schema but ignored (the path wins); optional here.
  empresa_id: Type.Optional(NullableStr(50)),
  nombre: Str(100, 1),
  host: Str(50, 1),
  puerto: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 8728 })),
  usuario: Str(50, 1),
  password: Str(255),
  ubicacion: Type.Optional(NullableStr(200)),
  // API-SSL settings (validated; never returned): null tls = legacy rule (TLS only on port 8729).
  tls: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  tls_ca: Type.Optional(NullableStr(16 * 1024)),
  tls_fingerprint: Type.Optional(NullableStr(100)),
});

/** Legacy `RouterResponse`: never the RouterOS user, password or key hash. */
export const RouterResponse = Type.Object({
  id: Type.String(),
  empresa_id: Type.String(),
  nombre: Type.String(),
  host: Type.String(),
  puerto: Nullable(Type.Integer()),
  ubicacion: NStr,
  activo: Type.Boolean(),
  creado_en: NStr,
});

export const ApiKeyInfo = Type.Object({ key_id: Type.String(), issued_at: Type.String(), expires_at: Type.String(), type: Type.String() });

export const RouterCreatedResponse = Type.Object({
  id: Type.String(),
  empresa_id: Type.String(),
  nombre: Type.String(),
  host: Type.String(),
  puerto: Nullable(Type.Integer()),
  ubicacion: NStr,
  activo: Type.Boolean(),
  api_key: Type.String(),
  api_key_info: ApiKeyInfo,
  creado_en: NStr,
});

export const RouterToggleResponse = Type.Object({ message: Type.String(), router_id: Type.String(), activo: Type.Boolean() });

export const RegenerateResponse = Type.Object({
  message: Type.String(),
  router_id: Type.String(),
  new_api_key: Type.String(),
  api_key_info: ApiKeyInfo,
  previous_key_revoked: Type.Boolean(),
});

export const ApiKeyRow = Type.Object({
  key_id: Type.String(),
  router_id: Type.String(),
  empresa_id: Type.String(),
  issued_at: NStr,
  expires_at: NStr,
  revoked: Type.Boolean(),
  revoked_at: NStr,
  last_used: NStr,
  use_count: Type.Integer(),
});

export const RevokeResponse = Type.Object({ message: Type.String(), key_id: Type.String(), router_id: Type.String(), revoked_at: Type.String() });

export const KeyStatusResponse = Type.Object({
  router_id: Type.String(),
  has_active_key: Type.Boolean(),
  key_id: NStr,
  issued_at: NStr,
  expires_at: NStr,
  expires_in_days: Nullable(Type.Integer()),
  last_used: NStr,
  use_count: Nullable(Type.Integer()),
  status: Type.String(),
  warning: NStr,
  recommendation: NStr,
});

export const RouterDeletedResponse = Type.Object({ message: Type.String(), router_id: Type.String(), empresa_id: Type.String() });

// ---- usuarios -------------------------------------------------------------------------------------

export const UsuarioIdParam = Type.Object({ usuario_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

export const UserCreateBody = Type.Object({
  email: Str(320),
  password: Str(1024),
  nombre: Str(100, 1),
  rol: Str(20),
  empresa_id: Type.Optional(NullableStr(50)),
});

export const UserUpdateBody = Type.Object({
  nombre: Type.Optional(Str(100, 1)),
  email: Type.Optional(Str(320)),
  rol: Type.Optional(Str(20)),
  empresa_id: Type.Optional(NullableStr(50)),
});

export const ResetPasswordBody = Type.Object({ new_password: Str(1024) });

/** Legacy `UserResponse`. */
export const UserResponse = Type.Object({
  id: Type.Integer(),
  email: Type.String(),
  nombre: Type.String(),
  rol: Type.String(),
  empresa_id: NStr,
  activo: Type.Boolean(),
});

export const UserEnvelope = Type.Object({ message: Type.String(), usuario: UserResponse });
export const UserToggleResponse = Type.Object({ message: Type.String(), usuario_id: Type.Integer(), activo: Type.Boolean() });
export const ResetPasswordResponse = Type.Object({ message: Type.String(), usuario_id: Type.Integer() });

// ---- auditoría ------------------------------------------------------------------------------------

export const AuditRow = Type.Object({
  id: Type.Integer(),
  creado_en: NStr,
  usuario_id: Nullable(Type.Integer()),
  usuario_email: NStr,
  rol: NStr,
  empresa_id: NStr,
  accion: Type.String(),
  recurso: NStr,
  recurso_id: NStr,
  detalles: Type.Unknown(),
  ip: NStr,
});
