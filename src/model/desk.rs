//! What the analyst's desk reads and writes through the store: managed topics, and alerts and
//! stories as it shows them. Plain data (the store fills it; the web API serialises it).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Field;

/// A topic kept in the state; `rule` has the keys of a config `[[topic]]` table (`id`, `name`,
/// `any`, `all`, `none`, `fields`, `notify`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagedTopic {
    pub id: String,
    pub rule: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which alerts to list: the `limit` newest (at most `store::MAX_ALERTS_LISTED`), of one topic or
/// all, raised at or after `since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    pub limit: u32,
    pub topic: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

/// One alert as the desk shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    /// The alert's id.
    pub id: i64,
    pub story_id: i64,
    pub cluster_id: i64,
    pub topic: String,
    pub topic_name: String,
    /// The feed's id.
    pub feed: String,
    /// The feed's display name when the story was recorded.
    pub outlet: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub raised_at: DateTime<Utc>,
    pub matched: Vec<MatchedWord>,
    /// The outlets besides its own that carried the story, in the order they were seen (as
    /// now, not only as when the alert was raised).
    pub also_reported_by: Vec<String>,
    /// One per channel the alert was addressed to.
    pub deliveries: Vec<DeliveryView>,
}

/// One keyword occurrence of an alert, with the words around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedWord {
    /// The keyword as written in the topic.
    pub keyword: String,
    pub field: Field,
    /// The word found: the keyword with its prefixes and suffixes, as the story spells it.
    pub matched: String,
    /// A few words either side of it, from the same field.
    pub snippet: String,
    /// The byte range of `matched` in `snippet`. When the stored alert's span does not fit
    /// its story's text (a payload written by hand), `matched` is empty, `snippet` is the
    /// stored snippet (possibly empty) and both are 0.
    pub start: usize,
    pub end: usize,
}

/// One channel's delivery of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryView {
    pub id: i64,
    pub channel: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When it is due next (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A story and the stories of its cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryView {
    pub story: StoryBrief,
    /// Every story of its cluster, itself included, oldest first (by first seen, then id), at
    /// most `store::MAX_CLUSTER_LISTED`.
    pub cluster: Vec<StoryBrief>,
}

/// A stored story in brief.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryBrief {
    pub id: i64,
    /// Its cluster (its own id when it has none).
    pub cluster_id: i64,
    pub feed: String,
    pub outlet: Option<String>,
    pub title: String,
    /// The canonical link.
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    /// The plain summary as stored (see `STORED_SUMMARY_BYTES`).
    pub summary: Option<String>,
}
