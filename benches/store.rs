//! One transaction per feed on SQLite: `Store::record_poll` of a poll that found 30 new stories
//! (Arabic titles and summaries, three of them raising an alert to two channels), against the
//! same rows written as plain INSERTs in one transaction on a bare sqlx pool.
//!
//! The reference has the tables `record_poll` writes (feeds, stories with their fingerprints,
//! story identities, alerts, deliveries) with the same keys, unique constraints and indexes, the
//! same pragmas (WAL, `synchronous = NORMAL`, one connection), and builds the same values
//! (payload JSON, delivery keys); it only skips what `record_poll` decides: the cluster lookups
//! and "also reported by". Every poll is of a feed never seen, so every row is new; one story in
//! eight is a copy of a wire story carried by other feeds, so some join a cluster. The words are
//! those of `../shared/samples/dedup/dev.jsonl` when it is there (else generated). The store
//! grows as the bench runs (a few thousand stories, all inside the clustering window). The run ends by
//! printing the time per poll of each, measured alternately in the same run, and their ratio.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use rasad::dedupe::{ClusterPolicy, content_hash, fingerprint};
use rasad::model::{AlertPayload, Field, Hit, Story};
use rasad::source::fetch::Validators;
use rasad::store::{NewAlert, NewStory, PollHints, PollRecord, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqlitePool};

const STORIES: usize = 30;
/// Stories of a poll that raise an alert.
const ALERTS: usize = 3;
const CHANNELS: [&str; 2] = ["hook", "mail"];
/// Polls timed by hand for the ratio, alternating the two writers.
const ROUNDS: usize = 20;

/// Builds the stories of one poll of feed `feed`.
struct Farm {
    words: Vec<String>,
    rng: fastrand::Rng,
    at: DateTime<Utc>,
}

