//! HTML as the plain text keywords are matched against: tags, scripts and styles removed,
//! entities decoded, whitespace collapsed. Pure, and linear in the input whatever it holds.
//!
//! html2text renders ordinary markup best (block elements become breaks), but its time grows
//! with nesting: a hostile item of 100,000 nested `<div>`s held a poll for minutes. Such input
//! (or any field over [`RENDER_LIMIT`]) goes through a single-pass tag stripper instead.

/// Fields longer than this are stripped, not rendered.
pub const RENDER_LIMIT: usize = 64 * 1024;
/// Markup nested deeper than this is stripped, not rendered.
pub const DEPTH_LIMIT: usize = 100;

/// HTML as plain text: tags, scripts and styles removed, entities decoded, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    if html.is_empty() {
        return String::new();
    }
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html);
    }
    if html.len() > RENDER_LIMIT || nesting_depth(html) > DEPTH_LIMIT {
        return strip_tags(html);
    }
    // A wide line so that long Arabic paragraphs are not wrapped into fragments. A panic in
    // the renderer costs this field its rendering, not the feed its poll.
    let rendered = std::panic::catch_unwind(|| {
        html2text::config::plain_no_decorate().string_from_read(html.as_bytes(), 100_000)
    });
    match rendered {
        Ok(Ok(text)) => collapse_whitespace(&text),
        Ok(Err(_)) | Err(_) => strip_tags(html),
    }
}

/// Whitespace runs as one space, trimmed.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The deepest nesting of elements, counted roughly (void elements and self-closing tags do
/// not nest; unclosed ones count).
fn nesting_depth(html: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for (i, _) in html.match_indices('<') {
        let rest = &html.as_bytes()[i + 1..];
        match rest.first() {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(c) if c.is_ascii_alphabetic() => {
                let name: Vec<u8> = rest
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .map(u8::to_ascii_lowercase)
                    .collect();
                let void = matches!(
                    name.as_slice(),
                    b"br" | b"img" | b"hr" | b"meta" | b"link" | b"input" | b"source" | b"wbr"
                );
                if !void {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
            }
            _ => {}
        }
    }
    deepest
}

/// One pass: `<script>`/`<style>` elements and comments dropped, other tags become spaces,
/// entities decoded.
fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        text.push_str(&rest[..lt]);
        text.push(' ');
        let tag = &rest[lt..];
        let lower: String = tag.chars().take(8).flat_map(char::to_lowercase).collect();
        let skip_to = if lower.starts_with("<!--") {
            tag.find("-->").map(|e| e + 3)
        } else if let Some(name) = ["script", "style"]
            .into_iter()
            .find(|n| lower[1..].starts_with(n))
        {
            find_ignore_case(tag, &format!("</{name}"))
                .and_then(|e| tag[e..].find('>').map(|g| e + g + 1))
        } else {
            tag.find('>').map(|g| g + 1)
        };
        match skip_to {
            Some(n) => rest = &tag[n..],
            None => {
                rest = "";
            }
        }
    }
    text.push_str(rest);
    collapse_whitespace(&html_escape::decode_html_entities(&text))
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_named_cases() {
        let cases = [
            ("plain", "  نص   عادي ", "نص عادي"),
            (
                "tags_and_entities",
                "<p>نص <b>الخبر</b> &amp; &nbsp;المزيد</p>",
                "نص الخبر & المزيد",
            ),
            (
                "script_and_style",
                "<style>p{}</style><p>أ</p><script>x()</script>ب",
                "أ ب",
            ),
        ];
        for (name, html, want) in cases {
            assert_eq!(html_to_text(html), want, "{name}");
            assert_eq!(strip_tags(html), want, "{name}: stripped");
        }
    }

    #[test]
    fn deep_or_huge_markup_is_stripped_in_linear_time() {
        let deep = format!(
            "{}داعش{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        let started = std::time::Instant::now();
        assert_eq!(html_to_text(&deep), "داعش");
        let huge = "<p>خبر</p>".repeat(20_000);
        assert_eq!(html_to_text(&huge).split(' ').count(), 20_000);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(nesting_depth("<p>a<br>b<img src=x></p><p>c</p>"), 1);
    }
}
