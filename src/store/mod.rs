//! The durable state: feeds and their fetch state, seen stories, alerts and the outbox. All SQL
//! lives under this module.
//!
//! One `Store` with one contract over two backends: a SQLite file for one instance, or a
//! PostgreSQL database that several instances share (feeds and deliveries leased with
//! `FOR UPDATE SKIP LOCKED`, clustering serialised by an advisory lock). The records below are
//! what the pipeline and the outbox hand to the store.
//!
//! The backend is chosen at the connection, not above it: every operation is written once, and
//! `backend::on!` runs its block on whichever driver the store holds. The ways weighed:
//! - sqlx's `Any` driver: one type, but it decodes through a narrow common set of types and
//!   has no LISTEN, which the outbox's wake-up on PostgreSQL needs;
//! - generic functions over `sqlx::Database`: typed, but every operation carries long bounds
//!   (`for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>`, `i64: Encode<DB> + Type<DB>`
//!   for each bound type…) that say nothing about the operation;
//! - a small macro at each call site that expands the same block once per driver: typed on both,
//!   no bounds, and the block reads as plain sqlx. This is the one taken.
//!
//! Each statement is written once where both dialects accept it (the bundled SQLite knows
//! `ON CONFLICT`, `FILTER`, `RETURNING`, `IS DISTINCT FROM`); lists are bound as JSON text on
//! both (see `Dialect::sql`); the few statements that must differ (a lease timed by the
//! database's clock, `SKIP LOCKED`) are built from one text with their dialect's pieces.
//!
//! Layout: `backend` (the enum and `on!`), `sqlite` and `postgres` (opening each, and what
//! only PostgreSQL has: the clustering lock, NOTIFY and LISTEN), `feeds` (feed state, polls
//! recorded, feed leases, pruning), `clusters` (the window's fingerprint index and cluster
//! assignment), `outbox` (deliveries: claims, outcomes, listing), `stories` (stories read back,
//! page by page, for backtests), `topics` (managed topics and their revision), `views` (alerts
//! and stories as the analyst's desk reads them).

mod backend;
mod clusters;
mod feeds;
mod outbox;
mod postgres;
mod sqlite;
mod stories;
mod topics;
mod views;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::StateLocation;

use crate::model::{AlertPayload, Story};
pub use crate::model::{FeedHealth, Validators};

pub use crate::model::desk::{
    AlertQuery, AlertView, DeliveryView, ManagedTopic, MatchedWord, StoryBrief, StoryView,
};
use backend::{Backend, Pool};
pub use views::{MAX_ALERTS_LISTED, MAX_CLUSTER_LISTED};

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
    #[error("state database, {operation}: {source}")]
    Query {
        /// The store operation that failed (`record_poll`, `claim_due`…).
        operation: &'static str,
        source: sqlx::Error,
    },
}

impl StoreError {
    /// This error, as failed during `operation`.
    fn during(self, operation: &'static str) -> StoreError {
        match self {
            StoreError::Sql(source) => StoreError::Query { operation, source },
            other => other,
        }
    }
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

/// The longest plain-text summary a story keeps, in bytes: the lead of an article (a few
/// paragraphs of Arabic), enough for a backtest to find what an alert would have found in it,
/// while a million stories cost 4 GiB at most. The title is kept whole (2 KiB at most, the
/// bound of a feed's titles).
pub const STORED_SUMMARY_BYTES: usize = 4 * 1024;

/// A story as stored, read back for a backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStory {
    pub id: i64,
    pub feed_id: String,
    /// The feed's display name when the story was recorded.
    pub outlet: Option<String>,
    pub title: String,
    /// The plain summary, cut to [`STORED_SUMMARY_BYTES`]; `None` for stories recorded before
    /// summaries were kept, or whose retention has passed.
    pub summary: Option<String>,
    /// The canonical link.
    pub url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    /// The story's cluster (its own id when it has none).
    pub cluster_id: i64,
}

impl StoredStory {
    /// Where the next page of [`Store::stories_since`] starts after this story.
    pub fn cursor(&self) -> StoryCursor {
        StoryCursor {
            first_seen_at: millis(self.first_seen_at),
            id: self.id,
        }
    }
}

