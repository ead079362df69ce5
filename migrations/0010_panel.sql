-- Issue 14 (operators' panel): a transaction's history. Every change of a purchase's state (ours) or of
-- the gateway's status (a webhook or a reconciliation read) is recorded by the database itself, whoever
-- writes the row, so the panel can show how a sale got where it is. Additive: one table, one trigger.
CREATE TABLE IF NOT EXISTS transaccion_historial (
  id bigserial PRIMARY KEY,
  transaccion_id integer NOT NULL,
  en timestamptz NOT NULL DEFAULT now(),
  estado_anterior varchar(20),
  estado_nuevo varchar(20),
  estado_pago_anterior varchar(20),
  estado_pago_nuevo varchar(20),
  estado_hotspot varchar(20),
  detalle varchar(200)
);
CREATE INDEX IF NOT EXISTS idx_transaccion_historial_tx ON transaccion_historial (transaccion_id, id);

CREATE OR REPLACE FUNCTION pagos_hotspot_historial_transaccion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO transaccion_historial (transaccion_id, estado_nuevo, estado_pago_nuevo, estado_hotspot, detalle)
      VALUES (NEW.id, NEW.estado, NEW.estado_pago, NEW.estado_hotspot, left(NEW.estado_detalle, 200));
  ELSIF NEW.estado IS DISTINCT FROM OLD.estado OR NEW.estado_pago IS DISTINCT FROM OLD.estado_pago
        OR NEW.estado_hotspot IS DISTINCT FROM OLD.estado_hotspot THEN
    INSERT INTO transaccion_historial (transaccion_id, estado_anterior, estado_nuevo, estado_pago_anterior, estado_pago_nuevo, estado_hotspot, detalle)
      VALUES (NEW.id, OLD.estado, NEW.estado, OLD.estado_pago, NEW.estado_pago, NEW.estado_hotspot, left(NEW.estado_detalle, 200));
  END IF;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS pagos_hotspot_transacciones_historial ON transacciones;
CREATE TRIGGER pagos_hotspot_transacciones_historial AFTER INSERT OR UPDATE ON transacciones
  FOR EACH ROW EXECUTE FUNCTION pagos_hotspot_historial_transaccion();
