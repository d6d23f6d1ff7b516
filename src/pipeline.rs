//! One poll of one feed, as a recipe: load its state, fetch, parse, keep the new items, match
//! them, plan their alerts, and write it all in one store transaction.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, Feed};
use crate::dedupe::{assign_keys, canonical_url, content_hash, fingerprint, identities};
use crate::matcher::Matcher;
use crate::model::{AlertPayload, Hit, Story};
use crate::runtime::Runtime;
use crate::source::fetch::{FetchOutcome, HostTurn, ServerHints};
use crate::source::parse::{BodyHints, parse_feed_with};
use crate::source::schedule::{Policy, adaptive_interval};
use crate::store::{
    NewAlert, NewStory, PollAttempt, PollCounts, PollHints, PollRecord, Store, StoreError,
};

/// How one poll of one feed went.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedReport {
    pub feed: String,
    /// `None` when the poll succeeded (a 304 included).
    pub error: Option<String>,
    pub counts: PollCounts,
    pub next_poll_at: DateTime<Utc>,
}

/// How many recent items an adaptive schedule looks at.
const ADAPTIVE_WINDOW: u32 = 10;

/// Polls feed `index` of the runtime's config once, fetching in `turn` (a turn at the feed's
/// host, which ends with the fetch), and records the result.
pub async fn poll_feed(
    runtime: &Arc<Runtime>,
    index: usize,
    store: &Store,
    turn: HostTurn,
) -> Result<FeedReport, StoreError> {
    let (config, feed) = (&*runtime.config, &runtime.config.feeds[index]);
    let (fetcher, telemetry) = (&runtime.fetcher, &runtime.telemetry);
    let state = store.feed_state(&feed.id, feed.url.as_str()).await?;
    let now = Utc::now();
    let policy = Policy {
        interval: feed.interval,
        min: config.poll.min_interval,
        max: config.poll.max_interval,
        jitter: config.poll.jitter,
    };
    let failures = state.consecutive_failures + 1;
    let failure = |status: &str, reason: &str, retry_after: Option<Duration>| PollAttempt {
        feed_id: feed.id.clone(),
        url: feed.url.to_string(),
        at: now,
        next_poll_at: now
            + chrono_duration(policy.after_failure(failures, retry_after, fastrand::f64())),
        status: status.to_owned(),
        error: Some(reason.to_owned()),
        hints: PollHints {
            server_wait: retry_after,
            ..PollHints::default()
        },
    };
    let started = std::time::Instant::now();
    let (outcome, fetch_hints) = fetcher
        .fetch_with_hints(&feed.url, &state.validators, turn)
        .await;
    telemetry.fetched(&feed.id, &outcome, started.elapsed());
    let (body, validators, content_type, server) = match (outcome, fetch_hints) {
        (
            FetchOutcome::Modified {
                body,
                validators,
                content_type,
            },
            hints,
        ) => (body, validators, content_type, hints),
        (FetchOutcome::NotModified, hints) => {
            log_move(feed, &hints);
            let wait = policy.after_success(hints.fresh_for, None, fastrand::f64());
            let record = PollAttempt {
                feed_id: feed.id.clone(),
                url: feed.url.to_string(),
                at: now,
                next_poll_at: now + chrono_duration(wait),
                status: "304".to_owned(),
                error: None,
                hints: poll_hints(hints.fresh_for, &hints),
            };
            store.record_attempt(&record).await?;
            return Ok(report(
                feed,
                None,
                PollCounts::default(),
                record.next_poll_at,
            ));
        }
        (
            FetchOutcome::RateLimited {
                status,
                retry_after,
            },
            _,
        ) => {
            let reason = format!("rate limited (HTTP {status})");
            let record = failure(&status.to_string(), &reason, retry_after);
            return failed(store, feed, record, reason).await;
        }
        (FetchOutcome::Failed(e), _) => {
            let reason = format!("fetch failed: {e}");
            let record = failure("error", &reason, None);
            return failed(store, feed, record, reason).await;
        }
    };
    log_move(feed, &server);
    // The CPU work (decode, repair, parse, fold, match, fingerprint) runs on the blocking pool,
    // so that a long item never holds the timers, the outbox or the admin server; past
    // `poll.cpu_deadline` the poll is abandoned and recorded as failed.
    let cpu = config.poll.cpu_deadline;
    let deadline = tokio::time::Instant::now() + cpu;
    let read = {
        let (url, feed_id) = (feed.url.clone(), feed.id.clone());
        off_the_workers(deadline, cpu, move || {
            let hints = BodyHints {
                content_type: content_type.as_deref(),
                url: Some(&url),
            };
            parse_feed_with(&body, hints).map(|parsed| {
                let stories = parsed.stories(&feed_id, now);
                (parsed.feed.ttl_minutes, parsed.bounded, stories)
            })
        })
        .await
    };
    let (ttl_minutes, bounded, stories) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => {
            let reason = format!("parse failed: {e}");
            let record = failure("parse", &reason, None);
            return failed(store, feed, record, reason).await;
        }
        Err(abandoned) => {
            let reason = format!("parse {abandoned}");
            let record = failure("error", &reason, None);
            telemetry.poll_abandoned(&feed.id);
            return failed(store, feed, record, reason).await;
        }
    };
    telemetry.parsed(&feed.id, stories.len());
    let note = bounded.notes();
    if let Some(note) = &note {
        tracing::warn!(feed = %feed.id, %note, "feed over a bound; read up to it");
    }
    let first_poll = state.first_success_at.is_none();
    let alerting = !first_poll || config.poll.alert_on_first_poll;
    let adaptive = if config.poll.adaptive {
        adaptive_interval(&store.recent_item_times(&feed.id, ADAPTIVE_WINDOW).await?)
    } else {
        None
    };
    // The longer of the HTTP freshness and the feed's own <ttl> (minutes).
    let ttl = ttl_minutes.map(|m| Duration::from_secs(u64::from(m) * 60));
    let server_wait = server.fresh_for.max(ttl);
    let wait = policy.after_success(server_wait, adaptive, fastrand::f64());
    let items = stories.len();
    let planned = {
        let (mut stories, runtime) = (stories, runtime.clone());
        assign_keys(&mut stories, feed.url.as_str());
        let keys: Vec<String> = stories.iter().map(|s| s.key.clone()).collect();
        let known = store.known_keys(&feed.id, &keys).await?;
        off_the_workers(deadline, cpu, move || {
            let (config, feed) = (&*runtime.config, &runtime.config.feeds[index]);
            let new = new_stories(stories, &known);
            plan(config, feed, &runtime.matcher, new, alerting)
        })
        .await
    };
    let planned = match planned {
        Ok(planned) => planned,
        Err(abandoned) => {
            let reason = format!("matching {abandoned}");
            let record = failure("error", &reason, None);
            telemetry.poll_abandoned(&feed.id);
            return failed(store, feed, record, reason).await;
        }
    };
    let record = PollRecord {
        feed_id: feed.id.clone(),
        url: feed.url.to_string(),
        validators,
        at: now,
        next_poll_at: now + chrono_duration(wait),
        items,
        hints: PollHints {
            note,
            ..poll_hints(server_wait, &server)
        },
        stories: planned,
        cluster_policy: config.daemon.cluster_policy(),
    };
    let counts = store.record_poll(&record).await?;
    telemetry.recorded(&feed.id, &record.stories, &counts);
    tracing::info!(feed = %feed.id, new = counts.new_stories, joined = counts.joined, edited = counts.edited,
        alerts = counts.alerts, first_poll, "feed polled");
    Ok(report(feed, None, counts, record.next_poll_at))
}

