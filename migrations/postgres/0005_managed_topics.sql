-- As migrations/sqlite/0009: managed topics (the JSON of one `[[topic]]` table each), the
-- revision every save and delete bumps, which every instance sharing the database polls, and
-- the indexes that list recent alerts newest first.
CREATE TABLE managed_topics (
    id         TEXT PRIMARY KEY,
    rule       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE topics_revision (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO topics_revision (id, revision) VALUES (1, 0);

CREATE INDEX alerts_by_created ON alerts (created_at, id);
CREATE INDEX alerts_by_topic_created ON alerts (topic_id, created_at);
