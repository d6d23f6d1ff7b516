//! Every metric and its labels, declared in one place, plus the liveness marks that `/readyz`
//! and the systemd watchdog read. Labels are config ids and fixed words, never URLs or text.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::model::DrainCounts;
use crate::store::{NewStory, OutboxEntry, PollCounts};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchLabel {
    feed: String,
    /// `2xx`, `304`, `4xx`, `5xx` or `error` (no HTTP answer: timeout, refused, too large).
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabel {
    topic: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabel {
    topic: String,
    channel: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabel {
    channel: String,
    /// `delivered`, `retry` or `dead`.
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DepthLabel {
    channel: String,
    /// As `rasad outbox` shows it: `pending`, `retrying`, `in_flight` or `dead`.
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    /// `ok` or `failed`.
    result: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 ms to about 51 s: a feed answers in tens of milliseconds or times out at 30 s.
    Histogram::new(exponential_buckets(0.05, 2.0, 11))
}

/// The metrics and liveness marks of one daemon. Cloning shares them; a reload keeps them.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    fetches: Family<FetchLabel, Counter>,
    fetch_seconds: Family<FeedLabel, Histogram, fn() -> Histogram>,
    items_parsed: Family<FeedLabel, Counter>,
    new_stories: Family<FeedLabel, Counter>,
    hits: Family<TopicLabel, Counter>,
    alerts: Family<AlertLabel, Counter>,
    deliveries: Family<DeliveryLabel, Counter>,
    outbox_depth: Family<DepthLabel, Gauge>,
    outbox_oldest: Family<ChannelLabel, Gauge>,
    reloads: Family<ResultLabel, Counter>,
    /// Milliseconds since the epoch of the scheduler's last turn (0: not scheduling yet).
    scheduler_beat: AtomicI64,
    /// Milliseconds since the epoch of the outbox manager's last turn.
    outbox_beat: AtomicI64,
    /// Milliseconds since the epoch of the last finished poll, or of the start of scheduling.
    last_poll: AtomicI64,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

impl Telemetry {
    pub fn new() -> Telemetry {
        let mut registry = Registry::with_prefix("rasad");
        let fetches = Family::default();
        registry.register(
            "fetches",
            "Feed fetches by feed and status class",
            fetches.clone(),
        );
        let fetch_seconds = Family::<FeedLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "fetch_duration_seconds",
            "Time to fetch one feed, headers and body",
            fetch_seconds.clone(),
        );
        let items_parsed = Family::default();
        registry.register(
            "items_parsed",
            "Items read from fetched feeds",
            items_parsed.clone(),
        );
        let new_stories = Family::default();
        registry.register(
            "new_stories",
            "Stories seen for the first time",
            new_stories.clone(),
        );
        let hits = Family::default();
        registry.register("hits", "New stories that matched a topic", hits.clone());
        let alerts = Family::default();
        registry.register(
            "alerts",
            "Deliveries queued, by topic and channel",
            alerts.clone(),
        );
        let deliveries = Family::default();
        registry.register(
            "deliveries",
            "Delivery attempts by channel and outcome",
            deliveries.clone(),
        );
        let outbox_depth = Family::default();
        registry.register(
            "outbox_depth",
            "Deliveries not delivered, by channel and state",
            outbox_depth.clone(),
        );
        let outbox_oldest = Family::default();
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest delivery still waiting to be sent, by channel",
            outbox_oldest.clone(),
        );
        let reloads = Family::default();
        registry.register("reloads", "Config reloads by result", reloads.clone());
        Telemetry {
            inner: Arc::new(Inner {
                registry,
                fetches,
                fetch_seconds,
                items_parsed,
                new_stories,
                hits,
                alerts,
                deliveries,
                outbox_depth,
                outbox_oldest,
                reloads,
                scheduler_beat: AtomicI64::new(0),
                outbox_beat: AtomicI64::new(0),
                last_poll: AtomicI64::new(0),
            }),
        }
    }

    /// Counts one fetch of `feed` and its duration.
    pub fn fetched(&self, feed: &str, status: &'static str, took: Duration) {
        let feed = feed.to_owned();
        self.inner
            .fetch_seconds
            .get_or_create(&FeedLabel { feed: feed.clone() })
            .observe(took.as_secs_f64());
        self.inner
            .fetches
            .get_or_create(&FetchLabel { feed, status })
            .inc();
    }

    /// Counts a poll that crashed or outran its deadline as a fetch that ended in `error`: the
    /// feed's fetch brought nothing rasad could use.
    pub fn poll_abandoned(&self, feed: &str) {
        self.inner
            .fetches
            .get_or_create(&FetchLabel {
                feed: feed.to_owned(),
                status: "error",
            })
            .inc();
    }

    /// Counts the items of one parsed feed.
    pub fn parsed(&self, feed: &str, items: usize) {
        self.inner
            .items_parsed
            .get_or_create(&FeedLabel {
                feed: feed.to_owned(),
            })
            .inc_by(items as u64);
    }

    /// Counts what one poll recorded: new stories, topic hits and queued deliveries.
    pub fn recorded(&self, feed: &str, stories: &[NewStory], counts: &PollCounts) {
        self.inner
            .new_stories
            .get_or_create(&FeedLabel {
                feed: feed.to_owned(),
            })
            .inc_by(counts.new_stories as u64);
        for alert in stories.iter().flat_map(|s| &s.alerts) {
            let topic = alert.payload.topic_id.clone();
            self.inner
                .hits
                .get_or_create(&TopicLabel {
                    topic: topic.clone(),
                })
                .inc();
            for channel in &alert.channels {
                self.inner
                    .alerts
                    .get_or_create(&AlertLabel {
                        topic: topic.clone(),
                        channel: channel.clone(),
                    })
                    .inc();
            }
        }
        self.mark(&self.inner.last_poll);
    }

    /// Counts what one drain of `channel` did.
    pub fn drained(&self, channel: &str, counts: &DrainCounts) {
        for (outcome, n) in [
            ("delivered", counts.delivered),
            ("retry", counts.retried),
            ("dead", counts.dead),
        ] {
            if n > 0 {
                self.inner
                    .deliveries
                    .get_or_create(&DeliveryLabel {
                        channel: channel.to_owned(),
                        outcome,
                    })
                    .inc_by(n);
            }
        }
    }

    /// Counts one reload attempt.
    pub fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.inner
            .reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// The scheduler loop turned (and a poll finished, when `polled`).
    pub fn scheduler_beat(&self, polled: bool) {
        self.mark(&self.inner.scheduler_beat);
        if polled || self.inner.last_poll.load(Ordering::Relaxed) == 0 {
            self.mark(&self.inner.last_poll);
        }
    }

    /// The outbox manager loop turned.
    pub fn outbox_beat(&self) {
        self.mark(&self.inner.outbox_beat);
    }

    /// Whether both main loops turned within `within` of now.
    pub fn loops_alive(&self, within: Duration) -> bool {
        let fresh =
            |beat: &AtomicI64| since(beat.load(Ordering::Relaxed)).is_some_and(|age| age <= within);
        fresh(&self.inner.scheduler_beat) && fresh(&self.inner.outbox_beat)
    }

    /// How long ago a poll last finished (or scheduling started); `None` before scheduling.
    pub fn since_last_poll(&self) -> Option<Duration> {
        since(self.inner.last_poll.load(Ordering::Relaxed))
    }

    /// Sets the outbox gauges from the undelivered deliveries.
    pub fn set_outbox(&self, entries: &[OutboxEntry], now: DateTime<Utc>) {
        self.inner.outbox_depth.clear();
        self.inner.outbox_oldest.clear();
        for entry in entries {
            self.inner
                .outbox_depth
                .get_or_create(&DepthLabel {
                    channel: entry.channel.clone(),
                    state: entry.state.clone(),
                })
                .inc();
            if entry.state != "dead" {
                let age = (now - entry.created_at).num_seconds().max(0);
                let oldest = self.inner.outbox_oldest.get_or_create(&ChannelLabel {
                    channel: entry.channel.clone(),
                });
                if age > oldest.get() {
                    oldest.set(age);
                }
            }
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
            .expect("writing to a String does not fail");
        text
    }

    fn mark(&self, beat: &AtomicI64) {
        beat.store(Utc::now().timestamp_millis().max(1), Ordering::Relaxed);
    }
}

fn since(millis: i64) -> Option<Duration> {
    (millis > 0).then(|| {
        Duration::from_millis(
            Utc::now()
                .timestamp_millis()
                .saturating_sub(millis)
                .max(0)
                .unsigned_abs(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_in_the_text_with_config_ids_as_labels() {
        let telemetry = Telemetry::new();
        telemetry.fetched("bbc", "304", Duration::from_millis(120));
        telemetry.parsed("bbc", 7);
        telemetry.reloaded(false);
        let text = telemetry.encode();
        let cases = [
            (
                "fetch by feed and status",
                "rasad_fetches_total{feed=\"bbc\",status=\"304\"} 1",
            ),
            ("items parsed", "rasad_items_parsed_total{feed=\"bbc\"} 7"),
            ("failed reload", "rasad_reloads_total{result=\"failed\"} 1"),
            (
                "latency histogram count",
                "rasad_fetch_duration_seconds_count{feed=\"bbc\"} 1",
            ),
        ];
        for (name, line) in cases {
            assert!(text.lines().any(|l| l == line), "{name}: {line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn loops_are_alive_only_after_both_turned() {
        let telemetry = Telemetry::new();
        assert!(!telemetry.loops_alive(Duration::from_secs(60)));
        assert_eq!(telemetry.since_last_poll(), None);
        telemetry.scheduler_beat(false);
        assert!(!telemetry.loops_alive(Duration::from_secs(60)));
        telemetry.outbox_beat();
        assert!(telemetry.loops_alive(Duration::from_secs(60)));
        assert!(telemetry.since_last_poll().is_some());
    }
}
