//! Feeds and stories: what the store remembers of a feed, a poll recorded (the story, its
//! alerts and deliveries committed together with the feed's validators), a failed or unchanged
//! poll, feed health, the leases on feeds that share them among instances, and pruning.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::backend::{Tx, json_list, on, pg_now, rows_per_statement, rows_sql};
use super::postgres::{lock_clustering, notify_outbox};
use super::stories::stored_summary;
use super::{
    FeedEntry, FeedHealth, FeedState, NewStory, PollAttempt, PollCounts, PollHints, PollRecord,
    Store, StoreError, Validators, clusters, count, from_millis, lease_millis, millis,
};

pub(super) async fn feed_state(
    store: &Store,
    feed_id: &str,
    url: &str,
) -> Result<FeedState, StoreError> {
    let state = on!(store.pool(), d, c => {
        sqlx::query(
            "SELECT CASE WHEN url = $2 THEN etag END, CASE WHEN url = $2 THEN last_modified END,
                    first_success_at, consecutive_failures, next_poll_at
             FROM feeds WHERE id = $1",
        )
        .bind(feed_id)
        .bind(url)
        .fetch_optional(c)
        .await?
        .map(|row| FeedState {
            validators: Validators {
                etag: row.get(0),
                last_modified: row.get(1),
            },
            first_success_at: row.get::<Option<i64>, _>(2).map(from_millis),
            consecutive_failures: row.get::<i64, _>(3).try_into().unwrap_or(u32::MAX),
            next_poll_at: row.get::<Option<i64>, _>(4).map(from_millis),
        })
    });
    Ok(state.unwrap_or_default())
}

pub(super) async fn known_keys(
    store: &Store,
    feed_id: &str,
    keys: &[String],
) -> Result<HashMap<String, Option<String>>, StoreError> {
    let stories = stories_by_key(store, feed_id, keys).await?;
    Ok(stories
        .into_iter()
        .map(|(key, hash, _)| (key, hash))
        .collect())
}

pub(super) async fn story_clusters(
    store: &Store,
    feed_id: &str,
    keys: &[String],
) -> Result<HashMap<String, i64>, StoreError> {
    let stories = stories_by_key(store, feed_id, keys).await?;
    Ok(stories
        .into_iter()
        .filter_map(|(key, _, cluster)| Some((key, cluster?)))
        .collect())
}

/// `feed_id`'s stories among `keys`: key, content hash and cluster.
async fn stories_by_key(
    store: &Store,
    feed_id: &str,
    keys: &[String],
) -> Result<Vec<(String, Option<String>, Option<i64>)>, StoreError> {
    Ok(on!(store.pool(), d, c => {
        sqlx::query_as(d.sql(
            "SELECT story_key, content_hash, cluster_id FROM stories
             WHERE feed_id = $1 AND story_key IN (SELECT value FROM json_each($2))",
        ))
        .bind(feed_id)
        .bind(json_list(keys))
        .fetch_all(c)
        .await?
    }))
}

