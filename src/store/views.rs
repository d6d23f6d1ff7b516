//! What the analyst's desk reads: recent alerts with their matched words, the outlets that
//! also carried each story and every channel's delivery state, and a story with its cluster.
//! Read-only; each listing is bounded by a named constant and costs two statements whatever
//! its length (the alerts, then the deliveries of all of them).

use std::collections::BTreeMap;

use super::backend::{json_list, on};
use super::{Store, StoreError, from_millis, millis, read_payload};
use crate::model::AlertPayload;
use crate::model::desk::{AlertQuery, AlertView, DeliveryView, MatchedWord, StoryBrief, StoryView};

/// The most alerts one listing returns: a stored alert carries its story's whole text, so a
/// page of 200 is a few megabytes at worst.
pub const MAX_ALERTS_LISTED: u32 = 200;
/// The most stories of one cluster a story view lists (the oldest): a cluster is the copies
/// of one story across outlets, a few dozen in practice.
pub const MAX_CLUSTER_LISTED: u32 = 1000;

/// `recent_alerts`' statement, with the dialect's JSON aggregate of the other outlets.
macro_rules! recent_alerts_sql {
    ($outlets:literal) => {
        concat!(
            "SELECT a.id, a.story_id, a.cluster_id, a.topic_id, a.payload, a.created_at,
                    s.feed_id, s.outlet, s.title, s.canonical_url, s.published_at, s.first_seen_at,
                    (SELECT ",
            $outlets,
            " FROM (",
            super::clusters::other_outlets_sql!("a.cluster_id", "a.story_id"),
            ") AS o)
             FROM alerts a JOIN stories s ON s.id = a.story_id
             WHERE ($1 IS NULL OR a.topic_id = $1) AND a.created_at >= $2
             ORDER BY a.created_at DESC, a.id DESC LIMIT $3"
        )
    };
}

/// One row as `recent_alerts` reads it.
type AlertRow = (
    i64,
    i64,
    i64,
    String,
    String,
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
    (Option<i64>, i64),
    Option<String>,
);

pub(super) async fn recent_alerts(
    store: &Store,
    query: &AlertQuery,
) -> Result<Vec<AlertView>, StoreError> {
    let since = query.since.map_or(i64::MIN, millis);
    let limit = i64::from(query.limit.min(MAX_ALERTS_LISTED));
    let rows: Vec<AlertRow> = on!(store.pool(), d, c => {
        sqlx::query_as::<_, (i64, i64, i64, String, String, i64, String, Option<String>, String, Option<String>, Option<i64>, i64, Option<String>)>(d.pick(
            recent_alerts_sql!("json_group_array(outlet ORDER BY first)"),
            recent_alerts_sql!("json_agg(outlet ORDER BY first)::text"),
        ))
        .bind(query.topic.as_deref())
        .bind(since)
        .bind(limit)
        .fetch_all(c)
        .await?
        .into_iter()
        .map(|r| (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, (r.10, r.11), r.12))
        .collect()
    });
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut deliveries = deliveries_of(store, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut view = alert_view(row);
            view.deliveries = deliveries.remove(&view.id).unwrap_or_default();
            view
        })
        .collect())
}

/// An alert's row as the desk shows it (its deliveries are added after).
fn alert_view(row: AlertRow) -> AlertView {
    let (id, story_id, cluster_id, topic, payload, raised) =
        (row.0, row.1, row.2, row.3, row.4, row.5);
    let (feed, outlet, title, canonical, outlets) = (row.6, row.7, row.8, row.9, row.11);
    let (published, first_seen_at) = (row.10.0.map(from_millis), from_millis(row.10.1));
    // An unreadable payload still lists the alert, with what its rows say.
    let payload = read_payload(id, Some(&payload)).ok();
    AlertView {
        id,
        story_id,
        cluster_id,
        topic_name: payload
            .as_ref()
            .map_or_else(|| topic.clone(), |p| p.topic_name.clone()),
        topic,
        outlet: outlet
            .or_else(|| payload.as_ref().map(|p| p.feed_name.clone()))
            .unwrap_or_else(|| feed.clone()),
        feed,
        title,
        url: payload
            .as_ref()
            .and_then(|p| p.story.url.clone())
            .or(canonical),
        published,
        first_seen_at,
        raised_at: from_millis(raised),
        matched: payload.as_ref().map(matched_words).unwrap_or_default(),
        also_reported_by: outlets
            .and_then(|o| serde_json::from_str(&o).ok())
            .unwrap_or_default(),
        deliveries: Vec::new(),
    }
}

