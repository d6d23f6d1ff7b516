//! Feed health as `rasad feeds` shows it: one row per configured feed, and a feed that has
//! failed for a day or more flagged so that it stands out. Pure.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::FeedHealth;

/// A feed failing this long is flagged `FAILING`.
pub const FAILING_AFTER: Duration = Duration::from_secs(24 * 3600);

/// One configured feed and what the store knows of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedRow {
    pub id: String,
    /// `ok`, `failing` (failing for under a day), `FAILING` (a day or more), `never polled`.
    pub state: &'static str,
    #[serde(flatten)]
    pub health: FeedHealth,
}

/// The rows for the configured feeds `(id, url)`, in config order.
pub fn rows(
    configured: &[(String, String)],
    known: &[FeedHealth],
    now: DateTime<Utc>,
) -> Vec<FeedRow> {
    configured
        .iter()
        .map(|(id, url)| {
            let health = known.iter().find(|h| &h.id == id).cloned();
            let state = match &health {
                None => "never polled",
                Some(h) if h.last_attempt_at.is_none() => "never polled",
                Some(h) => match h.failing_since {
                    None => "ok",
                    Some(since) if (now - since).to_std().unwrap_or_default() >= FAILING_AFTER => {
                        "FAILING"
                    }
                    Some(_) => "failing",
                },
            };
            let mut health = health.unwrap_or_else(|| FeedHealth {
                id: id.clone(),
                url: url.clone(),
                ..FeedHealth::default()
            });
            // Feed URLs may hold a login or a token; rows recorded before redaction too.
            health.url = crate::redact::redact_url(&health.url);
            health.moved_to = health.moved_to.as_deref().map(crate::redact::redact_url);
            health.last_error = health
                .last_error
                .as_deref()
                .map(crate::redact::redact_urls_in);
            FeedRow {
                id: id.clone(),
                state,
                health,
            }
        })
        .collect()
}

/// One row as a line of text: state, id, last success, failures, next poll, items, error.
pub fn line(row: &FeedRow, now: DateTime<Utc>) -> String {
    let h = &row.health;
    let ago = |at: Option<DateTime<Utc>>| {
        at.map_or_else(|| "-".to_owned(), |t| format!("{} ago", rough(now - t)))
    };
    let mut line = format!(
        "{:<12} {:<20} last ok {:<12} failures {:<3} next {:<10} items {}",
        row.state,
        row.id,
        ago(h.last_success_at),
        h.consecutive_failures,
        h.next_poll_at
            .map_or_else(|| "-".to_owned(), |t| format!("in {}", rough(t - now))),
        h.items_seen,
    );
    if let Some(since) = h.failing_since {
        line.push_str(&format!(" | failing for {}", rough(now - since)));
    }
    if let Some(error) = &h.last_error {
        line.push_str(&format!(" | {error}"));
    }
    if let Some(to) = &h.moved_to {
        line.push_str(&format!(" | moved permanently to {to}"));
    }
    if let (Some(owner), Some(until)) = (&h.lease_owner, h.lease_until)
        && until > now
    {
        line.push_str(&format!(
            " | polled by {owner} (lease until {})",
            until.format("%H:%M:%S UTC")
        ));
    }
    // The last error quotes what a server sent; the terminal must not obey it.
    crate::source::display::terminal_safe(&line).into_owned()
}

/// A duration to the minute (`2h 5m`), or `now`.
fn rough(d: chrono::Duration) -> String {
    let minutes = d.num_minutes().max(0) as u64;
    if minutes == 0 {
        return "now".to_owned();
    }
    humantime::format_duration(Duration::from_secs(minutes * 60)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_feeds_named_cases() {
        let now = Utc::now();
        let hours = |h: i64| Some(now - chrono::Duration::hours(h));
        let health =
            |id: &str, attempt: Option<DateTime<Utc>>, failing: Option<DateTime<Utc>>| FeedHealth {
                id: id.to_owned(),
                last_attempt_at: attempt,
                failing_since: failing,
                ..FeedHealth::default()
            };
        let known = vec![
            health("fine", hours(0), None),
            health("flaky", hours(0), hours(3)),
            health("dead", hours(0), hours(25)),
        ];
        let configured: Vec<(String, String)> = ["fine", "flaky", "dead", "new"]
            .iter()
            .map(|id| (id.to_string(), format!("https://{id}.example/rss")))
            .collect();
        let got = rows(&configured, &known, now);
        let states: Vec<(&str, &str)> = got.iter().map(|r| (r.id.as_str(), r.state)).collect();
        assert_eq!(
            states,
            vec![
                ("fine", "ok"),
                ("flaky", "failing"),
                ("dead", "FAILING"),
                ("new", "never polled")
            ]
        );
        assert_eq!(got[3].health.url, "https://new.example/rss");
        let mut leased = got[0].clone();
        leased.health.lease_owner = Some("web-2:812".into());
        leased.health.lease_until = Some(now + chrono::Duration::seconds(20));
        assert!(
            line(&leased, now).contains(" | polled by web-2:812 (lease until "),
            "{}",
            line(&leased, now)
        );
        leased.health.lease_until = Some(now - chrono::Duration::seconds(1));
        assert!(
            !line(&leased, now).contains("polled by"),
            "an expired lease is not shown"
        );
        let dead = &rows(&configured, &known, now)[2];
        assert!(
            line(dead, now).contains("failing for 1day 1h"),
            "{}",
            line(dead, now)
        );
    }
}
