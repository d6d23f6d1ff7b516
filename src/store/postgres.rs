//! The state in a PostgreSQL database that several instances share: the same schema and contract
//! as the SQLite store, plus what sharing needs. Feeds and deliveries are claimed with
//! `FOR UPDATE SKIP LOCKED` under a lease that names the instance; story identity and cluster
//! assignment are decided inside the recording transaction, serialised across instances by a
//! transaction-scoped advisory lock, with the unique constraints as the last word; a poll that
//! adds deliveries NOTIFYs every instance's outbox.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Row};

use super::*;
use crate::dedupe::index::DEFAULT_CAPACITY;

mod clusters;
mod outbox;

/// How long a statement may wait for one of the pool's connections before it fails.
const POOL_QUEUE_LIMIT: Duration = Duration::from_secs(600);
/// Connections per instance: polls record in parallel, and the outbox claims beside them.
const POOL_SIZE: u32 = 8;
/// The advisory lock key that serialises clustering across instances (any fixed number; this
/// one spells "rasad" in ASCII).
const CLUSTER_LOCK: i64 = 0x72_6173_6164;
/// The channel a poll NOTIFYs when it added deliveries.
pub(super) const OUTBOX_CHANNEL: &str = "rasad_outbox";
/// The wait before the notification listener connects again after it failed.
const LISTEN_RETRY: Duration = Duration::from_secs(2);

/// Connections kept for leases: claiming, renewing and releasing feeds and renewing deliveries
/// never wait behind polls, whose transactions may all be queued for the clustering lock; a
/// renewal that waited for them could let a lease run out under a live instance.
const LEASE_POOL_SIZE: u32 = 2;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// For lease statements only (see [`LEASE_POOL_SIZE`]).
    leases: PgPool,
    /// This instance's fingerprint index of the clustering window (see `clusters`).
    index: Arc<Mutex<clusters::SharedIndex>>,
    /// The URL, kept for the notification listener's own connection.
    url: Arc<str>,
    /// Named as the holder of the leases this store takes.
    instance: Arc<str>,
}

impl PgStore {
    /// Connects to the database at `url` and brings its schema up to date. sqlx's migrator
    /// holds an advisory lock while it runs, so instances that start together apply each
    /// migration once.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let shown = StateLocation::Postgres(url.to_owned()).to_string();
        let open_error = |source| StoreError::Open {
            path: shown.clone(),
            source,
        };
        let options: PgConnectOptions = url.parse().map_err(open_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(POOL_QUEUE_LIMIT)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        // Opened on first use: commands that take no lease never connect it.
        let leases = PgPoolOptions::new()
            .max_connections(LEASE_POOL_SIZE)
            .acquire_timeout(POOL_QUEUE_LIMIT)
            .connect_lazy_with(options);
        let index = clusters::load_index(&pool, DEFAULT_CAPACITY).await?;
        Ok(PgStore {
            pool,
            leases,
            index: Arc::new(Mutex::new(index)),
            url: url.into(),
            instance: crate::config::default_instance().into(),
        })
    }

