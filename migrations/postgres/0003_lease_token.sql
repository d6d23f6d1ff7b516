-- As migrations/sqlite/0007: the fencing token of a delivery's current lease, the key of the
-- digest it was last sent in, and an index for pruning delivered rows.
ALTER TABLE deliveries ADD COLUMN lease_token BIGINT;
ALTER TABLE deliveries ADD COLUMN message_key TEXT;
CREATE INDEX deliveries_delivered ON deliveries (status, delivered_at);
