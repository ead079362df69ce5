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
