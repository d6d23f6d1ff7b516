//! Fields feed-rs leaves out, read straight from the repaired feed text: channel authors
//! (`managingEditor`, `dc:creator`, `dc:author`), Dublin Core titles, descriptions and dates,
//! descriptions written as naked markup, `xhtml:body`, and RSS 1.0 `rdf:about` ids. Pure.
//!
//! Each lookup runs only for a field feed-rs left empty and only for element names that occur
//! in the document, so a clean feed pays a few substring searches.

use crate::source::dates::parse_timestamp;
use crate::source::parse::ParsedFeed;

/// Elements whose presence makes a lookup worth it.
const NAMES: &[&str] = &[
    "managingEditor",
    "dc:creator",
    "dc:author",
    "author",
    "webMaster",
    "dc:title",
    "dc:description",
    "description",
    "dc:date",
    "dcterms:issued",
    "dcterms:modified",
    "content:encoded",
    "xhtml:body",
    "body",
    "fullitem",
];

/// Fills the fields of an RSS (2.0 or 1.0) feed that feed-rs left empty.
pub fn fill_rss(feed: &mut ParsedFeed, text: &str) {
    // The channel part is small: its lookups are cheap. Items are split only when one of them
    // lacks something.
    let channel_end = first_item(text).unwrap_or(text.len());
    let channel = &text[..channel_end];
    let present = present_elements(channel, NAMES);
    let info = &mut feed.feed;
    let lookup = |names: &[&str]| first_element(channel, &present, names);
    if info.author.as_deref().is_none_or(looks_like_email) {
        info.author = lookup(&["managingEditor", "dc:creator", "dc:author", "author"])
            .map(|a| person_name(&a))
            .filter(|a| !a.is_empty())
            .or(info.author.take());
    }
    if info.title.is_none() {
        info.title = lookup(&["dc:title"]);
    }
    if info.subtitle.is_none() {
        info.subtitle = lookup(&["description", "dc:description"]);
    }
    if info.published.is_none() {
        info.published = lookup(&["dcterms:issued"]).and_then(|d| parse_timestamp(&d));
    }
    if info.updated.is_none() {
        info.updated = lookup(&["dcterms:modified", "dc:date"])
            .and_then(|d| parse_timestamp(&d))
            .or(info.published);
    }
    if !feed.entries.iter().any(lacks_something) {
        return;
    }
    let present = present_elements(&text[channel_end..], NAMES);
    let (_, items) = rss_parts(text);
    if items.len() != feed.entries.len() {
        return;
    }
    for (entry, item) in feed.entries.iter_mut().zip(items) {
        let lookup = |names: &[&str]| first_element(item, &present, names);
        if entry.id.is_none() {
            entry.id = start_tag_attribute(item, "item", "rdf:about");
        }
        if entry.title.is_none() {
            entry.title = lookup(&["dc:title"]);
        }
        if entry.summary.is_none() {
            entry.summary = lookup(&["description", "dc:description"]).filter(|s| !s.is_empty());
        }
        if entry.content.is_none() {
            entry.content = lookup(&["content:encoded", "xhtml:body", "body", "fullitem"])
                .filter(|s| !s.is_empty());
        }
        if entry.author.as_deref().is_none_or(looks_like_email) {
            entry.author = lookup(&["author", "dc:author", "dc:creator"])
                .map(|a| person_name(&a))
                .filter(|a| !a.is_empty())
                .or(entry.author.take());
        }
        if entry.published.is_none() {
            entry.published = lookup(&["dcterms:issued"]).and_then(|d| parse_timestamp(&d));
        }
        if entry.updated.is_none() {
            entry.updated = lookup(&["dcterms:modified"])
                .and_then(|d| parse_timestamp(&d))
                .or(entry.published);
        }
    }
}

/// An entry missing a field that the item's text might give.
fn lacks_something(e: &crate::source::parse::Entry) -> bool {
    e.id.is_none()
        || e.title.is_none()
        || e.summary.is_none()
        || e.content.is_none()
        || e.published.is_none()
        || e.author.as_deref().is_none_or(looks_like_email)
}

/// Where the first `<item>` starts.
fn first_item(text: &str) -> Option<usize> {
    text.match_indices("<item")
        .map(|(i, _)| i)
        .find(|&i| text[i + 5..].starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace()))
}

/// One element's text, as a feed field: CDATA unwrapped, entities decoded, naked markup kept
/// as written, trimmed. `<name/>` gives `""`.
pub fn element_text(part: &str, name: &str) -> Option<String> {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(found) = part[from..].find(&open) {
        let start = from + found + open.len();
        from = start;
        let rest = &part[start..];
        let next = rest.chars().next()?;
        if !(next == '>' || next == '/' || next.is_whitespace()) {
            continue;
        }
        let tag_end = rest.find('>')?;
        if rest[..tag_end].ends_with('/') {
            return Some(String::new());
        }
        let inner_start = start + tag_end + 1;
        let close = format!("</{name}>");
        let inner_end = inner_start + part[inner_start..].find(&close)?;
        return Some(field_text(&part[inner_start..inner_end]));
    }
    None
}

