//! The limits on what one feed body may make rasad hold, applied where the body's items become
//! ours: items per feed, the length of each field, and characters the stores refuse. Pure.
//!
//! A feed over a bound is read up to it; what was cut is said in [`Bounded::notes`], which a
//! poll records in the feed's health (`rasad feeds`), so that nothing is cut silently.

use std::borrow::Cow;

use crate::source::parse::{Entry, ParsedFeed};

/// The most items kept from one body: the newest. A news feed carries tens; a body of a
/// hundred thousand tiny items would cost a store transaction and a match per item each poll.
pub const MAX_ITEMS: usize = 1_000;
/// The longest title, as given (HTML included) and as plain text for matching and storing.
pub const MAX_TITLE: usize = 2 * 1024;
/// The longest summary or content as plain text for matching and storing: far beyond any
/// article (a long one is 30 KiB of Arabic), short enough that a poll stays cheap.
pub const MAX_TEXT: usize = 256 * 1024;
/// The longest summary or content as given (HTML), stored for alerts.
pub const MAX_HTML: usize = 1024 * 1024;
/// The longest id, link or author.
pub const MAX_SHORT: usize = 2 * 1024;

/// What a body held beyond the bounds, to be said once in the feed's health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounded {
    /// How many items the body held, when more than [`MAX_ITEMS`].
    pub items: Option<usize>,
    /// How many fields were cut to their bound.
    pub fields_cut: usize,
    /// References to entities of the DTD went past `lenient::MAX_ENTITY_EXPANSION` (or the
    /// body's length) and were kept as text.
    pub entities_capped: bool,
}

impl Bounded {
    /// One line per bound that was hit, for the feed's health; `None` when none was.
    pub fn notes(&self) -> Option<String> {
        let mut notes = Vec::new();
        if let Some(items) = self.items {
            notes.push(format!(
                "over a bound: {items} items, the newest {MAX_ITEMS} read"
            ));
        }
        if self.entities_capped {
            notes.push(
                "over a bound: DTD entities would expand past the body's length; the rest kept as text"
                    .to_owned(),
            );
        }
        if self.fields_cut > 0 {
            notes.push(format!(
                "over a bound: {} field(s) cut (title {} KiB, summary and content {} KiB as HTML)",
                self.fields_cut,
                MAX_TITLE / 1024,
                MAX_HTML / 1024
            ));
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }
}

/// `feed` within the bounds: the newest [`MAX_ITEMS`] items kept (in the feed's order), each
/// field cut to its length, and every text field cleaned of what the stores refuse.
pub fn bound_feed(feed: &mut ParsedFeed) -> Bounded {
    let mut bounded = Bounded::default();
    if feed.entries.len() > MAX_ITEMS {
        bounded.items = Some(feed.entries.len());
        keep_newest(&mut feed.entries, MAX_ITEMS);
    }
    let info = &mut feed.feed;
    for field in [
        &mut info.title,
        &mut info.link,
        &mut info.language,
        &mut info.id,
        &mut info.subtitle,
        &mut info.author,
    ] {
        bounded.fields_cut += usize::from(bound_field(field, MAX_SHORT));
    }
    for entry in &mut feed.entries {
        bounded.fields_cut += bound_entry(entry);
    }
    bounded
}

/// The fields of one entry within their bounds; how many were cut.
fn bound_entry(entry: &mut Entry) -> usize {
    let mut cut = 0;
    for (field, max) in [
        (&mut entry.id, MAX_SHORT),
        (&mut entry.title, MAX_TITLE),
        (&mut entry.link, MAX_SHORT),
        (&mut entry.summary, MAX_HTML),
        (&mut entry.content, MAX_HTML),
        (&mut entry.author, MAX_SHORT),
    ] {
        cut += usize::from(bound_field(field, max));
    }
    cut
}

/// One optional field cleaned and cut to `max` bytes; whether it was cut.
fn bound_field(field: &mut Option<String>, max: usize) -> bool {
    let Some(text) = field.as_mut() else {
        return false;
    };
    if let Cow::Owned(clean) = storable(text) {
        *text = clean;
    }
    let cut = text.len() > max;
    if cut {
        text.truncate(text.floor_char_boundary(max));
    }
    cut
}

/// `text` cut to at most `max` bytes, on a character boundary, and cleaned by [`storable`].
pub fn bounded_text(text: String, max: usize) -> String {
    let mut text = match storable(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    };
    text.truncate(text.floor_char_boundary(max));
    text
}

/// `text` without the characters a store refuses or a reader cannot want: NUL (PostgreSQL
/// refuses it in text, and one such title failed its feed on every poll) and the other C0
/// controls and DEL, which are no text (tab and line breaks stay). Borrowed when clean.
pub fn storable(text: &str) -> Cow<'_, str> {
    let refused = |c: char| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r');
    // Looked for in bytes: an ASCII control is one byte in UTF-8 and never part of a longer
    // character. A block of 64 bytes is folded without an early exit, which the compiler turns
    // into vector instructions: many times faster than decoding characters.
    let refused_byte = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f;
    let any_refused = text
        .as_bytes()
        .chunks(64)
        .any(|block| block.iter().fold(false, |seen, &b| seen | refused_byte(b)));
    if !any_refused {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|c| !refused(*c)).collect())
}

