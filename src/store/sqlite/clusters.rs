//! Story clusters in SQLite: which cluster a new story joins (by identity, else through the
//! in-memory fingerprint index of the window), the fingerprint it stores, the loading of that
//! index, and the outlets of a cluster.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::super::{NewStory, StoreError, millis};
use crate::dedupe::ClusterPolicy;
use crate::dedupe::index::{self, ClusterIndex};

/// The cluster `story_id` (just inserted) belongs to: that of a story with one of its
/// identities, else that of the best-scoring story of the window (found through `index`),
/// else its own id. The story then joins the index.
pub(super) async fn assign_cluster(
    tx: &mut SqliteConnection,
    index: &Mutex<ClusterIndex>,
    story_id: i64,
    new: &NewStory,
    at: DateTime<Utc>,
    policy: &ClusterPolicy,
) -> Result<i64, StoreError> {
    let ids = serde_json::to_string(&new.identities).expect("a list of strings serialises");
    // Stories recorded before identities were kept are found by their canonical link.
    let by_identity: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(cluster_id) FROM (
             SELECT s.cluster_id FROM story_identities i JOIN stories s ON s.id = i.story_id
             WHERE i.identity IN (SELECT value FROM json_each($1)) AND s.id <> $2
             UNION ALL
             SELECT cluster_id FROM stories WHERE canonical_url = $3 AND id <> $2)",
    )
    .bind(&ids)
    .bind(story_id)
    .bind(&new.canonical_url)
    .fetch_one(&mut *tx)
    .await?;
    let cluster = index
        .lock()
        .expect("the cluster index is never poisoned")
        .assign(story_id, millis(at), &new.fingerprint, by_identity, policy);
    sqlx::query("UPDATE stories SET cluster_id = $1 WHERE id = $2")
        .bind(cluster)
        .bind(story_id)
        .execute(&mut *tx)
        .await?;
    index_story(tx, story_id, new, at).await?;
    Ok(cluster)
}

async fn index_story(
    tx: &mut SqliteConnection,
    story_id: i64,
    new: &NewStory,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    // One statement for the identities: a story can have several.
    sqlx::query(
        "INSERT OR IGNORE INTO story_identities (identity, story_id) SELECT value, $2 FROM json_each($1)",
    )
    .bind(serde_json::to_string(&new.identities).expect("a list of strings serialises"))
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

/// Rows read at a time when the index is loaded: the window's fingerprints are read in pages,
/// so that loading does not hold all of them twice (as rows and in the index).
const LOAD_PAGE: i64 = 4096;

/// The index of the window, from the fingerprints of the newest stories that still have one.
pub(super) async fn load_index(
    conn: &mut SqliteConnection,
    capacity: usize,
) -> Result<ClusterIndex, StoreError> {
    load_index_paged(conn, capacity, LOAD_PAGE).await
}

async fn load_index_paged(
    conn: &mut SqliteConnection,
    capacity: usize,
    page: i64,
) -> Result<ClusterIndex, StoreError> {
    let capacity_rows = i64::try_from(capacity).unwrap_or(i64::MAX);
    let first: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(id) FROM (SELECT id FROM stories WHERE fingerprint IS NOT NULL
                             ORDER BY id DESC LIMIT $1)",
    )
    .bind(capacity_rows)
    .fetch_one(&mut *conn)
    .await?;
    let mut index = ClusterIndex::with_capacity(capacity);
    let Some(mut from) = first else {
        return Ok(index);
    };
    loop {
        let rows = sqlx::query(
            "SELECT id, clustered_at, COALESCE(cluster_id, id), fingerprint FROM stories
             WHERE fingerprint IS NOT NULL AND id >= $1 ORDER BY id LIMIT $2",
        )
        .bind(from)
        .bind(page)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let fingerprint: Vec<u8> = row.get(3);
            index.insert(
                row.get(0),
                row.get::<Option<i64>, _>(1).unwrap_or(0),
                &index::decode(&fingerprint),
                row.get(2),
            );
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == page => from = last.get::<i64, _>(0) + 1,
            _ => return Ok(index),
        }
    }
}

/// The outlets of the other stories of `cluster`, in the order they were seen.
pub(super) async fn other_outlets(
    tx: &mut SqliteConnection,
    cluster: i64,
    story_id: i64,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT outlet FROM stories WHERE cluster_id = $1 AND id <> $2 AND outlet IS NOT NULL
         GROUP BY outlet ORDER BY MIN(id)",
    )
    .bind(cluster)
    .bind(story_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stories 1..=n, each with its own ten words, those of story 4 without a fingerprint.
    async fn store_with_stories(n: i64) -> (tempfile::TempDir, super::super::SqliteStore) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = super::super::SqliteStore::open(&dir.path().join("s.db"))
            .await
            .expect("the store opens");
        for id in 1..=n {
            let words: Vec<u64> = (0..10).map(|w| (id * 100 + w) as u64).collect();
            sqlx::query(
                "INSERT INTO stories (id, feed_id, story_key, title, first_seen_at, cluster_id, clustered_at, terms, fingerprint)
                 VALUES ($1, 'f', $1, 't', 0, $1, 0, 10, $2)",
            )
            .bind(id)
            .bind((id != 4).then(|| index::encode(&words)))
            .execute(&store.pool)
            .await
            .expect("a story is inserted");
        }
        (dir, store)
    }

    #[tokio::test]
    async fn the_index_loads_the_newest_fingerprints_page_by_page() {
        let (_dir, store) = store_with_stories(10).await;
        let policy = ClusterPolicy::default();
        let words = |id: i64| -> Vec<u64> { (0..10).map(|w| (id * 100 + w) as u64).collect() };
        let cases = [
            (
                "everything_in_one_page",
                100,
                100,
                vec![1, 2, 3, 5, 10],
                vec![4],
            ),
            ("pages_of_three", 100, 3, vec![1, 2, 3, 5, 10], vec![4]),
            ("pages_of_one", 100, 1, vec![1, 9, 10], vec![4]),
            (
                "capacity_keeps_the_newest",
                3,
                2,
                vec![8, 9, 10],
                vec![4, 7, 1],
            ),
        ];
        for (name, capacity, page, found, missing) in cases {
            let mut conn = store.pool.acquire().await.expect("a connection");
            let index = load_index_paged(&mut conn, capacity, page)
                .await
                .expect("the index loads");
            assert_eq!(index.len(), capacity.min(9), "{name}");
            for id in found {
                assert_eq!(
                    index.best_match(&words(id), 0, &policy),
                    Some(id),
                    "{name}: {id}"
                );
            }
            for id in missing {
                assert_eq!(
                    index.best_match(&words(id), 0, &policy),
                    None,
                    "{name}: {id}"
                );
            }
        }
    }
}