/// Every instance may prune: the deletes are idempotent, and the clustering lock keeps them
/// from running under a transaction that is joining a story to a cluster.
pub(super) async fn prune(
    store: &Store,
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
    let (window, cutoff) = (ago(window), ago(retention));
    let mut tx = store.pool().begin().await?;
    lock_clustering(&mut tx).await?;
    let removed = on!(tx.conn(), d, c => {
        // Fingerprints are kept only while a new story could still be compared with them.
        sqlx::query(
            "UPDATE stories SET fingerprint = NULL WHERE fingerprint IS NOT NULL AND first_seen_at < $1",
        )
        .bind(window)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "DELETE FROM story_identities WHERE story_id IN (SELECT id FROM stories WHERE first_seen_at < $1
             AND id NOT IN (SELECT story_id FROM alerts))",
        )
        .bind(cutoff)
        .execute(&mut *c)
        .await?;
        // The text of the stories that stay (an alert points to them) is kept no longer.
        sqlx::query(
            "UPDATE stories SET summary = NULL WHERE summary IS NOT NULL AND first_seen_at < $1",
        )
        .bind(cutoff)
        .execute(&mut *c)
        .await?;
        let removed = sqlx::query(
            "DELETE FROM stories WHERE first_seen_at < $1 AND id NOT IN (SELECT story_id FROM alerts)",
        )
        .bind(cutoff)
        .execute(&mut *c)
        .await?
        .rows_affected();
        // Delivered deliveries and their attempts, and the message counts, after the same
        // retention: dead and pending ones stay, they are still owed.
        for statement in [
            "DELETE FROM delivery_attempts WHERE delivery_id IN
                 (SELECT id FROM deliveries WHERE status = 'delivered' AND delivered_at < $1)",
            "DELETE FROM deliveries WHERE status = 'delivered' AND delivered_at < $1",
            "DELETE FROM channel_messages WHERE sent_at < $1",
        ] {
            sqlx::query(statement).bind(cutoff).execute(&mut *c).await?;
        }
        removed
    });
    tx.commit().await?;
    Ok(removed)
}

/// One transaction. Its stories are clustered under the clustering lock, so a copy of one
/// story recorded by another instance at the same moment is seen (and joined) by whichever
/// transaction comes second; `UNIQUE (cluster_id, topic_id)` then keeps the alert single.
/// After a failed write the cluster index is read again before the next story is clustered:
/// it may hold stories of the rolled-back transaction.
pub(super) async fn record_poll(
    store: &Store,
    record: &PollRecord,
) -> Result<PollCounts, StoreError> {
    let recorded = record_poll_once(store, record).await;
    if recorded.is_err() {
        clusters::mark_stale(&store.index);
    }
    recorded
}

async fn record_poll_once(store: &Store, record: &PollRecord) -> Result<PollCounts, StoreError> {
    let mut tx = store.pool().begin().await?;
    if !record.stories.is_empty() {
        lock_clustering(&mut tx).await?;
        clusters::refresh(&mut tx, &store.index).await?;
    }
    upsert_feed(&mut tx, &record.feed_id, &record.url).await?;
    let mut counts = PollCounts::default();
    let written = write_stories(&mut tx, store, record, &mut counts).await?;
    for (new, written) in record.stories.iter().zip(written) {
        if let Some(written) = written {
            record_alerts(&mut tx, record, new, written, &mut counts).await?;
        }
    }
    // Invariant 3: the validators are written with, and so never before, the stories.
    update_polled_feed(&mut tx, record, &counts).await?;
    if counts.deliveries > 0 {
        notify_outbox(&mut tx, counts.deliveries).await?;
    }
    tx.commit().await?;
    Ok(counts)
}

/// A story of the poll as written: its id and cluster, and the largest story id its alerts
/// may name as "also reported by" (what was recorded before it in the poll's order).
#[derive(Debug, Clone, Copy)]
struct Written {
    story_id: i64,
    cluster_id: i64,
    seen_up_to: i64,
}

/// One alert row per alert of `new` (none when its cluster has one for the topic), and one
/// delivery per channel of each alert raised.
async fn record_alerts(
    tx: &mut Tx,
    record: &PollRecord,
    new: &NewStory,
    written: Written,
    counts: &mut PollCounts,
) -> Result<(), StoreError> {
    let Written {
        story_id,
        cluster_id,
        seen_up_to,
    } = written;
    for alert in &new.alerts {
        let mut payload = alert.payload.clone();
        let others = clusters::other_outlets(tx, cluster_id, story_id, seen_up_to).await?;
        payload.note_other_outlets(others);
        let payload = serde_json::to_string(&payload).expect("an alert payload serialises");
        let at = millis(record.at);
        on!(tx.conn(), d, c => {
            let alert_id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO alerts (story_id, cluster_id, topic_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (cluster_id, topic_id) DO NOTHING RETURNING id",
            )
            .bind(story_id)
            .bind(cluster_id)
            .bind(&alert.payload.topic_id)
            .bind(payload)
            .bind(at)
            .fetch_optional(&mut *c)
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
                .execute(&mut *c)
                .await?;
                counts.deliveries += 1;
            }
        });
    }
    Ok(())
}

