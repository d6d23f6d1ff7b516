//! The durable state: feeds and their fetch state, seen stories, alerts and the outbox. All SQL
//! lives under this module.
//!
//! `Store` is one of two backends with one contract: a SQLite file for one instance, or a
//! PostgreSQL database that several instances share (feeds and deliveries leased with
//! `FOR UPDATE SKIP LOCKED`, clustering serialised by the database). The records below are what
//! the pipeline and the outbox hand to the store; they are plain data so that both backends take
//! the same calls.

mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::StateLocation;

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
    #[error("state database {location}: the notification listener failed: {source}")]
    Listen {
        location: String,
        source: sqlx::Error,
    },
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
    /// What a successful poll must say in the feed's health (a bound the body went over):
    /// shown as its last error while the feed stays ok.
    pub note: Option<String>,
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
    /// The instance sending it now (`in_flight` only).
    pub held_by: Option<String>,
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

/// A feed the config names, as the scheduler registers it with the store.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub id: String,
    pub url: String,
    /// A stored next poll later than this is brought forward to it (a Retry-After or a long
    /// `<ttl>` holds across restarts, up to the feed's cap).
    pub due_by: DateTime<Utc>,
}

/// The store of either backend. Every method has the same contract on both; PostgreSQL
/// instances share the state, a SQLite file serves one.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens the state at `location` (a SQLite path or a `postgres://` URL) and brings its schema
    /// up to date. On PostgreSQL the migrations run under an advisory lock, so instances that
    /// start together apply them once.
    pub async fn open(location: impl Into<StateLocation>) -> Result<Store, StoreError> {
        match location.into() {
            StateLocation::File(path) => Ok(Store::Sqlite(SqliteStore::open(&path).await?)),
            StateLocation::Postgres(url) => Ok(Store::Postgres(PgStore::open(&url).await?)),
        }
    }

    /// The same store, recording `instance` as the holder of the leases it takes.
    pub fn with_instance(self, instance: &str) -> Store {
        match self {
            Store::Sqlite(s) => Store::Sqlite(s.with_instance(instance)),
            Store::Postgres(s) => Store::Postgres(s.with_instance(instance)),
        }
    }

    /// The instance named as the holder of this store's leases.
    pub fn instance(&self) -> &str {
        match self {
            Store::Sqlite(s) => s.instance(),
            Store::Postgres(s) => s.instance(),
        }
    }

    /// Closes the connections (checkpointing a SQLite WAL).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }

    /// True when several instances may share this store (feeds are then claimed by lease).
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Wakes `wake` whenever any instance adds deliveries, until `stop`; a no-op on SQLite,
    /// where only this process adds them. A lost connection is logged and retried: the
    /// outbox's periodic look at its queue still sends everything meanwhile.
    pub async fn listen_for_deliveries(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        match self {
            Store::Sqlite(_) => stop.cancelled().await,
            Store::Postgres(s) => s.listen_for_deliveries(wake, stop).await,
        }
    }
}

