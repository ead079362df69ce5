-- Foundation additions. Additive only: new columns, tables and indexes, plus widening columns that now
-- hold ciphertext (a wider varchar/text never breaks the legacy service reading the same database).

-- Persisted revocation time (the legacy code returned one but had no column).
ALTER TABLE api_keys_tracking ADD COLUMN IF NOT EXISTS revoked_at timestamp without time zone;

-- Session revocation: a session token carries the version current when it was issued; logout and
-- password change bump it, so every earlier token stops working at once.
ALTER TABLE usuarios ADD COLUMN IF NOT EXISTS session_version integer NOT NULL DEFAULT 0;

-- Secrets are now encrypted at rest; ciphertext is longer than the clear values were.
ALTER TABLE empresas ALTER COLUMN conekta_private_key TYPE text;
ALTER TABLE empresas ALTER COLUMN conekta_public_key TYPE varchar(255);
ALTER TABLE empresas ALTER COLUMN mercado_pago_access_token TYPE text;
ALTER TABLE empresas ALTER COLUMN mercado_pago_webhook_secret TYPE text;
ALTER TABLE empresas ALTER COLUMN telegram_bot_token TYPE text;
ALTER TABLE transacciones ALTER COLUMN password_hotspot TYPE text;

-- Emails are unique regardless of case. A legacy database that already holds two spellings of one
-- address keeps a plain index instead of failing the migration.
DO $$
BEGIN
  CREATE UNIQUE INDEX IF NOT EXISTS uq_usuarios_email_lower ON usuarios (lower(email));
EXCEPTION WHEN unique_violation THEN
  CREATE INDEX IF NOT EXISTS idx_usuarios_email_lower ON usuarios (lower(email));
END $$;

-- Audit log of every admin write.
CREATE TABLE IF NOT EXISTS auditoria (
  id bigserial PRIMARY KEY,
  creado_en timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  usuario_id integer,
  usuario_email varchar(100),
  rol varchar(20),
  empresa_id varchar(50),
  accion varchar(100) NOT NULL,
  recurso varchar(100),
  recurso_id varchar(100),
  detalles jsonb NOT NULL DEFAULT '{}'::jsonb,
  ip varchar(64)
);
CREATE INDEX IF NOT EXISTS idx_auditoria_creado ON auditoria (creado_en DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_auditoria_empresa ON auditoria (empresa_id);
