-- As migrations/sqlite/0005: each story keeps its fingerprint (8 little-endian bytes per term)
-- in its row while it is inside the clustering window; each instance builds its index of the
-- window in memory from these, and catches up with other instances' stories under the
-- clustering lock. The B-tree index of terms is gone.
ALTER TABLE stories ADD COLUMN fingerprint BYTEA;
CREATE INDEX stories_with_fingerprint ON stories (first_seen_at) WHERE fingerprint IS NOT NULL;
DROP TABLE story_terms;