/// The newest `keep` entries, in their order in the feed. Undated entries count as older than
/// dated ones; among equals, the feed's order (feeds list the newest first).
fn keep_newest(entries: &mut Vec<Entry>, keep: usize) {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    let date = |e: &Entry| e.published.or(e.updated);
    order.sort_by(|a, b| date(&entries[*b]).cmp(&date(&entries[*a])).then(a.cmp(b)));
    let mut kept = vec![false; entries.len()];
    for i in order.into_iter().take(keep) {
        kept[i] = true;
    }
    let mut index = 0;
    entries.retain(|_| {
        index += 1;
        kept[index - 1]
    });
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn storable_text_named_cases() {
        let cases = [
            ("clean_arabic", "خبر عاجل\tنص\n", "خبر عاجل\tنص\n"),
            ("nul_in_a_title", "داعش\u{0}", "داعش"),
            ("escape_sequence", "a\u{1b}[31mb", "a[31mb"),
            ("bell_and_del", "a\u{7}b\u{7f}", "ab"),
        ];
        for (name, input, want) in cases {
            assert_eq!(storable(input), want, "{name}");
        }
        assert!(matches!(storable("clean"), Cow::Borrowed(_)));
    }

    proptest::proptest! {
        /// The byte scan finds what a scan of characters finds, on text mixing Arabic, Latin,
        /// controls and the whitespace that stays.
        #[test]
        fn storable_finds_what_a_scan_of_characters_finds(
            text in "[\\x00-\\x20\\x7f a-zخبر\\u{80}-\\u{9f}]{0,200}"
        ) {
            let refused = |c: char| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r');
            let expected: String = text.chars().filter(|c| !refused(*c)).collect();
            let cleaned = storable(&text);
            proptest::prop_assert_eq!(matches!(cleaned, Cow::Borrowed(_)), !text.contains(refused));
            proptest::prop_assert_eq!(cleaned, expected);
        }
    }

    #[test]
    fn fields_are_cut_on_character_boundaries() {
        let cases = [
            ("under", "خبر".to_owned(), 100, "خبر".to_owned()),
            ("inside_a_letter", "خبر".to_owned(), 3, "خ".to_owned()),
            ("nul_then_cut", "\u{0}abc".to_owned(), 2, "ab".to_owned()),
        ];
        for (name, input, max, want) in cases {
            assert_eq!(bounded_text(input, max), want, "{name}");
        }
    }

    #[test]
    fn a_feed_over_the_item_bound_keeps_its_newest_items_and_says_so() {
        let dated = |i: usize| Entry {
            id: Some(format!("{i}")),
            // Item i is i minutes old; every tenth has no date.
            published: (!i.is_multiple_of(10)).then(|| {
                Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                    - chrono::Duration::minutes(i as i64)
            }),
            ..Entry::default()
        };
        let mut feed = ParsedFeed {
            feed: Default::default(),
            entries: (0..MAX_ITEMS + 500).map(dated).collect(),
            bounded: Bounded::default(),
        };
        let bounded = bound_feed(&mut feed);
        assert_eq!(bounded.items, Some(MAX_ITEMS + 500));
        assert_eq!(feed.entries.len(), MAX_ITEMS);
        assert!(feed.entries.iter().all(|e| e.published.is_some()));
        assert_eq!(feed.entries[0].id.as_deref(), Some("1"));
        assert!(bounded.notes().is_some_and(|n| n.contains("1500 items")));
    }

    #[test]
    fn long_fields_are_cut_and_counted() {
        let mut feed = ParsedFeed {
            feed: Default::default(),
            entries: vec![Entry {
                title: Some("ع".repeat(MAX_TITLE)),
                content: Some("x".repeat(MAX_HTML + 1)),
                summary: Some("short\u{0}".to_owned()),
                ..Entry::default()
            }],
            bounded: Bounded::default(),
        };
        let bounded = bound_feed(&mut feed);
        assert_eq!(bounded.fields_cut, 2);
        let entry = &feed.entries[0];
        assert_eq!(entry.title.as_ref().map(String::len), Some(MAX_TITLE));
        assert_eq!(entry.content.as_ref().map(String::len), Some(MAX_HTML));
        assert_eq!(entry.summary.as_deref(), Some("short"));
        assert_eq!(Bounded::default().notes(), None);
    }
}
