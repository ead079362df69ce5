-- Issue 12: the database announces every change of the rows that grant access (companies, routers, router
-- keys, admin users), whoever writes them: a plain SQL UPDATE, or the legacy service run beside ours during a
-- migration. Every instance listens on the change channel (src/infra/bus.ts) and drops its caches at once,
-- so a deactivation is refused within a second instead of when a cache entry expires.
-- Additive in the sense of the contract: a function and triggers; no legacy table's columns change.
-- Payloads are `db|<topic>` (the bus's `<instance>|<topic>` with "db" as the instance: never skipped as an
-- echo). PostgreSQL folds identical notifications of one transaction into one, so bulk updates stay cheap.

CREATE OR REPLACE FUNCTION pagos_hotspot_anunciar_cambio() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  tema text;
  clave text;
BEGIN
  IF TG_TABLE_NAME = 'api_keys_tracking' THEN
    tema := 'router-keys';
  ELSE
    IF TG_OP = 'DELETE' THEN
      clave := OLD.id::text;
    ELSE
      clave := NEW.id::text;
    END IF;
    IF TG_TABLE_NAME = 'empresas' THEN
      tema := 'empresa:' || clave;
    ELSIF TG_TABLE_NAME = 'routers' THEN
      tema := 'router:' || clave;
    ELSE
      tema := 'usuario:' || clave;
    END IF;
  END IF;
  PERFORM pg_notify('pagos_hotspot_cambios', 'db|' || tema);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS pagos_hotspot_empresas_upd ON empresas;
CREATE TRIGGER pagos_hotspot_empresas_upd AFTER UPDATE ON empresas
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION pagos_hotspot_anunciar_cambio();
DROP TRIGGER IF EXISTS pagos_hotspot_empresas_del ON empresas;
CREATE TRIGGER pagos_hotspot_empresas_del AFTER DELETE ON empresas
  FOR EACH ROW EXECUTE FUNCTION pagos_hotspot_anunciar_cambio();

DROP TRIGGER IF EXISTS pagos_hotspot_routers_upd ON routers;
CREATE TRIGGER pagos_hotspot_routers_upd AFTER UPDATE ON routers
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION pagos_hotspot_anunciar_cambio();
DROP TRIGGER IF EXISTS pagos_hotspot_routers_del ON routers;
CREATE TRIGGER pagos_hotspot_routers_del AFTER DELETE ON routers
  FOR EACH ROW EXECUTE FUNCTION pagos_hotspot_anunciar_cambio();

-- Not on use_count / last_used: those are flushed every second and change nobody's access.
DROP TRIGGER IF EXISTS pagos_hotspot_keys_upd ON api_keys_tracking;
CREATE TRIGGER pagos_hotspot_keys_upd AFTER UPDATE ON api_keys_tracking
  FOR EACH ROW WHEN (
    OLD.revoked IS DISTINCT FROM NEW.revoked OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
    OR OLD.key_hash IS DISTINCT FROM NEW.key_hash OR OLD.router_id IS DISTINCT FROM NEW.router_id
    OR OLD.empresa_id IS DISTINCT FROM NEW.empresa_id
  ) EXECUTE FUNCTION pagos_hotspot_anunciar_cambio();
DROP TRIGGER IF EXISTS pagos_hotspot_keys_del ON api_keys_tracking;
CREATE TRIGGER pagos_hotspot_keys_del AFTER DELETE ON api_keys_tracking
  FOR EACH ROW EXECUTE FUNCTION pagos_hotspot_anunciar_cambio();

-- Not on ultimo_login (written by every login).
DROP TRIGGER IF EXISTS pagos_hotspot_usuarios_upd ON usuarios;
CREATE TRIGGER pagos_hotspot_usuarios_upd AFTER UPDATE ON usuarios
  FOR EACH ROW WHEN (
    OLD.activo IS DISTINCT FROM NEW.activo OR OLD.rol IS DISTINCT FROM NEW.rol
    OR OLD.empresa_id IS DISTINCT FROM NEW.empresa_id OR OLD.password_hash IS DISTINCT FROM NEW.password_hash
  ) EXECUTE FUNCTION pagos_hotspot_anunciar_cambio();
DROP TRIGGER IF EXISTS pagos_hotspot_usuarios_del ON usuarios;
CREATE TRIGGER pagos_hotspot_usuarios_del AFTER DELETE ON usuarios
  FOR EACH ROW EXECUTE FUNCTION pagos_hotspot_anunciar_cambio();
