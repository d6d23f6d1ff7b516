-- Delivery history and requeueing.
--
-- A delivery's state is read from its row: pending (attempts = 0), waiting for a retry
-- (pending, attempts > 0), in flight (lease_until in the future), delivered or dead.

-- When a dead or waiting delivery was put back by `rasad outbox retry`: its age (which decides
-- when it is given up) counts from then.
ALTER TABLE deliveries ADD COLUMN requeued_at INTEGER;

-- Every attempt to send a delivery, with what the receiver answered.
CREATE TABLE delivery_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES deliveries (id),
    attempted_at INTEGER NOT NULL,
    -- 'delivered' | 'retry' | 'dead'
    outcome      TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, attempted_at);

-- One row per message a channel sent (an alert or a digest of several): the hourly limit counts
-- these, so that it holds across restarts.
CREATE TABLE channel_messages (
    id         INTEGER PRIMARY KEY,
    channel_id TEXT NOT NULL,
    sent_at    INTEGER NOT NULL,
    alerts     INTEGER NOT NULL
);
CREATE INDEX channel_messages_by_channel ON channel_messages (channel_id, sent_at);

CREATE INDEX deliveries_by_channel ON deliveries (channel_id, status, next_attempt_at);
