//! What templates see: one alert (or a digest of several) turned into plain, display-ready
//! fields — local time, reading direction, a snippet cut around the first hit with the matched
//! words marked, only http(s) links — and the versioned JSON webhook body. Pure.

use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::model::{AlertPayload, Delivery, Field, Hit};

/// The webhook body's schema version; bumped on any incompatible change.
pub const WEBHOOK_SCHEMA_VERSION: u32 = 1;
/// How much of the story's text an alert quotes around the first hit.
const SNIPPET_CHARS: usize = 280;

/// A piece of displayed text: `mark` when it is a matched word. Templates escape `text` for
/// their medium and wrap marked pieces in their own highlight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    pub text: String,
    pub mark: bool,
}

/// One alert, ready to display.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub alert_id: i64,
    pub delivery_id: String,
    pub topic_id: String,
    pub topic: String,
    pub outlet: String,
    /// Other outlets that carried the same story (its cluster), in the order they were seen.
    pub also_reported_by: Vec<String>,
    pub title: String,
    pub title_parts: Vec<Part>,
    /// The story's link, only when it is http or https.
    pub url: Option<String>,
    pub snippet: String,
    pub snippet_parts: Vec<Part>,
    /// The matched words as they stand in the story, each once.
    pub matched: Vec<String>,
    /// Publication (or fetch) time in the channel's time zone, e.g. `2026-11-29 11:00 +03`.
    pub when: String,
    /// The same instant in RFC 3339 UTC, for machines.
    pub at: String,
    /// Right-to-left: the story is in Arabic script.
    pub rtl: bool,
}

/// The alerts of one topic within a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicGroup {
    pub topic_id: String,
    pub topic: String,
    pub alerts: Vec<AlertView>,
}

/// Everything a template renders from: one alert, or a digest grouped by topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageView {
    /// More than one alert: a digest.
    pub digest: bool,
    pub count: usize,
    /// The first alert (the only one unless `digest`).
    pub alert: AlertView,
    pub groups: Vec<TopicGroup>,
    pub rtl: bool,
    pub dir: &'static str,
    pub align: &'static str,
    pub lang: &'static str,
    pub labels: Labels,
    /// The versioned JSON body (see [`webhook_body`]).
    pub body: serde_json::Value,
    /// Telegram's chat id, when the channel has one.
    pub chat_id: Option<String>,
}

/// The few fixed words of a message, in the story's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Labels {
    pub matched: &'static str,
    pub also: &'static str,
    pub open: &'static str,
    pub alerts: &'static str,
}

const ARABIC: Labels = Labels {
    matched: "الكلمات المطابقة",
    also: "أوردته أيضاً",
    open: "فتح الخبر",
    alerts: "تنبيهات",
};
const ENGLISH: Labels = Labels {
    matched: "Matched",
    also: "Also reported by",
    open: "Open the story",
    alerts: "alerts",
};

/// The view of `deliveries` (one alert, or several for a digest) with times in `tz`.
///
/// # Panics
/// Never for a non-empty slice; callers pass at least one delivery.
pub fn message_view(
    deliveries: &[&Delivery],
    tz: chrono_tz::Tz,
    chat_id: Option<&str>,
) -> MessageView {
    let alerts: Vec<AlertView> = deliveries.iter().map(|d| alert_view(d, tz)).collect();
    let first = alerts
        .first()
        .cloned()
        .expect("a message holds at least one alert");
    let mut groups: Vec<TopicGroup> = Vec::new();
    for alert in &alerts {
        match groups.iter_mut().find(|g| g.topic_id == alert.topic_id) {
            Some(group) => group.alerts.push(alert.clone()),
            None => groups.push(TopicGroup {
                topic_id: alert.topic_id.clone(),
                topic: alert.topic.clone(),
                alerts: vec![alert.clone()],
            }),
        }
    }
    let rtl = alerts.iter().filter(|a| a.rtl).count() * 2 >= alerts.len();
    let body = if deliveries.len() == 1 {
        webhook_body(deliveries[0])
    } else {
        json!({
            "version": WEBHOOK_SCHEMA_VERSION,
            "event": "digest",
            "alerts": deliveries.iter().map(|d| webhook_body(d)).collect::<Vec<_>>(),
        })
    };
    MessageView {
        digest: alerts.len() > 1,
        count: alerts.len(),
        alert: first,
        groups,
        rtl,
        dir: if rtl { "rtl" } else { "ltr" },
        align: if rtl { "right" } else { "left" },
        lang: if rtl { "ar" } else { "en" },
        labels: if rtl { ARABIC } else { ENGLISH },
        body,
        chat_id: chat_id.map(str::to_owned),
    }
}

