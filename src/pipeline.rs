//! One poll of one feed, as a recipe: load its state, read the feed (fetch, then parse), keep
//! the new items, match them, plan their alerts, and write it all in one store transaction.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, Feed, Topic};
use crate::dedupe::{assign_keys, canonical_url, content_hash, fingerprint, identities};
use crate::matcher::Matcher;
use crate::model::{AlertPayload, Hit, Story};
use crate::source::bounds::Bounded;
use crate::source::fetch::HostTurn;
use crate::source::fetch::ServerHints;
use crate::source::parse::BodyHints;
use crate::source::poll_policy::{Policy, adaptive_interval};
use crate::source::read::{CpuBudget, Read, Reading, off_the_workers, read};
use crate::store::{
    FeedState, NewAlert, NewStory, PollAttempt, PollCounts, PollHints, PollRecord, Store,
    StoreError,
};
use crate::wiring::Wiring;

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

/// What a poll keeps of a parsed feed: its `<ttl>` in minutes, what it held beyond the bounds,
/// and its stories.
type Parsed = (Option<u32>, Bounded, Vec<Story>);

/// One poll under way: the feed, when it started, and how its next poll is timed.
struct Poll<'a> {
    feed: &'a Feed,
    now: DateTime<Utc>,
    policy: Policy,
    state: FeedState,
}

/// Polls feed `index` of the runtime's config once, fetching in `turn` (a turn at the feed's
/// host, which ends with the fetch), and records the result.
pub async fn poll_feed(
    runtime: &Arc<Wiring>,
    index: usize,
    store: &Store,
    turn: HostTurn,
) -> Result<FeedReport, StoreError> {
    let (config, feed) = (&*runtime.config, &runtime.config.feeds[index]);
    let poll = Poll {
        feed,
        now: Utc::now(),
        policy: policy(config, feed),
        state: store.feed_state(&feed.id, feed.url.as_str()).await?,
    };
    let reading = read_stories(runtime, &poll, turn).await;
    runtime
        .telemetry
        .fetched(&feed.id, reading.status_class, reading.fetch_took);
    let ((ttl_minutes, bounded, stories), validators) = match reading.read {
        Read::Parsed { parsed, validators } => (parsed, validators),
        Read::NotModified => return not_modified(store, &poll, &reading.server).await,
        other => return read_failed(runtime, store, &poll, other).await,
    };
    log_move(feed, &reading.server);
    runtime.telemetry.parsed(&feed.id, stories.len());
    let note = bounded.notes();
    if let Some(note) = &note {
        tracing::warn!(feed = %feed.id, %note, "feed over a bound; read up to it");
    }
    let first_poll = poll.state.first_success_at.is_none();
    let alerting = !first_poll || config.poll.alert_on_first_poll;
    // The longer of the HTTP freshness and the feed's own <ttl> (minutes).
    let ttl = ttl_minutes.map(|m| Duration::from_secs(u64::from(m) * 60));
    let server_wait = reading.server.fresh_for.max(ttl);
    let wait = next_wait(config, store, &poll, server_wait).await?;
    let items = stories.len();
    let planned =
        match plan_off_the_workers(runtime, index, store, stories, alerting, reading.cpu_budget)
            .await?
        {
            Ok(planned) => planned,
            Err(abandoned) => {
                let reason = format!("matching {abandoned}");
                runtime.telemetry.poll_abandoned(&feed.id);
                return failed(store, feed, poll.failure("error", &reason, None), reason).await;
            }
        };
    let record = PollRecord {
        feed_id: feed.id.clone(),
        url: feed.url.to_string(),
        validators,
        at: poll.now,
        next_poll_at: poll.now + chrono_duration(wait),
        items,
        hints: PollHints {
            note,
            ..poll_hints(server_wait, &reading.server)
        },
        stories: planned,
        cluster_policy: config.daemon.cluster_policy(),
    };
    let counts = store.record_poll(&record).await?;
    runtime
        .telemetry
        .recorded(&feed.id, &record.stories, &counts);
    tracing::info!(feed = %feed.id, new = counts.new_stories, joined = counts.joined, edited = counts.edited,
        alerts = counts.alerts, first_poll, "feed polled");
    Ok(report(feed, None, counts, record.next_poll_at))
}

/// Reads the poll's feed with its validators, and its stories in the parse's job.
async fn read_stories(runtime: &Wiring, poll: &Poll<'_>, turn: HostTurn) -> Reading<Parsed> {
    let (feed_id, now) = (poll.feed.id.clone(), poll.now);
    read(
        &runtime.fetcher,
        &poll.feed.url,
        &poll.state.validators,
        BodyHints::default(),
        (Some(turn), runtime.config.poll.cpu_deadline),
        move |parsed| {
            let (ttl_minutes, bounded) = (parsed.feed.ttl_minutes, parsed.bounded.clone());
            (ttl_minutes, bounded, parsed.into_stories(&feed_id, now))
        },
    )
    .await
}

/// Records a 304: the feed's validators hold, and its next poll follows the server's freshness.
async fn not_modified(
    store: &Store,
    poll: &Poll<'_>,
    server: &ServerHints,
) -> Result<FeedReport, StoreError> {
    log_move(poll.feed, server);
    let wait = poll
        .policy
        .after_success(server.fresh_for, None, fastrand::f64());
    let record = PollAttempt {
        feed_id: poll.feed.id.clone(),
        url: poll.feed.url.to_string(),
        at: poll.now,
        next_poll_at: poll.now + chrono_duration(wait),
        status: "304".to_owned(),
        error: None,
        hints: poll_hints(server.fresh_for, server),
    };
    store.record_attempt(&record).await?;
    Ok(report(
        poll.feed,
        None,
        PollCounts::default(),
        record.next_poll_at,
    ))
}

