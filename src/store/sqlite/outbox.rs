//! The outbox in SQLite: claiming one channel's due deliveries under a lease, recording each
//! attempt with its outcome, the hourly message count, and the `rasad outbox` listing and requeue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use crate::model::Delivery;
use crate::store::{ChannelQueue, DeliveryUpdate, OutboxEntry, StoreError, from_millis, millis};

impl SqliteStore {
    /// Leases up to `limit` pending deliveries of `channel` that are due at `now`, oldest first,
    /// for `lease`: a sender that dies leaves them to be claimed again when the lease runs out.
    /// The claim carries a fresh fencing token (see `record_outcome`). A delivery whose stored
    /// payload cannot be read is dead at once, with the reason, rather than blocking its channel.
    pub async fn claim_due(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let now_ms = millis(now);
        let lease_until = now_ms.saturating_add(super::lease_millis(lease));
        let token = crate::store::new_lease_token();
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE deliveries SET lease_until = $3, lease_owner = $5, lease_token = $6
             WHERE id IN (SELECT id FROM deliveries
                          WHERE channel_id = $4 AND status = 'pending' AND next_attempt_at <= $1
                            AND COALESCE(lease_until, 0) <= $1
                          ORDER BY next_attempt_at, id LIMIT $2)
             RETURNING id, alert_id, channel_id, idempotency_key, attempts,
                       COALESCE(requeued_at, created_at),
                       (SELECT payload FROM alerts WHERE alerts.id = deliveries.alert_id),
                       (SELECT cluster_id FROM alerts WHERE alerts.id = deliveries.alert_id),
                       (SELECT json_group_array(outlet) FROM (
                            SELECT s.outlet FROM alerts a JOIN stories s ON s.cluster_id = a.cluster_id
                            WHERE a.id = deliveries.alert_id AND s.id <> a.story_id AND s.outlet IS NOT NULL
                              AND s.outlet IS NOT (SELECT outlet FROM stories WHERE id = a.story_id)
                            GROUP BY s.outlet ORDER BY MIN(s.id))),
                       message_key",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .bind(lease_until)
        .bind(channel)
        .bind(&*self.instance)
        .bind(token)
        .fetch_all(&mut *tx)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.get(0);
            let alert_id: i64 = row.get(1);
            let payload: Option<String> = row.get(6);
            let mut payload = match crate::store::read_payload(alert_id, payload.as_deref()) {
                Ok(payload) => payload,
                Err(reason) => {
                    tracing::error!(delivery = id, alert = alert_id, %reason, "delivery given up");
                    bury(&mut tx, id, now_ms, &reason).await?;
                    continue;
                }
            };
            // The outlets that carried the story by now, not only those known when it alerted:
            // a digest or a retry sent later shows every copy seen in between.
            let outlets: Option<String> = row.get(8);
            let outlets: Vec<String> = outlets
                .and_then(|o| serde_json::from_str(&o).ok())
                .unwrap_or_default();
            if outlets.len() > payload.also_reported_by.len() {
                payload.also_reported_by = outlets;
            }
            claimed.push(Delivery {
                id,
                alert_id,
                cluster_id: row.get(7),
                channel: row.get(2),
                idempotency_key: row.get(3),
                attempts: row.get::<i64, _>(4).try_into().unwrap_or(u32::MAX),
                created_at: from_millis(row.get(5)),
                payload,
                lease_token: token,
                message_key: row.get(9),
            });
        }
        tx.commit().await?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    /// Extends the lease on the deliveries `ids`, still pending and held under `token`, to
    /// `now + lease`.
    pub async fn renew_deliveries(
        &self,
        ids: &[i64],
        token: i64,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_until = $1
             WHERE lease_token = $2 AND status = 'pending' AND id IN (SELECT value FROM json_each($3))",
        )
        .bind(millis(now).saturating_add(super::lease_millis(lease)))
        .bind(token)
        .bind(serde_json::to_string(ids).expect("a list of numbers serialises"))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records `key` as the Idempotency-Key of the digest the deliveries `ids` (held under
    /// `token`) are about to be sent in.
    pub async fn set_message_key(
        &self,
        ids: &[i64],
        token: i64,
        key: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET message_key = $3
             WHERE lease_token = $1 AND status = 'pending' AND id IN (SELECT value FROM json_each($2))",
        )
        .bind(token)
        .bind(serde_json::to_string(ids).expect("a list of numbers serialises"))
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Gives up the lease held under `token` on the deliveries `ids` without an attempt: they
    /// are due again as they were (the rest of a digest not sent after its first part failed).
    pub async fn release_deliveries(&self, ids: &[i64], token: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL, lease_token = NULL
             WHERE lease_token = $1 AND status = 'pending' AND id IN (SELECT value FROM json_each($2))",
        )
        .bind(token)
        .bind(serde_json::to_string(ids).expect("a list of numbers serialises"))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records one attempt and its outcome in one transaction: the attempt row, and the
    /// delivery delivered, pending again at a later time, or dead. Only the holder of the
    /// delivery's current lease may: false (and nothing written) when it was claimed again
    /// under another token, or is no longer pending.
    pub async fn record_outcome(
        &self,
        delivery: &Delivery,
        at: DateTime<Utc>,
        update: &DeliveryUpdate,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let id = delivery.id;
        let mut tx = self.pool.begin().await?;
        let token = delivery.lease_token;
        let query = match update {
            DeliveryUpdate::Delivered => sqlx::query(
                "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = $3,
                     lease_until = NULL, lease_owner = NULL, lease_token = NULL, last_error = NULL
                 WHERE id = $1 AND status = 'pending' AND lease_token = $2",
            )
            .bind(id)
            .bind(token)
            .bind(millis(at)),
            DeliveryUpdate::RetryAt(next) => sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $3, lease_until = NULL,
                     lease_owner = NULL, lease_token = NULL, last_error = $4
                 WHERE id = $1 AND status = 'pending' AND lease_token = $2",
            )
            .bind(id)
            .bind(token)
            .bind(millis(*next))
            .bind(reason),
            DeliveryUpdate::Dead => sqlx::query(
                "UPDATE deliveries SET status = 'dead', attempts = attempts + 1, lease_until = NULL,
                     lease_owner = NULL, lease_token = NULL, last_error = $3
                 WHERE id = $1 AND status = 'pending' AND lease_token = $2",
            )
            .bind(id)
            .bind(token)
            .bind(reason),
        };
        let updated = query.execute(&mut *tx).await?.rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempted_at, outcome, reason) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(millis(at))
        .bind(update.as_str())
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Holds every pending delivery of `channel` until at least `until` (the receiver asked the
    /// channel to slow down): durable, so that a restart does not hammer it either.
    pub async fn postpone_channel(
        &self,
        channel: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = MAX(next_attempt_at, $2)
             WHERE channel_id = $1 AND status = 'pending'",
        )
        .bind(channel)
        .bind(millis(until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Counts one message sent by `channel` (one alert, or a digest of `alerts`).
    pub async fn record_message(
        &self,
        channel: &str,
        at: DateTime<Utc>,
        alerts: usize,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO channel_messages (channel_id, sent_at, alerts) VALUES ($1, $2, $3)",
        )
        .bind(channel)
        .bind(millis(at))
        .bind(i64::try_from(alerts).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When `channel` sent its messages since `since`, oldest first.
    pub async fn messages_since(
        &self,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT sent_at FROM channel_messages WHERE channel_id = $1 AND sent_at > $2 ORDER BY sent_at",
        )
        .bind(channel)
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_millis).collect())
    }

    /// For `channel`'s pending deliveries: how many there are, when the earliest falls due
    /// (lease included), and when the oldest entered the outbox.
    pub async fn channel_queue(&self, channel: &str) -> Result<ChannelQueue, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))),
                    MIN(COALESCE(requeued_at, created_at))
             FROM deliveries WHERE channel_id = $1 AND status = 'pending'",
        )
        .bind(channel)
        .fetch_one(&self.pool)
        .await?;
        Ok(ChannelQueue {
            pending: row.get::<i64, _>(0).try_into().unwrap_or(0),
            next_due: row.get::<Option<i64>, _>(1).map(from_millis),
            oldest: row.get::<Option<i64>, _>(2).map(from_millis),
        })
    }

    /// Every delivery not delivered, dead ones last, with its last error.
    pub async fn outbox_entries(&self, now: DateTime<Utc>) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.channel_id, d.status, d.attempts, a.topic_id, s.title,
                    COALESCE(d.requeued_at, d.created_at), d.next_attempt_at, d.lease_until, d.last_error,
                    d.lease_owner
             FROM deliveries d JOIN alerts a ON a.id = d.alert_id JOIN stories s ON s.id = a.story_id
             WHERE d.status <> 'delivered'
             ORDER BY d.status = 'dead', d.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let now_ms = millis(now);
        Ok(rows
            .into_iter()
            .map(|row| {
                let status: String = row.get(2);
                let attempts: i64 = row.get(3);
                let lease: Option<i64> = row.get(8);
                let state = match status.as_str() {
                    "dead" => "dead",
                    _ if lease.is_some_and(|l| l > now_ms) => "in_flight",
                    _ if attempts > 0 => "retrying",
                    _ => "pending",
                };
                OutboxEntry {
                    id: row.get(0),
                    channel: row.get(1),
                    state: state.to_owned(),
                    attempts: attempts.try_into().unwrap_or(u32::MAX),
                    topic: row.get(4),
                    title: row.get(5),
                    created_at: from_millis(row.get(6)),
                    next_attempt_at: (status != "dead").then(|| from_millis(row.get(7))),
                    last_error: row.get(9),
                    held_by: (state == "in_flight").then(|| row.get(10)).flatten(),
                }
            })
            .collect())
    }

    /// Puts a dead or waiting delivery back in the queue, due at `now`, its age and backoff
    /// starting over. False when no such undelivered delivery exists.
    pub async fn requeue(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2,
                 requeued_at = $2, lease_until = NULL, lease_owner = NULL, lease_token = NULL, message_key = NULL
             WHERE id = $1 AND status <> 'delivered'",
        )
        .bind(id)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Puts every dead delivery back in the queue; returns how many.
    pub async fn requeue_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1,
                 requeued_at = $1, lease_until = NULL, lease_owner = NULL, lease_token = NULL, message_key = NULL
             WHERE status = 'dead'",
        )
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Every attempt at one delivery, oldest first: `(time, outcome, reason)`.
    pub async fn delivery_attempts(
        &self,
        id: i64,
    ) -> Result<Vec<(DateTime<Utc>, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempted_at, outcome, reason FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (from_millis(r.get(0)), r.get(1), r.get(2)))
            .collect())
    }
}

/// Marks a claimed delivery dead with `reason`, in the claim's transaction.
async fn bury(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
    at_ms: i64,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET status = 'dead', attempts = attempts + 1, lease_until = NULL,
             lease_owner = NULL, lease_token = NULL, last_error = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO delivery_attempts (delivery_id, attempted_at, outcome, reason) VALUES ($1, $2, 'dead', $3)",
    )
    .bind(id)
    .bind(at_ms)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
