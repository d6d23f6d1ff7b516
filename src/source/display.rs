//! The display form of feed text fields: XHTML re-escaped as HTML expects, base64 content
//! decoded, character references to C1 controls written as browsers show them, and text made
//! safe to print on a terminal. Pure.

use std::borrow::Cow;

use crate::source::decode::c1_replacement;

/// A text construct in the display form: XHTML re-serialised with `>` and attribute values
/// escaped as HTML expects.
pub fn text_content(text: feed_rs::model::Text) -> String {
    if text.content_type.subty().as_str().starts_with("xhtml") {
        escape_xhtml(&text.content)
    } else {
        html_c1_references(text.content)
    }
}

/// HTML character references to C1 controls (`&#146;`) written as the character browsers
/// show for them (HTML's numeric reference rules map them through windows-1252).
fn html_c1_references(html: String) -> String {
    // `&#X61;` is the same reference as `&#x61;`; written the common way.
    let html = if html.contains("&#X") {
        html.replace("&#X", "&#x")
    } else {
        html
    };
    if !html.contains("&#1") {
        return html;
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(at) = rest.find("&#") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let mapped = after[digits..]
            .starts_with(';')
            .then(|| after[..digits].parse::<u32>().ok())
            .flatten()
            .and_then(char::from_u32)
            .and_then(c1_replacement);
        match mapped {
            Some(c) => {
                out.push_str(&format!("&#x{:x};", u32::from(c)));
                rest = &after[digits + 1..];
            }
            None => {
                out.push_str("&#");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The body of a content element; base64 content (Atom `type="…/…"` other than text and
/// XML) decoded when it is UTF-8 text.
pub fn content_body(content: feed_rs::model::Content) -> Option<String> {
    let body = content.body?;
    let ty = content.content_type;
    if ty.subty().as_str().starts_with("xhtml") {
        return Some(escape_xhtml(&body));
    }
    let textual = ty.ty().as_str() == "text" || ty.subty().as_str().ends_with("xml");
    if textual {
        return Some(html_c1_references(body));
    }
    Some(decode_base64(&body).unwrap_or(body))
}

/// Standard base64 (whitespace ignored) decoded to UTF-8 text.
fn decode_base64(text: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    String::from_utf8(out).ok()
}

/// XHTML as feed-rs serialises it, with `>` in text and `&`, `<`, `>` in attribute values
/// escaped, and without the XHTML namespace declaration HTML does not need.
fn escape_xhtml(xhtml: &str) -> String {
    let xhtml = xhtml.replace(" xmlns=\"http://www.w3.org/1999/xhtml\"", "");
    let mut out = String::with_capacity(xhtml.len() + 16);
    let (mut in_tag, mut quote) = (false, None::<char>);
    for c in xhtml.chars() {
        match (in_tag, quote, c) {
            (false, _, '<') => {
                in_tag = true;
                out.push(c);
            }
            (false, _, '>') => out.push_str("&gt;"),
            (true, None, '"' | '\'') => {
                quote = Some(c);
                out.push(c);
            }
            (true, None, '>') => {
                in_tag = false;
                out.push(c);
            }
            (true, Some(q), _) if c == q => {
                quote = None;
                out.push(c);
            }
            (true, Some(_), '&') => out.push_str("&amp;"),
            (true, Some(_), '<') => out.push_str("&lt;"),
            (true, Some(_), '>') => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// `text` as one line that a terminal prints as it reads: control characters (C0, DEL and C1,
/// which start escape sequences that can move the cursor, rewrite the screen or set the window
/// title) shown as `�`, and line breaks and tabs as spaces. Feed titles, errors and links reach
/// `rasad feeds`, `outbox`, `parse` and `match` from strangers. Borrowed when clean.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.contains(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\t' | '\n' | '\r' => ' ',
                c if c.is_control() => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_safe_named_cases() {
        let cases = [
            ("clean_arabic", "بيان لداعش", "بيان لداعش"),
            ("csi_colour", "a\u{1b}[31mred", "a\u{FFFD}[31mred"),
            (
                "window_title",
                "\u{1b}]0;owned\u{7}x",
                "\u{FFFD}]0;owned\u{FFFD}x",
            ),
            ("c1_csi", "a\u{9b}2Jb", "a\u{FFFD}2Jb"),
            ("line_break_spoofs_a_row", "t\nok  fake", "t ok  fake"),
            ("del_and_nul", "a\u{7f}\u{0}b", "a\u{FFFD}\u{FFFD}b"),
        ];
        for (name, input, want) in cases {
            assert_eq!(terminal_safe(input), want, "{name}");
        }
        assert!(matches!(terminal_safe("clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn display_forms_named_cases() {
        let cases = [
            ("gt_in_text", escape_xhtml("a &lt;b> c"), "a &lt;b&gt; c"),
            (
                "amp_in_attribute",
                escape_xhtml("<a href=\"?a=1&b=2\">x</a>"),
                "<a href=\"?a=1&amp;b=2\">x</a>",
            ),
            (
                "xhtml_namespace_dropped",
                escape_xhtml("<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"),
                "<div>x</div>",
            ),
            (
                "c1_reference",
                html_c1_references("don&#146;t".to_owned()),
                "don&#x2019;t",
            ),
            (
                "uppercase_hex_reference",
                html_c1_references("&#X61;".to_owned()),
                "&#x61;",
            ),
            (
                "base64",
                decode_base64("2LnYsdio2Yo=").unwrap_or_default(),
                "عربي",
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name}");
        }
    }
}
