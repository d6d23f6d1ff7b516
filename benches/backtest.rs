//! `rasad::backtest::backtest` over 20,000 stored stories on SQLite (titles and 4 KiB-bounded
//! summaries of real Arabic news, `../shared/samples/dedup/dev.jsonl` when it is there), against
//! two references measured alternately in the same run: the same matcher over the same texts
//! already in memory (what matching alone costs), and the same pages read from the store without
//! matching (what reading alone costs). The run ends by printing the medians and the ratios.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use chrono::{Duration as Days, Utc};
use rasad::backtest::{PAGE_STORIES, Rule, backtest};
use rasad::matcher::{KeywordSpec, Matcher, TopicSpec};
use rasad::model::Field;
use rasad::store::Store;
use sqlx::sqlite::SqliteConnectOptions;

const STORIES: usize = 20_000;
/// Timed runs of each, alternated.
const ROUNDS: usize = 7;

fn topic() -> TopicSpec {
    let words = ["داعش", "التحالف الدولي", "الموصل", "غارات", "إدلب", "Daesh"];
    TopicSpec {
        id: None,
        any: words.iter().map(|w| KeywordSpec::plain(*w)).collect(),
        all: Vec::new(),
        none: Vec::new(),
        fields: Field::ALL.to_vec(),
    }
}

/// `(title, summary)` of each story: lines of the corpus, a short one as title, the next as
/// summary (cut as the store cuts it).
fn texts() -> Vec<(String, String)> {
    let corpus = common::corpus(8 * 1024 * 1024);
    let lines: Vec<&str> = corpus.lines().filter(|l| !l.trim().is_empty()).collect();
    (0..STORIES)
        .map(|i| {
            let title = lines[(2 * i) % lines.len()];
            let summary = lines[(2 * i + 1) % lines.len()];
            let cut =
                summary.floor_char_boundary(rasad::store::STORED_SUMMARY_BYTES.min(summary.len()));
            (title.chars().take(200).collect(), summary[..cut].to_owned())
        })
        .collect()
}

/// A state file with `texts` as stories, first seen over the last six days.
async fn filled_store(path: &std::path::Path, texts: &[(String, String)]) -> Store {
    Store::open(path)
        .await
        .expect("the store opens")
        .close()
        .await;
    let pool = sqlx::SqlitePool::connect_with(SqliteConnectOptions::new().filename(path))
        .await
        .expect("the state file opens");
    let now = Utc::now();
    let mut tx = pool.begin().await.expect("a transaction");
    for (i, (title, summary)) in texts.iter().enumerate() {
        let seen = now - Days::seconds((i as i64 * 6 * 24 * 3600) / STORIES as i64);
        sqlx::query(
            "INSERT INTO stories (feed_id, story_key, canonical_url, title, summary, first_seen_at, outlet)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(format!("f{}", i % 200))
        .bind(format!("k{i}"))
        .bind(format!("https://outlet{}.test/{i}", i % 200))
        .bind(title)
        .bind(summary)
        .bind(seen.timestamp_millis())
        .bind(format!("منفذ {}", i % 200))
        .execute(&mut *tx)
        .await
        .expect("a story");
    }
    tx.commit().await.expect("committed");
    pool.close().await;
    Store::open(path).await.expect("the store opens")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let texts = texts();
    let bytes: usize = texts.iter().map(|(t, s)| t.len() + s.len()).sum();
    let store = rt.block_on(filled_store(&dir.path().join("state.db"), &texts));
    let rule = Rule::new(topic()).expect("the rule compiles");
    let matcher = Arc::new(Matcher::new(vec![topic()]).expect("the matcher compiles"));
    let since = Utc::now() - Days::days(7);

    let mut report = None;
    let run_backtest = || {
        let r = rt
            .block_on(backtest(&store, &rule, since, 100))
            .expect("the backtest runs");
        report = Some((r.stories, r.matched, r.alerts.len()));
    };
    let match_in_memory = || {
        texts
            .iter()
            .filter(|(title, summary)| {
                !matcher
                    .find_relevant(&[(Field::Title, title), (Field::Summary, summary)])
                    .is_empty()
            })
            .count()
    };
    let (ours, matching) = common::alternated_medians(ROUNDS, run_backtest, match_in_memory);
    let read_only = || {
        rt.block_on(async {
            let mut after = None;
            let mut n = 0usize;
            loop {
                let page = store
                    .stories_since(since, after, PAGE_STORIES)
                    .await
                    .expect("a page");
                let Some(last) = page.last() else { break };
                after = Some(last.cursor());
                n += page.len();
                if page.len() < PAGE_STORIES as usize {
                    break;
                }
            }
            black_box(n)
        })
    };
    let (_, reading) = common::alternated_medians(ROUNDS, || (), read_only);
    let (stories, matched, alerts) = report.expect("the backtest ran");
    println!(
        "backtest of {stories} stories ({:.1} MB of text; {matched} match, {alerts} alerts kept): {:.1} ms",
        bytes as f64 / 1e6,
        ours.as_secs_f64() * 1e3
    );
    println!(
        "reference, matching the same texts in memory: {:.1} ms; ratio {:.2}",
        matching.as_secs_f64() * 1e3,
        ours.as_secs_f64() / matching.as_secs_f64()
    );
    println!(
        "reference, reading the same pages without matching: {:.1} ms; ratio {:.2}",
        reading.as_secs_f64() * 1e3,
        ours.as_secs_f64() / reading.as_secs_f64()
    );
    println!(
        "backtest over the sum of the two: {:.2}",
        ours.as_secs_f64() / (matching + reading).as_secs_f64()
    );
    rt.block_on(store.close());
}
