-- Hotspot / RouterOS: API-SSL settings per router. Additive only; the legacy service ignores them.
-- tls: NULL keeps the legacy rule (TLS only when the port is 8729), true/false forces TLS on/off.
-- tls_ca: PEM of the CA (or of the router's self-signed certificate) -> chain and host name verified.
-- tls_fingerprint: SHA-256 of the router's certificate (hex, ':' optional) -> certificate pinned.
-- With neither, TLS is used without verification, as the legacy did.
ALTER TABLE routers ADD COLUMN IF NOT EXISTS tls boolean;
ALTER TABLE routers ADD COLUMN IF NOT EXISTS tls_ca text;
ALTER TABLE routers ADD COLUMN IF NOT EXISTS tls_fingerprint varchar(128);
