//! Story clusters in PostgreSQL: the same decisions as `store/sqlite/clusters.rs` (identity
//! first, else the best match of the window's in-memory fingerprint index, `dedupe::index`),
//! shared by several instances. Each instance keeps its own index; under the clustering lock,
//! before it clusters, it reads the stories other instances recorded since it last looked. Stories
//! are only inserted under that lock, so their ids grow in commit order and "every story with a
//! larger id" is exactly what this instance has not seen.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use super::super::{NewStory, StoreError, millis};
use crate::dedupe::ClusterPolicy;
use crate::dedupe::index::{self, ClusterIndex};

/// One instance's view of the clustering window.
#[derive(Debug)]
pub(super) struct SharedIndex {
    index: ClusterIndex,
    /// The largest story id in `index` or known to have no fingerprint: read up to here.
    seen_up_to: i64,
}

/// The cluster `story_id` (just inserted) belongs to: that of a story with one of its
/// identities, else that of the best-scoring story of the window, else its own id.
pub(super) async fn assign_cluster(
    tx: &mut PgConnection,
    index: &Mutex<SharedIndex>,
    story_id: i64,
    new: &NewStory,
    at: DateTime<Utc>,
    policy: &ClusterPolicy,
) -> Result<i64, StoreError> {
    // Stories recorded before identities were kept are found by their canonical link.
    let by_identity: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(cluster_id) FROM (
             SELECT s.cluster_id FROM story_identities i JOIN stories s ON s.id = i.story_id
             WHERE i.identity = ANY($1) AND s.id <> $2
             UNION ALL
             SELECT cluster_id FROM stories WHERE canonical_url = $3 AND id <> $2) AS known",
    )
    .bind(&new.identities)
    .bind(story_id)
    .bind(&new.canonical_url)
    .fetch_one(&mut *tx)
    .await?;
    let cluster = {
        let mut shared = index.lock().expect("the cluster index is never poisoned");
        let cluster =
            shared
                .index
                .assign(story_id, millis(at), &new.fingerprint, by_identity, policy);
        shared.seen_up_to = shared.seen_up_to.max(story_id);
        cluster
    };
    sqlx::query("UPDATE stories SET cluster_id = $1 WHERE id = $2")
        .bind(cluster)
        .bind(story_id)
        .execute(&mut *tx)
        .await?;
    index_story(tx, story_id, new, at).await?;
    Ok(cluster)
}

async fn index_story(
    tx: &mut PgConnection,
    story_id: i64,
    new: &NewStory,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO story_identities (identity, story_id) SELECT DISTINCT i, $2 FROM UNNEST($1::text[]) AS i
         ON CONFLICT DO NOTHING",
    )
    .bind(&new.identities)
    .bind(story_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE stories SET terms = $1, clustered_at = $2, fingerprint = $3 WHERE id = $4")
        .bind(new.fingerprint.len() as i64)
        .bind(millis(at))
        .bind(index::encode(&new.fingerprint))
        .bind(story_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The window's index as the database holds it: the `capacity` newest stories with a
/// fingerprint.
pub(super) async fn load_index(
    pool: &sqlx::PgPool,
    capacity: usize,
) -> Result<SharedIndex, StoreError> {
    let seen_up_to: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM stories")
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query(
        "SELECT id, clustered_at, COALESCE(cluster_id, id), fingerprint FROM stories
         WHERE fingerprint IS NOT NULL AND id <= $2 ORDER BY id DESC LIMIT $1",
    )
    .bind(i64::try_from(capacity).unwrap_or(i64::MAX))
    .bind(seen_up_to.unwrap_or(0))
    .fetch_all(pool)
    .await?;
    let mut index = ClusterIndex::with_capacity(capacity);
    add_rows(&mut index, rows.iter().rev());
    Ok(SharedIndex {
        index,
        seen_up_to: seen_up_to.unwrap_or(0),
    })
}

/// Adds the stories other instances recorded since this one last looked. Called under the
/// clustering lock, so nothing is being recorded meanwhile.
pub(super) async fn catch_up(
    tx: &mut PgConnection,
    index: &Mutex<SharedIndex>,
) -> Result<(), StoreError> {
    let after = index
        .lock()
        .expect("the cluster index is never poisoned")
        .seen_up_to;
    let rows = sqlx::query(
        "SELECT id, clustered_at, COALESCE(cluster_id, id), fingerprint FROM stories
         WHERE id > $1 AND fingerprint IS NOT NULL ORDER BY id",
    )
    .bind(after)
    .fetch_all(&mut *tx)
    .await?;
    let mut shared = index.lock().expect("the cluster index is never poisoned");
    if let Some(last) = rows.last() {
        shared.seen_up_to = shared.seen_up_to.max(last.get(0));
    }
    add_rows(&mut shared.index, rows.iter());
    Ok(())
}

fn add_rows<'a>(index: &mut ClusterIndex, rows: impl Iterator<Item = &'a sqlx::postgres::PgRow>) {
    for row in rows {
        let fingerprint: Vec<u8> = row.get(3);
        index.insert(
            row.get(0),
            row.get::<Option<i64>, _>(1).unwrap_or(0),
            &index::decode(&fingerprint),
            row.get(2),
        );
    }
}

/// The outlets of the other stories of `cluster`, in the order they were seen.
pub(super) async fn other_outlets(
    tx: &mut PgConnection,
    cluster: i64,
    story_id: i64,
) -> Result<Vec<String>, StoreError> {
    let outlets: Vec<String> = sqlx::query_scalar(
        "SELECT outlet FROM stories WHERE cluster_id = $1 AND id <> $2 AND outlet IS NOT NULL
         GROUP BY outlet ORDER BY MIN(id)",
    )
    .bind(cluster)
    .bind(story_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(outlets)
}
