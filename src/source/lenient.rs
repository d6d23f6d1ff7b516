//! Repairs of decoded feed text that a browser or feedparser forgives and feed-rs does not:
//! junk around the root, `<rss>` without a known version, bare `&`, HTML named entities, and
//! RSS 1.0 items without a link. Pure; clean text is returned borrowed, untouched.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::source::decode::c1_replacement;
use crate::source::dialects::{fix_namespaces, give_atom_links_their_text};

/// The link given to an RSS 1.0 item that has none, so that feed-rs keeps the item; `parse`
/// removes it again.
pub const MISSING_LINK: &str = "urn:rasad:missing-link";

/// `text` with the repairs below applied; borrowed when none was needed.
pub fn repair(text: &str) -> Cow<'_, str> {
    repair_bounded(text).0
}

/// [`repair`], and whether references to declared entities went past
/// [`MAX_ENTITY_EXPANSION`] (and were left as text).
pub fn repair_bounded(text: &str) -> (Cow<'_, str>, bool) {
    let mut capped = false;
    let repaired = repair_noting(text, &mut capped);
    (repaired, capped)
}

fn repair_noting<'t>(text: &'t str, entities_capped: &mut bool) -> Cow<'t, str> {
    let text = without_junk(text);
    let mut out = match drop_stray_declarations(text) {
        Some(fixed) => Cow::Owned(fixed),
        None => Cow::Borrowed(text),
    };
    let Some(root) = root_tag(&out) else {
        return out;
    };
    if !out.trim_end().ends_with('>') && out.trim_end().ends_with(&format!("</{}", root.qname)) {
        // A root end tag cut before its `>`.
        out = Cow::Owned(format!("{}>", out.trim_end()));
    }
    let mut root = root;
    if let Some(fixed) = fix_rss_version(&out, &root) {
        out = Cow::Owned(fixed);
        // The root tag grew: the repairs below read it where it now is.
        root = root_tag(&out).unwrap_or(root);
    }
    if let Some(fixed) = fix_namespaces(&out, &root) {
        out = Cow::Owned(fixed);
    }
    if root.local == "feed"
        && let Some(fixed) = give_atom_links_their_text(&out)
    {
        out = Cow::Owned(fixed);
    }
    if root.local == "rss" && !out.contains("<channel") {
        // Items straight under <rss>: give them the channel feed-rs looks for.
        out = Cow::Owned(wrap_in_channel(&out));
    }
    if let Some(fixed) = fix_entities(&out, entities_capped) {
        out = Cow::Owned(fixed);
    }
    if let Some(fixed) = space_after_emails(&out) {
        out = Cow::Owned(fixed);
    }
    if out.contains(" type=\"\"") {
        // Atom `type=""` is a hard error in feed-rs; an absent type means text.
        out = Cow::Owned(out.replace(" type=\"\"", ""));
    }
    if root.local == "RDF"
        && let Some(fixed) = give_rdf_items_a_link(&out)
    {
        out = Cow::Owned(fixed);
    }
    out
}

