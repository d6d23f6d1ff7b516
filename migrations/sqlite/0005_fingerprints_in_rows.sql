-- Each story keeps its fingerprint (its terms, 8 little-endian bytes each) in its row while it is
-- inside the clustering window; the store builds its index of the window in memory from these.
-- The B-tree index of terms is gone: it cost a random insert per word of every story.
ALTER TABLE stories ADD COLUMN fingerprint BLOB;
CREATE INDEX stories_with_fingerprint ON stories (first_seen_at) WHERE fingerprint IS NOT NULL;
DROP TABLE story_terms;
