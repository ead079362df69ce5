-- Company self-service and the public catalog. Additive only.

-- Products: how long a voucher lasts (sets the RouterOS limit-uptime) and which kind of voucher it sells.
ALTER TABLE productos ADD COLUMN IF NOT EXISTS duracion_minutos integer;
ALTER TABLE productos ADD COLUMN IF NOT EXISTS tipo_usuario_default varchar(20);

-- The public catalog reads a router's active products in display order.
CREATE INDEX IF NOT EXISTS idx_productos_router_activo ON productos (router_id, activo, orden_visual);

-- Company logos live in the database so that every instance can serve them (the legacy wrote them to a
-- local directory). The file name is unique per upload, so its content never changes.
CREATE TABLE IF NOT EXISTS empresa_logos (
  archivo varchar(100) PRIMARY KEY,
  empresa_id varchar(50) NOT NULL REFERENCES empresas(id),
  content_type varchar(50) NOT NULL,
  contenido bytea NOT NULL,
  sha256 varchar(64) NOT NULL,
  creado_en timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX IF NOT EXISTS idx_empresa_logos_empresa ON empresa_logos (empresa_id);

-- The company transaction list filters and pages by company and date.
CREATE INDEX IF NOT EXISTS idx_transacciones_empresa_creada ON transacciones (empresa_id, creada_en DESC, id DESC);
