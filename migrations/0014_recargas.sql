-- Top-ups (issue 15): more time on the SAME hotspot user, bought through the same exactly-once path.
-- A top-up is a `transacciones` row of its own (its own referencia, charge, refund) that names the sale
-- it extends (`recarga_de`) and holds the user's name; it never creates a user.

-- The targets are computed once, when the attempt is recorded, from the voucher's terms at that moment:
-- delivery SETS them on the router (limit-uptime, limit-bytes-total) and on the extended sale (its
-- limite_minutos / limite_bytes / vigencia_minutos, from which expira_en follows), never adds, so a
-- retried delivery cannot extend twice. `recarga_previo_*` are the terms before it (what a refund
-- reverts to when no later top-up superseded it). NULL: that dimension is unlimited and stays so.
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS recarga_de integer;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS recarga_minutos integer;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS recarga_bytes bigint;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS recarga_vigencia_minutos integer;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS recarga_previo_minutos integer;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS recarga_previo_bytes bigint;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS recarga_previo_vigencia_minutos integer;
CREATE INDEX IF NOT EXISTS idx_transacciones_recarga_de ON transacciones (recarga_de) WHERE recarga_de IS NOT NULL;

-- A top-up row carries the user name of the sale it extends: the live-name index (as 0013 left it) covers sales only.
DROP INDEX IF EXISTS uq_transacciones_voucher_vivo;
CREATE UNIQUE INDEX IF NOT EXISTS uq_transacciones_voucher_vivo ON transacciones (router_id, usuario_hotspot)
  WHERE referencia IS NOT NULL AND recarga_de IS NULL AND estado IN ('iniciada', 'en_autenticacion', 'cobrada', 'entregada', 'en_revision', 'reembolso_parcial');

-- One top-up in flight per voucher: its targets are computed from the voucher's delivered terms, so a
-- second one waits until the first is delivered or closed (a concurrent one is refused before any charge).
CREATE UNIQUE INDEX IF NOT EXISTS uq_transacciones_recarga_en_curso ON transacciones (recarga_de)
  WHERE recarga_de IS NOT NULL AND estado IN ('iniciada', 'en_revision', 'cobrada', 'en_autenticacion');

-- A checkout session may buy a top-up of this voucher (its proof was checked when the session was made).
ALTER TABLE checkout_sesiones ADD COLUMN IF NOT EXISTS recarga_usuario varchar(50);
