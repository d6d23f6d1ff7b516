//! Stories as stored, read back for backtests: one page at a time, newest first, each with the
//! plain title and summary a topic can be tried on.

use chrono::{DateTime, Utc};

use super::backend::on;
use super::{
    STORED_SUMMARY_BYTES, Store, StoreError, StoredStory, StoryCursor, from_millis, millis,
};

/// One row as `stories_since` reads it.
type Row = (
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    (Option<i64>, i64, Option<i64>),
);

/// Keyset paging on `(first_seen_at, id)`: each page starts below the last row of the one
/// before, so a page costs its own rows whatever the depth (an offset would rescan).
pub(super) async fn stories_since(
    store: &Store,
    since: DateTime<Utc>,
    after: Option<StoryCursor>,
    limit: u32,
) -> Result<Vec<StoredStory>, StoreError> {
    let (before_at, before_id) = after.map_or((i64::MAX, i64::MAX), |c| (c.first_seen_at, c.id));
    let rows: Vec<Row> = on!(store.pool(), d, c => {
        sqlx::query_as::<_, (i64, String, Option<String>, String, Option<String>, Option<String>, Option<i64>, i64, Option<i64>)>(
            "SELECT id, feed_id, outlet, title, summary, canonical_url, published_at, first_seen_at, cluster_id
             FROM stories
             WHERE first_seen_at >= $1 AND (first_seen_at, id) < ($2, $3)
             ORDER BY first_seen_at DESC, id DESC LIMIT $4",
        )
        .bind(millis(since))
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await?
        .into_iter()
        .map(|(id, feed, outlet, title, summary, url, published, seen, cluster)| {
            (id, feed, outlet, title, summary, url, (published, seen, cluster))
        })
        .collect()
    });
    Ok(rows
        .into_iter()
        .map(
            |(id, feed_id, outlet, title, summary, url, (published, seen, cluster))| StoredStory {
                id,
                feed_id,
                outlet,
                title,
                summary,
                url,
                published_at: published.map(from_millis),
                first_seen_at: from_millis(seen),
                cluster_id: cluster.unwrap_or(id),
            },
        )
        .collect())
}

/// A story's plain summary as stored: cut to [`STORED_SUMMARY_BYTES`] at a character
/// boundary; `None` when empty.
pub(super) fn stored_summary(summary: &str) -> Option<&str> {
    let cut = summary.floor_char_boundary(STORED_SUMMARY_BYTES.min(summary.len()));
    Some(summary[..cut].trim_end()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_stored_within_the_bound_at_a_character_boundary() {
        let arabic = "نص ".repeat(STORED_SUMMARY_BYTES);
        let cases = [
            ("short", "نص قصير", Some("نص قصير".len())),
            ("empty", "", None),
            ("spaces_only", "   ", None),
            (
                "long_ascii",
                &"a".repeat(STORED_SUMMARY_BYTES + 10),
                Some(STORED_SUMMARY_BYTES),
            ),
            // Each "نص " is 5 bytes: the bound falls inside a letter or after a space.
            ("long_arabic", &arabic, Some(4094)),
        ];
        for (name, summary, len) in cases {
            let stored = stored_summary(summary);
            assert_eq!(stored.map(str::len), len, "{name}");
            if let Some(stored) = stored {
                assert!(summary.starts_with(stored), "{name}");
            }
        }
    }
}
