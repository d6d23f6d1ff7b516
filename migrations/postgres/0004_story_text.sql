-- As migrations/sqlite/0008: stories keep their plain-text summary, cut to 4 KiB, for
-- daemon.retention; stories recorded before have none. A backtest pages through stories newest
-- first by (first_seen_at, id), which this index serves.
ALTER TABLE stories ADD COLUMN summary TEXT;
CREATE INDEX stories_by_first_seen_id ON stories (first_seen_at, id);