impl Farm {
    /// `n` words drawn uniformly: unrelated stories share few words, so only the wire copies
    /// join a cluster (a skewed draw over this small vocabulary makes most stories look alike).
    fn sentence(&self, rng: &mut fastrand::Rng, n: usize) -> String {
        (0..n)
            .map(|_| self.words[rng.usize(..self.words.len())].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn story(&mut self, feed: usize, n: usize) -> NewStory {
        // One story in eight is a wire story from a pool of 40 that other feeds carry too.
        let wire = self.rng.u8(..8) == 0;
        let seed = if wire {
            self.rng.u64(..40)
        } else {
            1_000 + (feed * STORIES + n) as u64
        };
        let mut text = fastrand::Rng::with_seed(seed);
        let title = self.sentence(&mut text, 9);
        let summary = self.sentence(&mut text, 40);
        let url = format!("https://outlet{feed}.test/{feed}-{n}");
        let story = Story {
            feed: format!("f{feed}"),
            key: format!("guid:{feed}-{n}"),
            summary_html: format!("<p>{summary}</p>"),
            content_html: String::new(),
            content: String::new(),
            url: Some(url.clone()),
            guid: Some(format!("{feed}-{n}")),
            published: Some(self.at),
            fetched: self.at,
            title,
            summary,
        };
        let alerts = if n < ALERTS {
            vec![alert(&story, feed)]
        } else {
            Vec::new()
        };
        NewStory {
            canonical_url: Some(url.clone()),
            outlet: format!("منفذ {feed}"),
            fingerprint: fingerprint(&story.title, &story.summary),
            identities: vec![format!("url:{url}"), format!("guid:{feed}-{n}")],
            content_hash: content_hash(&story.title, &story.summary),
            edited: false,
            story,
            alerts,
        }
    }

    fn poll(&mut self, feed: usize) -> PollRecord {
        let stories = (0..STORIES).map(|n| self.story(feed, n)).collect();
        PollRecord {
            feed_id: format!("f{feed}"),
            url: format!("http://127.0.0.1/f{feed}.xml"),
            validators: Validators {
                etag: Some(format!("\"{feed}-0\"")),
                last_modified: Some("Sun, 29 Nov 2026 08:00:00 GMT".into()),
            },
            at: self.at,
            next_poll_at: self.at + chrono::Duration::minutes(5),
            stories,
            cluster_policy: ClusterPolicy::default(),
            items: STORIES,
            hints: PollHints::default(),
        }
    }
}

fn alert(story: &Story, feed: usize) -> NewAlert {
    NewAlert {
        payload: AlertPayload {
            topic_id: "isis".into(),
            topic_name: "داعش".into(),
            feed_name: format!("منفذ {feed}"),
            story: story.clone(),
            hits: vec![Hit {
                topic: Some("isis".into()),
                keyword: "داعش".into(),
                name: false,
                field: Field::Title,
                keyword_span: 0..8,
                token_span: 0..10,
                snippet: story.title.chars().take(60).collect(),
            }],
            also_reported_by: Vec::new(),
        },
        channels: CHANNELS.iter().map(|c| c.to_string()).collect(),
    }
}

const REFERENCE_SCHEMA: &str = "
CREATE TABLE feeds (id TEXT PRIMARY KEY, url TEXT NOT NULL, etag TEXT, last_modified TEXT,
    first_success_at INTEGER, last_attempt_at INTEGER, last_success_at INTEGER, last_status TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    items_seen INTEGER NOT NULL DEFAULT 0, next_poll_at INTEGER, failing_since INTEGER,
    moved_to TEXT, last_items INTEGER, server_hint_secs INTEGER);
CREATE TABLE stories (id INTEGER PRIMARY KEY, feed_id TEXT NOT NULL, story_key TEXT NOT NULL,
    canonical_url TEXT, cluster_id INTEGER, title TEXT NOT NULL, published_at INTEGER,
    first_seen_at INTEGER NOT NULL, outlet TEXT, content_hash TEXT, clustered_at INTEGER,
    terms INTEGER NOT NULL DEFAULT 0, fingerprint BLOB, UNIQUE (feed_id, story_key));
CREATE INDEX stories_by_canonical_url ON stories (canonical_url);
CREATE INDEX stories_by_feed_seen ON stories (feed_id, first_seen_at);
CREATE INDEX stories_by_cluster ON stories (cluster_id);
CREATE INDEX stories_by_first_seen ON stories (first_seen_at);
CREATE INDEX stories_with_fingerprint ON stories (first_seen_at) WHERE fingerprint IS NOT NULL;
CREATE TABLE story_identities (identity TEXT NOT NULL, story_id INTEGER NOT NULL,
    PRIMARY KEY (identity, story_id)) WITHOUT ROWID;
CREATE INDEX story_identities_by_story ON story_identities (story_id);
CREATE TABLE alerts (id INTEGER PRIMARY KEY, story_id INTEGER NOT NULL, cluster_id INTEGER NOT NULL,
    topic_id TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL,
    UNIQUE (cluster_id, topic_id));
CREATE TABLE deliveries (id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, channel_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL, lease_until INTEGER, last_error TEXT,
    created_at INTEGER NOT NULL, requeued_at INTEGER, UNIQUE (alert_id, channel_id));
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_channel ON deliveries (channel_id, status, next_attempt_at);
";

async fn reference_pool(path: &std::path::Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("the reference database opens");
    pool.execute(REFERENCE_SCHEMA)
        .await
        .expect("the reference schema is created");
    pool
}

/// The rows of `record`, written as plain INSERTs (and the feed's UPDATE) in one transaction.
async fn plain_inserts(pool: &SqlitePool, record: &PollRecord) {
    let at = record.at.timestamp_millis();
    let mut tx = pool.begin().await.expect("a transaction");
    sqlx::query("INSERT INTO feeds (id, url) VALUES ($1, $2)")
        .bind(&record.feed_id)
        .bind(&record.url)
        .execute(&mut *tx)
        .await
        .expect("feed");
    for new in &record.stories {
        let story_id: i64 = sqlx::query_scalar(
            "INSERT INTO stories (feed_id, story_key, canonical_url, title, published_at, first_seen_at,
                 outlet, content_hash, terms, clustered_at, fingerprint)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $6, $10) RETURNING id",
        )
        .bind(&record.feed_id)
        .bind(&new.story.key)
        .bind(&new.canonical_url)
        .bind(&new.story.title)
        .bind(new.story.published.map(|p| p.timestamp_millis()))
        .bind(at)
        .bind(&new.outlet)
        .bind(&new.content_hash)
        .bind(new.fingerprint.len() as i64)
        .bind(rasad::dedupe::index::encode(&new.fingerprint))
        .fetch_one(&mut *tx)
        .await
        .expect("story");
        for identity in &new.identities {
            sqlx::query("INSERT INTO story_identities (identity, story_id) VALUES ($1, $2)")
                .bind(identity)
                .bind(story_id)
                .execute(&mut *tx)
                .await
                .expect("identity");
        }
        for alert in &new.alerts {
            let payload = serde_json::to_string(&alert.payload).expect("a payload serialises");
            let alert_id: i64 = sqlx::query_scalar(
                "INSERT INTO alerts (story_id, cluster_id, topic_id, payload, created_at)
                 VALUES ($1, $1, $2, $3, $4) RETURNING id",
            )
            .bind(story_id)
            .bind(&alert.payload.topic_id)
            .bind(payload)
            .bind(at)
            .fetch_one(&mut *tx)
            .await
            .expect("alert");
            for channel in &alert.channels {
                sqlx::query(
                    "INSERT INTO deliveries (alert_id, channel_id, idempotency_key, status, next_attempt_at, created_at)
                     VALUES ($1, $2, $3, 'pending', $4, $4)",
                )
                .bind(alert_id)
                .bind(channel)
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(at)
                .execute(&mut *tx)
                .await
                .expect("delivery");
            }
        }
    }
    sqlx::query(
        "UPDATE feeds SET etag = $2, last_modified = $3, first_success_at = $4, last_attempt_at = $4,
             last_success_at = $4, last_status = '200', items_seen = $5, next_poll_at = $6, last_items = $5
         WHERE id = $1",
    )
    .bind(&record.feed_id)
    .bind(&record.validators.etag)
    .bind(&record.validators.last_modified)
    .bind(at)
    .bind(record.items as i64)
    .bind(record.next_poll_at.timestamp_millis())
    .execute(&mut *tx)
    .await
    .expect("feed update");
    tx.commit().await.expect("commit");
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = rt
        .block_on(Store::open(&dir.path().join("store.db")))
        .expect("the store opens");
    let reference = rt.block_on(reference_pool(&dir.path().join("reference.db")));
    let mut farm = Farm {
        words: common::vocabulary(),
        rng: fastrand::Rng::with_seed(8),
        at: Utc::now(),
    };
    // Each writer gets its own feed numbers, so that every poll is of a feed never seen.
    let mut next_store_feed = 0usize;
    let mut next_reference_feed = 0usize;

