//! A feed body (RSS, Atom or JSON Feed bytes) read into the feed's own fields and into `Story`
//! values, with plain text for matching next to the display forms. The body is decoded
//! (`decode`) and repaired (`lenient`) before feed-rs reads it; dates go through `dates`.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};
use serde::Serialize;
use url::Url;

use crate::model::Story;
use crate::source::bounds::{Bounded, MAX_TEXT, MAX_TITLE, bound_feed, bounded_text};
use crate::source::dates::parse_timestamp;
use crate::source::decode::decode;
use crate::source::display::{content_body, text_content};
use crate::source::fallback;
use crate::source::lenient::{MISSING_LINK, repair_bounded};
use crate::source::plain::collapse_whitespace;
pub use crate::source::plain::html_to_text;

/// One parsed feed, in the shape `rasad parse --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedFeed {
    pub feed: FeedInfo,
    pub entries: Vec<Entry>,
    /// What the body held beyond `bounds`: cut, and said in the feed's health.
    #[serde(skip)]
    pub bounded: Bounded,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeedInfo {
    pub title: Option<String>,
    pub link: Option<String>,
    pub language: Option<String>,
    pub id: Option<String>,
    pub subtitle: Option<String>,
    pub author: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// RSS `<ttl>`: how long, in minutes, the feed may be cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_minutes: Option<u32>,
    /// The charset the body was read in.
    pub encoding: &'static str,
}

/// One item as the feed gave it: HTML kept as given in `title`, `summary` and `content`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entry {
    /// The guid / Atom id, when the feed gave one (feed-rs would invent one otherwise).
    pub id: Option<String>,
    pub title: Option<String>,
    /// The title is HTML (Atom `type="html"`/`"xhtml"`), not plain text.
    #[serde(skip)]
    pub title_is_html: bool,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub author: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// What came is no feed (an HTML page, another XML document): names its content type and,
    /// for an HTML page, the feed it advertises.
    #[error("not a feed ({what}){advertised}: {reason}")]
    NotAFeed {
        what: String,
        advertised: String,
        reason: String,
    },
    /// A feed too broken to read even after the repairs.
    #[error("cannot read the feed ({what}): {reason}")]
    Malformed { what: String, reason: String },
    #[error("the feed parser crashed on this body: {0}")]
    Panic(String),
}

/// What is known about a body besides its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyHints<'a> {
    /// The HTTP `Content-Type`, for its charset.
    pub content_type: Option<&'a str>,
    /// The document's URL, against which relative links are resolved.
    pub url: Option<&'a Url>,
}

/// Parses a feed body with no HTTP header and no URL known.
pub fn parse_feed(body: &[u8]) -> Result<ParsedFeed, ParseError> {
    parse_feed_with(body, BodyHints::default())
}

/// Parses a feed body. A panic inside the parser becomes an error for this body alone.
///
/// A body whose first reading panicked is read once more, cautiously (found by fuzzing
/// `parse`, each a whole feed lost to one field):
/// - every `@` hidden behind [`AT_STAND_IN`]: feed-rs 3.0 splits an author such as
///   `Name <me@outlet.com>` at byte offsets next to the address its pattern found, and panics
///   when a non-ASCII character touches the address. No repair of the source can rule that out
///   (the character may be written as an entity, `&Lt;`, or a JSON escape), but the pattern
///   needs a literal `@`; without one, the author is read as a plain name;
/// - every XML declaration removed, in comments and CDATA too: quick-xml panics on one that
///   names another encoding once it has read a few KiB, and the repairs keep those they take
///   for comment or CDATA text, which a broken body may not be to quick-xml.
pub fn parse_feed_with(body: &[u8], hints: BodyHints<'_>) -> Result<ParsedFeed, ParseError> {
    match catch_unwind(AssertUnwindSafe(|| {
        read_feed(body, hints, Attempt::AsWritten)
    })) {
        Ok(parsed) => parsed,
        Err(first) => catch_unwind(AssertUnwindSafe(|| {
            read_feed(body, hints, Attempt::Cautious)
        }))
        .map_err(|_| ParseError::Panic(crate::panic_message(&first)))?,
    }
}

/// Which reading of a body [`read_feed`] makes: as written, or (after a panic) cautiously: its
/// `@`s hidden and its XML declarations removed (see [`parse_feed_with`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Attempt {
    AsWritten,
    Cautious,
}

/// Stands for `@` while feed-rs reads a body the second time (a private-use character, which
/// no feed has reason to carry; one that does gets an `@` there).
const AT_STAND_IN: char = '\u{E040}';