/// The value of attribute `name` on the first `<tag …>` of `part`.
pub fn start_tag_attribute(part: &str, tag: &str, name: &str) -> Option<String> {
    let start = part.find(&format!("<{tag}"))?;
    let end = start + part[start..].find('>')?;
    let tag_text = &part[start..end];
    let at = tag_text.find(&format!(" {name}="))? + name.len() + 2;
    let quote = tag_text[at..].chars().next()?;
    let value = &tag_text[at + 1..];
    Some(value[..value.find(quote)?].to_owned())
}

fn field_text(inner: &str) -> String {
    let trimmed = inner.trim();
    if let Some(cdata) = trimmed
        .strip_prefix("<![CDATA[")
        .and_then(|s| s.strip_suffix("]]>"))
    {
        return cdata.trim().to_owned();
    }
    if trimmed.contains('<') {
        return trimmed.to_owned();
    }
    html_escape::decode_html_entities(trimmed).trim().to_owned()
}

/// The channel part of an RSS document (before its first item) and each item, in order.
pub fn rss_parts(text: &str) -> (&str, Vec<&str>) {
    let mut items = Vec::new();
    let mut at = 0;
    let mut channel_end = None;
    while let Some(found) = text[at..].find("<item") {
        let start = at + found;
        let after = &text[start + 5..];
        at = start + 5;
        if !after.starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace()) {
            continue;
        }
        channel_end.get_or_insert(start);
        let end = text[start..]
            .find("</item>")
            .map_or(text.len(), |i| start + i + 7);
        items.push(&text[start..end]);
        at = end;
    }
    (&text[..channel_end.unwrap_or(text.len())], items)
}

/// feed-rs keeps only the address of `me@example.com (Name)`.
fn looks_like_email(name: &str) -> bool {
    name.contains('@')
}

/// A person as feeds write one: `me@example.com (Name)` gives `Name`.
pub fn person_name(raw: &str) -> String {
    let raw = raw.trim();
    match (raw.rfind('('), raw.ends_with(')')) {
        (Some(open), true) => {
            let (outside, inside) = (raw[..open].trim(), raw[open + 1..raw.len() - 1].trim());
            // `Name (me@example.com)` names the person outside the brackets.
            if inside.contains('@') && !outside.is_empty() {
                outside.to_owned()
            } else {
                inside.to_owned()
            }
        }
        _ => raw.to_owned(),
    }
}

/// The first of `names` that the document contains and `part` gives a value for.
pub fn first_element(part: &str, present: &[&str], names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter(|n| present.contains(n))
        .find_map(|n| element_text(part, n))
}

/// Which of `names` occur as an element anywhere in `text`.
pub fn present_elements<'n>(text: &str, names: &[&'n str]) -> Vec<&'n str> {
    names
        .iter()
        .copied()
        .filter(|n| text.contains(&format!("<{n}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_named_cases() {
        let cases = [
            (
                "plain",
                "<a><dc:title>x &amp; y</dc:title></a>",
                "dc:title",
                Some("x & y"),
            ),
            (
                "cdata",
                "<a><description><![CDATA[<b>x</b>]]></description></a>",
                "description",
                Some("<b>x</b>"),
            ),
            (
                "naked_markup",
                "<description><p>Example</p></description>",
                "description",
                Some("<p>Example</p>"),
            ),
            ("short_tag", "<description/>", "description", Some("")),
            (
                "longer_name_is_not_a_match",
                "<descriptions>x</descriptions>",
                "description",
                None,
            ),
            (
                "prefixed_name_is_not_a_match",
                "<dc:description>x</dc:description>",
                "description",
                None,
            ),
            (
                "attributes",
                "<body xmlns=\"x\">\n<p>c</p>\n</body>",
                "body",
                Some("<p>c</p>"),
            ),
        ];
        for (name, part, element, want) in cases {
            assert_eq!(element_text(part, element).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn splits_rss_into_channel_and_items() {
        let (channel, items) = rss_parts(
            "<channel><title>c</title><items/><item>1</item><item a='b'>2</item></channel>",
        );
        assert_eq!(channel, "<channel><title>c</title><items/>");
        assert_eq!(items, vec!["<item>1</item>", "<item a='b'>2</item>"]);
    }

    #[test]
    fn names_people() {
        for (raw, want) in [
            ("me@example.com (Example editor)", "Example editor"),
            ("Example editor", "Example editor"),
            (" (Example editor) ", "Example editor"),
            ("Example editor (me@example.com)", "Example editor"),
        ] {
            assert_eq!(person_name(raw), want, "{raw}");
        }
    }
}
