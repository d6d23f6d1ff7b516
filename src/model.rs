//! Plain data shared by the pipeline's stages: stories, hits, alerts and deliveries, and what
//! crosses from one module to another (a feed's validators and health, a drain's counts), so
//! that no two modules depend on each other for it. No I/O.

pub mod desk;

use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One item of one feed, as parsed: the display forms as the feed gave them and the plain-text
/// forms that matching reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    /// The id of the feed in the config.
    pub feed: String,
    /// Identity within the feed, stable across polls: given by `dedupe::assign_keys` (through
    /// `dedupe::story_key`) once a poll's items are all known, empty until then.
    pub key: String,
    /// The title as plain text (titles are short; the same form is displayed and matched).
    pub title: String,
    /// The summary as given by the feed (may be HTML).
    pub summary_html: String,
    /// The summary as plain text.
    pub summary: String,
    /// The full content as given by the feed (may be HTML).
    pub content_html: String,
    /// The full content as plain text.
    pub content: String,
    pub url: Option<String>,
    pub guid: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub fetched: DateTime<Utc>,
}

impl Story {
    /// The plain text of one field, the one that hit spans point into.
    pub fn field_text(&self, field: Field) -> &str {
        match field {
            Field::Title => &self.title,
            Field::Summary => &self.summary,
            Field::Content => &self.content,
        }
    }
}

/// Which plain-text field of a story a hit was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Summary,
    Content,
}

impl Field {
    pub const ALL: [Field; 3] = [Field::Title, Field::Summary, Field::Content];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
        }
    }
}

/// One accepted keyword occurrence. Spans are byte ranges into the original (unfolded) text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// The topic id, or `None` for keywords given on the command line.
    pub topic: Option<String>,
    /// The keyword as written in the config.
    pub keyword: String,
    /// The keyword is a name (`name = true`): the token may spell it another way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub name: bool,
    pub field: Field,
    /// The letters of the keyword itself.
    pub keyword_span: Range<usize>,
    /// The whole word: the keyword with its accepted prefixes and suffixes.
    pub token_span: Range<usize>,
    /// A few words either side of the hit, from the same text.
    #[serde(default)]
    pub snippet: String,
}

/// What a sink needs to render one alert: the story, the topic and the hits for that topic.
/// It is stored with the alert as JSON, so that a delivery can be sent after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPayload {
    pub topic_id: String,
    pub topic_name: String,
    /// The feed's display name (the outlet).
    pub feed_name: String,
    pub story: Story,
    pub hits: Vec<Hit>,
    /// The outlets that carried the same story before this alert was raised (its cluster's
    /// other members), in the order they were seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_reported_by: Vec<String>,
}

impl AlertPayload {
    /// Notes `outlets`, the outlets besides its own that carried the alert's story, in the
    /// order they were seen (`store` reads them from the story's cluster when the alert is
    /// raised and again when it is sent). A cluster only grows, so the longer list is the
    /// later one: an alert sent later names every copy seen in between, and a list read from a
    /// cluster since pruned never shortens what the alert said when it was raised.
    pub fn note_other_outlets(&mut self, outlets: Vec<String>) {
        if outlets.len() > self.also_reported_by.len() {
            self.also_reported_by = outlets;
        }
    }
}

/// One delivery due to be sent: an alert addressed to one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub alert_id: i64,
    /// The story cluster the alert is about: alerts of one cluster thread together in mail.
    pub cluster_id: i64,
    pub channel: String,
    /// Unique per delivery; sent as `Idempotency-Key` so that receivers can drop a repeat.
    pub idempotency_key: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When the delivery entered the outbox, or was last put back by `rasad outbox retry`: its
    /// age decides when it is given up.
    pub created_at: DateTime<Utc>,
    pub payload: AlertPayload,
    /// The fencing token of the claim that handed this delivery out: its outcome is recorded
    /// only while the lease still carries it (0 for a delivery that was never claimed).
    pub lease_token: i64,
    /// The Idempotency-Key of the digest this delivery was last sent in, if any: resent, the
    /// same digest carries the same key.
    pub message_key: Option<String>,
}

/// How a sink judged one send.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// The receiver confirmed it (SMTP reply to DATA, HTTP 2xx); `answer` is what it said.
    Delivered { answer: String },
    /// A transient failure; `after` is the receiver's own hint (Retry-After), if any.
    Retry {
        after: Option<std::time::Duration>,
        reason: String,
    },
    /// A permanent refusal: retrying would not help.
    Rejected { reason: String },
}

impl SendOutcome {
    /// What the receiver answered, or why there was no answer: recorded with each attempt.
    pub fn reason(&self) -> &str {
        match self {
            SendOutcome::Delivered { answer } => answer,
            SendOutcome::Retry { reason, .. } | SendOutcome::Rejected { reason } => reason,
        }
    }
}

/// The cache validators of a feed's last successful fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A feed's health, as `rasad feeds` shows it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FeedHealth {
    pub id: String,
    pub url: String,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// `"200"`, `"304"`, `"429"`, `"error"`, `"parse"`…
    pub last_status: Option<String>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// When the current run of failures began; `None` while the feed works.
    pub failing_since: Option<DateTime<Utc>>,
    /// New items recorded over the feed's life.
    pub items_seen: u64,
    /// Items in the last body read.
    pub last_items: Option<u64>,
    pub next_poll_at: Option<DateTime<Utc>>,
    /// Where a permanent redirect sent the feed: update its URL in the config.
    pub moved_to: Option<String>,
    /// The wait the server last asked for, in seconds.
    pub server_wait_secs: Option<u64>,
    /// The instance polling the feed now (several instances on PostgreSQL).
    pub lease_owner: Option<String>,
    /// Until when that instance holds the feed, unless it renews the lease.
    pub lease_until: Option<DateTime<Utc>>,
}

/// What a drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainCounts {
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
}

impl std::ops::AddAssign for DrainCounts {
    fn add_assign(&mut self, other: DrainCounts) {
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead += other.dead;
    }
}
