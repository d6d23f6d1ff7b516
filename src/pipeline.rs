//! One poll of one feed, as a recipe: load its state, fetch, parse, keep the new items, match
//! them, plan their alerts, and write it all in one store transaction.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, Feed};
use crate::dedupe::{assign_keys, canonical_url, content_hash, fingerprint, identities};
use crate::matcher::Matcher;
use crate::model::{AlertPayload, Hit, Story};
use crate::source::fetch::{FetchOutcome, Fetcher};
use crate::source::parse::parse_feed;
use crate::source::schedule::next_poll_in;
use crate::store::{NewAlert, NewStory, PollAttempt, PollCounts, PollRecord, Store, StoreError};

/// How one poll of one feed went.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedReport {
    pub feed: String,
    /// `None` when the poll succeeded (a 304 included).
    pub error: Option<String>,
    pub counts: PollCounts,
    pub next_poll_at: DateTime<Utc>,
}

/// Polls `feed` once and records the result.
pub async fn poll_feed(
    config: &Config,
    feed: &Feed,
    fetcher: &Fetcher,
    matcher: &Matcher,
    store: &Store,
) -> Result<FeedReport, StoreError> {
    let state = store.feed_state(&feed.id, feed.url.as_str()).await?;
    let now = Utc::now();
    let attempt =
        |status: &str, error: Option<String>, failures: u32, hint: Option<Duration>| PollAttempt {
            feed_id: feed.id.clone(),
            url: feed.url.to_string(),
            at: now,
            next_poll_at: now + chrono_duration(next_poll_in(feed.interval, failures, hint)),
            status: status.to_owned(),
            error,
        };
    let failures = state.consecutive_failures + 1;
    let body = match fetcher.fetch(&feed.url, &state.validators).await {
        FetchOutcome::Modified {
            body, validators, ..
        } => (body, validators),
        FetchOutcome::NotModified => {
            let record = attempt("304", None, 0, None);
            store.record_attempt(&record).await?;
            return Ok(report(
                feed,
                None,
                PollCounts::default(),
                record.next_poll_at,
            ));
        }
        FetchOutcome::RateLimited {
            status,
            retry_after,
        } => {
            let reason = format!("rate limited (HTTP {status})");
            let record = attempt(
                &status.to_string(),
                Some(reason.clone()),
                failures,
                retry_after,
            );
            return failed(store, feed, record, reason).await;
        }
        FetchOutcome::Failed(e) => {
            let reason = format!("fetch failed: {e}");
            return failed(
                store,
                feed,
                attempt("error", Some(reason.clone()), failures, None),
                reason,
            )
            .await;
        }
    };
    let (body, validators) = body;
    let parsed = match parse_feed(&body) {
        Ok(parsed) => parsed,
        Err(e) => {
            let reason = format!("parse failed: {e}");
            return failed(
                store,
                feed,
                attempt("parse", Some(reason.clone()), failures, None),
                reason,
            )
            .await;
        }
    };
    let first_poll = state.first_success_at.is_none();
    let alerting = !first_poll || config.poll.alert_on_first_poll;
    let stories = parsed.stories(&feed.id, now);
    let record = PollRecord {
        feed_id: feed.id.clone(),
        url: feed.url.to_string(),
        validators,
        at: now,
        next_poll_at: now + chrono_duration(next_poll_in(feed.interval, 0, None)),
        stories: plan_new(config, feed, matcher, store, stories, alerting).await?,
        cluster_policy: config.daemon.cluster_policy(),
    };
    let counts = store.record_poll(&record).await?;
    tracing::info!(feed = %feed.id, new = counts.new_stories, joined = counts.joined, edited = counts.edited,
        alerts = counts.alerts, first_poll, "feed polled");
    Ok(report(feed, None, counts, record.next_poll_at))
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
    tracing::warn!(feed = %feed.id, url = %feed.url, %reason, "feed poll failed");
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

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1))
}