/// Records a read that brought no stories (rate limited, failed fetch, unreadable or abandoned
/// body) as a failure of the feed, with its backoff.
async fn read_failed(
    runtime: &Wiring,
    store: &Store,
    poll: &Poll<'_>,
    read: Read<Parsed>,
) -> Result<FeedReport, StoreError> {
    let (status, reason, retry_after) = match read {
        Read::RateLimited {
            status,
            retry_after,
        } => (
            status.to_string(),
            format!("rate limited (HTTP {status})"),
            retry_after,
        ),
        Read::FetchFailed(e) => ("error".to_owned(), format!("fetch failed: {e}"), None),
        Read::ParseFailed(e) => ("parse".to_owned(), format!("parse failed: {e}"), None),
        Read::Abandoned(abandoned) => {
            runtime.telemetry.poll_abandoned(&poll.feed.id);
            ("error".to_owned(), format!("parse {abandoned}"), None)
        }
        Read::Parsed { .. } | Read::NotModified => {
            unreachable!("poll_feed records a parsed body and a 304 itself")
        }
    };
    let record = poll.failure(&status, &reason, retry_after);
    failed(store, poll.feed, record, reason).await
}

/// How long until the next poll after a successful one: the server's wait, else the feed's
/// adaptive interval when `poll.adaptive` is on, else its own interval.
async fn next_wait(
    config: &Config,
    store: &Store,
    poll: &Poll<'_>,
    server_wait: Option<Duration>,
) -> Result<Duration, StoreError> {
    let adaptive = if config.poll.adaptive {
        adaptive_interval(
            &store
                .recent_item_times(&poll.feed.id, ADAPTIVE_WINDOW)
                .await?,
        )
    } else {
        None
    };
    Ok(poll
        .policy
        .after_success(server_wait, adaptive, fastrand::f64()))
}

/// Keys the stories, asks the store which it knows, then matches and plans the new ones on the
/// blocking pool, by the deadline the parse began. The inner error says why the matching was
/// abandoned.
async fn plan_off_the_workers(
    runtime: &Arc<Wiring>,
    index: usize,
    store: &Store,
    mut stories: Vec<Story>,
    alerting: bool,
    budget: CpuBudget,
) -> Result<Result<Vec<NewStory>, String>, StoreError> {
    let feed = &runtime.config.feeds[index];
    assign_keys(&mut stories, feed.url.as_str());
    let keys: Vec<String> = stories.iter().map(|s| s.key.clone()).collect();
    let known = store.known_keys(&feed.id, &keys).await?;
    let runtime = runtime.clone();
    Ok(off_the_workers(budget, move || {
        let (config, feed) = (&*runtime.config, &runtime.config.feeds[index]);
        plan(
            (config, &runtime.managed),
            feed,
            &runtime.matcher,
            new_stories(stories, &known),
            alerting,
        )
    })
    .await)
}

impl Poll<'_> {
    /// The record of this poll failing for `reason`, backed off by the feed's failures so far
    /// and the server's `retry_after`.
    fn failure(&self, status: &str, reason: &str, retry_after: Option<Duration>) -> PollAttempt {
        let failures = self.state.consecutive_failures + 1;
        let wait = self
            .policy
            .after_failure(failures, retry_after, fastrand::f64());
        PollAttempt {
            feed_id: self.feed.id.clone(),
            url: self.feed.url.to_string(),
            at: self.now,
            next_poll_at: self.now + chrono_duration(wait),
            status: status.to_owned(),
            error: Some(reason.to_owned()),
            hints: PollHints {
                server_wait: retry_after,
                ..PollHints::default()
            },
        }
    }
}

/// How `feed` is scheduled under `config`.
fn policy(config: &Config, feed: &Feed) -> Policy {
    Policy {
        interval: feed.interval,
        min: config.poll.min_interval,
        max: config.poll.max_interval,
        jitter: config.poll.jitter,
    }
}

/// Records a poll that ended without its own record (it panicked, or outran its deadline) as a
/// failure of its feed, with the usual backoff: the feed keeps its place in the schedule, and
/// its lease is released.
pub async fn record_abandoned(
    runtime: &Wiring,
    index: usize,
    store: &Store,
    reason: &str,
) -> Result<FeedReport, StoreError> {
    let (config, feed) = (&*runtime.config, &runtime.config.feeds[index]);
    let poll = Poll {
        feed,
        now: Utc::now(),
        policy: policy(config, feed),
        state: store.feed_state(&feed.id, feed.url.as_str()).await?,
    };
    let record = poll.failure("error", reason, None);
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
        (config, &[]),
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
/// `topics` are the config and the managed topics in force (`Wiring::managed`), which the
/// matcher was built from.
pub fn plan(
    topics: (&Config, &[Topic]),
    feed: &Feed,
    matcher: &Matcher,
    stories: Vec<(Story, bool)>,
    alerting: bool,
) -> Vec<NewStory> {
    stories
        .into_iter()
        .map(|(story, edited)| {
            let alerts = if alerting {
                alerts_for(topics, feed, &story, &matcher.match_story(&story))
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

fn alerts_for(
    (config, managed): (&Config, &[Topic]),
    feed: &Feed,
    story: &Story,
    hits: &[Hit],
) -> Vec<NewAlert> {
    Matcher::by_topic(hits)
        .into_iter()
        .filter_map(|(topic_id, topic_hits)| {
            let topic = config
                .topics
                .iter()
                .chain(managed)
                .find(|t| t.id == topic_id)?;
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
