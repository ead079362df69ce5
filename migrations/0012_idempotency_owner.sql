-- The request that owns an Idempotency-Key before its attempt exists. A key left without an attempt by a
-- request that died (SIGKILL, or a database cut that also failed its release) is taken over by a same-key
-- retry once its owner has been silent long enough; the old owner can then no longer record an attempt
-- (the attempt's commit requires the key to still name it), so nothing is charged twice.
ALTER TABLE idempotencia_solicitudes ADD COLUMN IF NOT EXISTS propietario varchar(64);