/// Runs `work` on the blocking pool, giving up on it at `deadline`: its error says whether it
/// panicked or ran out of time.
async fn off_the_workers<T: Send + 'static>(
    deadline: tokio::time::Instant,
    length: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    match tokio::time::timeout_at(deadline, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) if e.is_panic() => Err(format!(
            "crashed on this body: {}",
            panic_message(&e.into_panic())
        )),
        Ok(Err(e)) => Err(format!("was cancelled: {e}")),
        Err(_) => Err(format!(
            "took longer than poll.cpu_deadline ({}) and was abandoned",
            humantime::format_duration(length)
        )),
    }
}

/// The message a panic was raised with.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Records a poll that ended without its own record (it panicked, or outran its deadline) as a
/// failure of its feed, with the usual backoff: the feed keeps its place in the schedule, and
/// its lease is released.
pub async fn record_abandoned(
    runtime: &Runtime,
    index: usize,
    store: &Store,
    reason: &str,
) -> Result<FeedReport, StoreError> {
    let (config, feed) = (&*runtime.config, &runtime.config.feeds[index]);
    let state = store.feed_state(&feed.id, feed.url.as_str()).await?;
    let policy = Policy {
        interval: feed.interval,
        min: config.poll.min_interval,
        max: config.poll.max_interval,
        jitter: config.poll.jitter,
    };
    let now = Utc::now();
    let wait = policy.after_failure(state.consecutive_failures + 1, None, fastrand::f64());
    let record = PollAttempt {
        feed_id: feed.id.clone(),
        url: feed.url.to_string(),
        at: now,
        next_poll_at: now + chrono_duration(wait),
        status: "error".to_owned(),
        error: Some(reason.to_owned()),
        hints: PollHints::default(),
    };
    runtime.telemetry.poll_abandoned(&feed.id);
    failed(store, feed, record, reason.to_owned()).await
}

