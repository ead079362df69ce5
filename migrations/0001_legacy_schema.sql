-- The legacy service's schema (its SQLAlchemy models, legacy-admin.md §4 and legacy-payments.md §1.3).
-- Written so that it creates everything on an empty database and is a no-op on a database the legacy
-- service created: tables IF NOT EXISTS, then the columns the old pg_dump lacked, then indexes.

CREATE TABLE IF NOT EXISTS empresas (
  id varchar(50) PRIMARY KEY,
  nombre varchar(100) NOT NULL,
  contacto_email varchar(100),
  contacto_telefono varchar(20),
  logo_url varchar(255),
  conekta_private_key varchar(100) NOT NULL,
  conekta_public_key varchar(100) NOT NULL,
  conekta_mode varchar(10) DEFAULT 'test',
  mercado_pago_access_token varchar(255),
  mercado_pago_public_key varchar(255),
  mercado_pago_mode varchar(20) DEFAULT 'test',
  mercado_pago_webhook_secret varchar(255),
  telegram_bot_token varchar(255),
  telegram_chat_id varchar(50),
  notificaciones_telegram boolean,
  activa boolean DEFAULT true,
  creada_en timestamp without time zone DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS usuarios (
  id serial PRIMARY KEY,
  rol varchar(20) NOT NULL,
  empresa_id varchar(50) REFERENCES empresas(id),
  email varchar(100) NOT NULL UNIQUE,
  password_hash varchar(255) NOT NULL,
  nombre varchar(100) NOT NULL,
  activo boolean DEFAULT true,
  ultimo_login timestamp without time zone,
  creado_en timestamp without time zone DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT check_roles_validos CHECK (rol IN ('super_admin', 'cliente_admin')),
  CONSTRAINT check_empresa_required_for_cliente CHECK (
    (rol = 'cliente_admin' AND empresa_id IS NOT NULL) OR (rol = 'super_admin' AND empresa_id IS NULL)
  )
);

CREATE TABLE IF NOT EXISTS routers (
  id varchar(50) PRIMARY KEY,
  empresa_id varchar(50) NOT NULL REFERENCES empresas(id),
  nombre varchar(100) NOT NULL,
  host varchar(50) NOT NULL,
  puerto integer DEFAULT 8728,
  usuario varchar(50) NOT NULL,
  password_encrypted text NOT NULL,
  ubicacion varchar(200),
  api_key_hash varchar(64) NOT NULL UNIQUE,
  activo boolean DEFAULT true,
  creado_en timestamp without time zone DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT uix_empresa_router UNIQUE (empresa_id, id)
);

CREATE TABLE IF NOT EXISTS api_keys_tracking (
  key_id varchar(50) PRIMARY KEY,
  empresa_id varchar(50) NOT NULL REFERENCES empresas(id),
  router_id varchar(50) NOT NULL REFERENCES routers(id),
  key_hash varchar(64) NOT NULL UNIQUE,
  issued_at timestamp without time zone NOT NULL,
  expires_at timestamp without time zone NOT NULL,
  revoked boolean DEFAULT false,
  last_used timestamp without time zone,
  use_count integer DEFAULT 0
);

CREATE TABLE IF NOT EXISTS productos (
  id serial PRIMARY KEY,
  empresa_id varchar(50) NOT NULL REFERENCES empresas(id),
  router_id varchar(50) NOT NULL REFERENCES routers(id),
  perfil_mikrotik_id varchar(100) NOT NULL,
  perfil_mikrotik_nombre varchar(100) NOT NULL,
  nombre_venta varchar(100) NOT NULL,
  descripcion text,
  imagen_url varchar(500),
  precio numeric(10,2) NOT NULL,
  moneda varchar(3) DEFAULT 'MXN',
  detalles jsonb DEFAULT '[]'::jsonb,
  activo boolean DEFAULT true,
  orden_visual integer DEFAULT 0,
  destacado boolean DEFAULT false,
  creado_en timestamp without time zone DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT uix_empresa_router_perfil UNIQUE (empresa_id, router_id, perfil_mikrotik_id)
);

CREATE TABLE IF NOT EXISTS transacciones (
  id serial PRIMARY KEY,
  transaccion_id varchar(100) UNIQUE,
  external_reference varchar(256) UNIQUE,
  empresa_id varchar(50) NOT NULL REFERENCES empresas(id),
  router_id varchar(50) NOT NULL REFERENCES routers(id),
  producto_id integer REFERENCES productos(id),
  monto numeric(10,2) NOT NULL,
  moneda varchar(3) DEFAULT 'MXN',
  cliente_nombre varchar(100),
  cliente_email varchar(100),
  cliente_telefono varchar(20),
  usuario_hotspot varchar(50),
  password_hotspot varchar(50),
  expiracion_hotspot timestamp without time zone,
  estado_pago varchar(20) DEFAULT 'pending',
  estado_hotspot varchar(20) DEFAULT 'pending',
  notification_id varchar(100),
  webhook_processed boolean DEFAULT false,
  metadata_json jsonb DEFAULT '{}'::jsonb,
  api_key_usada varchar(64),
  creada_en timestamp without time zone DEFAULT CURRENT_TIMESTAMP,
  pagada_en timestamp without time zone,
  usuario_creado_en timestamp without time zone,
  webhook_received_at timestamp without time zone
);

-- Columns the legacy pg_dump lacks (the production databases were altered by hand to the models).
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS logo_url varchar(255);
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS mercado_pago_webhook_secret varchar(255);
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS telegram_bot_token varchar(255);
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS telegram_chat_id varchar(50);
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS notificaciones_telegram boolean;
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS mercado_pago_access_token varchar(255);
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS mercado_pago_public_key varchar(255);
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS mercado_pago_mode varchar(20) DEFAULT 'test';
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS external_reference varchar(256);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS notification_id varchar(100);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS webhook_processed boolean DEFAULT false;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS metadata_json jsonb DEFAULT '{}'::jsonb;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS webhook_received_at timestamp without time zone;

CREATE INDEX IF NOT EXISTS idx_usuarios_empresa ON usuarios (empresa_id);
CREATE INDEX IF NOT EXISTS idx_usuarios_email ON usuarios (email);
CREATE INDEX IF NOT EXISTS idx_usuarios_activo ON usuarios (activo);
CREATE INDEX IF NOT EXISTS idx_usuarios_rol ON usuarios (rol);
CREATE INDEX IF NOT EXISTS idx_routers_empresa ON routers (empresa_id);
CREATE INDEX IF NOT EXISTS idx_routers_activo ON routers (activo);
CREATE INDEX IF NOT EXISTS idx_api_keys_empresa ON api_keys_tracking (empresa_id);
CREATE INDEX IF NOT EXISTS idx_api_keys_router ON api_keys_tracking (router_id);
CREATE INDEX IF NOT EXISTS idx_api_keys_expires ON api_keys_tracking (expires_at);
CREATE INDEX IF NOT EXISTS idx_api_keys_revoked ON api_keys_tracking (revoked);
CREATE INDEX IF NOT EXISTS idx_productos_empresa ON productos (empresa_id);
CREATE INDEX IF NOT EXISTS idx_productos_router ON productos (router_id);
CREATE INDEX IF NOT EXISTS idx_productos_activo ON productos (activo);
CREATE INDEX IF NOT EXISTS idx_productos_orden ON productos (orden_visual);
CREATE INDEX IF NOT EXISTS idx_transacciones_empresa ON transacciones (empresa_id);