/// One alert, ready to display, with times in `tz`.
pub fn alert_view(delivery: &Delivery, tz: chrono_tz::Tz) -> AlertView {
    let payload = &delivery.payload;
    let story = &payload.story;
    let at = story.published.unwrap_or(story.fetched);
    let (snippet, snippet_spans) = snippet(payload);
    AlertView {
        alert_id: delivery.alert_id,
        delivery_id: delivery.idempotency_key.clone(),
        topic_id: payload.topic_id.clone(),
        topic: one_line(&payload.topic_name),
        outlet: one_line(&payload.feed_name),
        also_reported_by: payload
            .also_reported_by
            .iter()
            .map(|o| one_line(o))
            .collect(),
        title: one_line(&story.title),
        title_parts: parts(&story.title, &spans(payload, Field::Title))
            .into_iter()
            .map(|p| Part {
                text: one_line(&p.text),
                ..p
            })
            .collect(),
        url: web_link(story.url.as_deref()).map(one_line),
        snippet_parts: parts(&snippet, &snippet_spans),
        snippet,
        matched: matched_words(payload),
        when: local_time(at, tz),
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        rtl: story
            .title
            .chars()
            .chain(story.summary.chars())
            .any(is_rtl_letter),
    }
}

/// `2026-11-29 11:00 +03` in `tz`; the zone's name is added unless it is UTC.
pub fn local_time(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let local = at.with_timezone(&tz);
    if tz == chrono_tz::Tz::UTC {
        local.format("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        format!("{} ({})", local.format("%Y-%m-%d %H:%M %:z"), tz.name())
    }
}

/// The JSON body of a webhook call (schema version [`WEBHOOK_SCHEMA_VERSION`], see the README).
pub fn webhook_body(delivery: &Delivery) -> serde_json::Value {
    let payload = &delivery.payload;
    let story = &payload.story;
    let mut body = json!({
        "version": WEBHOOK_SCHEMA_VERSION,
        "event": "alert",
        "alert_id": delivery.alert_id,
        "delivery_id": delivery.idempotency_key,
        "topic": { "id": payload.topic_id, "name": payload.topic_name },
        "feed": { "id": story.feed, "name": payload.feed_name },
        "story": {
            "key": story.key,
            "title": story.title,
            "url": web_link(story.url.as_deref()),
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
    });
    // Only present when other outlets carried the same story (schema-compatible addition).
    if !payload.also_reported_by.is_empty() {
        body["also_reported_by"] = json!(payload.also_reported_by);
    }
    body
}

/// `url` when it is an http(s) link, else nothing: a `javascript:` or `data:` link from a feed
/// must not become clickable in a chat, a mail or a receiver's dashboard.
pub fn web_link(url: Option<&str>) -> Option<&str> {
    url.filter(|u| {
        let scheme = u.split_once(':').map_or("", |(s, _)| s);
        scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")
    })
    .filter(|u| u.contains("://"))
}

/// A one-line header value: control characters (CR/LF above all) become spaces, runs of
/// whitespace one space, and the result is cut at `max` characters. Applied after any template,
/// so that no title or template can inject mail headers.
pub fn header_line(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&clean, max)
}

/// The words as they stand in the story, each once, in order of appearance; a name found in
/// another spelling is followed by the watched one (`مكاري (name: ماكاري)`).
pub fn matched_words(payload: &AlertPayload) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for hit in &payload.hits {
        let text = payload.story.field_text(hit.field);
        let Some(word) = text.get(hit.token_span.clone()) else {
            continue;
        };
        let word = match text.get(hit.keyword_span.clone()) {
            Some(spelled) if hit.name && spelled != hit.keyword => {
                format!("{word} (name: {})", hit.keyword)
            }
            _ => word.to_owned(),
        };
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
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
    let spans: Vec<Range<usize>> = spans(payload, field)
        .into_iter()
        .filter(|s| s.start < s.end && s.end <= text.len())
        .filter(|s| text.is_char_boundary(s.start) && text.is_char_boundary(s.end))
        .collect();
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

/// `text` cut into pieces, the spans marked. Overlapping spans are merged into the first.
fn parts(text: &str, spans: &[Range<usize>]) -> Vec<Part> {
    let mut spans: Vec<Range<usize>> = spans
        .iter()
        .filter(|s| s.end <= text.len() && s.start < s.end)
        .filter(|s| text.is_char_boundary(s.start) && text.is_char_boundary(s.end))
        .cloned()
        .collect();
    spans.sort_by_key(|s| s.start);
    let mut out = Vec::new();
    let mut at = 0;
    let mut push = |text: &str, mark: bool| {
        if !text.is_empty() {
            out.push(Part {
                text: text.to_owned(),
                mark,
            });
        }
    };
    for span in spans {
        if span.start < at {
            continue;
        }
        push(&text[at..span.start], false);
        push(&text[span.clone()], true);
        at = span.end;
    }
    push(&text[at..], false);
    out
}

fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` in at most `max` characters: cut to `max - 1` and `…` when longer.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_owned();
    }
    match max.checked_sub(1) {
        Some(keep) => {
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..end])
        }
        None => String::new(),
    }
}

fn is_rtl_letter(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::sample::sample_delivery;

    #[test]
    fn clip_keeps_at_most_n_characters() {
        let cases = [
            ("shorter_is_kept", "abc", 5, "abc"),
            ("exactly_n_is_kept", "abcde", 5, "abcde"),
            ("one_over_is_cut_to_n", "abcdef", 5, "abcd…"),
            ("arabic_counts_characters", "بيان لداعش", 5, "بيان…"),
            ("zero_is_empty", "abc", 0, ""),
            ("one_is_the_ellipsis", "abc", 1, "…"),
        ];
        for (name, text, max, want) in cases {
            let got = truncate_chars(text, max);
            assert_eq!(got, want, "{name}");
            assert!(got.chars().count() <= max, "{name}");
        }
        let slack = "ب".repeat(3001);
        assert_eq!(truncate_chars(&slack, 3000).chars().count(), 3000);
    }

    #[test]
    fn header_lines_have_no_breaks_and_are_cut() {
        let cases = [
            ("crlf_becomes_space", "a\r\nBcc: x@y", 100, "a Bcc: x@y"),
            ("runs_of_space_collapse", "a \t  b", 100, "a b"),
            ("long_is_cut_to_max_with_the_ellipsis", "abcdef", 4, "abc…"),
            ("arabic_counts_characters", "داعش", 3, "دا…"),
        ];
        for (name, input, max, want) in cases {
            assert_eq!(header_line(input, max), want, "{name}");
        }
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn parts_mark_spans_and_skip_bad_ones() {
        let text = "هجوم لداعش اليوم";
        let at = text.find("لداعش").expect("present");
        type Case<'a> = (&'a str, Vec<Range<usize>>, Vec<(&'a str, bool)>);
        let cases: Vec<Case> = vec![
            (
                "one_span",
                vec![at..at + "لداعش".len()],
                vec![("هجوم ", false), ("لداعش", true), (" اليوم", false)],
            ),
            ("no_span", vec![], vec![(text, false)]),
            (
                "span_inside_a_letter_is_ignored",
                vec![1..3],
                vec![(text, false)],
            ),
            (
                "span_past_the_end_is_ignored",
                vec![0..999],
                vec![(text, false)],
            ),
        ];
        for (name, spans, want) in cases {
            let got: Vec<(String, bool)> = parts(text, &spans)
                .into_iter()
                .map(|p| (p.text, p.mark))
                .collect();
            let want: Vec<(String, bool)> =
                want.into_iter().map(|(t, m)| (t.to_owned(), m)).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn local_time_names_the_zone() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T08:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let cases = [
            ("utc", chrono_tz::Tz::UTC, "2026-11-29 08:00 UTC"),
            (
                "riyadh",
                chrono_tz::Asia::Riyadh,
                "2026-11-29 11:00 +03:00 (Asia/Riyadh)",
            ),
            (
                "new_york_in_winter",
                chrono_tz::America::New_York,
                "2026-11-29 03:00 -05:00 (America/New_York)",
            ),
        ];
        for (name, tz, want) in cases {
            assert_eq!(local_time(at, tz), want, "{name}");
        }
    }

    #[test]
    fn snippet_keeps_highlights_inside_the_window() {
        let mut delivery = sample_delivery();
        let summary = format!("{} داعش {}", "كلمة ".repeat(200), "نهاية ".repeat(200));
        let at = summary.find("داعش").expect("present");
        delivery.payload.story.summary = summary;
        delivery.payload.hits.truncate(1);
        delivery.payload.hits[0].field = Field::Summary;
        delivery.payload.hits[0].token_span = at..at + "داعش".len();
        let (text, spans) = snippet(&delivery.payload);
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].clone()], "داعش");
        assert!(text.starts_with('…') && text.ends_with('…'));
    }

    #[test]
    fn a_name_found_in_another_spelling_shows_the_watched_one() {
        let mut delivery = sample_delivery();
        let title = "قال المبعوث مكاري إن التحالف باق";
        let at = title.find("مكاري").expect("present");
        delivery.payload.story.title = title.into();
        delivery.payload.hits.truncate(1);
        let hit = &mut delivery.payload.hits[0];
        (hit.field, hit.keyword, hit.name) = (Field::Title, "ماكاري".into(), true);
        (hit.keyword_span, hit.token_span) = (at..at + "مكاري".len(), at..at + "مكاري".len());
        assert_eq!(matched_words(&delivery.payload), ["مكاري (name: ماكاري)"]);
        // Found as written, or as a plain keyword: the word alone.
        delivery.payload.hits[0].keyword = "مكاري".into();
        assert_eq!(matched_words(&delivery.payload), ["مكاري"]);
        delivery.payload.hits[0].keyword = "ماكاري".into();
        delivery.payload.hits[0].name = false;
        assert_eq!(matched_words(&delivery.payload), ["مكاري"]);
    }

    #[test]
    fn spans_that_do_not_fit_the_text_are_ignored() {
        let mut delivery = sample_delivery();
        delivery.payload.hits[1].token_span = 1..3;
        let (text, spans) = snippet(&delivery.payload);
        assert!(spans.is_empty());
        assert!(text.starts_with("قال"), "{text}");
    }

    #[test]
    fn only_web_links_reach_any_receiver() {
        let cases = [
            ("https_kept", "https://news.example/a", true),
            ("http_kept", "http://news.example/a", true),
            ("upper_case_scheme_kept", "HTTPS://news.example/a", true),
            ("javascript_dropped", "javascript:alert(1)", false),
            (
                "javascript_with_slashes_dropped",
                "javascript://%0Aalert(1)",
                false,
            ),
            (
                "data_dropped",
                "data:text/html,<script>alert(1)</script>",
                false,
            ),
            ("relative_dropped", "/a/b", false),
        ];
        for (name, url, kept) in cases {
            let mut delivery = sample_delivery();
            delivery.payload.story.url = Some(url.into());
            let shown = alert_view(&delivery, chrono_tz::Tz::UTC).url;
            assert_eq!(shown.is_some(), kept, "{name}: view");
            let body = webhook_body(&delivery);
            assert_eq!(body["story"]["url"].is_string(), kept, "{name}: JSON body");
        }
    }

    #[test]
    fn other_outlets_of_the_story_are_shown_only_when_there_are_some() {
        let alone = sample_delivery();
        assert!(webhook_body(&alone).get("also_reported_by").is_none());
        let mut joined = sample_delivery();
        joined.payload.also_reported_by = vec!["الجزيرة".into(), "BBC\nعربي".into()];
        assert_eq!(
            webhook_body(&joined)["also_reported_by"],
            json!(["الجزيرة", "BBC\nعربي"])
        );
        let view = alert_view(&joined, chrono_tz::Tz::UTC);
        assert_eq!(view.also_reported_by, vec!["الجزيرة", "BBC عربي"]);
    }

    #[test]
    fn a_digest_groups_by_topic_in_order_of_first_appearance() {
        let a = sample_delivery();
        let mut b = sample_delivery();
        b.payload.topic_id = "coalition".into();
        b.payload.topic_name = "التحالف".into();
        let c = sample_delivery();
        let view = message_view(&[&a, &b, &c], chrono_tz::Tz::UTC, None);
        assert!(view.digest);
        let groups: Vec<(&str, usize)> = view
            .groups
            .iter()
            .map(|g| (g.topic_id.as_str(), g.alerts.len()))
            .collect();
        assert_eq!(groups, [("isis", 2), ("coalition", 1)]);
        assert_eq!(view.body["event"], "digest");
        assert_eq!(view.body["alerts"].as_array().map(Vec::len), Some(3));
    }
}
