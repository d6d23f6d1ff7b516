//! The outbox in PostgreSQL: as `store/sqlite/outbox.rs`, with claims that skip the rows another
//! instance is claiming (`FOR UPDATE SKIP LOCKED`) and record which instance holds each lease.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{PgStore, lease_millis};
use crate::model::Delivery;
use crate::store::{
    ChannelQueue, DeliveryUpdate, OutboxCounts, OutboxEntry, StoreError, from_millis, millis,
};

impl PgStore {
    pub async fn outbox_counts(&self, now: DateTime<Utc>) -> Result<OutboxCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= $1),
                    COUNT(*) FILTER (WHERE status = 'pending' AND next_attempt_at > $1),
                    COUNT(*) FILTER (WHERE status = 'delivered'),
                    COUNT(*) FILTER (WHERE status = 'dead')
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

    pub async fn next_delivery_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) FROM deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(next.map(from_millis))
    }

    /// Two instances claiming at once get disjoint rows: each skips the rows the other has
    /// locked, and a row leased meanwhile no longer matches when it is re-checked. Leases are
    /// timed by the database's clock, never the instance's: with clocks minutes apart, an
    /// instance must not see a live lease as run out.
    pub async fn claim_due(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let now_ms = millis(now);
        let token = crate::store::new_lease_token();
        let mut tx = self.pool.begin().await?;
        // Leases are in the database's milliseconds (`clock_timestamp()`), not the instance's.
        let rows = sqlx::query(
            "UPDATE deliveries d SET lease_until = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + $3, lease_owner = $5, lease_token = $6
             WHERE d.id IN (SELECT id FROM deliveries
                            WHERE channel_id = $4 AND status = 'pending' AND next_attempt_at <= $1
                              AND COALESCE(lease_until, 0) <= (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
                            ORDER BY next_attempt_at, id LIMIT $2
                            FOR UPDATE SKIP LOCKED)
             RETURNING d.id, d.alert_id, d.channel_id, d.idempotency_key, d.attempts,
                       COALESCE(d.requeued_at, d.created_at),
                       (SELECT payload FROM alerts WHERE alerts.id = d.alert_id),
                       (SELECT cluster_id FROM alerts WHERE alerts.id = d.alert_id),
                       ARRAY(SELECT s.outlet FROM alerts a JOIN stories s ON s.cluster_id = a.cluster_id
                             WHERE a.id = d.alert_id AND s.id <> a.story_id AND s.outlet IS NOT NULL
                               AND s.outlet IS DISTINCT FROM (SELECT outlet FROM stories WHERE id = a.story_id)
                             GROUP BY s.outlet ORDER BY MIN(s.id)),
                       d.message_key",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .bind(lease_millis(lease))
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
            // The outlets that carried the story by now, not only those known when it alerted.
            let outlets: Vec<String> = row.get(8);
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

    /// As on SQLite, with the lease extended from the database's now (`now` is not used).
    pub async fn renew_deliveries(
        &self,
        ids: &[i64],
        token: i64,
        _now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_until = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + $1
             WHERE lease_token = $2 AND status = 'pending' AND id = ANY($3)",
        )
        .bind(lease_millis(lease))
        .bind(token)
        .bind(ids)
        .execute(&self.leases)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn set_message_key(
        &self,
        ids: &[i64],
        token: i64,
        key: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET message_key = $3
             WHERE lease_token = $1 AND status = 'pending' AND id = ANY($2)",
        )
        .bind(token)
        .bind(ids)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn release_deliveries(&self, ids: &[i64], token: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL, lease_token = NULL
             WHERE lease_token = $1 AND status = 'pending' AND id = ANY($2)",
        )
        .bind(token)
        .bind(ids)
        .execute(&self.leases)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn record_outcome(
        &self,
        delivery: &Delivery,
        at: DateTime<Utc>,
        update: &DeliveryUpdate,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let (id, token) = (delivery.id, delivery.lease_token);
        let mut tx = self.pool.begin().await?;
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

    pub async fn postpone_channel(
        &self,
        channel: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = GREATEST(next_attempt_at, $2)
             WHERE channel_id = $1 AND status = 'pending'",
        )
        .bind(channel)
        .bind(millis(until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

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

    pub async fn channel_queue(&self, channel: &str) -> Result<ChannelQueue, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))),
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
    tx: &mut sqlx::PgConnection,
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
