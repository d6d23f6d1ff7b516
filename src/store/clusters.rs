//! Story clusters: which cluster a new story joins (by identity, else through the in-memory
//! fingerprint index of the window, `dedupe::index`), the fingerprint it stores, the loading
//! of that index, and the outlets of a cluster.
//!
//! Each store keeps its own index. It is read whole, page by page, before the first story is
//! clustered and again after a failed write (which may have added stories the database then
//! rolled back); otherwise, before it clusters, the store reads the stories recorded since it
//! last looked (other instances' on PostgreSQL). Both happen in the recording transaction,
//! under the clustering lock (SQLite's one connection, PostgreSQL's advisory lock): stories are
//! only inserted under it, so their ids grow in commit order and "every story with a larger
//! id" is exactly what this store has not seen.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::backend::{Tx, execute_rows, json_list, on, rows_per_statement, rows_sql};
use super::{NewStory, StoreError, millis};
use crate::dedupe::ClusterPolicy;
use crate::dedupe::index::{self, ClusterIndex, DEFAULT_CAPACITY};

/// Rows read at a time when the index is read: the window's fingerprints are read in pages,
/// so that loading does not hold all of them twice (as rows and in the index).
const LOAD_PAGE: i64 = 4096;

/// One store's view of the clustering window.
#[derive(Debug)]
pub(super) struct WindowIndex {
    index: ClusterIndex,
    /// The largest story id in `index` or known to have no fingerprint: read up to here.
    seen_up_to: i64,
    /// Whether `index` must be read whole before the next story is clustered.
    stale: bool,
}

impl Default for WindowIndex {
    fn default() -> WindowIndex {
        WindowIndex {
            index: ClusterIndex::default(),
            seen_up_to: 0,
            stale: true,
        }
    }
}

fn locked(index: &Mutex<WindowIndex>) -> std::sync::MutexGuard<'_, WindowIndex> {
    // A panic while the lock was held leaves an index that may miss a story: read it again.
    index.lock().unwrap_or_else(|poisoned| {
        let mut guard = poisoned.into_inner();
        guard.stale = true;
        guard
    })
}

/// Marks the index to be read whole again (a write failed).
pub(super) fn mark_stale(index: &Mutex<WindowIndex>) {
    locked(index).stale = true;
}

/// Brings `index` up to date in `tx`, which holds the clustering lock.
pub(super) async fn refresh(tx: &mut Tx, index: &Mutex<WindowIndex>) -> Result<(), StoreError> {
    let (stale, seen_up_to) = {
        let shared = locked(index);
        (shared.stale, shared.seen_up_to)
    };
    if stale {
        let fresh = load(tx, DEFAULT_CAPACITY, LOAD_PAGE).await?;
        *locked(index) = fresh;
    } else {
        read_after(tx, seen_up_to, LOAD_PAGE, |id, at, fingerprint, cluster| {
            let mut shared = locked(index);
            shared.index.insert(id, at, fingerprint, cluster);
            shared.seen_up_to = shared.seen_up_to.max(id);
        })
        .await?;
    }
    Ok(())
}

/// The window's index as the database holds it: the `capacity` newest stories with a
/// fingerprint, read `page` rows at a time.
async fn load(tx: &mut Tx, capacity: usize, page: i64) -> Result<WindowIndex, StoreError> {
    let capacity_rows = i64::try_from(capacity).unwrap_or(i64::MAX);
    let (first, newest): (Option<i64>, Option<i64>) = on!(tx.conn(), d, c => {
        let first = sqlx::query_scalar(
            "SELECT MIN(id) FROM (SELECT id FROM stories WHERE fingerprint IS NOT NULL
                                 ORDER BY id DESC LIMIT $1) AS newest",
        )
        .bind(capacity_rows)
        .fetch_one(&mut *c)
        .await?;
        let newest = sqlx::query_scalar("SELECT MAX(id) FROM stories")
            .fetch_one(&mut *c)
            .await?;
        (first, newest)
    });
    let mut index = ClusterIndex::with_capacity(capacity);
    if let Some(first) = first {
        read_after(tx, first - 1, page, |id, at, fingerprint, cluster| {
            index.insert(id, at, fingerprint, cluster)
        })
        .await?;
    }
    Ok(WindowIndex {
        index,
        seen_up_to: newest.unwrap_or(0),
        stale: false,
    })
}

