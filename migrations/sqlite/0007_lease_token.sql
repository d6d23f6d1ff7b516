-- The fencing token of a delivery's current lease: each claim writes a new one, and an outcome
-- is recorded only by the sender holding the token it claimed with. A sender that outlived its
-- lease (the delivery was claimed again meanwhile) cannot overwrite the newer holder's outcome.
ALTER TABLE deliveries ADD COLUMN lease_token INTEGER;
-- Pruning finds delivered rows by when they were delivered.
CREATE INDEX deliveries_delivered ON deliveries (status, delivered_at);
