//! The state in one SQLite file (WAL), written through one connection so that writers never
//! contend; migrations are embedded in the binary.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::*;
use crate::dedupe::ClusterIndex;
use crate::dedupe::index::DEFAULT_CAPACITY;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

mod clusters;
mod outbox;

/// How long a write may wait for the store's one connection before it fails.
const STORE_QUEUE_LIMIT: Duration = Duration::from_secs(600);

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Named as the holder of the leases this store takes.
    instance: std::sync::Arc<str>,
    /// The clustering window's fingerprint index (see `dedupe::index`), fed as stories are
    /// recorded.
    index: Arc<Mutex<ClusterIndex>>,
    /// Whether `index` must be read from the database before the next poll is recorded: at
    /// first (commands that record nothing never read it), and after a failed write, which may
    /// have added stories the database then rolled back.
    index_stale: Arc<AtomicBool>,
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // 16 MiB of page cache (the default is 2 MiB): the fingerprint index and the story
            // keys of thousands of feeds are read at every poll, and a page re-read from the
            // file costs a system call and a copy.
            .pragma("cache_size", "-16384");
        // One connection: every write is serialised in-process and SQLite never answers BUSY
        // between our own writers; reads are short.
        // Many feeds polled at once queue here for the one connection: a long queue is slow, not
        // an error, so the wait for it is generous.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(STORE_QUEUE_LIMIT)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            instance: crate::config::default_instance().into(),
            index: Arc::new(Mutex::new(ClusterIndex::default())),
            index_stale: Arc::new(AtomicBool::new(true)),
        })
    }

    /// The same store, recording `instance` as the holder of its leases.
    pub fn with_instance(self, instance: &str) -> SqliteStore {
        SqliteStore {
            instance: instance.into(),
            ..self
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Closes the connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// What the store knows of a feed, or the default for a feed never polled. Validators saved
    /// for another URL (the feed's URL was changed in the config) are not returned.
    pub async fn feed_state(&self, feed_id: &str, url: &str) -> Result<FeedState, StoreError> {
        let row = sqlx::query(
            "SELECT CASE WHEN url = $2 THEN etag END, CASE WHEN url = $2 THEN last_modified END,
                    first_success_at, consecutive_failures, next_poll_at
             FROM feeds WHERE id = $1",
        )
        .bind(feed_id)
        .bind(url)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| FeedState {
                validators: Validators {
                    etag: row.get(0),
                    last_modified: row.get(1),
                },
                first_success_at: row.get::<Option<i64>, _>(2).map(from_millis),
                consecutive_failures: row.get::<i64, _>(3).try_into().unwrap_or(u32::MAX),
                next_poll_at: row.get::<Option<i64>, _>(4).map(from_millis),
            })
            .unwrap_or_default())
    }

    /// The keys among `keys` already recorded for `feed_id`, with the content hash recorded
    /// (`None` for stories recorded before hashes were kept).
    pub async fn known_keys(
        &self,
        feed_id: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Option<String>>, StoreError> {
        let keys_json = serde_json::to_string(keys).expect("a list of strings serialises");
        let rows = sqlx::query(
            "SELECT story_key, content_hash FROM stories WHERE feed_id = $1 AND story_key IN (SELECT value FROM json_each($2))",
        )
        .bind(feed_id)
        .bind(keys_json)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The cluster of each of `feed_id`'s stories among `keys`.
    pub async fn story_clusters(
        &self,
        feed_id: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let keys_json = serde_json::to_string(keys).expect("a list of strings serialises");
        let rows = sqlx::query(
            "SELECT story_key, cluster_id FROM stories WHERE feed_id = $1 AND story_key IN (SELECT value FROM json_each($2))",
        )
        .bind(feed_id)
        .bind(keys_json)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Forgets stories first seen before `now - retention` (those an alert points to stay, as
    /// the anchor of its history) and drops fingerprint index rows older than the clustering
    /// window. Returns the number of stories removed.
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        retention: Duration,
        window: Duration,
    ) -> Result<u64, StoreError> {
        // A retention too long to subtract keeps everything.
        let ago = |d: Duration| {
            chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| now.checked_sub_signed(d))
                .map_or(i64::MIN, millis)
        };
        let mut tx = self.pool.begin().await?;
        // Fingerprints are kept only while a new story could still be compared with them.
        sqlx::query("UPDATE stories SET fingerprint = NULL WHERE fingerprint IS NOT NULL AND first_seen_at < $1")
            .bind(ago(window))
            .execute(&mut *tx)
            .await?;
        let cutoff = ago(retention);
        sqlx::query(
            "DELETE FROM story_identities WHERE story_id IN (SELECT id FROM stories WHERE first_seen_at < $1
             AND id NOT IN (SELECT story_id FROM alerts))",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let removed = sqlx::query(
            "DELETE FROM stories WHERE first_seen_at < $1 AND id NOT IN (SELECT story_id FROM alerts)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }

    /// Writes one successful poll in one transaction: the new stories, their alerts and
    /// deliveries, then the feed's validators and health.
    pub async fn record_poll(&self, record: &PollRecord) -> Result<PollCounts, StoreError> {
        let recorded = self.record_poll_once(record).await;
        if recorded.is_err() {
            self.index_stale.store(true, Ordering::SeqCst);
        }
        recorded
    }

    async fn record_poll_once(&self, record: &PollRecord) -> Result<PollCounts, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Read in the transaction, which holds the store's one connection: no other poll can
        // cluster between the check and the load.
        if self.index_stale.swap(false, Ordering::SeqCst) {
            let index = clusters::load_index(&mut tx, DEFAULT_CAPACITY).await?;
            *self
                .index
                .lock()
                .expect("the cluster index is never poisoned") = index;
        }
        let at = millis(record.at);
        upsert_feed(&mut tx, &record.feed_id, &record.url).await?;
        let mut counts = PollCounts::default();
        for new in &record.stories {
            let Some((story_id, cluster_id)) =
                record_story(&mut tx, &self.index, record, new, &mut counts).await?
            else {
                continue;
            };
            for alert in &new.alerts {
                let mut payload = alert.payload.clone();
                payload.also_reported_by =
                    clusters::other_outlets(&mut tx, cluster_id, story_id).await?;
                let payload = serde_json::to_string(&payload).expect("an alert payload serialises");
                let alert_row = sqlx::query(
                    "INSERT INTO alerts (story_id, cluster_id, topic_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (cluster_id, topic_id) DO NOTHING RETURNING id",
                )
                .bind(story_id)
                .bind(cluster_id)
                .bind(&alert.payload.topic_id)
                .bind(payload)
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(alert_row) = alert_row else { continue };
                let alert_id: i64 = alert_row.get(0);
                counts.alerts += 1;
                for channel in &alert.channels {
                    sqlx::query(
                        "INSERT INTO deliveries (alert_id, channel_id, idempotency_key, status, next_attempt_at, created_at)
                         VALUES ($1, $2, $3, 'pending', $4, $4) ON CONFLICT (alert_id, channel_id) DO NOTHING",
                    )
                    .bind(alert_id)
                    .bind(channel)
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    counts.deliveries += 1;
                }
            }
        }
        // Invariant 3: the validators are written with, and so never before, the stories.
        sqlx::query(
            "UPDATE feeds SET etag = $2, last_modified = $3, first_success_at = COALESCE(first_success_at, $4),
                 last_attempt_at = $4, last_success_at = $4, last_status = '200', consecutive_failures = 0,
                 last_error = $10, items_seen = items_seen + $5, next_poll_at = $6,
                 failing_since = NULL, last_items = $7, server_hint_secs = $8, moved_to = COALESCE($9, moved_to),
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $1",
        )
        .bind(&record.feed_id)
        .bind(&record.validators.etag)
        .bind(&record.validators.last_modified)
        .bind(at)
        .bind(counts.new_stories as i64)
        .bind(millis(record.next_poll_at))
        .bind(i64::try_from(record.items).unwrap_or(i64::MAX))
        .bind(hint_secs(&record.hints))
        .bind(&record.hints.moved_to)
        .bind(&record.hints.note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Records a poll that brought nothing new (304) or failed.
    pub async fn record_attempt(&self, attempt: &PollAttempt) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        upsert_feed(&mut tx, &attempt.feed_id, &attempt.url).await?;
        let failed = attempt.error.is_some();
        sqlx::query(
            "UPDATE feeds SET last_attempt_at = $2, last_status = $3, next_poll_at = $4,
                 last_success_at = CASE WHEN $5 THEN last_success_at ELSE $2 END,
                 consecutive_failures = CASE WHEN $5 THEN consecutive_failures + 1 ELSE 0 END,
                 failing_since = CASE WHEN $5 THEN COALESCE(failing_since, $2) END,
                 last_error = $6, server_hint_secs = $7, moved_to = COALESCE($8, moved_to),
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $1",
        )
        .bind(&attempt.feed_id)
        .bind(millis(attempt.at))
        .bind(&attempt.status)
        .bind(millis(attempt.next_poll_at))
        .bind(failed)
        .bind(&attempt.error)
        .bind(hint_secs(&attempt.hints))
        .bind(&attempt.hints.moved_to)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The publication times (else first-seen times) of a feed's `limit` newest stories, for
    /// an adaptive schedule.
    pub async fn recent_item_times(
        &self,
        feed_id: &str,
        limit: u32,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let rows = sqlx::query(
            "SELECT COALESCE(published_at, first_seen_at) AS at FROM stories WHERE feed_id = $1
             ORDER BY at DESC LIMIT $2",
        )
        .bind(feed_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| from_millis(r.get(0))).collect())
    }

    /// The health of every feed the store knows, by id.
    pub async fn feed_health(&self) -> Result<Vec<FeedHealth>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, url, last_attempt_at, last_success_at, last_status, consecutive_failures,
                    last_error, failing_since, items_seen, last_items, next_poll_at, moved_to,
                    server_hint_secs, lease_owner, lease_until
             FROM feeds ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let time =
            |row: &sqlx::sqlite::SqliteRow, i: usize| row.get::<Option<i64>, _>(i).map(from_millis);
        let count = |row: &sqlx::sqlite::SqliteRow, i: usize| {
            row.get::<Option<i64>, _>(i)
                .and_then(|n| u64::try_from(n).ok())
        };
        Ok(rows
            .iter()
            .map(|row| FeedHealth {
                id: row.get(0),
                url: row.get(1),
                last_attempt_at: time(row, 2),
                last_success_at: time(row, 3),
                last_status: row.get(4),
                consecutive_failures: row.get::<i64, _>(5).try_into().unwrap_or(u32::MAX),
                last_error: row.get(6),
                failing_since: time(row, 7),
                items_seen: count(row, 8).unwrap_or(0),
                last_items: count(row, 9),
                next_poll_at: time(row, 10),
                moved_to: row.get(11),
                server_wait_secs: count(row, 12),
                lease_owner: row.get(13),
                lease_until: time(row, 14),
            })
            .collect())
    }

    /// Outbox rows by state, as seen at `now`.
    pub async fn outbox_counts(&self, now: DateTime<Utc>) -> Result<OutboxCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(status = 'pending' AND next_attempt_at <= $1), 0),
                    COALESCE(SUM(status = 'pending' AND next_attempt_at > $1), 0),
                    COALESCE(SUM(status = 'delivered'), 0),
                    COALESCE(SUM(status = 'dead'), 0)
             FROM deliveries",
        )
        .bind(millis(now))
        .fetch_one(&self.pool)
        .await?;
        let n = |i| row.get::<i64, _>(i).try_into().unwrap_or(0);
        Ok(OutboxCounts {
            due: n(0),
            waiting: n(1),
            delivered: n(2),
            dead: n(3),
        })
    }

    /// When the next pending delivery falls due, if any is pending.
    pub async fn next_delivery_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) FROM deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(next.map(from_millis))
    }
}

