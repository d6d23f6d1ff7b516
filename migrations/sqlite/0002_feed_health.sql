-- Feed health beyond 0001's columns: when the current run of failures began (a feed failing
-- for a day stands out), the URL a permanent redirect moved it to, how many items its last
-- body held, and the wait the server asked for (Cache-Control, Expires, <ttl>, Retry-After).
ALTER TABLE feeds ADD COLUMN failing_since INTEGER;
ALTER TABLE feeds ADD COLUMN moved_to TEXT;
ALTER TABLE feeds ADD COLUMN last_items INTEGER;
ALTER TABLE feeds ADD COLUMN server_hint_secs INTEGER;
CREATE INDEX stories_by_feed_seen ON stories (feed_id, first_seen_at);
