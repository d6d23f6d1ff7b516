-- Topics kept in the state beside the config's ("managed" topics): each is the JSON of one
-- `[[topic]]` table, checked as the config's are before it is saved.
CREATE TABLE managed_topics (
    id         TEXT PRIMARY KEY,
    rule       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row: bumped in the transaction of every save and delete, so that a running daemon (every
-- instance sharing the database) sees that the managed topics changed by reading one number.
CREATE TABLE topics_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO topics_revision (id, revision) VALUES (1, 0);

-- Recent alerts, newest first, of every topic or of one (their deliveries are found through
-- UNIQUE (alert_id, channel_id)).
CREATE INDEX alerts_by_created ON alerts (created_at, id);
CREATE INDEX alerts_by_topic_created ON alerts (topic_id, created_at);
