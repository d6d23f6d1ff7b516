//! Old and odd feed dialects rewritten as the ones feed-rs reads: Atom 0.3 as Atom 1.0, RSS
//! 0.90 as RSS 1.0, Userland's RSS namespaces as plain RSS, Atom links written as text. Pure;
//! called by `lenient::repair` only for documents whose root names the dialect.

use crate::source::lenient::{RootTag, attribute};

/// Obsolete namespaces read as their successors: Atom 0.3 as Atom 1.0 (with its renamed
/// elements and MIME-typed text constructs), RSS 0.90 as RSS 1.0, and Userland's RSS
/// namespaces as plain RSS 2.0.
pub(crate) fn fix_namespaces(text: &str, root: &RootTag) -> Option<String> {
    const ATOM_03: &str = "http://purl.org/atom/ns#";
    const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
    let tag = &text[root.start..root.end];
    if root.local == "feed" && tag.contains(ATOM_03) {
        let mut fixed = text.replace(ATOM_03, "http://www.w3.org/2005/Atom");
        for (old, new) in [
            ("tagline", "subtitle"),
            ("issued", "published"),
            ("modified", "updated"),
            ("copyright", "rights"),
        ] {
            for open in ["<", "</"] {
                fixed = fixed.replace(&format!("{open}{old}"), &format!("{open}{new}"));
            }
        }
        for (old, new) in [
            ("type=\"text/html\"", "type=\"html\""),
            ("type=\"text/plain\"", "type=\"text\""),
            ("type=\"application/xhtml+xml\"", "type=\"xhtml\""),
        ] {
            fixed = fixed.replace(old, new);
        }
        for name in ["title", "subtitle", "summary", "content"] {
            fixed = atom03_inline_markup(&fixed, name);
        }
        return Some(fixed);
    }
    if root.local == "RDF" && tag.contains(RSS_090) {
        return Some(text.replacen(RSS_090, "http://purl.org/rss/1.0/", 1));
    }
    if root.local == "rss" && tag.contains("backend.userland.com/rss") {
        let mut fixed = text.to_owned();
        if let Some((prefix, _)) = root.qname.split_once(':') {
            // `<r:rss xmlns:r="…userland…">`: the prefix stands for plain RSS.
            fixed = fixed
                .replace(&format!("<{prefix}:"), "<")
                .replace(&format!("</{prefix}:"), "</")
                .replacen(&format!("xmlns:{prefix}="), "xmlns:userland=", 1);
        }
        for ns in [
            "xmlns=\"http://backend.userland.com/rss2\"",
            "xmlns=\"http://backend.userland.com/rss\"",
        ] {
            fixed = fixed.replacen(ns, "", 1);
        }
        return Some(fixed);
    }
    None
}

/// Atom `<link rel="alternate">http://…</link>` (a URL as text, no `href`) given the `href`
/// feed-rs reads.
pub(crate) fn give_atom_links_their_text(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    let mut gt = Ahead::new(text, ">");
    let mut closes = Ahead::new(text, "</link>");
    while let Some(found) = text[at..].find("<link") {
        let start = at + found;
        let Some(tag_end) = gt.from(start) else {
            break;
        };
        let tag = &text[start..tag_end];
        // A `<link` inside this tag is no tag: tags are looked at once each.
        at = tag_end;
        if tag.ends_with('/') || tag.contains("href") {
            continue;
        }
        let Some(close) = closes.from(tag_end) else {
            break;
        };
        // Markup before the end tag: not a bare URL. The search stops at the first `<`, where
        // the next start tag is looked for anyway.
        let body = &text[tag_end + 1..close];
        if body.contains('<') {
            continue;
        }
        let href = body.trim();
        if href.is_empty() {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
        out.push_str(&text[copied..tag_end]);
        out.push_str(&format!(" href=\"{href}\"/>"));
        copied = close + "</link>".len();
        at = copied;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// Atom 0.3 text constructs holding markup (`mode="xml"`, the default) as Atom 1.0 XHTML:
/// `type="xhtml"` and the `<div>` wrapper that Atom 1.0 requires and feed-rs removes.
fn atom03_inline_markup(text: &str, name: &str) -> String {
    let (open, close) = (format!("<{name}"), format!("</{name}>"));
    let mut out = String::with_capacity(text.len() + 64);
    let mut copied = 0;
    let mut at = 0;
    let mut gt = Ahead::new(text, ">");
    let mut closes = Ahead::new(text, &close);
    while let Some(found) = text[at..].find(&open) {
        let start = at + found;
        at = start + open.len();
        let Some(tag_end) = gt.from(start) else {
            break;
        };
        let tag = &text[start..tag_end];
        let boundary = text[at..].starts_with(|c: char| c == '>' || c.is_whitespace());
        if !boundary || tag.ends_with('/') {
            continue;
        }
        let Some(inner_end) = closes.from(tag_end) else {
            break;
        };
        // Whatever happens to this element, the text up to its end tag is its content: a start
        // tag of the same name in there is not looked at again (one pass over the body).
        at = inner_end;
        let inner = &text[tag_end + 1..inner_end];
        let ty = attribute(tag, "type");
        let markup = inner.trim_start().starts_with('<') && !inner.contains("<![CDATA[")
            || inner.contains('<') && !inner.contains("<![CDATA[");
        let inline = match ty {
            Some("xhtml") => true,
            None | Some("text") => markup && attribute(tag, "mode") != Some("escaped"),
            _ => false,
        };
        if !inline {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(&open);
        out.push_str(" type=\"xhtml\"><div>");
        out.push_str(inner);
        out.push_str("</div>");
        copied = inner_end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The next occurrence of a needle at or after a position that only moves forward: each
/// occurrence is searched for once, so a loop over a body's tags stays one pass even where
/// the end tags it looks for are missing or far away.
struct Ahead<'t> {
    text: &'t str,
    needle: &'t str,
    /// The last answer: `Some(None)` once the needle is known to be absent past some point.
    last: Option<Option<usize>>,
}

impl<'t> Ahead<'t> {
    fn new(text: &'t str, needle: &'t str) -> Ahead<'t> {
        Ahead {
            text,
            needle,
            last: None,
        }
    }

    /// Where the needle next starts at or after `at`.
    fn from(&mut self, at: usize) -> Option<usize> {
        match self.last {
            Some(None) => return None,
            Some(Some(found)) if found >= at => return Some(found),
            _ => {}
        }
        let found = self.text[at..].find(self.needle).map(|i| at + i);
        self.last = Some(found);
        found
    }
}