/// The hits of an alert with their words and snippets, read from the story the payload keeps
/// (the snippet is recomputed there, so that the word's place in it is known exactly).
pub(crate) fn matched_words(payload: &AlertPayload) -> Vec<MatchedWord> {
    payload
        .hits
        .iter()
        .map(|hit| {
            let text = payload.story.field_text(hit.field);
            let span = hit.token_span.clone();
            let Some(matched) = text.get(span.clone()) else {
                return MatchedWord {
                    keyword: hit.keyword.clone(),
                    field: hit.field,
                    matched: String::new(),
                    snippet: hit.snippet.clone(),
                    start: 0,
                    end: 0,
                };
            };
            let around = crate::matcher::snippet_range(text, &span);
            MatchedWord {
                keyword: hit.keyword.clone(),
                field: hit.field,
                matched: matched.to_owned(),
                snippet: text[around.clone()].to_owned(),
                start: span.start - around.start,
                end: span.end - around.start,
            }
        })
        .collect()
}

/// The deliveries of the alerts `ids`, by alert, each alert's in id order.
async fn deliveries_of(
    store: &Store,
    ids: &[i64],
) -> Result<BTreeMap<i64, Vec<DeliveryView>>, StoreError> {
    type DeliveryRow = (i64, i64, String, String, i64, Option<String>, i64);
    let rows: Vec<DeliveryRow> = on!(store.pool(), d, c => {
        sqlx::query_as(d.sql(
            "SELECT id, alert_id, channel_id, status, attempts, last_error, next_attempt_at
             FROM deliveries WHERE alert_id IN (SELECT CAST(value AS BIGINT) FROM json_each($1))
             ORDER BY alert_id, id",
        ))
        .bind(json_list(ids))
        .fetch_all(c)
        .await?
    });
    let mut by_alert: BTreeMap<i64, Vec<DeliveryView>> = BTreeMap::new();
    for (id, alert, channel, state, attempts, last_error, next) in rows {
        let pending = state == "pending";
        by_alert.entry(alert).or_default().push(DeliveryView {
            id,
            channel,
            state,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            last_error,
            next_attempt_at: pending.then(|| from_millis(next)),
        });
    }
    Ok(by_alert)
}

/// The columns of a [`StoryBrief`], then the rest of a statement.
macro_rules! brief_sql {
    ($rest:literal) => {
        concat!(
            "SELECT id, cluster_id, feed_id, outlet, title, canonical_url, published_at, first_seen_at, summary
             FROM stories ",
            $rest
        )
    };
}

/// One row as [`brief_sql`] reads it.
type BriefRow = (
    i64,
    Option<i64>,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    i64,
    Option<String>,
);

pub(super) async fn story_view(store: &Store, id: i64) -> Result<Option<StoryView>, StoreError> {
    let row: Option<BriefRow> = on!(store.pool(), d, c => {
        sqlx::query_as(brief_sql!("WHERE id = $1")).bind(id).fetch_optional(c).await?
    });
    let Some(story) = row.map(story_brief) else {
        return Ok(None);
    };
    // A story without a cluster is the first of its own: later copies point to its id.
    let rows: Vec<BriefRow> = on!(store.pool(), d, c => {
        sqlx::query_as(brief_sql!(
            "WHERE cluster_id = $1 OR id = $2 ORDER BY first_seen_at, id LIMIT $3"
        ))
        .bind(story.cluster_id)
        .bind(story.id)
        .bind(i64::from(MAX_CLUSTER_LISTED))
        .fetch_all(c)
        .await?
    });
    Ok(Some(StoryView {
        story,
        cluster: rows.into_iter().map(story_brief).collect(),
    }))
}

fn story_brief(row: BriefRow) -> StoryBrief {
    let (id, cluster, feed, outlet, title, url, published, seen, summary) = row;
    StoryBrief {
        id,
        cluster_id: cluster.unwrap_or(id),
        feed,
        outlet,
        title,
        url,
        published: published.map(from_millis),
        first_seen_at: from_millis(seen),
        summary,
    }
}