/// The feed after a successful poll: its validators and health, its lease released.
async fn update_polled_feed(
    tx: &mut Tx,
    record: &PollRecord,
    counts: &PollCounts,
) -> Result<(), StoreError> {
    on!(tx.conn(), d, c => {
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
        .bind(millis(record.at))
        .bind(i64::try_from(counts.new_stories).unwrap_or(i64::MAX))
        .bind(millis(record.next_poll_at))
        .bind(i64::try_from(record.items).unwrap_or(i64::MAX))
        .bind(hint_secs(&record.hints))
        .bind(&record.hints.moved_to)
        .bind(&record.hints.note)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// `record_attempt`'s update of the feed's row, run on `$backend` (a pool or a transaction's
/// connection): its number of rows changed.
macro_rules! update_attempted_feed {
    ($backend:expr, $attempt:expr) => {{
        let attempt: &PollAttempt = $attempt;
        on!($backend, d, c => {
            sqlx::query(
                "UPDATE feeds SET last_attempt_at = $2, last_status = $3, next_poll_at = $4,
                     last_success_at = CASE WHEN $5 THEN last_success_at ELSE $2 END,
                     consecutive_failures = CASE WHEN $5 THEN consecutive_failures + 1 ELSE 0 END,
                     failing_since = CASE WHEN $5 THEN COALESCE(failing_since, $2) END,
                     last_error = $6, server_hint_secs = $7, moved_to = COALESCE($8, moved_to),
                     url = $9, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
            )
            .bind(&attempt.feed_id)
            .bind(millis(attempt.at))
            .bind(&attempt.status)
            .bind(millis(attempt.next_poll_at))
            .bind(attempt.error.is_some())
            .bind(&attempt.error)
            .bind(hint_secs(&attempt.hints))
            .bind(&attempt.hints.moved_to)
            .bind(&attempt.url)
            .execute(c)
            .await?
            .rows_affected()
        })
    }};
}

/// One statement for a feed the store knows (every feed the schedule polls is registered
/// first): a 304 or a failure costs one round trip to the database, not four. A feed not
/// registered yet is added and updated in one transaction.
pub(super) async fn record_attempt(store: &Store, attempt: &PollAttempt) -> Result<(), StoreError> {
    if update_attempted_feed!(store.pool(), attempt) > 0 {
        return Ok(());
    }
    let mut tx = store.pool().begin().await?;
    upsert_feed(&mut tx, &attempt.feed_id, &attempt.url).await?;
    update_attempted_feed!(tx.conn(), attempt);
    tx.commit().await?;
    Ok(())
}

/// For an adaptive schedule.
pub(super) async fn recent_item_times(
    store: &Store,
    feed_id: &str,
    limit: u32,
) -> Result<Vec<DateTime<Utc>>, StoreError> {
    let times: Vec<i64> = on!(store.pool(), d, c => {
        sqlx::query_scalar(
            "SELECT COALESCE(published_at, first_seen_at) AS at FROM stories WHERE feed_id = $1
             ORDER BY at DESC LIMIT $2",
        )
        .bind(feed_id)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await?
    });
    Ok(times.into_iter().map(from_millis).collect())
}

/// One row of `feeds` as `feed_health` reads it.
type HealthRow = (
    String,
    String,
    (Option<i64>, Option<i64>, Option<String>, i64),
    (Option<String>, Option<i64>, Option<i64>, Option<i64>),
    (Option<i64>, Option<String>, Option<i64>),
    (Option<String>, Option<i64>),
);

pub(super) async fn feed_health(store: &Store) -> Result<Vec<FeedHealth>, StoreError> {
    let rows: Vec<HealthRow> = on!(store.pool(), d, c => {
        sqlx::query(
            "SELECT id, url, last_attempt_at, last_success_at, last_status, consecutive_failures,
                    last_error, failing_since, items_seen, last_items, next_poll_at, moved_to,
                    server_hint_secs, lease_owner, lease_until
             FROM feeds ORDER BY id",
        )
        .fetch_all(c)
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                (r.get(2), r.get(3), r.get(4), r.get(5)),
                (r.get(6), r.get(7), r.get(8), r.get(9)),
                (r.get(10), r.get(11), r.get(12)),
                (r.get(13), r.get(14)),
            )
        })
        .collect()
    });
    let time = |ms: Option<i64>| ms.map(from_millis);
    Ok(rows
        .into_iter()
        .map(|(id, url, attempt, error, poll, lease)| FeedHealth {
            id,
            url,
            last_attempt_at: time(attempt.0),
            last_success_at: time(attempt.1),
            last_status: attempt.2,
            consecutive_failures: attempt.3.try_into().unwrap_or(u32::MAX),
            last_error: error.0,
            failing_since: time(error.1),
            items_seen: error.2.map_or(0, count),
            last_items: error.3.and_then(|n| u64::try_from(n).ok()),
            next_poll_at: time(poll.0),
            moved_to: poll.1,
            server_wait_secs: poll.2.and_then(|n| u64::try_from(n).ok()),
            lease_owner: lease.0,
            lease_until: time(lease.1),
        })
        .collect())
}