/// Keys one read's items, keeps those not seen before (or edited since), and plans their
/// alerts: what a poll records. `rasad cluster` goes through here too.
pub async fn plan_new(
    config: &Config,
    feed: &Feed,
    matcher: &Matcher,
    store: &Store,
    mut stories: Vec<Story>,
    alerting: bool,
) -> Result<Vec<NewStory>, StoreError> {
    assign_keys(&mut stories, feed.url.as_str());
    let keys: Vec<String> = stories.iter().map(|s| s.key.clone()).collect();
    let known = store.known_keys(&feed.id, &keys).await?;
    Ok(plan(
        config,
        feed,
        matcher,
        new_stories(stories, &known),
        alerting,
    ))
}

/// Records one item read at its publication time, without alerting, exactly as a poll records
/// it, and returns the cluster it ends in: `rasad cluster` replays a labelled set through here.
pub async fn record_read(
    config: &Config,
    feed: &Feed,
    matcher: &Matcher,
    store: &Store,
    story: Story,
    cluster_policy: &crate::dedupe::ClusterPolicy,
) -> Result<Option<i64>, StoreError> {
    let at = story.published.unwrap_or(story.fetched);
    let mut stories = vec![story];
    assign_keys(&mut stories, feed.url.as_str());
    let key = stories[0].key.clone();
    let record = PollRecord {
        feed_id: feed.id.clone(),
        url: feed.url.to_string(),
        validators: crate::source::fetch::Validators::default(),
        at,
        next_poll_at: at,
        items: 1,
        hints: PollHints::default(),
        stories: plan_new(config, feed, matcher, store, stories, false).await?,
        cluster_policy: *cluster_policy,
    };
    store.record_poll(&record).await?;
    let clusters = store
        .story_clusters(&feed.id, std::slice::from_ref(&key))
        .await?;
    Ok(clusters.get(&key).copied())
}

/// The stories whose key is not known yet, and those known with other text (edited in place),
/// each key once; the flag says which are edits.
pub fn new_stories(
    stories: Vec<Story>,
    known: &HashMap<String, Option<String>>,
) -> Vec<(Story, bool)> {
    let mut seen = HashSet::new();
    stories
        .into_iter()
        .filter(|s| seen.insert(s.key.clone()))
        .filter_map(|s| match known.get(&s.key) {
            None => Some((s, false)),
            Some(Some(hash)) if *hash != content_hash(&s.title, &s.summary) => Some((s, true)),
            Some(_) => None,
        })
        .collect()
}

