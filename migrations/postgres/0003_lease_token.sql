-- As migrations/sqlite/0007: the fencing token of a delivery's current lease, and an index for
-- pruning delivered rows.
ALTER TABLE deliveries ADD COLUMN lease_token BIGINT;
CREATE INDEX deliveries_delivered ON deliveries (status, delivered_at);
