-- Platform administration (companies, routers, router keys, admin users, audit). Additive only.

-- routers.api_key_hash mirrors the router's CURRENT active key. After a targeted revoke of that key the
-- router may have no active key at all; the column then holds NULL instead of a stale hash of a revoked
-- key (legacy weakness: the two drifted apart). Dropping NOT NULL is additive: every existing row and
-- every writer of the legacy service stay valid, and the UNIQUE constraint ignores NULLs.
ALTER TABLE routers ALTER COLUMN api_key_hash DROP NOT NULL;

-- At most one active (unrevoked) key per router, enforced by the database as well as by the row lock the
-- regeneration takes. A legacy database whose rows were edited by hand into several active keys for one
-- router keeps a plain index instead of failing the migration (regeneration then revokes all of them).
DO $$
BEGIN
  CREATE UNIQUE INDEX IF NOT EXISTS uq_api_keys_one_active_per_router
    ON api_keys_tracking (router_id) WHERE revoked IS NOT TRUE;
EXCEPTION WHEN unique_violation THEN
  CREATE INDEX IF NOT EXISTS idx_api_keys_active_per_router
    ON api_keys_tracking (router_id) WHERE revoked IS NOT TRUE;
END $$;

-- Audit log filters.
CREATE INDEX IF NOT EXISTS idx_auditoria_accion ON auditoria (accion);
-- Router deletion counts the transactions that reference a router.
CREATE INDEX IF NOT EXISTS idx_transacciones_router ON transacciones (router_id);