/// Decode, repair, parse, fill in: the steps of [`parse_feed_with`].
fn read_feed(
    body: &[u8],
    hints: BodyHints<'_>,
    attempt: Attempt,
) -> Result<ParsedFeed, ParseError> {
    let decoded = decode(body, hints.content_type);
    let (text, entities_capped) = repair_bounded(&decoded.text);
    let text = match attempt {
        Attempt::AsWritten => text,
        Attempt::Cautious => Cow::Owned(
            without_declarations(&text).replace('@', AT_STAND_IN.encode_utf8(&mut [0; 4])),
        ),
    };
    let parser = feed_rs::parser::Builder::new()
        .base_uri(hints.url.map(Url::as_str))
        // An item without a guid gets an empty id here, not a random one: identity is ours to
        // decide (see `dedupe::story_key`), and a random id would re-alert on every poll.
        .id_generator(|_, _, _| String::new())
        // One date the reader cannot take costs that date, not the feed.
        .timestamp_parser(|raw| {
            catch_unwind(AssertUnwindSafe(|| parse_timestamp(raw)))
                .ok()
                .flatten()
        })
        .build();
    let feed = parser
        .parse(text.as_bytes())
        .map_err(|e| unreadable(&text, hints.content_type, &e))?;
    let is_rss = matches!(
        feed.feed_type,
        feed_rs::model::FeedType::RSS0
            | feed_rs::model::FeedType::RSS1
            | feed_rs::model::FeedType::RSS2
    );
    let mut parsed = ParsedFeed {
        feed: FeedInfo {
            title: feed
                .title
                .map(text_content)
                .filter(|t| !t.trim().is_empty()),
            link: alternate_link(&feed.links),
            language: feed.language,
            id: Some(feed.id).filter(|id| !id.trim().is_empty()),
            subtitle: feed.description.map(text_content),
            author: first_author(&feed.authors),
            published: feed.published,
            updated: feed.updated.or(feed.published),
            ttl_minutes: feed.ttl,
            encoding: decoded.encoding,
        },
        entries: feed.entries.into_iter().map(entry).collect(),
        bounded: Bounded::default(),
    };
    if is_rss {
        fallback::fill_rss(&mut parsed, &text);
    }
    if attempt == Attempt::Cautious {
        restore_at_signs(&mut parsed);
    }
    if let Some(base) = hints.url {
        resolve_relative_ids(&mut parsed, base);
    }
    parsed.bounded = bound_feed(&mut parsed);
    parsed.bounded.entities_capped = entities_capped;
    Ok(parsed)
}

