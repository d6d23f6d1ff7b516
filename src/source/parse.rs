//! A feed body (RSS, Atom or JSON Feed bytes) parsed by feed-rs into the feed's own fields and
//! into `Story` values, with plain text for matching next to the display forms.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::dedupe::story_key;
use crate::model::Story;

/// One parsed feed, in the shape `rasad parse --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedFeed {
    pub feed: FeedInfo,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedInfo {
    pub title: Option<String>,
    pub link: Option<String>,
    pub language: Option<String>,
}

/// One item as the feed gave it: HTML kept as given in `summary` and `content`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The guid / Atom id, when the feed gave one (feed-rs would invent one otherwise).
    pub id: Option<String>,
    pub title: Option<String>,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub author: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    Feed(String),
    #[error("the feed parser crashed on this body: {0}")]
    Panic(String),
}

/// Parses a feed body. A panic inside the parser becomes an error for this body alone.
pub fn parse_feed(body: &[u8]) -> Result<ParsedFeed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        // An item without a guid gets an empty id here, not a random one: identity is ours to
        // decide (see `dedupe::story_key`), and a random id would re-alert on every poll.
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = catch_unwind(AssertUnwindSafe(|| parser.parse(body)))
        .map_err(|panic| ParseError::Panic(panic_message(&panic)))?
        .map_err(|e| ParseError::Feed(e.to_string()))?;
    Ok(ParsedFeed {
        feed: FeedInfo {
            title: feed.title.map(|t| text_of(&t)),
            link: feed.links.first().map(|l| l.href.clone()),
            language: feed.language,
        },
        entries: feed.entries.into_iter().map(entry).collect(),
    })
}

fn entry(e: feed_rs::model::Entry) -> Entry {
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(e.links.first())
        .map(|l| l.href.clone());
    Entry {
        id: Some(e.id).filter(|id| !id.trim().is_empty()),
        title: e.title.map(|t| text_of(&t)).filter(|t| !t.is_empty()),
        link,
        summary: e
            .summary
            .map(|t| t.content)
            .filter(|s| !s.trim().is_empty()),
        content: e
            .content
            .and_then(|c| c.body)
            .filter(|s| !s.trim().is_empty()),
        published: e.published,
        updated: e.updated,
        author: e
            .authors
            .first()
            .and_then(|p| p.name.clone())
            .filter(|n| !n.trim().is_empty()),
    }
}

impl ParsedFeed {
    /// The feed's items as stories of feed `feed_id`, fetched at `fetched`.
    pub fn stories(&self, feed_id: &str, fetched: DateTime<Utc>) -> Vec<Story> {
        self.entries
            .iter()
            .map(|e| {
                let summary_html = e.summary.clone().unwrap_or_default();
                let content_html = e.content.clone().unwrap_or_default();
                let title = e.title.clone().unwrap_or_default();
                let published = e.published.or(e.updated);
                Story {
                    feed: feed_id.to_owned(),
                    key: story_key(e.id.as_deref(), e.link.as_deref(), &title, published),
                    summary: html_to_text(&summary_html),
                    content: html_to_text(&content_html),
                    title,
                    summary_html,
                    content_html,
                    url: e.link.clone(),
                    guid: e.id.clone(),
                    published,
                    fetched,
                }
            })
            .collect()
    }
}

/// A feed text field as plain text: HTML titles are rendered, whitespace collapsed.
fn text_of(text: &feed_rs::model::Text) -> String {
    if text.content_type.to_string().contains("html") {
        html_to_text(&text.content)
    } else {
        collapse_whitespace(&text.content)
    }
}

/// HTML as plain text: tags, scripts and styles removed, entities decoded, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    if html.is_empty() {
        return String::new();
    }
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html);
    }
    // A wide line so that long Arabic paragraphs are not wrapped into fragments.
    match html2text::config::plain_no_decorate().string_from_read(html.as_bytes(), 100_000) {
        Ok(text) => collapse_whitespace(&text),
        Err(_) => collapse_whitespace(html),
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>أخبار</title><link>https://news.example/</link><language>ar</language>
<item><title>هجوم لداعش</title><link>https://news.example/1</link><guid>g-1</guid>
<description>&lt;p&gt;نص &lt;b&gt;الخبر&lt;/b&gt; &amp;amp; المزيد&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description>
<pubDate>Sun, 29 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>بلا معرف</title><description>خبر</description></item>
</channel></rss>"#;

    #[test]
    fn parses_items_into_stories_with_plain_text() {
        let feed = parse_feed(RSS.as_bytes()).expect("parses");
        assert_eq!(feed.feed.title.as_deref(), Some("أخبار"));
        assert_eq!(feed.feed.language.as_deref(), Some("ar"));
        let stories = feed.stories("f", Utc::now());
        assert_eq!(stories.len(), 2);
        assert_eq!(stories[0].title, "هجوم لداعش");
        assert_eq!(stories[0].summary, "نص الخبر & المزيد");
        assert!(stories[0].summary_html.contains("<b>"));
        assert_eq!(stories[0].guid.as_deref(), Some("g-1"));
        assert_eq!(stories[0].url.as_deref(), Some("https://news.example/1"));
    }

    #[test]
    fn an_item_without_guid_or_link_keeps_its_key_across_parses() {
        let first = parse_feed(RSS.as_bytes())
            .expect("parses")
            .stories("f", Utc::now());
        let second = parse_feed(RSS.as_bytes())
            .expect("parses")
            .stories("f", Utc::now());
        assert_eq!(first[1].guid, None);
        assert_eq!(first[1].key, second[1].key);
    }

    #[test]
    fn rejects_what_is_not_a_feed() {
        for (name, body) in [
            ("html_page", "<html><body>hi</body></html>"),
            ("empty", ""),
            ("binary", "\u{0}\u{1}\u{2}"),
        ] {
            assert!(parse_feed(body.as_bytes()).is_err(), "{name}");
        }
    }
}
