-- Payments: every purchase attempt is a transaction row with a state machine, durable jobs (outbox),
-- stored idempotent responses. Additive only: new columns, tables and indexes (plus DROP NOT NULL on
-- transaccion_id, which the legacy model already declares nullable).

-- A row exists before the gateway gives us an id.
ALTER TABLE transacciones ALTER COLUMN transaccion_id DROP NOT NULL;

-- Our reference: the customer's receipt, the gateway idempotency key and MP external_reference.
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS referencia varchar(64);
-- iniciada → cobrada → entregada, or rechazada, en_revision (outcome unknown), reembolsada.
-- Rows written by the legacy service (only successful sales) count as delivered.
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS estado varchar(20) NOT NULL DEFAULT 'entregada';
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS pasarela varchar(20);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS monto_centavos integer;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS estado_detalle varchar(100);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS tipo_usuario varchar(20);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS perfil_hotspot varchar(100);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS limite_minutos integer;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS error_codigo varchar(50);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS error_detalle text;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS cobro_intentado_en timestamp without time zone;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS entrega_limite timestamp without time zone;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS intentos_entrega integer NOT NULL DEFAULT 0;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS reembolso_id varchar(100);
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS reembolsada_en timestamp without time zone;
ALTER TABLE transacciones ADD COLUMN IF NOT EXISTS actualizada_en timestamp without time zone;

-- Legacy rows the old webhook marked refunded / charged back are not money we kept.
UPDATE transacciones SET estado = 'reembolsada'
  WHERE referencia IS NULL AND estado = 'entregada' AND estado_pago IN ('refunded', 'charged_back');
UPDATE transacciones SET estado = 'rechazada'
  WHERE referencia IS NULL AND estado = 'entregada' AND estado_pago IN ('rejected', 'cancelled');

DO $$
BEGIN
  ALTER TABLE transacciones ADD CONSTRAINT ck_transacciones_estado
    CHECK (estado IN ('iniciada', 'cobrada', 'entregada', 'rechazada', 'en_revision', 'reembolsada'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE UNIQUE INDEX IF NOT EXISTS uq_transacciones_referencia ON transacciones (referencia);
-- Work lists of the workers (small: only unfinished rows).
CREATE INDEX IF NOT EXISTS idx_transacciones_abiertas ON transacciones (estado, creada_en)
  WHERE estado IN ('iniciada', 'cobrada', 'en_revision');
CREATE INDEX IF NOT EXISTS idx_transacciones_router_usuario ON transacciones (router_id, usuario_hotspot);
-- Two live purchases never hold the same voucher name on one router.
CREATE UNIQUE INDEX IF NOT EXISTS uq_transacciones_voucher_vivo ON transacciones (router_id, usuario_hotspot)
  WHERE referencia IS NOT NULL AND estado IN ('iniciada', 'cobrada', 'entregada', 'en_revision');

-- Conekta signs webhooks with an RSA key per account; the public half verifies them (not a secret).
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS conekta_webhook_public_key text;

-- Durable jobs, enqueued in the same database transaction as the change that needs them and run by
-- any instance (claimed with FOR UPDATE SKIP LOCKED, leased with locked_until, retried with backoff).
CREATE TABLE IF NOT EXISTS outbox (
  id bigserial PRIMARY KEY,
  kind varchar(50) NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  dedupe_key varchar(200),
  run_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  locked_until timestamptz,
  done_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_outbox_pendientes ON outbox (run_at) WHERE done_at IS NULL;
-- At most one unfinished job per dedupe key (e.g. one delivery per transaction).
CREATE UNIQUE INDEX IF NOT EXISTS uq_outbox_dedupe ON outbox (dedupe_key) WHERE done_at IS NULL AND dedupe_key IS NOT NULL;

-- Idempotency-Key of purchase requests: the first request's response is replayed for the same key and
-- body (per router); another body under the same key is a conflict.
CREATE TABLE IF NOT EXISTS idempotencia_solicitudes (
  router_id varchar(50) NOT NULL,
  clave varchar(255) NOT NULL,
  endpoint varchar(50) NOT NULL,
  hash_solicitud varchar(64) NOT NULL,
  referencia varchar(64),
  -- procesando | completada
  estado varchar(20) NOT NULL DEFAULT 'procesando',
  respuesta_status integer,
  -- The stored response holds voucher credentials: encrypted like every other secret at rest.
  respuesta_cifrada text,
  creada_en timestamptz NOT NULL DEFAULT now(),
  actualizada_en timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (router_id, clave)
);
CREATE INDEX IF NOT EXISTS idx_idempotencia_creada ON idempotencia_solicitudes (creada_en);