/// The text without XML declarations (CDATA sections and comments aside): `decode` read the
/// leading one and the text is UTF-8 now, and a second one is no XML. quick-xml panics on one
/// that names another encoding once it has read a few KiB (found by fuzzing, past the start
/// and at the start of a UTF-16 body whose declaration `decode` could not end).
fn drop_stray_declarations(text: &str) -> Option<String> {
    let is_declaration = |at: usize| {
        text[at + "<?xml".len()..].starts_with(|c: char| c.is_ascii_whitespace() || c == '?')
    };
    let mut found = text
        .match_indices("<?xml")
        .map(|(at, _)| at)
        .filter(|&at| is_declaration(at))
        .peekable();
    found.peek()?;
    let mut cdata = Skip::new(text, "<![CDATA[", "]]>");
    let mut comment = Skip::new(text, "<!--", "-->");
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for at in found {
        if at < copied
            || cdata
                .covering(text, at)
                .or_else(|| comment.covering(text, at))
                .is_some()
        {
            continue;
        }
        let Some(end) = text[at..].find("?>").map(|e| at + e + 2) else {
            break;
        };
        out.push_str(&text[copied..at]);
        copied = end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// A space between an email address and a non-ASCII character glued to it
/// (`editor@outlet.com، الاسم`): feed-rs splits an author at the byte after the address and
/// panicked inside that character, losing the feed (found by fuzzing). One pass: each `@` is
/// followed over the domain characters after it only.
fn space_after_emails(text: &str) -> Option<String> {
    let is_domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    for (at, _) in text.match_indices('@') {
        let end = at
            + 1
            + bytes[at + 1..]
                .iter()
                .take_while(|b| is_domain(**b))
                .count();
        let domain = &text[at + 1..end];
        let tld_letters = domain
            .bytes()
            .rev()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let glued = bytes.get(end).is_some_and(|b| !b.is_ascii());
        if glued && domain.contains('.') && tld_letters >= 2 {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
            out.push_str(&text[copied..end]);
            out.push(' ');
            copied = end;
        }
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// The root element's start tag: its byte range in the text and its local name.
#[derive(Debug, Clone)]
pub(crate) struct RootTag {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) qname: String,
    pub(crate) local: String,
}

/// The text from the first markup (`<?`, `<!` or a start tag) to the end of the root element;
/// anything before or after is dropped.
fn without_junk(text: &str) -> &str {
    let start = text
        .match_indices('<')
        .map(|(i, _)| i)
        .find(|&i| {
            text[i + 1..]
                .chars()
                .next()
                .is_some_and(|c| c == '?' || c == '!' || c.is_alphabetic())
        })
        .unwrap_or(0);
    let text = &text[start..];
    let Some(root) = root_tag(text) else {
        return text;
    };
    let closing = format!("</{}", root.qname);
    match text.rfind(&closing) {
        Some(at) if at >= root.end => {
            let after = at + closing.len();
            let end = text[after..]
                .find('>')
                .map_or(text.len(), |gt| after + gt + 1);
            &text[..end]
        }
        _ => text,
    }
}

/// The first element's start tag, skipping the prolog (declarations, comments, doctype).
fn root_tag(text: &str) -> Option<RootTag> {
    let mut at = 0;
    loop {
        let start = at + text[at..].find('<')?;
        let rest = &text[start..];
        if rest.starts_with("<!--") {
            at = start + rest.find("-->")? + 3;
        } else if rest.starts_with("<?") {
            at = start + rest.find("?>")? + 2;
        } else if rest.starts_with("<!") {
            at = start + doctype_end(rest)?;
        } else {
            let end = start + rest.find('>')? + 1;
            let qname: String = rest[1..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            let local = qname.rsplit(':').next().unwrap_or(&qname).to_owned();
            return Some(RootTag {
                start,
                end,
                qname,
                local,
            });
        }
    }
}

/// The length of a `<!DOCTYPE …>`, internal subset included.
fn doctype_end(rest: &str) -> Option<usize> {
    let gt = rest.find('>')?;
    match rest[..gt].find('[') {
        Some(_) => Some(rest.find("]>").map(|i| i + 2).unwrap_or(gt + 1)),
        None => Some(gt + 1),
    }
}

/// `<rss>` with no version, or one feed-rs does not know (`0.93`, `2.01`…), read as RSS 2.0.
fn fix_rss_version(text: &str, root: &RootTag) -> Option<String> {
    if root.local != "rss" {
        return None;
    }
    let tag = &text[root.start..root.end];
    let version = attribute(tag, "version");
    if matches!(version, Some("2.0" | "0.91" | "0.92" | "")) {
        return None;
    }
    let name_end = root.start + 1 + root.qname.len();
    let mut fixed = String::with_capacity(text.len() + 16);
    fixed.push_str(&text[..name_end]);
    fixed.push_str(" version=\"2.0\"");
    let rest_of_tag = &text[name_end..root.end];
    match version {
        Some(old) => fixed.push_str(
            &rest_of_tag
                .replacen(&format!("\"{old}\""), "\"\"", 1)
                .replacen(&format!("'{old}'"), "''", 1)
                .replacen("version=\"\"", "", 1)
                .replacen("version=''", "", 1),
        ),
        None => fixed.push_str(rest_of_tag),
    }
    fixed.push_str(&text[root.end..]);
    Some(fixed)
}

/// `<rss>…items…</rss>` as `<rss><channel>…items…</channel></rss>`.
fn wrap_in_channel(text: &str) -> String {
    let Some(root) = root_tag(text) else {
        return text.to_owned();
    };
    let close = text
        .rfind("</")
        .filter(|&c| c > root.end)
        .unwrap_or(text.len());
    format!(
        "{}<channel>{}</channel>{}",
        &text[..root.end],
        &text[root.end..close],
        &text[close..]
    )
}

/// The value of attribute `name` in a start tag.
pub(crate) fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let mut from = 0;
    while let Some(found) = tag[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let preceded = tag[..at].ends_with(|c: char| c.is_whitespace());
        let rest = tag[from..].trim_start();
        if let (true, Some(rest)) = (preceded, rest.strip_prefix('=')) {
            let rest = rest.trim_start();
            let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let value = &rest[1..];
            return Some(&value[..value.find(quote)?]);
        }
    }
    None
}

/// The most bytes that references to entities of the internal DTD subset may add to a body,
/// beyond the body's own length: one entity referenced thousands of times ("billion laughs")
/// would otherwise turn a small feed into gigabytes. Past it, a reference is left as text.
pub const MAX_ENTITY_EXPANSION: usize = 1 << 20;

/// Bare `&` escaped, HTML named entities turned into character references, `&#X` lowered;
/// CDATA sections and comments are left alone. `None` when nothing needed fixing.
///
/// Declared entities are expanded until they have added as many bytes as the body holds (at
/// most [`MAX_ENTITY_EXPANSION`]); the references past that stay as escaped text.
fn fix_entities(text: &str, capped: &mut bool) -> Option<String> {
    text.find('&')?;
    let declared = declared_entities(text);
    let mut expansion = Expansion {
        left: text.len().min(MAX_ENTITY_EXPANSION),
        capped: false,
    };
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    // Only `&` is searched for; CDATA sections and comments are found once each, ahead of it.
    let mut cdata = Skip::new(text, "<![CDATA[", "]]>");
    let mut comment = Skip::new(text, "<!--", "-->");
    while let Some(found) = text[at..].find('&') {
        let i = at + found;
        if let Some(end) = cdata
            .covering(text, i)
            .or_else(|| comment.covering(text, i))
        {
            at = end;
            continue;
        }
        let (len, replacement) = entity_fix(&text[i + 1..], &declared, &mut expansion);
        at = i + 1 + len;
        if let Some(replacement) = replacement {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
            out.push_str(&text[copied..i]);
            out.push_str(&replacement);
            copied = i + 1 + len;
        }
    }
    *capped |= expansion.capped;
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// What declared entities may still add to a body, and whether one was refused for it.
struct Expansion {
    left: usize,
    capped: bool,
}

/// The next region (CDATA section or comment) of the text that entity repairs must skip.
struct Skip {
    open: &'static str,
    close: &'static str,
    /// The next region at or after the cursor: its start and end; `None` when there is none.
    next: Option<(usize, usize)>,
}

impl Skip {
    fn new(text: &str, open: &'static str, close: &'static str) -> Skip {
        let mut skip = Skip {
            open,
            close,
            next: None,
        };
        skip.find_from(text, 0);
        skip
    }

    fn find_from(&mut self, text: &str, from: usize) {
        self.next = text[from..].find(self.open).map(|i| {
            let start = from + i;
            let end = text[start..]
                .find(self.close)
                .map_or(text.len(), |e| start + e + self.close.len());
            (start, end)
        });
    }

    /// The end of the region that covers `at`, if one does.
    fn covering(&mut self, text: &str, at: usize) -> Option<usize> {
        while let Some((start, end)) = self.next {
            if at < start {
                return None;
            }
            if at < end {
                return Some(end);
            }
            self.find_from(text, end);
        }
        None
    }
}

/// What to write instead of `&` + `after[..len]`, or `None` to keep it.
/// `expansion` is what declared entities may still add; it shrinks with each expansion.
fn entity_fix(
    after: &str,
    declared: &HashMap<&str, &str>,
    expansion: &mut Expansion,
) -> (usize, Option<String>) {
    const BARE: (usize, Option<String>) = (0, None);
    let bare = || (0, Some("&amp;".to_owned()));
    let Some(semi) = after[..after.floor_char_boundary(40)].find(';') else {
        return bare();
    };
    let body = &after[..semi];
    if let Some(num) = body.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        return match u32::from_str_radix(digits, radix)
            .ok()
            .and_then(char::from_u32)
        {
            Some(c) if let Some(mapped) = c1_replacement(c) => {
                (semi + 1, Some(format!("&#{};", u32::from(mapped))))
            }
            Some(c) if is_xml_char(c) => match num.starts_with('X') {
                true => (semi + 1, Some(format!("&#x{digits};"))),
                false => BARE,
            },
            Some(_) => (semi + 1, Some("\u{FFFD}".to_owned())),
            None => bare(),
        };
    }
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_alphanumeric()) {
        return bare();
    }
    if matches!(body, "amp" | "lt" | "gt" | "quot" | "apos") {
        return BARE;
    }
    if let Some(value) = declared.get(body) {
        // An entity of the internal DTD subset, which feed-rs does not expand.
        if value.len() > expansion.left {
            expansion.capped = true;
            return bare();
        }
        expansion.left -= value.len();
        return (semi + 1, Some((*value).to_owned()));
    }
    match html_entity(body) {
        Some(chars) => (
            semi + 1,
            Some(chars.chars().map(|c| format!("&#{};", c as u32)).collect()),
        ),
        None => bare(),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The characters an HTML named entity stands for.
fn html_entity(name: &str) -> Option<&'static str> {
    html_escape::NAMED_ENTITIES
        .binary_search_by(|(known, _)| (*known).cmp(name.as_bytes()))
        .ok()
        .map(|i| html_escape::NAMED_ENTITIES[i].1)
}

/// The names and values declared by `<!ENTITY name "value">` in an internal DTD subset.
fn declared_entities(text: &str) -> HashMap<&str, &str> {
    let mut entities = HashMap::new();
    let Some(root) = root_tag(text) else {
        return entities;
    };
    let mut rest = &text[..root.start];
    while let Some(at) = rest.find("<!ENTITY") {
        rest = rest[at + "<!ENTITY".len()..].trim_start();
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let name = &rest[..name_end];
        let after_name = rest[name_end..].trim_start();
        let quoted = after_name
            .chars()
            .next()
            .filter(|q| *q == '"' || *q == '\'')
            .and_then(|q| after_name[1..].find(q).map(|end| &after_name[1..1 + end]));
        let value = quoted.unwrap_or_default();
        // The first declaration of a name is binding (XML 1.0 §4.2).
        entities.entry(name).or_insert(value);
        // Past the value (one scan of the subset, however its quotes are placed); an unclosed
        // quote ends the subset.
        rest = match quoted {
            Some(v) => &after_name[1 + v.len() + 1..],
            None if after_name.starts_with(['"', '\'']) => "",
            None => after_name,
        };
    }
    entities
}

/// RSS 1.0 `<item>`s without `<link>` get [`MISSING_LINK`], which feed-rs requires to keep them.
fn give_rdf_items_a_link(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find("<item") {
        let start = at + found;
        let after_name = &text[start + 5..];
        at = start + 5;
        if !after_name.starts_with(|c: char| c == '>' || c.is_whitespace()) {
            continue;
        }
        let Some(open_end) = after_name.find('>').map(|i| start + 5 + i + 1) else {
            break;
        };
        let close = text[open_end..]
            .find("</item>")
            .map_or(text.len(), |i| open_end + i);
        if !text[open_end..close].contains("<link") {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
            out.push_str(&text[copied..open_end]);
            out.push_str("<link>");
            out.push_str(MISSING_LINK);
            out.push_str("</link>");
            copied = open_end;
        }
        at = close;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests;
