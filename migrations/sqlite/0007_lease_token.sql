-- The fencing token of a delivery's current lease: each claim writes a new one, and an outcome
-- is recorded only by the sender holding the token it claimed with. A sender that outlived its
-- lease (the delivery was claimed again meanwhile) cannot overwrite the newer holder's outcome.
ALTER TABLE deliveries ADD COLUMN lease_token INTEGER;
-- The Idempotency-Key of the digest a delivery was last sent in: after a crash or a failure the
-- same digest is sent again with the same key, so that a receiver that keeps keys drops it.
ALTER TABLE deliveries ADD COLUMN message_key TEXT;
-- Pruning finds delivered rows by when they were delivered.
CREATE INDEX deliveries_delivered ON deliveries (status, delivered_at);