/// The text without any `<?xml …?>` declaration, wherever it stands. One pass: each search for
/// a declaration's end starts past the last one removed.
fn without_declarations(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    for (at, _) in text.match_indices("<?xml") {
        if at < copied {
            continue;
        }
        let Some(end) = text[at..].find("?>").map(|e| at + e + 2) else {
            break;
        };
        out.push_str(&text[copied..at]);
        copied = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Puts back the `@`s that [`Attempt::Cautious`] hid, in every text the reading kept.
fn restore_at_signs(parsed: &mut ParsedFeed) {
    let FeedInfo {
        title,
        link,
        language,
        id,
        subtitle,
        author,
        ..
    } = &mut parsed.feed;
    let feed_fields = [title, link, language, id, subtitle, author];
    let entry_fields = parsed.entries.iter_mut().flat_map(|e| {
        let Entry {
            id,
            title,
            link,
            summary,
            content,
            author,
            ..
        } = e;
        [id, title, link, summary, content, author]
    });
    // A link resolved as a URL carries the stand-in percent-encoded.
    const ENCODED: &str = "%EE%81%80";
    for field in feed_fields.into_iter().chain(entry_fields).flatten() {
        if field.contains(AT_STAND_IN) || field.contains(ENCODED) {
            *field = field.replace(AT_STAND_IN, "@").replace(ENCODED, "@");
        }
    }
}

/// Ids written as relative references (`/news/1`) resolved against the document's URL, as
/// links are: the same item then has the same id wherever the file is read from.
fn resolve_relative_ids(parsed: &mut ParsedFeed, base: &Url) {
    let ids =
        std::iter::once(&mut parsed.feed.id).chain(parsed.entries.iter_mut().map(|e| &mut e.id));
    for id in ids {
        if let Some(relative) = id
            .as_deref()
            .filter(|i| i.starts_with('/') && !i.starts_with("//"))
            && let Ok(absolute) = base.join(relative)
        {
            *id = Some(absolute.to_string());
        }
    }
}

/// The error for a body feed-rs could not read: an HTML page or a document without a feed root
/// is "not a feed" (an HTML page names the feed it advertises with
/// `<link rel="alternate" type="application/rss+xml" href="…">`); anything else is malformed.
fn unreadable(
    text: &str,
    content_type: Option<&str>,
    error: &feed_rs::parser::ParseFeedError,
) -> ParseError {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    let reason = error.to_string();
    let reason = reason.as_str();
    let head = &text[..text.floor_char_boundary(64 * 1024)];
    let lower = head.to_ascii_lowercase();
    let is_html = lower.contains("<html") || lower.contains("<!doctype html");
    let what = match (content_type.filter(|c| !c.is_empty()), is_html) {
        (Some(ct), _) => format!("content type {ct}"),
        (None, true) => "an HTML page".to_owned(),
        (None, false) => "no content type".to_owned(),
    };
    let advertised = if is_html {
        advertised_feed(head)
            .map(|href| format!("; the page advertises the feed {href}"))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let no_root = matches!(
        error,
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot)
    );
    if !is_html && !no_root {
        return ParseError::Malformed {
            what,
            reason: reason.to_owned(),
        };
    }
    let reason = if is_html {
        "an HTML page, not RSS, Atom or JSON Feed".to_owned()
    } else {
        reason.to_owned()
    };
    ParseError::NotAFeed {
        what,
        advertised,
        reason,
    }
}

/// The `href` of the first `<link>` that advertises an RSS or Atom feed.
fn advertised_feed(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    lower.match_indices("<link").find_map(|(at, _)| {
        let end = at + lower[at..].find('>')?;
        let tag = &lower[at..end];
        let is_feed = tag.contains("alternate")
            && (tag.contains("application/rss+xml") || tag.contains("application/atom+xml"));
        if !is_feed {
            return None;
        }
        let href_at = tag.find("href=")? + 5;
        let original = &html[at + href_at..end];
        let quote = original
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')?;
        let value = &original[1..];
        Some(value[..value.find(quote)?].to_owned())
    })
}

fn alternate_link(links: &[feed_rs::model::Link]) -> Option<String> {
    links
        .iter()
        .filter(|l| l.href != MISSING_LINK)
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(links.iter().find(|l| l.href != MISSING_LINK))
        .map(|l| l.href.clone())
}

fn first_author(people: &[feed_rs::model::Person]) -> Option<String> {
    people
        .iter()
        .filter_map(|p| p.name.as_deref().map(fallback::person_name))
        .find(|n| !n.is_empty())
}

fn entry(e: feed_rs::model::Entry) -> Entry {
    let id = Some(e.id).filter(|id| !id.trim().is_empty());
    // An RSS guid that is a URL is the item's permalink when the item has no <link>.
    let link = alternate_link(&e.links).or_else(|| {
        id.as_ref()
            .filter(|id| id.starts_with("http://") || id.starts_with("https://"))
            .cloned()
    });
    let title_is_html = e
        .title
        .as_ref()
        .is_some_and(|t| t.content_type.to_string().contains("html"));
    Entry {
        id,
        title: e.title.map(text_content).filter(|t| !t.trim().is_empty()),
        title_is_html,
        link,
        summary: e.summary.map(text_content).filter(|s| !s.trim().is_empty()),
        content: e
            .content
            .and_then(content_body)
            .filter(|s| !s.trim().is_empty()),
        published: e.published,
        updated: e.updated.or(e.published),
        author: first_author(&e.authors),
    }
}

impl ParsedFeed {
    /// The feed's items as stories of feed `feed_id`, fetched at `fetched`.
    pub fn stories(&self, feed_id: &str, fetched: DateTime<Utc>) -> Vec<Story> {
        self.entries
            .iter()
            .map(|e| e.clone().into_story(feed_id, fetched))
            .collect()
    }

    /// [`ParsedFeed::stories`], taking the items' fields instead of copying them: a poll keeps
    /// no parsed feed, and the copies of every item's HTML were a poll's largest.
    pub fn into_stories(self, feed_id: &str, fetched: DateTime<Utc>) -> Vec<Story> {
        self.entries
            .into_iter()
            .map(|e| e.into_story(feed_id, fetched))
            .collect()
    }
}

impl Entry {
    /// This item as a story of feed `feed_id`, fetched at `fetched`.
    fn into_story(self, feed_id: &str, fetched: DateTime<Utc>) -> Story {
        // The given fields are within their bounds and clean already (`bound_feed`); their
        // plain text may hold what decoding entities made (`&#0;`).
        let title = bounded_text(self.plain_title(), MAX_TITLE);
        let summary_html = self.summary.unwrap_or_default();
        let content_html = self.content.unwrap_or_default();
        Story {
            feed: feed_id.to_owned(),
            // Keyed by `dedupe::assign_keys` once the poll's items are all known.
            key: String::new(),
            summary: bounded_text(html_to_text(&summary_html), MAX_TEXT),
            content: bounded_text(html_to_text(&content_html), MAX_TEXT),
            title,
            summary_html,
            content_html,
            url: self.link,
            guid: self.id,
            published: self.published.or(self.updated),
            fetched,
        }
    }

    /// The title as plain text: HTML rendered, stray entities decoded, whitespace collapsed.
    /// An RSS title is text, but outlets put escaped markup in it (`&lt;b&gt;`): a title that
    /// holds a tag is rendered as HTML too.
    pub fn plain_title(&self) -> String {
        let title = self.title.as_deref().unwrap_or_default();
        let has_tag = title.match_indices('<').any(|(i, _)| {
            title[i + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        });
        if self.title_is_html || has_tag {
            html_to_text(title)
        } else {
            collapse_whitespace(&html_escape::decode_html_entities(title))
        }
    }
}

#[cfg(test)]
mod tests;
