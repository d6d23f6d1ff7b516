//! Story clusters in PostgreSQL: the same decisions as `store/sqlite/clusters.rs` (identity
//! first, else the best-scoring candidate of the fingerprint index within the policy's reach,
//! keeping only `policy.candidates`), run inside the recording transaction under the clustering
//! lock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use super::super::{NewStory, StoreError, millis};
use crate::dedupe::ClusterPolicy;

/// The cluster `story_id` (just inserted) belongs to: that of a story with one of its
/// identities, else that of the best-scoring story of the window, else its own id.
pub(super) async fn assign_cluster(
    tx: &mut PgConnection,
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
    let cluster = match by_identity {
        Some(cluster) => cluster,
        None => best_match(tx, story_id, new, at, policy)
            .await?
            .unwrap_or(story_id),
    };
    sqlx::query("UPDATE stories SET cluster_id = $1 WHERE id = $2")
        .bind(cluster)
        .bind(story_id)
        .execute(&mut *tx)
        .await?;
    index_story(tx, story_id, new, at).await?;
    Ok(cluster)
}

/// Postings read per term of a new story: the same cap as on SQLite, for the same reason (a
/// common word must not make every lookup grow with the window).
const POSTINGS_PER_TERM: i64 = 128;

/// The cluster of the stored story most similar to `new` within the policy's reach, if it
/// scores high enough.
async fn best_match(
    tx: &mut PgConnection,
    story_id: i64,
    new: &NewStory,
    at: DateTime<Utc>,
    policy: &ClusterPolicy,
) -> Result<Option<i64>, StoreError> {
    if new.fingerprint.is_empty() {
        return Ok(None);
    }
    let reach = chrono::Duration::from_std(policy.reach()).unwrap_or(chrono::Duration::hours(36));
    let (from, to) = (millis(at - reach), millis(at + reach));
    let terms: Vec<i64> = new.fingerprint.iter().map(|t| *t as i64).collect();
    // Each term's newest postings, as SQLite reads them one term at a time, in one round trip.
    let rows: Vec<i64> = sqlx::query_scalar(
        "SELECT p.story_id FROM UNNEST($1::bigint[]) AS q (term)
         CROSS JOIN LATERAL (SELECT story_id FROM story_terms
                             WHERE term = q.term AND at BETWEEN $2 AND $3 AND story_id <> $4
                             ORDER BY at DESC LIMIT $5) AS p",
    )
    .bind(&terms)
    .bind(from)
    .bind(to)
    .bind(story_id)
    .bind(POSTINGS_PER_TERM)
    .fetch_all(&mut *tx)
    .await?;
    let mut shared: HashMap<i64, usize> = HashMap::new();
    for id in rows {
        *shared.entry(id).or_default() += 1;
    }
    // Stories that share fewer words can never be the same story (`ClusterPolicy::score`).
    let candidates = policy.candidates(shared);
    if candidates.is_empty() {
        return Ok(None);
    }
    let shared: HashMap<i64, usize> = candidates.iter().copied().collect();
    let ids: Vec<i64> = candidates.iter().map(|(id, _)| *id).collect();
    let rows = sqlx::query(
        "SELECT id, terms, clustered_at, cluster_id FROM stories WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut best: Option<(f64, i64)> = None;
    for row in rows {
        let id: i64 = row.get(0);
        let terms = row.get::<i64, _>(1).try_into().unwrap_or(0usize);
        let apart = (millis(at) - row.get::<Option<i64>, _>(2).unwrap_or(0)).unsigned_abs();
        let score = policy.score(
            shared[&id],
            new.fingerprint.len(),
            terms,
            std::time::Duration::from_millis(apart),
        );
        let cluster: Option<i64> = row.get(3);
        if policy.same_story(score) && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, cluster.unwrap_or(id)));
        }
    }
    Ok(best.map(|(_, cluster)| cluster))
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
    let terms: Vec<i64> = new.fingerprint.iter().map(|t| *t as i64).collect();
    sqlx::query(
        "INSERT INTO story_terms (term, at, story_id) SELECT DISTINCT t, $2, $3 FROM UNNEST($1::bigint[]) AS t
         ON CONFLICT DO NOTHING",
    )
    .bind(&terms)
    .bind(millis(at))
    .bind(story_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE stories SET terms = $1, clustered_at = $2 WHERE id = $3")
        .bind(new.fingerprint.len() as i64)
        .bind(millis(at))
        .bind(story_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
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