    let mut group = c.benchmark_group("store");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("record_poll_30_stories", |b| {
        b.iter_batched(
            || {
                next_store_feed += 1;
                farm.poll(next_store_feed)
            },
            |record| rt.block_on(store.record_poll(&record)).expect("recorded"),
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("plain_inserts_30_stories", |b| {
        b.iter_batched(
            || {
                next_reference_feed += 1;
                farm.poll(next_reference_feed)
            },
            |record| rt.block_on(plain_inserts(&reference, &record)),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    // The same two measurements by hand, alternated so that both see the same machine.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut counts = rasad::store::PollCounts::default();
    for _ in 0..ROUNDS {
        next_store_feed += 1;
        let record = farm.poll(next_store_feed);
        let started = Instant::now();
        counts = black_box(rt.block_on(store.record_poll(&record)).expect("recorded"));
        ours.push(started.elapsed());

        next_reference_feed += 1;
        let record = farm.poll(next_reference_feed);
        let started = Instant::now();
        rt.block_on(plain_inserts(&reference, &record));
        theirs.push(started.elapsed());
    }
    let (ours, theirs) = (median(ours), median(theirs));
    eprintln!(
        "record_poll of {STORIES} new stories: {ours:.2?} per feed ({} new, {} joined a cluster, \
         {} alerts, {} deliveries in the last); plain INSERTs of the same rows: {theirs:.2?}; \
         record_poll takes {:.2}× the plain INSERTs",
        counts.new_stories,
        counts.joined,
        counts.alerts,
        counts.deliveries,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    rt.block_on(store.close());
    rt.block_on(reference.close());
}

criterion_group!(benches, bench);
criterion_main!(benches);