/// One transaction: instances that start together insert each feed once.
pub(super) async fn register_feeds(store: &Store, feeds: &[FeedEntry]) -> Result<(), StoreError> {
    let mut tx = store.leases().begin().await?;
    for feed in feeds {
        on!(tx.conn(), d, c => {
            sqlx::query(
                "INSERT INTO feeds (id, url) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE
                 SET next_poll_at = $3 WHERE feeds.next_poll_at > $3",
            )
            .bind(&feed.id)
            .bind(&feed.url)
            .bind(millis(feed.due_by))
            .execute(c)
            .await?;
        });
    }
    tx.commit().await?;
    Ok(())
}

/// `claim_feeds`'s statement: `$now` is the time leases are measured by, `$lock` the row
/// locking PostgreSQL adds. When a feed is due (`next_poll_at`) stays the instance's business.
macro_rules! claim_feeds_sql {
    ($now:expr, $lock:literal) => {
        concat!(
            "UPDATE feeds SET lease_owner = $4, lease_until = ", $now, " + $3
             WHERE id IN (SELECT id FROM feeds
                          WHERE id IN (SELECT value FROM json_each($5))
                            AND COALESCE(next_poll_at, 0) <= $1 AND COALESCE(lease_until, 0) <= ", $now, "
                          ORDER BY lease_until IS NULL, COALESCE(next_poll_at, 0), id LIMIT $2",
            $lock,
            ")
             RETURNING id"
        )
    };
}

/// On PostgreSQL, rows another instance is claiming right now are skipped, not waited for, and
/// leases are timed by the database's clock (on SQLite, one process, by `now`). A lease that
/// ran out (its holder stopped renewing) makes the feed claimable again, ahead of the other due
/// feeds: a dead instance's polls were due before anything else.
pub(super) async fn claim_feeds(
    store: &Store,
    ids: &[String],
    now: DateTime<Utc>,
    limit: u32,
    lease: Duration,
) -> Result<Vec<String>, StoreError> {
    Ok(on!(store.leases(), d, c => {
        sqlx::query_scalar(d.sql(d.pick(
            claim_feeds_sql!("$1", ""),
            claim_feeds_sql!(pg_now!(), " FOR UPDATE SKIP LOCKED"),
        )))
        .bind(millis(now))
        .bind(i64::from(limit))
        .bind(lease_millis(lease))
        .bind(&*store.instance)
        .bind(json_list(ids))
        .fetch_all(c)
        .await?
    }))
}

/// `renew_feeds`'s statement, with the time leases are measured by.
macro_rules! renew_feeds_sql {
    ($now:expr) => {
        concat!(
            "UPDATE feeds SET lease_until = ",
            $now,
            " + $1
             WHERE lease_owner = $2 AND id IN (SELECT value FROM json_each($3))"
        )
    };
}

/// On SQLite from `now`, on PostgreSQL from the database's clock.
pub(super) async fn renew_feeds(
    store: &Store,
    ids: &[String],
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Vec<String>, StoreError> {
    let ids = json_list(ids);
    let mut tx = store.leases().begin().await?;
    let lost = on!(tx.conn(), d, c => {
        sqlx::query(d.sql(d.pick(
            renew_feeds_sql!("$4"),
            renew_feeds_sql!(pg_now!()),
        )))
        .bind(lease_millis(lease))
        .bind(&*store.instance)
        .bind(&ids)
        .bind(millis(now))
        .execute(&mut *c)
        .await?;
        sqlx::query_scalar(d.sql(
            "SELECT id FROM feeds WHERE id IN (SELECT value FROM json_each($2)) AND lease_owner <> $1
             ORDER BY id",
        ))
        .bind(&*store.instance)
        .bind(&ids)
        .fetch_all(&mut *c)
        .await?
    });
    tx.commit().await?;
    Ok(lost)
}

pub(super) async fn release_feed(
    store: &Store,
    id: &str,
    next_poll_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    on!(store.leases(), d, c => {
        sqlx::query(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_poll_at = $3
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(&*store.instance)
        .bind(millis(next_poll_at))
        .execute(c)
        .await?;
    });
    Ok(())
}

pub(super) async fn next_feed_due(
    store: &Store,
    ids: &[String],
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let next: Option<i64> = on!(store.leases(), d, c => {
        sqlx::query_scalar(d.sql(
            "SELECT MIN(CASE WHEN COALESCE(lease_until, 0) > COALESCE(next_poll_at, 0)
                             THEN lease_until ELSE COALESCE(next_poll_at, 0) END)
             FROM feeds WHERE id IN (SELECT value FROM json_each($1))",
        ))
        .bind(json_list(ids))
        .fetch_one(c)
        .await?
    });
    Ok(next.map(from_millis))
}

fn hint_secs(hints: &PollHints) -> Option<i64> {
    hints
        .server_wait
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Writes the poll's stories: new ones inserted in multi-row statements and given their
/// clusters, edited ones updated (few, one statement each). Per story of the poll, in its
/// order, what was written, or `None` when there was nothing to do (a repeat).
async fn write_stories(
    tx: &mut Tx,
    store: &Store,
    record: &PollRecord,
    counts: &mut PollCounts,
) -> Result<Vec<Option<Written>>, StoreError> {
    let ids = insert_stories(tx, record).await?;
    let mut inserted: Vec<clusters::Inserted<'_>> = record
        .stories
        .iter()
        .zip(&ids)
        .filter_map(|(new, id)| {
            let story = &new.story;
            // Compared at its publication time (bounded by when it was fetched: a feed may
            // post-date).
            let at = story.published.map_or(record.at, |p| p.min(record.at));
            Some(clusters::Inserted {
                id: (*id)?,
                new,
                at,
            })
        })
        .collect();
    inserted.sort_by_key(|story| story.id);
    let assigned =
        clusters::assign_clusters(tx, &store.index, &inserted, &record.cluster_policy).await?;
    let cluster_of: HashMap<i64, i64> = inserted
        .iter()
        .map(|story| story.id)
        .zip(assigned)
        .collect();
    counts.new_stories += inserted.len();
    counts.joined += cluster_of.iter().filter(|(id, c)| id != c).count();
    // What an edited story placed before any new one may see: the stories stored before.
    let mut seen_up_to = inserted.first().map_or(i64::MAX, |first| first.id - 1);
    let mut written = Vec::with_capacity(record.stories.len());
    for (new, id) in record.stories.iter().zip(ids) {
        let story = if new.edited {
            let edited = update_edited(tx, record, new).await?;
            counts.edited += usize::from(edited.is_some());
            edited
        } else {
            id.map(|id| {
                seen_up_to = id;
                (id, cluster_of[&id])
            })
        };
        written.push(story.map(|(story_id, cluster_id)| Written {
            story_id,
            cluster_id,
            seen_up_to,
        }));
    }
    Ok(written)
}

/// Inserts the poll's new stories (not the edited ones), a statement per
/// [`rows_per_statement`] rows. Per story of the poll, its new id: `None` for an edited story,
/// a story already stored, or the second of two with one key.
async fn insert_stories(tx: &mut Tx, record: &PollRecord) -> Result<Vec<Option<i64>>, StoreError> {
    /// `feed_id` and `first_seen_at`, bound once.
    const SHARED: usize = 2;
    const PER_ROW: usize = 7;
    let mut keys = HashSet::new();
    let rows: Vec<&NewStory> = record
        .stories
        .iter()
        .filter(|new| !new.edited && keys.insert(new.story.key.as_str()))
        .collect();
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(rows_per_statement(SHARED, PER_ROW)) {
        let sql = rows_sql(
            "INSERT INTO stories (feed_id, first_seen_at, story_key, canonical_url, title, published_at, outlet, content_hash, summary)
             VALUES ",
            SHARED,
            PER_ROW,
            chunk.len(),
            " ON CONFLICT (feed_id, story_key) DO NOTHING RETURNING story_key, id",
        );
        let returned: Vec<(String, i64)> = on!(tx.conn(), d, c => {
            let mut query = sqlx::query_as(sql)
                .bind(&record.feed_id)
                .bind(millis(record.at));
            for new in chunk {
                query = query
                    .bind(&new.story.key)
                    .bind(&new.canonical_url)
                    .bind(&new.story.title)
                    .bind(new.story.published.map(millis))
                    .bind(&new.outlet)
                    .bind(&new.content_hash)
                    .bind(stored_summary(&new.story.summary));
            }
            query.fetch_all(c).await?
        });
        ids.extend(returned);
    }
    Ok(record
        .stories
        .iter()
        .map(|new| match new.edited {
            true => None,
            // `remove`: the first story of a key takes its id, a second one is a repeat.
            false => ids.remove(&new.story.key),
        })
        .collect())
}

/// An edited story's new title and content hash; its id and cluster, `None` when it is gone.
async fn update_edited(
    tx: &mut Tx,
    record: &PollRecord,
    new: &NewStory,
) -> Result<Option<(i64, i64)>, StoreError> {
    let story = &new.story;
    let edited: Option<(i64, Option<i64>)> = on!(tx.conn(), d, c => {
        sqlx::query_as(
            "UPDATE stories SET title = $3, content_hash = $4, summary = $5 WHERE feed_id = $1 AND story_key = $2
             RETURNING id, cluster_id",
        )
        .bind(&record.feed_id)
        .bind(&story.key)
        .bind(&story.title)
        .bind(&new.content_hash)
        .bind(stored_summary(&story.summary))
        .fetch_optional(c)
        .await?
    });
    Ok(edited.map(|(id, cluster)| (id, cluster.unwrap_or(id))))
}

async fn upsert_feed(tx: &mut Tx, feed_id: &str, url: &str) -> Result<(), StoreError> {
    on!(tx.conn(), d, c => {
        sqlx::query(
            "INSERT INTO feeds (id, url) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET url = excluded.url",
        )
        .bind(feed_id)
        .bind(url)
        .execute(c)
        .await?;
    });
    Ok(())
}
