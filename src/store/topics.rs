//! Managed topics: topics kept in the state beside the config's, each the JSON of one
//! `[[topic]]` table (checked by `config::check_managed_topic` before it is saved), and the
//! revision that tells a running daemon, on every instance sharing the database, that they
//! changed. A save or delete and its revision bump are one transaction, so a daemon that read
//! a revision has read every change up to it.

use chrono::{DateTime, Utc};

use super::backend::on;
use super::{ManagedTopic, Store, StoreError, from_millis, millis};

/// The statement that marks a change of the managed topics.
const BUMP_REVISION: &str = "UPDATE topics_revision SET revision = revision + 1 WHERE id = 1";

/// Every managed topic, by id. A stored rule that is no longer JSON (written by hand) comes
/// back as JSON `null`, which the check refuses by name.
pub(super) async fn managed_topics(store: &Store) -> Result<Vec<ManagedTopic>, StoreError> {
    let rows: Vec<(String, String, i64, i64)> = on!(store.pool(), d, c => {
        sqlx::query_as("SELECT id, rule, created_at, updated_at FROM managed_topics ORDER BY id")
            .fetch_all(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, rule, created_at, updated_at)| ManagedTopic {
            id,
            rule: serde_json::from_str(&rule).unwrap_or(serde_json::Value::Null),
            created_at: from_millis(created_at),
            updated_at: from_millis(updated_at),
        })
        .collect())
}

/// Creates topic `id` or replaces its rule (its creation time stays); true when created. Two
/// instances creating one id at once may both say so: the later save wins, as an update.
pub(super) async fn save_managed_topic(
    store: &Store,
    id: &str,
    rule: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut tx = store.pool().begin().await?;
    let existing: i64 = on!(tx.conn(), d, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM managed_topics WHERE id = $1")
            .bind(id)
            .fetch_one(c)
            .await?
    });
    on!(tx.conn(), d, c => {
        sqlx::query(
            "INSERT INTO managed_topics (id, rule, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(rule.to_string())
        .bind(millis(now))
        .execute(c)
        .await?;
    });
    on!(tx.conn(), d, c => {
        sqlx::query(BUMP_REVISION).execute(c).await?;
    });
    tx.commit().await?;
    Ok(existing == 0)
}

/// Deletes topic `id`; false when there was none (the revision is then left as it is).
pub(super) async fn delete_managed_topic(store: &Store, id: &str) -> Result<bool, StoreError> {
    let mut tx = store.pool().begin().await?;
    let deleted = on!(tx.conn(), d, c => {
        sqlx::query("DELETE FROM managed_topics WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?
            .rows_affected()
    });
    if deleted > 0 {
        on!(tx.conn(), d, c => {
            sqlx::query(BUMP_REVISION).execute(c).await?;
        });
    }
    tx.commit().await?;
    Ok(deleted > 0)
}

/// One indexed row: cheap enough to read every few seconds.
pub(super) async fn topics_revision(store: &Store) -> Result<i64, StoreError> {
    Ok(on!(store.pool(), d, c => {
        sqlx::query_scalar("SELECT revision FROM topics_revision WHERE id = 1")
            .fetch_optional(c)
            .await?
            .unwrap_or(0)
    }))
}
