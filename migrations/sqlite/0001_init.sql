-- Feeds and their fetch state: validators, health, schedule.
CREATE TABLE feeds (
    id                   TEXT PRIMARY KEY,
    url                  TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    first_success_at     INTEGER,
    last_attempt_at      INTEGER,
    last_success_at      INTEGER,
    last_status          TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    items_seen           INTEGER NOT NULL DEFAULT 0,
    next_poll_at         INTEGER
);

-- Every item seen, once per feed. cluster_id groups the copies of one story across feeds.
CREATE TABLE stories (
    id            INTEGER PRIMARY KEY,
    feed_id       TEXT NOT NULL,
    story_key     TEXT NOT NULL,
    canonical_url TEXT,
    cluster_id    INTEGER,
    title         TEXT NOT NULL,
    published_at  INTEGER,
    first_seen_at INTEGER NOT NULL,
    UNIQUE (feed_id, story_key)
);
CREATE INDEX stories_by_canonical_url ON stories (canonical_url);

-- One alert per story cluster and topic; its payload is what the sinks render.
CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories (id),
    cluster_id INTEGER NOT NULL,
    topic_id   TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (cluster_id, topic_id)
);

-- The outbox: one row per alert and channel.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id),
    channel_id      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (alert_id, channel_id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
