-- Exactly-once money under compound faults (issue 11). Additive: a partial-refund state, the refunded
-- amount, fenced outbox leases, a visible dead state for jobs that gave up.

-- reembolso_parcial: part of the money went back, the voucher stays (transitions.ts holds the table).
ALTER TABLE transacciones DROP CONSTRAINT IF EXISTS ck_transacciones_estado;
ALTER TABLE transacciones ADD CONSTRAINT ck_transacciones_estado
  CHECK (estado IN ('iniciada', 'cobrada', 'entregada', 'rechazada', 'en_revision', 'reembolsada', 'reembolso_parcial'));
-- Cents given back so far (partial refunds add up; a full refund sets the whole amount).
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS reembolsado_centavos integer NOT NULL DEFAULT 0;

-- A partly refunded purchase still holds its voucher name on the router.
DROP INDEX IF EXISTS uq_transacciones_voucher_vivo;
CREATE UNIQUE INDEX IF NOT EXISTS uq_transacciones_voucher_vivo ON transacciones (router_id, usuario_hotspot)
  WHERE referencia IS NOT NULL AND estado IN ('iniciada', 'cobrada', 'entregada', 'en_revision', 'reembolso_parcial');

-- Fenced leases: a claim draws a new token; heartbeat, done and reschedule only act with the current one.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS lease_token varchar(36);
-- A job that exhausted its retries: kept, visible and alerted, never silently dropped.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS dead_at timestamptz;
CREATE INDEX IF NOT EXISTS idx_outbox_muertos ON outbox (dead_at) WHERE dead_at IS NOT NULL;
-- Purge of finished jobs and old idempotency answers (retention in config).
CREATE INDEX IF NOT EXISTS idx_outbox_terminados ON outbox (done_at) WHERE done_at IS NOT NULL;
