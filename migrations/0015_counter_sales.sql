-- Counter vouchers after the sale (issue 15): first use and expiry of batch vouchers, cash sales by day,
-- and the hotspot's login address as a router setting.

-- The address devices open to log in (the hotspot's DNS name, e.g. wifi.cafe.example): the batch QR codes
-- point at http://<dns_name>/login. NULL: read from the router's hotspot server profile (`dns-name`).
ALTER TABLE routers ADD COLUMN IF NOT EXISTS dns_name varchar(253);

-- The validity sweeper's work list for batch vouchers on one router: on the router, not yet swept
-- (waiting for their first use, or sold and waiting for their expiry).
CREATE INDEX IF NOT EXISTS idx_fichas_lote_vigencia_pendiente ON fichas_lote (router_id, expira_en)
  WHERE en_router AND expirada_en IS NULL AND estado IN ('generado', 'vendido');

-- Cash sales by the day of first use (the dashboard); the price is the batch's (lotes.precio_centavos,
-- copied from the plan when the batch was made).
CREATE INDEX IF NOT EXISTS idx_fichas_lote_primer_uso ON fichas_lote (lote_id, primer_uso_en) WHERE primer_uso_en IS NOT NULL;
