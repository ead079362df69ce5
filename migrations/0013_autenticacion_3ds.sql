-- Issue 13: 3-D Secure. A purchase waiting for the customer's bank (`en_autenticacion`, already allowed by the
-- CHECK of 0009) holds its voucher name like any other purchase that may still become a sale.
DROP INDEX IF EXISTS uq_transacciones_voucher_vivo;
CREATE UNIQUE INDEX IF NOT EXISTS uq_transacciones_voucher_vivo ON transacciones (router_id, usuario_hotspot)
  WHERE referencia IS NOT NULL AND estado IN ('iniciada', 'en_autenticacion', 'cobrada', 'entregada', 'en_revision', 'reembolso_parcial');