/// Matches the new stories and plans one alert per story and topic, addressed to the topic's
/// channels. With `alerting` off (a feed's first poll), stories are recorded without alerts.
pub fn plan(
    config: &Config,
    feed: &Feed,
    matcher: &Matcher,
    stories: Vec<(Story, bool)>,
    alerting: bool,
) -> Vec<NewStory> {
    stories
        .into_iter()
        .map(|(story, edited)| {
            let alerts = if alerting {
                alerts_for(config, feed, &story, &matcher.match_story(&story))
            } else {
                Vec::new()
            };
            NewStory {
                canonical_url: story.url.as_deref().and_then(canonical_url),
                outlet: feed.name.clone(),
                fingerprint: fingerprint(&story.title, lead(&story)),
                identities: identities(&story, feed.url.as_str()),
                content_hash: content_hash(&story.title, &story.summary),
                edited,
                story,
                alerts,
            }
        })
        .collect()
}

/// The lead of a story: its summary, else the start of its content.
fn lead(story: &Story) -> &str {
    if !story.summary.trim().is_empty() {
        return &story.summary;
    }
    let end = story
        .content
        .char_indices()
        .nth(400)
        .map_or(story.content.len(), |(i, _)| i);
    &story.content[..end]
}

fn alerts_for(config: &Config, feed: &Feed, story: &Story, hits: &[Hit]) -> Vec<NewAlert> {
    Matcher::by_topic(hits)
        .into_iter()
        .filter_map(|(topic_id, topic_hits)| {
            let topic = config.topics.iter().find(|t| t.id == topic_id)?;
            Some(NewAlert {
                payload: AlertPayload {
                    topic_id: topic.id.clone(),
                    topic_name: topic.name.clone(),
                    feed_name: feed.name.clone(),
                    story: story.clone(),
                    hits: topic_hits.into_iter().cloned().collect(),
                    also_reported_by: Vec::new(),
                },
                channels: topic.notify.clone(),
            })
        })
        .collect()
}

async fn failed(
    store: &Store,
    feed: &Feed,
    record: PollAttempt,
    reason: String,
) -> Result<FeedReport, StoreError> {
    let url = crate::redact::redact_parsed(&feed.url);
    tracing::warn!(feed = %feed.id, %url, %reason, "feed poll failed");
    store.record_attempt(&record).await?;
    Ok(report(
        feed,
        Some(reason),
        PollCounts::default(),
        record.next_poll_at,
    ))
}

fn report(
    feed: &Feed,
    error: Option<String>,
    counts: PollCounts,
    next_poll_at: DateTime<Utc>,
) -> FeedReport {
    FeedReport {
        feed: feed.id.clone(),
        error,
        counts,
        next_poll_at,
    }
}

fn poll_hints(server_wait: Option<Duration>, hints: &ServerHints) -> PollHints {
    PollHints {
        server_wait,
        moved_to: hints
            .permanent_redirect
            .as_ref()
            .map(crate::redact::redact_parsed),
        note: None,
    }
}

/// A feed that moved for good keeps working through the redirect, but its config should
/// follow: say so at each poll until it does.
fn log_move(feed: &Feed, hints: &ServerHints) {
    if let Some(to) = &hints.permanent_redirect {
        let (from, to) = (
            crate::redact::redact_parsed(&feed.url),
            crate::redact::redact_parsed(to),
        );
        tracing::warn!(feed = %feed.id, %from, %to, "feed moved permanently; update its url in the config");
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU stage's three endings: its result, its panic, its deadline.
    #[tokio::test]
    async fn work_off_the_workers_ends_in_its_result_a_panic_or_the_deadline() {
        let after = |ms| tokio::time::Instant::now() + Duration::from_millis(ms);
        let long = Duration::from_secs(10);
        assert_eq!(off_the_workers(after(10_000), long, || 42).await, Ok(42));
        let crashed =
            off_the_workers(after(10_000), long, || -> u32 { panic!("a hostile item") }).await;
        assert!(
            crashed
                .as_ref()
                .is_err_and(|e| e.contains("crashed on this body: a hostile item")),
            "{crashed:?}"
        );
        let started = std::time::Instant::now();
        let slow = off_the_workers(after(300), Duration::from_millis(300), || {
            std::thread::sleep(Duration::from_secs(2))
        })
        .await;
        assert!(
            slow.as_ref().is_err_and(
                |e| e.contains("took longer than poll.cpu_deadline (300ms) and was abandoned")
            ),
            "{slow:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the poll waited"
        );
    }
}
