-- Issue 13: card data only on our HTTPS checkout page (the gateways' own fields), with 3-D Secure.
-- Additive: one new table, one nullable column, one more allowed purchase state.

-- Waiting for the customer's bank (3-D Secure challenge open). 16 characters: estado is varchar(20).
ALTER TABLE transacciones DROP CONSTRAINT IF EXISTS ck_transacciones_estado;
ALTER TABLE transacciones ADD CONSTRAINT ck_transacciones_estado
  CHECK (estado IN ('iniciada', 'cobrada', 'entregada', 'rechazada', 'en_revision', 'reembolsada', 'reembolso_parcial', 'en_autenticacion'));

-- The company's privacy notice (aviso de privacidad), linked on the checkout page before paying; NULL: our default text.
ALTER TABLE empresas ADD COLUMN IF NOT EXISTS aviso_privacidad text;

-- A checkout session: the router page hands the purchase to /pagar/{sesion}. The id itself is never stored,
-- only its SHA-256 (a database read does not give a usable link). Short-lived, single-use (referencia is set
-- by the one purchase it may start), bound to its router and product.
CREATE TABLE IF NOT EXISTS checkout_sesiones (
  id serial PRIMARY KEY,
  id_hash char(64) NOT NULL UNIQUE,
  empresa_id varchar(50) NOT NULL,
  router_id varchar(50) NOT NULL,
  api_key_id varchar(64) NOT NULL,
  producto_id integer NOT NULL,
  pasarela varchar(20) NOT NULL CHECK (pasarela IN ('conekta', 'mercado_pago')),
  nombre_cliente varchar(100) NOT NULL,
  email_cliente varchar(100) NOT NULL,
  telefono_cliente varchar(20),
  link_login_only varchar(500),
  chap_id varchar(64),
  chap_challenge varchar(256),
  mac varchar(17),
  ip varchar(45),
  dst varchar(500),
  creada_en timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  expira_en timestamp NOT NULL,
  referencia varchar(64) UNIQUE
);
CREATE INDEX IF NOT EXISTS ix_checkout_sesiones_expira ON checkout_sesiones (expira_en);
