-- Stories keep their plain-text summary (the title is kept already), cut to 4 KiB
-- (store::STORED_SUMMARY_BYTES), for daemon.retention: `rasad backtest` runs topics over them.
-- Stories recorded before have none. A backtest pages through stories newest first by
-- (first_seen_at, id): stories_by_first_seen serves it, its rows ordered by id within a time.
ALTER TABLE stories ADD COLUMN summary TEXT;