impl SqliteStore {
    pub async fn register_feeds(&self, feeds: &[FeedEntry]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for feed in feeds {
            sqlx::query(
                "INSERT INTO feeds (id, url) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE
                 SET next_poll_at = MIN(next_poll_at, $3) WHERE next_poll_at > $3",
            )
            .bind(&feed.id)
            .bind(&feed.url)
            .bind(millis(feed.due_by))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn claim_feeds(
        &self,
        ids: &[String],
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        let now_ms = millis(now);
        let rows: Vec<String> = sqlx::query_scalar(
            "UPDATE feeds SET lease_owner = $4, lease_until = $3
             WHERE id IN (SELECT id FROM feeds
                          WHERE id IN (SELECT value FROM json_each($5))
                            AND COALESCE(next_poll_at, 0) <= $1 AND COALESCE(lease_until, 0) <= $1
                          ORDER BY lease_until IS NULL, COALESCE(next_poll_at, 0), id LIMIT $2)
             RETURNING id",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .bind(now_ms.saturating_add(lease_millis(lease)))
        .bind(&*self.instance)
        .bind(serde_json::to_string(ids).expect("a list of strings serialises"))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    pub async fn renew_feeds(
        &self,
        ids: &[String],
        until: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let ids = serde_json::to_string(ids).expect("a list of strings serialises");
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE feeds SET lease_until = $1
             WHERE lease_owner = $2 AND id IN (SELECT value FROM json_each($3))",
        )
        .bind(millis(until))
        .bind(&*self.instance)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        let lost: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM feeds WHERE id IN (SELECT value FROM json_each($2)) AND lease_owner <> $1
             ORDER BY id",
        )
        .bind(&*self.instance)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(lost)
    }

    pub async fn release_feed(
        &self,
        id: &str,
        next_poll_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_poll_at = $3
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(&*self.instance)
        .bind(millis(next_poll_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn next_feed_due(&self, ids: &[String]) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(COALESCE(next_poll_at, 0), COALESCE(lease_until, 0))) FROM feeds
             WHERE id IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(ids).expect("a list of strings serialises"))
        .fetch_one(&self.pool)
        .await?;
        Ok(next.map(from_millis))
    }
}

/// A lease as milliseconds, however long it is configured.
pub(crate) fn lease_millis(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

fn hint_secs(hints: &PollHints) -> Option<i64> {
    hints
        .server_wait
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Writes one story: inserts a new one and gives it its cluster, or updates an edited one.
/// Returns its id and cluster, or `None` when there is nothing to do (a repeat).
async fn record_story(
    tx: &mut sqlx::SqliteConnection,
    index: &Mutex<ClusterIndex>,
    record: &PollRecord,
    new: &NewStory,
    counts: &mut PollCounts,
) -> Result<Option<(i64, i64)>, StoreError> {
    let story = &new.story;
    if new.edited {
        let row = sqlx::query(
            "UPDATE stories SET title = $3, content_hash = $4 WHERE feed_id = $1 AND story_key = $2
             RETURNING id, cluster_id",
        )
        .bind(&record.feed_id)
        .bind(&story.key)
        .bind(&story.title)
        .bind(&new.content_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        counts.edited += 1;
        let id: i64 = row.get(0);
        return Ok(Some((id, row.get::<Option<i64>, _>(1).unwrap_or(id))));
    }
    let inserted = sqlx::query(
        "INSERT INTO stories (feed_id, story_key, canonical_url, title, published_at, first_seen_at, outlet, content_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (feed_id, story_key) DO NOTHING RETURNING id",
    )
    .bind(&record.feed_id)
    .bind(&story.key)
    .bind(&new.canonical_url)
    .bind(&story.title)
    .bind(story.published.map(millis))
    .bind(millis(record.at))
    .bind(&new.outlet)
    .bind(&new.content_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = inserted else { return Ok(None) };
    let story_id: i64 = row.get(0);
    counts.new_stories += 1;
    // Compared at its publication time (bounded by when it was fetched: a feed may post-date).
    let at = story.published.map_or(record.at, |p| p.min(record.at));
    let cluster_id =
        clusters::assign_cluster(tx, index, story_id, new, at, &record.cluster_policy).await?;
    if cluster_id != story_id {
        counts.joined += 1;
    }
    Ok(Some((story_id, cluster_id)))
}

async fn upsert_feed(
    tx: &mut sqlx::SqliteConnection,
    feed_id: &str,
    url: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO feeds (id, url) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET url = excluded.url")
        .bind(feed_id)
        .bind(url)
        .execute(tx)
        .await?;
    Ok(())
}