/// A place in the stories, newest first: the next page holds the stories after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryCursor {
    first_seen_at: i64,
    id: i64,
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
pub struct Store {
    db: Backend<sqlx::SqlitePool, postgres::PgDb>,
    /// Named as the holder of the leases this store takes.
    instance: Arc<str>,
    /// This instance's fingerprint index of the clustering window (see `clusters`).
    index: Arc<Mutex<clusters::WindowIndex>>,
}

impl Store {
    /// Opens the state at `location` (a SQLite path or a `postgres://` URL) and brings its schema
    /// up to date. On PostgreSQL the migrations run under an advisory lock, so instances that
    /// start together apply them once.
    pub async fn open(location: impl Into<StateLocation>) -> Result<Store, StoreError> {
        let db = match location.into() {
            StateLocation::File(path) => Backend::Sqlite(sqlite::open(&path).await?),
            StateLocation::Postgres(url) => Backend::Postgres(postgres::open(&url).await?),
        };
        Ok(Store {
            db,
            instance: crate::config::default_instance().into(),
            index: Arc::default(),
        })
    }

    /// The same store, recording `instance` as the holder of the leases it takes.
    pub fn with_instance(self, instance: &str) -> Store {
        Store {
            instance: instance.into(),
            ..self
        }
    }

    /// The instance named as the holder of this store's leases.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Closes the connections (checkpointing a SQLite WAL).
    pub async fn close(&self) {
        match &self.db {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(db) => db.close().await,
        }
    }

    /// True when several instances may share this store (feeds are then claimed by lease).
    pub fn is_shared(&self) -> bool {
        matches!(self.db, Backend::Postgres(_))
    }

    /// Wakes `wake` whenever any instance adds deliveries, until `stop`; a no-op on SQLite,
    /// where only this process adds them. A lost connection is logged and retried: the
    /// outbox's periodic look at its queue still sends everything meanwhile.
    pub async fn listen_for_deliveries(
        &self,
        wake: Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        match &self.db {
            Backend::Sqlite(_) => stop.cancelled().await,
            Backend::Postgres(db) => db.listen_for_deliveries(wake, stop).await,
        }
    }

    /// The pool for stories, polls and the outbox.
    fn pool(&self) -> Pool<'_> {
        self.pool_of(|db| &db.pool)
    }

    /// The pool for lease statements: on PostgreSQL a few connections of their own, so that
    /// renewing a lease never waits behind polls queued for the clustering lock (a renewal
    /// that waited could let a lease run out under a live instance).
    fn leases(&self) -> Pool<'_> {
        self.pool_of(|db| &db.leases)
    }

    /// SQLite's one pool, or the PostgreSQL pool `pick` chooses.
    fn pool_of(&self, pick: impl FnOnce(&postgres::PgDb) -> &sqlx::PgPool) -> Pool<'_> {
        match &self.db {
            Backend::Sqlite(pool) => Backend::Sqlite(pool),
            Backend::Postgres(db) => Backend::Postgres(pick(db)),
        }
    }
}

