//! Fingerprint + cluster lookup + insert of one new story (one `Store::record_poll`, the path a
//! poll takes) against 10^4, 10^5 and 10^6 stored stories.
//!
//! The store holds `N` stories: the last `WINDOW_STORIES` were published within the clustering
//! window and carry full fingerprints (so every lookup scans real postings); the others are
//! older, as in a store that has run for a while, and their index rows are gone, as `prune`
//! leaves them. The words are those of `../shared/samples/dedup/dev.jsonl` when it is there
//! (else a generated vocabulary), drawn with a skew towards common words. The run ends by
//! printing the per-story time at 10^5 and 10^6 as a ratio of the time at 10^4, measured in the
//! same run: close to 1 means the lookup does not grow with the stored total.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use rasad::dedupe::{ClusterPolicy, fingerprint};
use rasad::model::Story;
use rasad::source::fetch::Validators;
use rasad::store::{NewStory, PollRecord, Store};

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Stories inside the 36 h window: about 50 feeds × 40 items a day.
const WINDOW_STORIES: usize = 3_000;
const BATCH: usize = 5_000;

struct Corpus {
    words: Vec<String>,
    rng: fastrand::Rng,
}

impl Corpus {
    fn new() -> Corpus {
        let words = common::vocabulary();
        Corpus {
            words,
            rng: fastrand::Rng::with_seed(7),
        }
    }

    fn text(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| {
                let r = self.rng.f64();
                self.words[((r * r) * self.words.len() as f64) as usize].as_str()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn story(&mut self, id: usize, at: DateTime<Utc>, indexed: bool) -> NewStory {
        let title = self.text(8);
        let summary = self.text(24);
        let story = Story {
            feed: "bench".into(),
            key: format!("guid:{id}"),
            title,
            summary_html: String::new(),
            summary,
            content_html: String::new(),
            content: String::new(),
            url: Some(format!("https://bench.example/{id}")),
            guid: Some(id.to_string()),
            published: Some(at),
            fetched: at,
        };
        NewStory {
            canonical_url: story.url.clone(),
            outlet: format!("outlet {}", id % 50),
            fingerprint: if indexed {
                fingerprint(&story.title, &story.summary)
            } else {
                Vec::new()
            },
            identities: vec![format!("url:https://bench.example/{id}")],
            content_hash: id.to_string(),
            edited: false,
            story,
            alerts: Vec::new(),
        }
    }
}

fn record(stories: Vec<NewStory>, at: DateTime<Utc>) -> PollRecord {
    PollRecord {
        feed_id: "bench".into(),
        url: "https://bench.example/rss".into(),
        validators: Validators::default(),
        at,
        next_poll_at: at,
        items: stories.len(),
        hints: rasad::store::PollHints::default(),
        stories,
        cluster_policy: ClusterPolicy::default(),
    }
}

/// A store with `n` stories, the newest `WINDOW_STORIES` of them indexed, ending at `now`.
async fn filled_store(
    dir: &std::path::Path,
    n: usize,
    corpus: &mut Corpus,
    now: DateTime<Utc>,
) -> Store {
    let store = Store::open(&dir.join(format!("bench-{n}.db")))
        .await
        .expect("store opened");
    let window = chrono::Duration::hours(36);
    let mut batch = Vec::with_capacity(BATCH);
    for id in 0..n {
        let recent = id + WINDOW_STORIES >= n;
        let at = if recent {
            now - window * i32::try_from(n - id).unwrap_or(0)
                / i32::try_from(WINDOW_STORIES).unwrap_or(1)
        } else {
            now - window - chrono::Duration::seconds(i64::try_from(n - id).unwrap_or(0))
        };
        batch.push(corpus.story(id, at, recent));
        if batch.len() == BATCH || id + 1 == n {
            store
                .record_poll(&record(std::mem::take(&mut batch), at))
                .await
                .expect("batch recorded");
        }
    }
    store
}

fn bench(c: &mut Criterion) {
    let max: usize = std::env::var("RASAD_BENCH_MAX_STORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let now = Utc::now();
    let mut corpus = Corpus::new();
    let mut group = c.benchmark_group("cluster_lookup");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    let mut per_story = Vec::new();
    let mut next_id = 10_000_000;
    for n in SIZES.into_iter().filter(|n| *n <= max) {
        let started = Instant::now();
        let store = rt.block_on(filled_store(dir.path(), n, &mut corpus, now));
        eprintln!("filled {n} stories in {:.1?}", started.elapsed());
        group.bench_function(format!("{n}_stored"), |b| {
            b.iter(|| {
                next_id += 1;
                let story = corpus.story(next_id, now, true);
                rt.block_on(store.record_poll(&record(vec![story], now)))
                    .expect("recorded");
            })
        });
        // The same measurement by hand, for the ratio printed below.
        let rounds = 300;
        let started = Instant::now();
        for _ in 0..rounds {
            next_id += 1;
            let story = corpus.story(next_id, now, true);
            black_box(
                rt.block_on(store.record_poll(&record(vec![story], now)))
                    .expect("recorded"),
            );
        }
        per_story.push((n, started.elapsed() / rounds));
        rt.block_on(store.close());
    }
    group.finish();
    if let Some((base_n, base)) = per_story.first().copied() {
        for (n, t) in &per_story {
            eprintln!(
                "cluster lookup with {n} stored: {t:.1?} per story, {:.2}× the time with {base_n}",
                t.as_secs_f64() / base.as_secs_f64()
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
