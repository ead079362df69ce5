-- Vouchers beyond the single online sale (issue 15): validity enforced by the server, data plans.

-- A plan's validity: minutes counted from the first login (primer_uso) or from the sale (venta); a data
-- allowance written as the user's limit-bytes-total.
ALTER TABLE productos ADD COLUMN IF NOT EXISTS vigencia_minutos integer;
ALTER TABLE productos ADD COLUMN IF NOT EXISTS vigencia_desde varchar(10);
ALTER TABLE productos ADD COLUMN IF NOT EXISTS limite_bytes bigint;
ALTER TABLE productos DROP CONSTRAINT IF EXISTS ck_productos_vigencia;
ALTER TABLE productos ADD CONSTRAINT ck_productos_vigencia CHECK (
  (vigencia_minutos IS NULL OR vigencia_minutos > 0)
  AND (vigencia_desde IS NULL OR vigencia_desde IN ('primer_uso', 'venta'))
  AND (limite_bytes IS NULL OR limite_bytes > 0));

-- Screens and tickets show times in the company's zone; storage stays UTC.
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS zona_horaria varchar(64) NOT NULL DEFAULT 'America/Mexico_City';

-- The sold voucher keeps the plan's terms as they were at the sale, and its validity bookkeeping:
-- primer_uso_en (first login seen on the router), expira_en (UTC, set once), expirada_en (the sweeper
-- disabled it on the router; set once, so a restart never disables twice).
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS vigencia_minutos integer;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS vigencia_desde varchar(10);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS limite_bytes bigint;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS primer_uso_en timestamp without time zone;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS expira_en timestamp without time zone;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS expirada_en timestamp without time zone;
-- The sweeper's work list: delivered vouchers with a validity not yet swept, per router.
CREATE INDEX IF NOT EXISTS idx_transacciones_vigencia_pendiente ON transacciones (router_id, expira_en)
  WHERE vigencia_minutos IS NOT NULL AND expirada_en IS NULL;

-- Batches of vouchers printed and sold for cash at a counter. The plan's terms and price are copied at
-- batch time (a later price change does not move the cash already counted).
CREATE TABLE IF NOT EXISTS lotes (
  id serial PRIMARY KEY,
  empresa_id varchar(50) NOT NULL,
  router_id varchar(50) NOT NULL,
  producto_id integer NOT NULL,
  cantidad integer NOT NULL CHECK (cantidad BETWEEN 1 AND 5000),
  prefijo varchar(10) NOT NULL DEFAULT 'PT-',
  nombre_plan varchar(100) NOT NULL,
  perfil varchar(100) NOT NULL,
  precio_centavos integer NOT NULL,
  moneda varchar(3) NOT NULL DEFAULT 'MXN',
  limite_minutos integer,
  vigencia_minutos integer,
  vigencia_desde varchar(10),
  limite_bytes bigint,
  estado varchar(10) NOT NULL DEFAULT 'generado' CHECK (estado IN ('generado', 'anulado')),
  creado_en timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  anulado_en timestamp without time zone
);
CREATE INDEX IF NOT EXISTS idx_lotes_empresa ON lotes (empresa_id, id);

-- One printed voucher. en_router: created on the router (delivery progress). States: generado → vendido
-- (first login seen) → expirado (validity over, disabled); anulado (its batch was voided before use).
CREATE TABLE IF NOT EXISTS fichas_lote (
  id bigserial PRIMARY KEY,
  lote_id integer NOT NULL REFERENCES lotes (id),
  router_id varchar(50) NOT NULL,
  usuario varchar(50) NOT NULL,
  password_cifrada text NOT NULL,
  estado varchar(10) NOT NULL DEFAULT 'generado' CHECK (estado IN ('generado', 'vendido', 'expirado', 'anulado')),
  en_router boolean NOT NULL DEFAULT false,
  primer_uso_en timestamp without time zone,
  expira_en timestamp without time zone,
  expirada_en timestamp without time zone,
  UNIQUE (router_id, usuario)
);
CREATE INDEX IF NOT EXISTS idx_fichas_lote_lote ON fichas_lote (lote_id, en_router);
