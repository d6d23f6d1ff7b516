//! Rendering of one alert for people and machines: the email subject, text and HTML parts, the
//! stdout block and the webhook JSON body. Every string that came from a feed is escaped for the
//! medium it goes into.

use std::ops::Range;

use html_escape::{encode_double_quoted_attribute, encode_text};
use serde_json::json;

use crate::model::{AlertPayload, Delivery, Field, Hit};

/// The webhook body's schema version; bumped on any incompatible change.
pub const WEBHOOK_SCHEMA_VERSION: u32 = 1;
/// How much of the story's text an alert quotes around the first hit.
const SNIPPET_CHARS: usize = 280;

/// A one-line subject: the topic and the story title, without line breaks or control characters
/// (a title with CR/LF must not inject mail headers).
pub fn subject(payload: &AlertPayload) -> String {
    let line = format!("[rasad] {}: {}", payload.topic_name, payload.story.title);
    let clean: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&clean, 200)
}

/// The plain-text email part, also printed by the stdout channel.
pub fn text_block(payload: &AlertPayload) -> String {
    let story = &payload.story;
    let mut out = String::new();
    out.push_str(&format!(
        "── {} ── {} ── {}\n",
        payload.topic_name,
        payload.feed_name,
        when(payload)
    ));
    out.push_str(&one_line(&story.title));
    out.push('\n');
    if let Some(url) = &story.url {
        out.push_str(&one_line(url));
        out.push('\n');
    }
    let (text, _) = snippet(payload);
    if !text.is_empty() {
        out.push_str(&text);
        out.push('\n');
    }
    out.push_str(&format!(
        "matched: {}\n\n",
        matched_words(payload).join("، ")
    ));
    out
}

/// The HTML email part: right-to-left for Arabic stories, inline styles only, no scripts, the
/// matched words highlighted and every feed string escaped.
pub fn email_html(payload: &AlertPayload) -> String {
    let story = &payload.story;
    let rtl = story
        .title
        .chars()
        .chain(story.summary.chars())
        .any(is_rtl_letter);
    let (dir, align, lang) = if rtl {
        ("rtl", "right", "ar")
    } else {
        ("ltr", "left", "en")
    };
    let title = highlight(&story.title, &spans(payload, Field::Title));
    let title = match story
        .url
        .as_deref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    {
        Some(url) => format!(
            "<a href=\"{}\" style=\"color:#1a4d8f;text-decoration:none\">{title}</a>",
            encode_double_quoted_attribute(url)
        ),
        None => title,
    };
    let (snippet_text, snippet_spans) = snippet(payload);
    let words: Vec<String> = matched_words(payload)
        .iter()
        .map(|w| encode_text(w).into_owned())
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n\
<body style=\"margin:0;padding:16px;background:#f6f6f6\">\n\
<div dir=\"{dir}\" style=\"direction:{dir};text-align:{align};max-width:640px;margin:0 auto;padding:16px;background:#ffffff;font-family:Tahoma,Arial,sans-serif;font-size:16px;line-height:1.6;color:#222\">\n\
<p style=\"margin:0 0 8px;color:#666;font-size:13px\">{topic} · {outlet} · {when}</p>\n\
<h2 style=\"margin:0 0 12px;font-size:20px\">{title}</h2>\n\
<p style=\"margin:0 0 12px\">{snippet}</p>\n\
<p style=\"margin:0;color:#666;font-size:13px\">{matched_label}: {words}</p>\n\
</div>\n</body></html>\n",
        subject = encode_text(&subject(payload)),
        topic = encode_text(&payload.topic_name),
        outlet = encode_text(&payload.feed_name),
        when = encode_text(&when(payload)),
        snippet = highlight(&snippet_text, &snippet_spans),
        matched_label = if rtl {
            "الكلمات المطابقة"
        } else {
            "Matched"
        },
        words = words.join("، "),
    )
}

/// The JSON body of a webhook call (schema version [`WEBHOOK_SCHEMA_VERSION`], see the README).
pub fn webhook_body(delivery: &Delivery) -> serde_json::Value {
    let payload = &delivery.payload;
    let story = &payload.story;
    json!({
        "version": WEBHOOK_SCHEMA_VERSION,
        "event": "alert",
        "alert_id": delivery.alert_id,
        "delivery_id": delivery.idempotency_key,
        "topic": { "id": payload.topic_id, "name": payload.topic_name },
        "feed": { "id": story.feed, "name": payload.feed_name },
        "story": {
            "key": story.key,
            "title": story.title,
            "url": story.url,
            "summary": story.summary,
            "published": story.published.map(|t| t.to_rfc3339()),
            "fetched": story.fetched.to_rfc3339(),
        },
        "matches": payload.hits.iter().map(|hit| json!({
            "keyword": hit.keyword,
            "field": hit.field,
            "keyword_span": [hit.keyword_span.start, hit.keyword_span.end],
            "token_span": [hit.token_span.start, hit.token_span.end],
            "matched": story.field_text(hit.field).get(hit.token_span.clone()),
        })).collect::<Vec<_>>(),
    })
}

/// The words as they stand in the story, each once, in order of appearance.
pub fn matched_words(payload: &AlertPayload) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for hit in &payload.hits {
        if let Some(word) = payload
            .story
            .field_text(hit.field)
            .get(hit.token_span.clone())
            && !words.iter().any(|w| w == word)
        {
            words.push(word.to_owned());
        }
    }
    words
}