/// Hands `add` every story with a fingerprint whose id is above `after` (its id, clustering
/// time, fingerprint and cluster), reading `page` rows at a time.
async fn read_after(
    tx: &mut Tx,
    mut after: i64,
    page: i64,
    mut add: impl FnMut(i64, i64, &[u64], i64),
) -> Result<(), StoreError> {
    loop {
        let rows: Vec<(i64, i64, i64, Vec<u8>)> = on!(tx.conn(), d, c => {
            sqlx::query(
                "SELECT id, COALESCE(clustered_at, 0), COALESCE(cluster_id, id), fingerprint
                 FROM stories WHERE fingerprint IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(page)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect()
        });
        for (id, at, cluster, fingerprint) in &rows {
            add(*id, *at, &index::decode(fingerprint), *cluster);
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == page => after = last.0,
            _ => return Ok(()),
        }
    }
}

/// A story just inserted, to be given its cluster.
pub(super) struct Inserted<'a> {
    pub id: i64,
    pub new: &'a NewStory,
    /// When it is compared with the window's stories.
    pub at: DateTime<Utc>,
}

/// The clusters of `stories` (just inserted, in id order), each as one story at a time would
/// get it: that of a story with one of its identities or its canonical link (stored before, or
/// earlier in `stories`), else that of the best-scoring story of the window (found through
/// `index`, which each story then joins), else its own id. One lookup, then the clusters,
/// fingerprints and identities written in multi-row statements.
pub(super) async fn assign_clusters(
    tx: &mut Tx,
    index: &Mutex<WindowIndex>,
    stories: &[Inserted<'_>],
    policy: &ClusterPolicy,
) -> Result<Vec<i64>, StoreError> {
    if stories.is_empty() {
        return Ok(Vec::new());
    }
    let stored = stored_clusters(tx, stories).await?;
    let clusters: Vec<i64> = {
        let mut shared = locked(index);
        let mut earlier = KnownClusters::default();
        stories
            .iter()
            .map(|story| {
                let known = min_some(stored.of(story.new), earlier.of(story.new));
                let at = millis(story.at);
                let cluster =
                    shared
                        .index
                        .assign(story.id, at, &story.new.fingerprint, known, policy);
                shared.seen_up_to = shared.seen_up_to.max(story.id);
                earlier.add(story.new, cluster);
                cluster
            })
            .collect()
    };
    write_clusters(tx, stories, &clusters).await?;
    write_identities(tx, stories).await?;
    Ok(clusters)
}

/// The smallest cluster of each identity and canonical link: the clusters a story with them
/// joins.
#[derive(Debug, Default)]
struct KnownClusters {
    by_identity: HashMap<String, i64>,
    by_url: HashMap<String, i64>,
}

impl KnownClusters {
    fn of(&self, new: &NewStory) -> Option<i64> {
        let by_url = new.canonical_url.as_ref().and_then(|u| self.by_url.get(u));
        let by_identity = new
            .identities
            .iter()
            .filter_map(|i| self.by_identity.get(i));
        by_identity.chain(by_url).copied().min()
    }

    fn add(&mut self, new: &NewStory, cluster: i64) {
        let keep = |map: &mut HashMap<String, i64>, key: &String| {
            map.entry(key.clone())
                .and_modify(|c| *c = (*c).min(cluster))
                .or_insert(cluster);
        };
        for identity in &new.identities {
            keep(&mut self.by_identity, identity);
        }
        if let Some(url) = &new.canonical_url {
            keep(&mut self.by_url, url);
        }
    }
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.into_iter().chain(b).min()
}

/// The clusters stored stories give `stories`' identities and canonical links (stories
/// recorded before identities were kept are found by their link). The stories just inserted
/// have no cluster and no identity yet, so they are not among them.
async fn stored_clusters(
    tx: &mut Tx,
    stories: &[Inserted<'_>],
) -> Result<KnownClusters, StoreError> {
    let identities: Vec<&String> = stories.iter().flat_map(|s| &s.new.identities).collect();
    let urls: Vec<&String> = stories
        .iter()
        .filter_map(|s| s.new.canonical_url.as_ref())
        .collect();
    let rows: Vec<(bool, String, i64)> = on!(tx.conn(), d, c => {
        sqlx::query_as(d.sql(
            "SELECT TRUE, i.identity, MIN(s.cluster_id) FROM story_identities i JOIN stories s ON s.id = i.story_id
             WHERE i.identity IN (SELECT value FROM json_each($1)) AND s.cluster_id IS NOT NULL
             GROUP BY i.identity
             UNION ALL
             SELECT FALSE, canonical_url, MIN(cluster_id) FROM stories
             WHERE canonical_url IN (SELECT value FROM json_each($2)) AND cluster_id IS NOT NULL
             GROUP BY canonical_url",
        ))
        .bind(json_list(&identities))
        .bind(json_list(&urls))
        .fetch_all(c)
        .await?
    });
    let mut known = KnownClusters::default();
    for (is_identity, key, cluster) in rows {
        let map = if is_identity {
            &mut known.by_identity
        } else {
            &mut known.by_url
        };
        map.insert(key, cluster);
    }
    Ok(known)
}

/// Each story's cluster, fingerprint, term count and clustering time: one `UPDATE … FROM`
/// a list of rows per statement.
async fn write_clusters(
    tx: &mut Tx,
    stories: &[Inserted<'_>],
    clusters: &[i64],
) -> Result<(), StoreError> {
    const PER_ROW: usize = 5;
    let rows: Vec<_> = stories.iter().zip(clusters).collect();
    for chunk in rows.chunks(rows_per_statement(0, PER_ROW)) {
        let sql = rows_sql(
            "WITH v (id, cluster_id, terms, clustered_at, fingerprint) AS (VALUES ",
            0,
            PER_ROW,
            chunk.len(),
            ") UPDATE stories SET cluster_id = v.cluster_id, terms = v.terms,
                   clustered_at = v.clustered_at, fingerprint = v.fingerprint
               FROM v WHERE stories.id = v.id",
        );
        execute_rows!(tx, sql, chunk, |query, (story, cluster)| query
            .bind(story.id)
            .bind(**cluster)
            .bind(story.new.fingerprint.len() as i64)
            .bind(millis(story.at))
            .bind(index::encode(&story.new.fingerprint)));
    }
    Ok(())
}

/// Each story's identities, each once.
async fn write_identities(tx: &mut Tx, stories: &[Inserted<'_>]) -> Result<(), StoreError> {
    let mut rows: Vec<(&String, i64)> = Vec::new();
    for story in stories {
        let mut own: Vec<&String> = story.new.identities.iter().collect();
        own.sort_unstable();
        own.dedup();
        rows.extend(own.into_iter().map(|identity| (identity, story.id)));
    }
    for chunk in rows.chunks(rows_per_statement(0, 2)) {
        let sql = rows_sql(
            "INSERT INTO story_identities (identity, story_id) VALUES ",
            0,
            2,
            chunk.len(),
            " ON CONFLICT DO NOTHING",
        );
        execute_rows!(tx, sql, chunk, |query, (identity, story_id)| query
            .bind(*identity)
            .bind(*story_id));
    }
    Ok(())
}

/// The outlets that carried story `$story` of cluster `$cluster` besides the story's own, each
/// once with the id of its first story there (`first`): a subquery, the one definition of an
/// alert's "also reported by", whether the alert is being raised or sent.
macro_rules! other_outlets_sql {
    ($cluster:expr, $story:expr) => {
        concat!(
            "SELECT outlet, MIN(id) AS first FROM stories
             WHERE cluster_id = ",
            $cluster,
            " AND id <> ",
            $story,
            " AND outlet IS NOT NULL
               AND outlet IS DISTINCT FROM (SELECT outlet FROM stories WHERE id = ",
            $story,
            ")
             GROUP BY outlet"
        )
    };
}
pub(super) use other_outlets_sql;

/// The outlets besides its own that carried story `story_id` of `cluster`, in the order they
/// were seen, among the stories up to id `seen_up_to`: a poll's stories are written before
/// its alerts, and an alert names only what was recorded before its story or with it.
pub(super) async fn other_outlets(
    tx: &mut Tx,
    cluster: i64,
    story_id: i64,
    seen_up_to: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(on!(tx.conn(), d, c => {
        sqlx::query_scalar(concat!(
            "SELECT outlet FROM (", other_outlets_sql!("$1", "$2"), ") AS o WHERE first <= $3 ORDER BY first"
        ))
        .bind(cluster)
        .bind(story_id)
        .bind(seen_up_to)
        .fetch_all(c)
        .await?
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StateLocation;
    use crate::store::Store;
    use sqlx::Connection;

    /// Where the test runs: a SQLite file always, and a database of its own on the server of
    /// `RASAD_TEST_POSTGRES_URL` when that is set (dropped by `drop_database`).
    async fn locations(dir: &std::path::Path) -> Vec<(StateLocation, Option<(String, String)>)> {
        let mut all = vec![(StateLocation::File(dir.join("s.db")), None)];
        let Some(base) = std::env::var("RASAD_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!("note: the PostgreSQL part is skipped (RASAD_TEST_POSTGRES_URL is not set)");
            return all;
        };
        let name = format!("rasad_u_index_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .expect("a connection to the PostgreSQL server");
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .expect("the test database is made");
        }
        let mut url = url::Url::parse(&base).expect("RASAD_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        all.push((StateLocation::Postgres(url.to_string()), Some((base, name))));
        all
    }

    async fn drop_database(base: &str, name: &str) {
        let mut admin = sqlx::PgConnection::connect(base)
            .await
            .expect("a connection to the PostgreSQL server");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .expect("the test database is dropped");
    }

    /// Stories 1..=n, each with its own ten words, those of story 4 without a fingerprint.
    async fn store_with_stories(location: StateLocation, n: i64) -> Store {
        let store = Store::open(location).await.expect("the store opens");
        for id in 1..=n {
            let words: Vec<u64> = (0..10).map(|w| (id * 100 + w) as u64).collect();
            on!(store.pool(), d, c => {
                sqlx::query(
                    "INSERT INTO stories (id, feed_id, story_key, title, first_seen_at, cluster_id, clustered_at, terms, fingerprint)
                     VALUES ($1, 'f', $2, 't', 0, $1, 0, 10, $3)",
                )
                .bind(id)
                .bind(id.to_string())
                .bind((id != 4).then(|| index::encode(&words)))
                .execute(c)
                .await
                .expect("a story is inserted");
            });
        }
        store
    }

    #[tokio::test]
    async fn the_index_loads_the_newest_fingerprints_page_by_page() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for (location, database) in locations(dir.path()).await {
            let store = store_with_stories(location, 10).await;
            let backend = store.pool().dialect();
            check_pages(&store, backend).await;
            store.close().await;
            if let Some((base, name)) = database {
                drop_database(&base, &name).await;
            }
        }
    }

    async fn check_pages(store: &Store, backend: crate::store::backend::Dialect) {
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
            let mut tx = store.pool().begin().await.expect("a transaction");
            let loaded = load(&mut tx, capacity, page)
                .await
                .expect("the index loads");
            tx.rollback().await.expect("the transaction ends");
            let name = format!("{backend:?}: {name}");
            assert_eq!(loaded.index.len(), capacity.min(9), "{name}");
            assert_eq!(loaded.seen_up_to, 10, "{name}");
            let expected = found.into_iter().map(|id| (id, Some(id)));
            for (id, best) in expected.chain(missing.into_iter().map(|id| (id, None))) {
                let matched = loaded.index.best_match(&words(id), 0, &policy);
                assert_eq!(matched, best, "{name}: {id}");
            }
        }
    }
}