/// Forwards each listed method to the backend's method of the same name and signature.
macro_rules! dispatch {
    ($( $(#[$meta:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$meta])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        Store::Sqlite(s) => s.$name($($arg),*).await,
                        Store::Postgres(s) => s.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

dispatch! {
    /// What the store knows of a feed, or the default for a feed never polled. Validators saved
    /// for another URL (the feed's URL was changed in the config) are not returned.
    fn feed_state(&self, feed_id: &str, url: &str) -> Result<FeedState, StoreError>;
    /// The keys among `keys` already recorded for `feed_id`, with the content hash recorded
    /// (`None` for stories recorded before hashes were kept).
    fn known_keys(&self, feed_id: &str, keys: &[String]) -> Result<std::collections::HashMap<String, Option<String>>, StoreError>;
    /// The cluster of each of `feed_id`'s stories among `keys`.
    fn story_clusters(&self, feed_id: &str, keys: &[String]) -> Result<std::collections::HashMap<String, i64>, StoreError>;
    /// Forgets stories first seen before `now - retention` (those an alert points to stay) and
    /// drops fingerprint index rows older than the clustering window. Returns the number of
    /// stories removed.
    fn prune(&self, now: DateTime<Utc>, retention: Duration, window: Duration) -> Result<u64, StoreError>;
    /// Writes one successful poll in one transaction: the new stories, their clusters, alerts
    /// and deliveries, then the feed's validators and health; the feed's lease is released.
    fn record_poll(&self, record: &PollRecord) -> Result<PollCounts, StoreError>;
    /// Records a poll that brought nothing new (304) or failed; the feed's lease is released.
    fn record_attempt(&self, attempt: &PollAttempt) -> Result<(), StoreError>;
    /// The publication times (else first-seen times) of a feed's `limit` newest stories.
    fn recent_item_times(&self, feed_id: &str, limit: u32) -> Result<Vec<DateTime<Utc>>, StoreError>;
    /// The health of every feed the store knows, by id.
    fn feed_health(&self) -> Result<Vec<FeedHealth>, StoreError>;
    /// Outbox rows by state, as seen at `now`.
    fn outbox_counts(&self, now: DateTime<Utc>) -> Result<OutboxCounts, StoreError>;
    /// When the next pending delivery falls due, if any is pending.
    fn next_delivery_at(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Leases up to `limit` pending deliveries of `channel` that are due at `now`, oldest first,
    /// for `lease`: a sender that dies leaves them to be claimed again when the lease runs out.
    fn claim_due(&self, channel: &str, now: DateTime<Utc>, limit: u32, lease: Duration) -> Result<Vec<crate::model::Delivery>, StoreError>;
    /// Extends this instance's lease on the deliveries `ids` to `until` (a long send).
    fn renew_deliveries(&self, ids: &[i64], until: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Records one attempt and its outcome in one transaction, releasing the lease.
    fn record_outcome(&self, id: i64, at: DateTime<Utc>, update: &DeliveryUpdate, reason: &str) -> Result<(), StoreError>;
    /// Holds every pending delivery of `channel` until at least `until`.
    fn postpone_channel(&self, channel: &str, until: DateTime<Utc>) -> Result<(), StoreError>;
    /// Counts one message sent by `channel` (one alert, or a digest of `alerts`).
    fn record_message(&self, channel: &str, at: DateTime<Utc>, alerts: usize) -> Result<(), StoreError>;
    /// When `channel` sent its messages since `since`, oldest first.
    fn messages_since(&self, channel: &str, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, StoreError>;
    /// For `channel`'s pending deliveries: how many, when the earliest falls due (lease
    /// included), and when the oldest entered the outbox.
    fn channel_queue(&self, channel: &str) -> Result<ChannelQueue, StoreError>;
    /// Every delivery not delivered, dead ones last, with its last error and holder.
    fn outbox_entries(&self, now: DateTime<Utc>) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Puts a dead or waiting delivery back in the queue, due at `now`. False when no such
    /// undelivered delivery exists.
    fn requeue(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Puts every dead delivery back in the queue; returns how many.
    fn requeue_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Every attempt at one delivery, oldest first: `(time, outcome, reason)`.
    fn delivery_attempts(&self, id: i64) -> Result<Vec<(DateTime<Utc>, String, String)>, StoreError>;
    /// Adds the configured feeds the store does not know yet (due now) and brings stored next
    /// polls later than a feed's `due_by` forward to it. Known URLs are left to the next poll.
    fn register_feeds(&self, feeds: &[FeedEntry]) -> Result<(), StoreError>;
    /// Leases to this instance, until `now + lease`, up to `limit` of the feeds `ids` that are
    /// due at `now` and not leased by a live instance, the most overdue first. Returns their ids.
    fn claim_feeds(&self, ids: &[String], now: DateTime<Utc>, limit: u32, lease: Duration) -> Result<Vec<String>, StoreError>;
    /// Extends this instance's leases on the feeds `ids` to `until` (one that ran out is renewed
    /// too while no other instance has claimed it). Returns the feeds among `ids` that another
    /// instance holds now: lost leases. A feed released by its recorded poll is not lost.
    fn renew_feeds(&self, ids: &[String], until: DateTime<Utc>) -> Result<Vec<String>, StoreError>;
    /// Gives up this instance's lease on `id` without recording a poll (the poll could not be
    /// recorded): the feed is due again at `next_poll_at`.
    fn release_feed(&self, id: &str, next_poll_at: DateTime<Utc>) -> Result<(), StoreError>;
    /// When the next of the feeds `ids` falls due (a leased one when its lease runs out).
    fn next_feed_due(&self, ids: &[String]) -> Result<Option<DateTime<Utc>>, StoreError>;
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