fn when(payload: &AlertPayload) -> String {
    let at = payload.story.published.unwrap_or(payload.story.fetched);
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn spans(payload: &AlertPayload, field: Field) -> Vec<Range<usize>> {
    payload
        .hits
        .iter()
        .filter(|h| h.field == field)
        .map(|h: &Hit| h.token_span.clone())
        .collect()
}

/// A window of the summary (or content) around its first hit, with the hit spans moved into it.
fn snippet(payload: &AlertPayload) -> (String, Vec<Range<usize>>) {
    let story = &payload.story;
    let field = [Field::Summary, Field::Content]
        .into_iter()
        .find(|f| payload.hits.iter().any(|h| h.field == *f))
        .unwrap_or(if story.summary.is_empty() {
            Field::Content
        } else {
            Field::Summary
        });
    let text = story.field_text(field);
    let spans = spans(payload, field);
    let first = spans.iter().map(|s| s.start).min().unwrap_or(0);
    // Start a few words before the first hit, on a character boundary.
    let start = text[..first]
        .char_indices()
        .rev()
        .nth(SNIPPET_CHARS / 3)
        .map_or(0, |(i, _)| i);
    let end = text[start..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(text.len(), |(i, _)| start + i);
    let mut window = String::new();
    if start > 0 {
        window.push('…');
    }
    let offset = window.len();
    window.push_str(&text[start..end]);
    if end < text.len() {
        window.push('…');
    }
    let moved = spans
        .into_iter()
        .filter(|s| s.start >= start && s.end <= end)
        .map(|s| s.start - start + offset..s.end - start + offset)
        .collect();
    (window, moved)
}

/// `text` HTML-escaped, with each span wrapped in `<mark>`. Overlapping spans are merged.
fn highlight(text: &str, spans: &[Range<usize>]) -> String {
    let mut spans: Vec<Range<usize>> = spans
        .iter()
        .filter(|s| s.end <= text.len() && s.start < s.end)
        .cloned()
        .collect();
    spans.sort_by_key(|s| s.start);
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for span in spans {
        if span.start < at {
            continue;
        }
        out.push_str(&encode_text(&text[at..span.start]));
        out.push_str("<mark style=\"background:#ffe066;color:#000\">");
        out.push_str(&encode_text(&text[span.clone()]));
        out.push_str("</mark>");
        at = span.end;
    }
    out.push_str(&encode_text(&text[at..]));
    out
}

fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control())
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn is_rtl_letter(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Story;

    fn payload(title: &str, summary: &str, hits: Vec<Hit>) -> AlertPayload {
        AlertPayload {
            topic_id: "isis".into(),
            topic_name: "داعش".into(),
            feed_name: "<b>Outlet</b>".into(),
            story: Story {
                feed: "f".into(),
                key: "k".into(),
                title: title.into(),
                summary_html: summary.into(),
                summary: summary.into(),
                content_html: String::new(),
                content: String::new(),
                url: Some("https://news.example/a?x=1&y=\"2\"".into()),
                guid: None,
                published: None,
                fetched: chrono::Utc::now(),
            },
            hits,
        }
    }

    fn hit(field: Field, span: Range<usize>) -> Hit {
        Hit {
            topic: Some("isis".into()),
            keyword: "داعش".into(),
            field,
            keyword_span: span.clone(),
            token_span: span,
            snippet: String::new(),
        }
    }

    #[test]
    fn html_is_rtl_highlighted_and_escaped() {
        let title = "هجوم لداعش <script>alert(1)</script>";
        let at = title.find("لداعش").expect("in title");
        let p = payload(title, "نص", vec![hit(Field::Title, at..at + "لداعش".len())]);
        let html = email_html(&p);
        assert!(html.contains("dir=\"rtl\""));
        assert!(html.contains("<mark style=\"background:#ffe066;color:#000\">لداعش</mark>"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("&lt;b&gt;Outlet&lt;/b&gt;"));
        assert!(
            html.contains("href=\"https://news.example/a?x=1&amp;y=&quot;2&quot;\""),
            "{html}"
        );
    }

    #[test]
    fn latin_story_is_ltr_and_javascript_links_are_not_linked() {
        let mut p = payload("ISIS attack", "text", vec![]);
        p.story.url = Some("javascript:alert(1)".into());
        let html = email_html(&p);
        assert!(html.contains("dir=\"ltr\""));
        assert!(!html.contains("javascript:"));
    }

    #[test]
    fn subject_has_no_line_breaks() {
        let p = payload("عنوان\r\nBcc: victim@example.org", "", vec![]);
        assert_eq!(subject(&p), "[rasad] داعش: عنوان Bcc: victim@example.org");
    }

    #[test]
    fn snippet_keeps_highlights_inside_the_window() {
        let summary = format!("{} داعش {}", "كلمة ".repeat(200), "نهاية ".repeat(200));
        let at = summary.find("داعش").expect("present");
        let p = payload(
            "t",
            &summary,
            vec![hit(Field::Summary, at..at + "داعش".len())],
        );
        let (text, spans) = snippet(&p);
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].clone()], "داعش");
        assert!(text.starts_with('…') && text.ends_with('…'));
    }
}
