//! The outbox's rows: claiming one channel's due deliveries under a lease (fenced by a token),
//! recording each attempt with its outcome, the hourly message count, and the `rasad outbox`
//! listing and requeue. On PostgreSQL claims skip the rows another instance is claiming
//! (`FOR UPDATE SKIP LOCKED`) and leases are timed by the database's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::backend::{Tx, json_list, on, pg_now};
use super::clusters::other_outlets_sql;
use super::{
    ChannelQueue, DeliveryUpdate, OutboxCounts, OutboxEntry, Store, StoreError, count, from_millis,
    lease_millis, millis,
};
use crate::model::Delivery;

/// `claim_due`'s statement: `$now` is the time leases are measured by, `$lock` the row locking,
/// `$outlets` the aggregate that lists the outlets as JSON text.
macro_rules! claim_due_sql {
    ($now:expr, $lock:literal, $outlets:literal) => {
        concat!(
            "UPDATE deliveries SET lease_until = ",
            $now,
            " + $3, lease_owner = $5, lease_token = $6
             WHERE id IN (SELECT id FROM deliveries
                          WHERE channel_id = $4 AND status = 'pending' AND next_attempt_at <= $1
                            AND COALESCE(lease_until, 0) <= ",
            $now,
            "
                          ORDER BY next_attempt_at, id LIMIT $2",
            $lock,
            ")
             RETURNING id, alert_id, channel_id, idempotency_key, attempts,
                       COALESCE(requeued_at, created_at),
                       (SELECT payload FROM alerts WHERE alerts.id = deliveries.alert_id),
                       (SELECT cluster_id FROM alerts WHERE alerts.id = deliveries.alert_id),
                       (SELECT ",
            $outlets,
            " FROM (",
            other_outlets_sql!(
                "(SELECT cluster_id FROM alerts WHERE alerts.id = deliveries.alert_id)",
                "(SELECT story_id FROM alerts WHERE alerts.id = deliveries.alert_id)"
            ),
            ") AS o),
                       message_key"
        )
    };
}

/// `renew_deliveries`'s statement, with the time leases are measured by.
macro_rules! renew_deliveries_sql {
    ($now:expr) => {
        concat!(
            "UPDATE deliveries SET lease_until = ",
            $now,
            " + $1 ",
            held_under_token!("$2", "$3")
        )
    };
}

/// The condition naming the deliveries among the JSON list `$ids` still pending under the
/// lease token `$token`.
macro_rules! held_under_token {
    ($token:literal, $ids:literal) => {
        concat!(
            "WHERE lease_token = ",
            $token,
            " AND status = 'pending'
               AND id IN (SELECT CAST(value AS BIGINT) FROM json_each(",
            $ids,
            "))"
        )
    };
}

/// One claimed row, as `claim_due` reads it.
type ClaimedRow = (
    i64,
    i64,
    String,
    String,
    i64,
    i64,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
);

pub(super) async fn outbox_counts(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<OutboxCounts, StoreError> {
    let (due, waiting, delivered, dead): (i64, i64, i64, i64) = on!(store.pool(), d, c => {
        sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= $1),
                    COUNT(*) FILTER (WHERE status = 'pending' AND next_attempt_at > $1),
                    COUNT(*) FILTER (WHERE status = 'delivered'),
                    COUNT(*) FILTER (WHERE status = 'dead')
             FROM deliveries",
        )
        .bind(millis(now))
        .fetch_one(c)
        .await?
    });
    Ok(OutboxCounts {
        due: count(due),
        waiting: count(waiting),
        delivered: count(delivered),
        dead: count(dead),
    })
}

pub(super) async fn next_delivery_at(store: &Store) -> Result<Option<DateTime<Utc>>, StoreError> {
    let next: Option<i64> = on!(store.pool(), d, c => {
        sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END)
             FROM deliveries WHERE status = 'pending'",
        )
        .fetch_one(c)
        .await?
    });
    Ok(next.map(from_millis))
}

/// Two instances claiming at once get disjoint rows: each skips the rows the other has locked,
/// and a row leased meanwhile no longer matches when it is re-checked. A delivery whose stored
/// payload cannot be read is dead at once, with the reason, rather than blocking its channel.
pub(super) async fn claim_due(
    store: &Store,
    channel: &str,
    now: DateTime<Utc>,
    limit: u32,
    lease: Duration,
) -> Result<Vec<Delivery>, StoreError> {
    let now_ms = millis(now);
    let token = super::new_lease_token();
    let mut tx = store.pool().begin().await?;
    let rows: Vec<ClaimedRow> = on!(tx.conn(), d, c => {
        sqlx::query_as(d.pick(
            claim_due_sql!("$1", "", "json_group_array(outlet ORDER BY first)"),
            claim_due_sql!(pg_now!(), " FOR UPDATE SKIP LOCKED", "json_agg(outlet ORDER BY first)::text"),
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .bind(lease_millis(lease))
        .bind(channel)
        .bind(&*store.instance)
        .bind(token)
        .fetch_all(c)
        .await?
    });
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let (id, alert_id, channel, idempotency_key, attempts, created) =
            (row.0, row.1, row.2, row.3, row.4, row.5);
        let (payload, cluster_id, outlets, message_key) = (row.6, row.7, row.8, row.9);
        let mut payload = match super::read_payload(alert_id, payload.as_deref()) {
            Ok(payload) => payload,
            Err(reason) => {
                tracing::error!(delivery = id, alert = alert_id, %reason, "delivery given up");
                bury(&mut tx, id, now_ms, &reason).await?;
                continue;
            }
        };
        // The outlets that carried the story by now, not only those known when it alerted:
        // a digest or a retry sent later shows every copy seen in between.
        payload.note_other_outlets(
            outlets
                .and_then(|o| serde_json::from_str(&o).ok())
                .unwrap_or_default(),
        );
        claimed.push(Delivery {
            id,
            alert_id,
            cluster_id,
            channel,
            idempotency_key,
            attempts: attempts.try_into().unwrap_or(u32::MAX),
            created_at: from_millis(created),
            payload,
            lease_token: token,
            message_key,
        });
    }
    tx.commit().await?;
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

/// On SQLite from `now`, on PostgreSQL from the database's clock.
pub(super) async fn renew_deliveries(
    store: &Store,
    ids: &[i64],
    token: i64,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<u64, StoreError> {
    Ok(on!(store.leases(), d, c => {
        sqlx::query(d.sql(d.pick(
            renew_deliveries_sql!("$4"),
            renew_deliveries_sql!(pg_now!()),
        )))
        .bind(lease_millis(lease))
        .bind(token)
        .bind(json_list(ids))
        .bind(millis(now))
        .execute(c)
        .await?
        .rows_affected()
    }))
}

pub(super) async fn set_message_key(
    store: &Store,
    ids: &[i64],
    token: i64,
    key: &str,
) -> Result<u64, StoreError> {
    Ok(on!(store.pool(), d, c => {
        sqlx::query(d.sql(concat!(
            "UPDATE deliveries SET message_key = $3 ",
            held_under_token!("$1", "$2")
        )))
        .bind(token)
        .bind(json_list(ids))
        .bind(key)
        .execute(c)
        .await?
        .rows_affected()
    }))
}

/// The rest of a digest not sent after its first part failed.
pub(super) async fn release_deliveries(
    store: &Store,
    ids: &[i64],
    token: i64,
) -> Result<u64, StoreError> {
    Ok(on!(store.leases(), d, c => {
        sqlx::query(d.sql(concat!(
            "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL, lease_token = NULL ",
            held_under_token!("$1", "$2")
        )))
        .bind(token)
        .bind(json_list(ids))
        .execute(c)
        .await?
        .rows_affected()
    }))
}

/// Only the holder of the delivery's current lease may record: nothing is written when it was
/// claimed again under another token, or is no longer pending.
pub(super) async fn record_outcome(
    store: &Store,
    delivery: &Delivery,
    at: DateTime<Utc>,
    update: &DeliveryUpdate,
    reason: &str,
) -> Result<bool, StoreError> {
    let (id, token) = (delivery.id, delivery.lease_token);
    // The columns each outcome sets besides the attempt count and the lease, which it ends.
    let (status, next_attempt_at, delivered_at, last_error) = match update {
        DeliveryUpdate::Delivered => ("delivered", None, Some(millis(at)), None),
        DeliveryUpdate::RetryAt(next) => ("pending", Some(millis(*next)), None, Some(reason)),
        DeliveryUpdate::Dead => ("dead", None, None, Some(reason)),
    };
    let mut tx = store.pool().begin().await?;
    let updated = on!(tx.conn(), d, c => {
        sqlx::query(
            "UPDATE deliveries SET status = $3, attempts = attempts + 1,
                 next_attempt_at = COALESCE($4, next_attempt_at),
                 delivered_at = COALESCE($5, delivered_at), last_error = $6,
                 lease_until = NULL, lease_owner = NULL, lease_token = NULL
             WHERE id = $1 AND status = 'pending' AND lease_token = $2",
        )
        .bind(id)
        .bind(token)
        .bind(status)
        .bind(next_attempt_at)
        .bind(delivered_at)
        .bind(last_error)
        .execute(c)
        .await?
        .rows_affected()
    });
    if updated == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    add_attempt(&mut tx, id, millis(at), update.as_str(), reason).await?;
    tx.commit().await?;
    Ok(true)
}

/// The receiver asked the channel to slow down: durable, so that a restart does not hammer it
/// either.
pub(super) async fn postpone_channel(
    store: &Store,
    channel: &str,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    on!(store.pool(), d, c => {
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = CASE WHEN next_attempt_at > $2 THEN next_attempt_at ELSE $2 END
             WHERE channel_id = $1 AND status = 'pending'",
        )
        .bind(channel)
        .bind(millis(until))
        .execute(c)
        .await?;
    });
    Ok(())
}

pub(super) async fn record_message(
    store: &Store,
    channel: &str,
    at: DateTime<Utc>,
    alerts: usize,
) -> Result<(), StoreError> {
    on!(store.pool(), d, c => {
        sqlx::query(
            "INSERT INTO channel_messages (channel_id, sent_at, alerts) VALUES ($1, $2, $3)",
        )
        .bind(channel)
        .bind(millis(at))
        .bind(i64::try_from(alerts).unwrap_or(i64::MAX))
        .execute(c)
        .await?;
    });
    Ok(())
}

pub(super) async fn messages_since(
    store: &Store,
    channel: &str,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, StoreError> {
    let sent: Vec<i64> = on!(store.pool(), d, c => {
        sqlx::query_scalar(
            "SELECT sent_at FROM channel_messages WHERE channel_id = $1 AND sent_at > $2 ORDER BY sent_at",
        )
        .bind(channel)
        .bind(millis(since))
        .fetch_all(c)
        .await?
    });
    Ok(sent.into_iter().map(from_millis).collect())
}

pub(super) async fn channel_queue(
    store: &Store,
    channel: &str,
) -> Result<ChannelQueue, StoreError> {
    let (pending, next_due, oldest): (i64, Option<i64>, Option<i64>) = on!(store.pool(), d, c => {
        sqlx::query_as(
            "SELECT COUNT(*),
                    MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END),
                    MIN(COALESCE(requeued_at, created_at))
             FROM deliveries WHERE channel_id = $1 AND status = 'pending'",
        )
        .bind(channel)
        .fetch_one(c)
        .await?
    });
    Ok(ChannelQueue {
        pending: count(pending),
        next_due: next_due.map(from_millis),
        oldest: oldest.map(from_millis),
    })
}

/// One row of `outbox_entries`.
type EntryRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

pub(super) async fn outbox_entries(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let rows: Vec<EntryRow> = on!(store.pool(), d, c => {
        sqlx::query_as(
            "SELECT d.id, d.channel_id, d.status, d.attempts, a.topic_id, s.title,
                    COALESCE(d.requeued_at, d.created_at), d.next_attempt_at, d.lease_until, d.last_error,
                    d.lease_owner
             FROM deliveries d JOIN alerts a ON a.id = d.alert_id JOIN stories s ON s.id = a.story_id
             WHERE d.status <> 'delivered'
             ORDER BY d.status = 'dead', d.id",
        )
        .fetch_all(c)
        .await?
    });
    let now_ms = millis(now);
    Ok(rows
        .into_iter()
        .map(|row| {
            let (id, channel, status, attempts, topic, title) =
                (row.0, row.1, row.2, row.3, row.4, row.5);
            let (created, next_attempt, lease, last_error, holder) =
                (row.6, row.7, row.8, row.9, row.10);
            let state = match status.as_str() {
                "dead" => "dead",
                _ if lease.is_some_and(|l| l > now_ms) => "in_flight",
                _ if attempts > 0 => "retrying",
                _ => "pending",
            };
            OutboxEntry {
                id,
                channel,
                state: state.to_owned(),
                attempts: attempts.try_into().unwrap_or(u32::MAX),
                topic,
                title,
                created_at: from_millis(created),
                next_attempt_at: (status != "dead").then(|| from_millis(next_attempt)),
                last_error,
                held_by: holder.filter(|_| state == "in_flight"),
            }
        })
        .collect())
}

/// Its age and backoff start over.
pub(super) async fn requeue(
    store: &Store,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(requeue_where(store, Some(id), now).await? > 0)
}

pub(super) async fn requeue_dead(store: &Store, now: DateTime<Utc>) -> Result<u64, StoreError> {
    requeue_where(store, None, now).await
}

/// Puts the delivery `id` back in the queue if it is not delivered, or with `None` every dead
/// one; returns how many.
async fn requeue_where(
    store: &Store,
    id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(on!(store.pool(), d, c => {
        sqlx::query(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2,
                 requeued_at = $2, lease_until = NULL, lease_owner = NULL, lease_token = NULL, message_key = NULL
             WHERE CASE WHEN $1 IS NULL THEN status = 'dead' ELSE id = $1 AND status <> 'delivered' END",
        )
        .bind(id)
        .bind(millis(now))
        .execute(c)
        .await?
        .rows_affected()
    }))
}

pub(super) async fn delivery_attempts(
    store: &Store,
    id: i64,
) -> Result<Vec<(DateTime<Utc>, String, String)>, StoreError> {
    let rows: Vec<(i64, String, String)> = on!(store.pool(), d, c => {
        sqlx::query_as(
            "SELECT attempted_at, outcome, reason FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(c)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(at, outcome, reason)| (from_millis(at), outcome, reason))
        .collect())
}

/// Marks a claimed delivery dead with `reason`, in the claim's transaction.
async fn bury(tx: &mut Tx, id: i64, at_ms: i64, reason: &str) -> Result<(), StoreError> {
    on!(tx.conn(), d, c => {
        sqlx::query(
            "UPDATE deliveries SET status = 'dead', attempts = attempts + 1, lease_until = NULL,
                 lease_owner = NULL, lease_token = NULL, last_error = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(reason)
        .execute(c)
        .await?;
    });
    add_attempt(tx, id, at_ms, "dead", reason).await
}

async fn add_attempt(
    tx: &mut Tx,
    id: i64,
    at_ms: i64,
    outcome: &str,
    reason: &str,
) -> Result<(), StoreError> {
    on!(tx.conn(), d, c => {
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempted_at, outcome, reason) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(at_ms)
        .bind(outcome)
        .bind(reason)
        .execute(c)
        .await?;
    });
    Ok(())
}