/// Declares each public operation once: its doc, its signature, and the module function that
/// does it. A failed statement comes back as `StoreError::Query` naming the operation.
macro_rules! operations {
    ($( $(#[$meta:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty = $module:ident; )*) => {
        impl Store {
            $(
                $(#[$meta])*
                pub async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, StoreError> {
                    $module::$name(self $(, $arg)*)
                        .await
                        .map_err(|e| e.during(stringify!($name)))
                }
            )*
        }
    };
}

operations! {
    /// What the store knows of a feed, or the default for a feed never polled. Validators saved
    /// for another URL (the feed's URL was changed in the config) are not returned.
    fn feed_state(&self, feed_id: &str, url: &str) -> FeedState = feeds;
    /// The keys among `keys` already recorded for `feed_id`, with the content hash recorded
    /// (`None` for stories recorded before hashes were kept).
    fn known_keys(&self, feed_id: &str, keys: &[String]) -> std::collections::HashMap<String, Option<String>> = feeds;
    /// The cluster of each of `feed_id`'s stories among `keys`.
    fn story_clusters(&self, feed_id: &str, keys: &[String]) -> std::collections::HashMap<String, i64> = feeds;
    /// Forgets stories first seen before `now - retention` (those an alert points to stay),
    /// deliveries delivered before then with their attempts, and drops fingerprint index rows
    /// older than the clustering window. Returns the number of stories removed.
    fn prune(&self, now: DateTime<Utc>, retention: Duration, window: Duration) -> u64 = feeds;
    /// Writes one successful poll in one transaction: the new stories, their clusters, alerts
    /// and deliveries, then the feed's validators and health; the feed's lease is released.
    fn record_poll(&self, record: &PollRecord) -> PollCounts = feeds;
    /// Records a poll that brought nothing new (304) or failed; the feed's lease is released.
    fn record_attempt(&self, attempt: &PollAttempt) -> () = feeds;
    /// The publication times (else first-seen times) of a feed's `limit` newest stories.
    fn recent_item_times(&self, feed_id: &str, limit: u32) -> Vec<DateTime<Utc>> = feeds;
    /// The health of every feed the store knows, by id.
    fn feed_health(&self) -> Vec<FeedHealth> = feeds;
    /// Outbox rows by state, as seen at `now`.
    fn outbox_counts(&self, now: DateTime<Utc>) -> OutboxCounts = outbox;
    /// When the next pending delivery falls due, if any is pending.
    fn next_delivery_at(&self) -> Option<DateTime<Utc>> = outbox;
    /// Leases up to `limit` pending deliveries of `channel` that are due at `now`, oldest first,
    /// for `lease`, under one fresh fencing token: a sender that dies leaves them to be claimed
    /// again when the lease runs out. On PostgreSQL the lease is timed by the database's clock
    /// (`now` only decides what is due), so instances whose clocks differ cannot take a live
    /// lease from each other. A delivery whose payload cannot be read is dead at once.
    fn claim_due(&self, channel: &str, now: DateTime<Utc>, limit: u32, lease: Duration) -> Vec<crate::model::Delivery> = outbox;
    /// Extends the lease on the deliveries `ids`, held under `token`, to `lease` from now (a long
    /// send); on PostgreSQL from the database's now. Returns how many were still held.
    fn renew_deliveries(&self, ids: &[i64], token: i64, now: DateTime<Utc>, lease: Duration) -> u64 = outbox;
    /// Records `key` as the Idempotency-Key of the digest that the deliveries `ids`, held under
    /// `token`, are about to be sent in: claimed again, they are sent as that digest again.
    fn set_message_key(&self, ids: &[i64], token: i64, key: &str) -> u64 = outbox;
    /// Gives up the lease held under `token` on the deliveries `ids` without recording an
    /// attempt: they are due again as they were.
    fn release_deliveries(&self, ids: &[i64], token: i64) -> u64 = outbox;
    /// Records one attempt and its outcome in one transaction, releasing the lease, if the
    /// delivery is still pending under the lease `delivery` was claimed with. False, and nothing
    /// recorded, when another claim took it meanwhile (a sender that outlived its lease).
    fn record_outcome(&self, delivery: &crate::model::Delivery, at: DateTime<Utc>, update: &DeliveryUpdate, reason: &str) -> bool = outbox;
    /// Holds every pending delivery of `channel` until at least `until`.
    fn postpone_channel(&self, channel: &str, until: DateTime<Utc>) -> () = outbox;
    /// Counts one message sent by `channel` (one alert, or a digest of `alerts`).
    fn record_message(&self, channel: &str, at: DateTime<Utc>, alerts: usize) -> () = outbox;
    /// When `channel` sent its messages since `since`, oldest first.
    fn messages_since(&self, channel: &str, since: DateTime<Utc>) -> Vec<DateTime<Utc>> = outbox;
    /// For `channel`'s pending deliveries: how many, when the earliest falls due (lease
    /// included), and when the oldest entered the outbox.
    fn channel_queue(&self, channel: &str) -> ChannelQueue = outbox;
    /// Every delivery not delivered, dead ones last, with its last error and holder.
    fn outbox_entries(&self, now: DateTime<Utc>) -> Vec<OutboxEntry> = outbox;
    /// Puts a dead or waiting delivery back in the queue, due at `now`. False when no such
    /// undelivered delivery exists.
    fn requeue(&self, id: i64, now: DateTime<Utc>) -> bool = outbox;
    /// Puts every dead delivery back in the queue; returns how many.
    fn requeue_dead(&self, now: DateTime<Utc>) -> u64 = outbox;
    /// Every attempt at one delivery, oldest first: `(time, outcome, reason)`.
    fn delivery_attempts(&self, id: i64) -> Vec<(DateTime<Utc>, String, String)> = outbox;
    /// Adds the configured feeds the store does not know yet (due now) and brings stored next
    /// polls later than a feed's `due_by` forward to it. Known URLs are left to the next poll.
    fn register_feeds(&self, feeds: &[FeedEntry]) -> () = feeds;
    /// Leases to this instance, for `lease`, up to `limit` of the feeds `ids` that are due at
    /// `now` and not leased by a live instance, the most overdue first. Returns their ids. On
    /// PostgreSQL the lease is timed by the database's clock, not by `now`.
    fn claim_feeds(&self, ids: &[String], now: DateTime<Utc>, limit: u32, lease: Duration) -> Vec<String> = feeds;
    /// Extends this instance's leases on the feeds `ids` to `lease` from now (one that ran out
    /// is renewed too while no other instance has claimed it). Returns the feeds among `ids`
    /// that another instance holds now: lost leases. A feed released by its recorded poll is
    /// not lost. On PostgreSQL "now" is the database's clock, as for every lease.
    fn renew_feeds(&self, ids: &[String], now: DateTime<Utc>, lease: Duration) -> Vec<String> = feeds;
    /// Gives up this instance's lease on `id` without recording a poll (the poll could not be
    /// recorded): the feed is due again at `next_poll_at`.
    fn release_feed(&self, id: &str, next_poll_at: DateTime<Utc>) -> () = feeds;
    /// When the next of the feeds `ids` falls due (a leased one when its lease runs out).
    fn next_feed_due(&self, ids: &[String]) -> Option<DateTime<Utc>> = feeds;
    /// Up to `limit` stories first seen at or after `since`, newest first (by first seen, then
    /// id), starting after `after` (from the start when `None`): page on with the last one's
    /// [`StoredStory::cursor`].
    fn stories_since(&self, since: DateTime<Utc>, after: Option<StoryCursor>, limit: u32) -> Vec<StoredStory> = stories;
    /// Every managed topic (kept in the state beside the config's), by id.
    fn managed_topics(&self) -> Vec<ManagedTopic> = topics;
    /// Creates managed topic `id` with `rule` (checked by the caller with
    /// `config::check_managed_topic`; its `id` key is `id`, or the daemon skips it) or replaces
    /// its rule; true when created. Bumps [`Store::topics_revision`].
    fn save_managed_topic(&self, id: &str, rule: &serde_json::Value, now: DateTime<Utc>) -> bool = topics;
    /// Deletes managed topic `id`; false when there was none. Bumps the revision when it did.
    fn delete_managed_topic(&self, id: &str) -> bool = topics;
    /// A number that changes with every save and delete of a managed topic, on every instance
    /// sharing the database: a running daemon reloads its topics when it changes.
    fn topics_revision(&self) -> i64 = topics;
    /// The newest alerts first, with their matched words, other outlets and deliveries.
    fn recent_alerts(&self, query: &AlertQuery) -> Vec<AlertView> = views;
    /// Story `id` and the stories of its cluster; `None` when no such story is stored.
    fn story_view(&self, id: i64) -> Option<StoryView> = views;
}

/// A fresh fencing token for one claim of deliveries: random, so that instances need no
/// shared counter, and never 0 (the token of a delivery never claimed).
pub(crate) fn new_lease_token() -> i64 {
    fastrand::i64(1..i64::MAX)
}

/// A stored alert payload, or why it cannot be read (the delivery is then dead with it).
pub(crate) fn read_payload(alert: i64, stored: Option<&str>) -> Result<AlertPayload, String> {
    let stored = stored.ok_or_else(|| format!("stored alert {alert} has no payload"))?;
    serde_json::from_str(stored)
        .map_err(|e| format!("stored alert {alert} has an unreadable payload: {e}"))
}

/// A lease as milliseconds, however long it is configured.
pub(crate) fn lease_millis(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

/// A count read from the database, as the unsigned number it is; a negative one as 0.
fn count(n: i64) -> u64 {
    n.try_into().unwrap_or(0)
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
