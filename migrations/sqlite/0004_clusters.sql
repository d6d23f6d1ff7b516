-- Story clusters: the copies of one story across feeds and outlets share stories.cluster_id.

-- The outlet (feed display name) shown as "also reported by"; the hash of the folded title and
-- summary that tells an edit from a repeat; the time a story is compared at (published, else
-- first seen); the number of terms in its fingerprint.
ALTER TABLE stories ADD COLUMN outlet TEXT;
ALTER TABLE stories ADD COLUMN content_hash TEXT;
ALTER TABLE stories ADD COLUMN clustered_at INTEGER;
ALTER TABLE stories ADD COLUMN terms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX stories_by_cluster ON stories (cluster_id);
CREATE INDEX stories_by_first_seen ON stories (first_seen_at);

-- Canonical links and guids: equal identities are one story, whatever the text says.
CREATE TABLE story_identities (
    identity TEXT NOT NULL,
    story_id INTEGER NOT NULL,
    PRIMARY KEY (identity, story_id)
) WITHOUT ROWID;
CREATE INDEX story_identities_by_story ON story_identities (story_id);

-- The fingerprint index: one row per term of each story inside the clustering window, by time,
-- so that a lookup reads only the postings of the window, however many stories are stored.
CREATE TABLE story_terms (
    term     INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    story_id INTEGER NOT NULL,
    PRIMARY KEY (term, at, story_id)
) WITHOUT ROWID;
CREATE INDEX story_terms_by_time ON story_terms (at);