    /// The same store, recording `instance` as the holder of its leases.
    pub fn with_instance(self, instance: &str) -> PgStore {
        PgStore {
            instance: instance.into(),
            ..self
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub async fn close(&self) {
        self.leases.close().await;
        self.pool.close().await;
    }

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

    pub async fn known_keys(
        &self,
        feed_id: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Option<String>>, StoreError> {
        let rows = sqlx::query(
            "SELECT story_key, content_hash FROM stories WHERE feed_id = $1 AND story_key = ANY($2)",
        )
        .bind(feed_id)
        .bind(keys)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn story_clusters(
        &self,
        feed_id: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT story_key, cluster_id FROM stories WHERE feed_id = $1 AND story_key = ANY($2)",
        )
        .bind(feed_id)
        .bind(keys)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Every instance may prune: the deletes are idempotent, and the clustering lock keeps them
    /// from running under a transaction that is joining a story to a cluster.
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        retention: Duration,
        window: Duration,
    ) -> Result<u64, StoreError> {
        let ago = |d: Duration| {
            chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| now.checked_sub_signed(d))
                .map_or(i64::MIN, millis)
        };
        let mut tx = self.pool.begin().await?;
        lock_clustering(&mut tx).await?;
        // Fingerprints are kept only while a new story could still be compared with them.
        sqlx::query(
            "UPDATE stories SET fingerprint = NULL WHERE fingerprint IS NOT NULL AND first_seen_at < $1",
        )
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

    /// One transaction, as on SQLite. Its stories are clustered under the clustering lock, so a
    /// copy of one story recorded by another instance at the same moment is seen (and joined)
    /// by whichever transaction comes second; `UNIQUE (cluster_id, topic_id)` then keeps the
    /// alert single. Other instances are notified when deliveries were added.
    pub async fn record_poll(&self, record: &PollRecord) -> Result<PollCounts, StoreError> {
        let recorded = self.record_poll_once(record).await;
        if recorded.is_err() {
            // The index may hold stories of the rolled-back transaction: read it again.
            match clusters::load_index(&self.pool, DEFAULT_CAPACITY).await {
                Ok(index) => {
                    *self
                        .index
                        .lock()
                        .expect("the cluster index is never poisoned") = index
                }
                Err(e) => tracing::error!(error = %e, "cannot reload the cluster index"),
            }
        }
        recorded
    }

    async fn record_poll_once(&self, record: &PollRecord) -> Result<PollCounts, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !record.stories.is_empty() {
            lock_clustering(&mut tx).await?;
            clusters::catch_up(&mut tx, &self.index).await?;
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
                let alert_id: Option<i64> = sqlx::query_scalar(
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
                let Some(alert_id) = alert_id else { continue };
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
        if counts.deliveries > 0 {
            // Delivered at commit, to every instance's listener.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(OUTBOX_CHANNEL)
                .bind(counts.deliveries.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

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

    pub async fn recent_item_times(
        &self,
        feed_id: &str,
        limit: u32,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT COALESCE(published_at, first_seen_at) AS at FROM stories WHERE feed_id = $1
             ORDER BY at DESC LIMIT $2",
        )
        .bind(feed_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_millis).collect())
    }

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
            |row: &sqlx::postgres::PgRow, i: usize| row.get::<Option<i64>, _>(i).map(from_millis);
        let count = |row: &sqlx::postgres::PgRow, i: usize| {
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

    pub async fn register_feeds(&self, feeds: &[FeedEntry]) -> Result<(), StoreError> {
        let ids: Vec<&str> = feeds.iter().map(|f| f.id.as_str()).collect();
        let urls: Vec<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
        let due_by: Vec<i64> = feeds.iter().map(|f| millis(f.due_by)).collect();
        // One statement: instances that start together insert each feed once.
        sqlx::query(
            "INSERT INTO feeds (id, url) SELECT * FROM UNNEST($1::text[], $2::text[])
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&ids)
        .bind(&urls)
        .execute(&self.leases)
        .await?;
        sqlx::query(
            "UPDATE feeds f SET next_poll_at = c.due_by
             FROM UNNEST($1::text[], $2::bigint[]) AS c (id, due_by)
             WHERE f.id = c.id AND f.next_poll_at > c.due_by",
        )
        .bind(&ids)
        .bind(&due_by)
        .execute(&self.leases)
        .await?;
        Ok(())
    }

    /// Rows another instance is claiming right now are skipped, not waited for; a lease that
    /// ran out (its holder stopped renewing) makes the feed claimable again, ahead of the other
    /// due feeds: a dead instance's polls were due before anything else.
    pub async fn claim_feeds(
        &self,
        ids: &[String],
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        let now_ms = millis(now);
        let claimed: Vec<String> = sqlx::query_scalar(
            "UPDATE feeds SET lease_owner = $4, lease_until = $3
             WHERE id IN (SELECT id FROM feeds
                          WHERE id = ANY($5)
                            AND COALESCE(next_poll_at, 0) <= $1 AND COALESCE(lease_until, 0) <= $1
                          ORDER BY lease_until IS NULL, COALESCE(next_poll_at, 0), id LIMIT $2
                          FOR UPDATE SKIP LOCKED)
             RETURNING id",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .bind(now_ms.saturating_add(lease_millis(lease)))
        .bind(&*self.instance)
        .bind(ids)
        .fetch_all(&self.leases)
        .await?;
        Ok(claimed)
    }

    pub async fn renew_feeds(
        &self,
        ids: &[String],
        until: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let lost: Vec<String> = sqlx::query_scalar(
            "WITH renewed AS (UPDATE feeds SET lease_until = $1
                              WHERE lease_owner = $2 AND id = ANY($3) RETURNING id)
             SELECT id FROM feeds WHERE id = ANY($3) AND lease_owner <> $2 ORDER BY id",
        )
        .bind(millis(until))
        .bind(&*self.instance)
        .bind(ids)
        .fetch_all(&self.leases)
        .await?;
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
        .execute(&self.leases)
        .await?;
        Ok(())
    }

    pub async fn next_feed_due(&self, ids: &[String]) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(GREATEST(COALESCE(next_poll_at, 0), COALESCE(lease_until, 0))) FROM feeds
             WHERE id = ANY($1)",
        )
        .bind(ids)
        .fetch_one(&self.leases)
        .await?;
        Ok(next.map(from_millis))
    }

    /// LISTENs on the outbox channel with a connection of its own and wakes `wake` at each
    /// notification, until `stop`. A failed or lost connection is logged and opened again after
    /// a pause; `wake` is woken then too, since notifications sent meanwhile are lost.
    pub async fn listen_for_deliveries(
        &self,
        wake: Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            let listened = tokio::select! {
                () = stop.cancelled() => return,
                listened = self.listen_once(&wake) => listened,
            };
            if let Err(e) = listened {
                tracing::warn!(error = %e, "outbox notifications lost; listening again shortly");
            }
            wake.notify_one();
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(LISTEN_RETRY) => {}
            }
        }
    }

    /// Listens until the connection fails.
    async fn listen_once(&self, wake: &tokio::sync::Notify) -> Result<(), StoreError> {
        let listen_error = |source| StoreError::Listen {
            location: StateLocation::Postgres(self.url.to_string()).to_string(),
            source,
        };
        let mut listener = PgListener::connect(&self.url).await.map_err(listen_error)?;
        listener
            .listen(OUTBOX_CHANNEL)
            .await
            .map_err(listen_error)?;
        tracing::debug!(channel = OUTBOX_CHANNEL, "listening for new deliveries");
        loop {
            match listener.try_recv().await.map_err(listen_error)? {
                Some(_) => wake.notify_one(),
                // The connection was lost and opened again: anything sent meanwhile is lost.
                None => wake.notify_one(),
            }
        }
    }
}

/// Serialises clustering across instances until the transaction ends.
async fn lock_clustering(tx: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CLUSTER_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn lease_millis(lease: Duration) -> i64 {
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
    tx: &mut PgConnection,
    index: &Mutex<clusters::SharedIndex>,
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
    let story_id: Option<i64> = sqlx::query_scalar(
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
    let Some(story_id) = story_id else {
        return Ok(None);
    };
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

async fn upsert_feed(tx: &mut PgConnection, feed_id: &str, url: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO feeds (id, url) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET url = excluded.url",
    )
    .bind(feed_id)
    .bind(url)
    .execute(tx)
    .await?;
    Ok(())
}
