//! The durable state: feeds and their fetch state, seen stories, alerts and the outbox. All SQL
//! lives under this module.
//!
//! The records below are what the pipeline and the outbox hand to the store; they are plain data
//! so that another backend can take the same calls.

mod sqlite;

pub use sqlite::Store;

use chrono::{DateTime, Utc};

use crate::model::{AlertPayload, Story};
use crate::source::fetch::Validators;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the state folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("state database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("state database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("state database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored alert {alert} has an unreadable payload: {source}")]
    Payload {
        alert: i64,
        source: serde_json::Error,
    },
}

/// What the store remembers of a feed between polls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedState {
    pub validators: Validators,
    /// When the feed was first polled with success; `None` for a feed never read.
    pub first_success_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub next_poll_at: Option<DateTime<Utc>>,
}

/// Everything one successful poll of a feed writes, in one transaction.
#[derive(Debug, Clone)]
pub struct PollRecord {
    pub feed_id: String,
    pub url: String,
    pub validators: Validators,
    pub at: DateTime<Utc>,
    pub next_poll_at: DateTime<Utc>,
    /// The items not seen before, and those edited since they were seen.
    pub stories: Vec<NewStory>,
    /// How new stories are grouped into clusters.
    pub cluster_policy: crate::dedupe::ClusterPolicy,
    /// How many items the body held, new or not.
    pub items: usize,
    pub hints: PollHints,
}

/// What a poll learnt about a feed besides its items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollHints {
    /// The wait the server asked for (`Cache-Control`, `Expires`, `<ttl>`, `Retry-After`).
    pub server_wait: Option<std::time::Duration>,
    /// The URL a permanent redirect moved the feed to.
    pub moved_to: Option<String>,
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
}

#[derive(Debug, Clone)]
pub struct NewStory {
    pub story: Story,
    pub canonical_url: Option<String>,
    /// The feed's display name, shown as "also reported by" in alerts about the same story.
    pub outlet: String,
    /// `dedupe::fingerprint` of the title and lead.
    pub fingerprint: Vec<u64>,
    /// `dedupe::identities`: equal identities are one story.
    pub identities: Vec<String>,
    /// `dedupe::content_hash` of the title and summary.
    pub content_hash: String,
    /// Known under the same key with other text: it is updated, and alerts only for topics its
    /// cluster has no alert for.
    pub edited: bool,
    /// The alerts the story raises: empty when it matched nothing or on a feed's first poll.
    pub alerts: Vec<NewAlert>,
}

#[derive(Debug, Clone)]
pub struct NewAlert {
    pub payload: AlertPayload,
    /// The channels to deliver it to.
    pub channels: Vec<String>,
}

/// What a `PollRecord` changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollCounts {
    pub new_stories: usize,
    /// New stories that joined the cluster of a story seen before (in any feed).
    pub joined: usize,
    /// Stories edited in place.
    pub edited: usize,
    pub alerts: usize,
    pub deliveries: usize,
}

/// How a failed or unchanged poll is recorded.
#[derive(Debug, Clone)]
pub struct PollAttempt {
    pub feed_id: String,
    pub url: String,
    pub at: DateTime<Utc>,
    pub next_poll_at: DateTime<Utc>,
    /// `"304"`, `"429"`, `"error"`…
    pub status: String,
    /// The reason, for a failure; `None` for a 304.
    pub error: Option<String>,
    pub hints: PollHints,
}

/// Outbox rows by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Pending and due now (or leased by a sender).
    pub due: u64,
    /// Pending, waiting for a later retry.
    pub waiting: u64,
    pub delivered: u64,
    pub dead: u64,
}

/// How one attempt at a delivery ends, as the outbox decided it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryUpdate {
    Delivered,
    /// Pending again, due at this time.
    RetryAt(DateTime<Utc>),
    Dead,
}

impl DeliveryUpdate {
    /// The word recorded in `delivery_attempts.outcome`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryUpdate::Delivered => "delivered",
            DeliveryUpdate::RetryAt(_) => "retry",
            DeliveryUpdate::Dead => "dead",
        }
    }
}

/// A delivery not yet delivered, as `rasad outbox` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub channel: String,
    /// `pending`, `retrying` (waiting after a failure), `in_flight` (leased) or `dead`.
    pub state: String,
    pub attempts: u32,
    pub topic: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// When it is due next (pending and retrying only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// One channel's pending deliveries, in brief.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelQueue {
    pub pending: u64,
    /// When the earliest pending delivery can be claimed.
    pub next_due: Option<DateTime<Utc>>,
    /// When the oldest pending delivery entered the outbox (a digest window opens then).
    pub oldest: Option<DateTime<Utc>>,
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
