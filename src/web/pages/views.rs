//! What each page shows, as plain serialisable cards built from the store's views: times
//! written once (UTC, left-to-right), the matched word cut out of its snippet for a `<mark>`,
//! states named in Arabic. Pure: no I/O, so that every rule here is tested without a server.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Topic;
use crate::source::health::FeedRow;
use crate::store::{AlertView, DeliveryView, MatchedWord, OutboxEntry, StoryBrief};

/// The most characters of a link shown on a card (the whole link stays in `href`).
pub(super) const SHOWN_URL_CHARS: usize = 70;

/// A time as the desk writes it: minutes, in UTC, so that every analyst reads the same clock.
pub(super) fn written_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn written_optional(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), written_time)
}

/// A link without its scheme, cut to [`SHOWN_URL_CHARS`] characters.
pub(super) fn shown_url(url: &str) -> String {
    let bare = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    if bare.chars().count() <= SHOWN_URL_CHARS {
        return bare.to_owned();
    }
    let mut cut: String = bare.chars().take(SHOWN_URL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The text before, of and after the byte range `start..end` of `snippet`. A range that does
/// not fit the snippet or cuts a character marks nothing: the snippet is shown whole.
pub(super) fn split_highlight(snippet: &str, start: usize, end: usize) -> (&str, &str, &str) {
    let fits = start <= end
        && end <= snippet.len()
        && snippet.is_char_boundary(start)
        && snippet.is_char_boundary(end);
    if !fits {
        return (snippet, "", "");
    }
    (&snippet[..start], &snippet[start..end], &snippet[end..])
}

/// One matched word, ready for `{{ before }}<mark>{{ mark }}</mark>{{ after }}`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(super) struct MarkedWord {
    pub keyword: String,
    pub field: &'static str,
    pub before: String,
    pub mark: String,
    pub after: String,
}

impl From<&MatchedWord> for MarkedWord {
    fn from(word: &MatchedWord) -> MarkedWord {
        let (before, mark, after) = split_highlight(&word.snippet, word.start, word.end);
        MarkedWord {
            keyword: word.keyword.clone(),
            field: field_label(word.field.as_str()),
            before: before.to_owned(),
            mark: mark.to_owned(),
            after: after.to_owned(),
        }
    }
}

/// A story field's name in Arabic.
pub(super) fn field_label(field: &str) -> &'static str {
    match field {
        "title" => "العنوان",
        "summary" => "الملخص",
        "content" => "النص",
        _ => "حقل",
    }
}

/// A delivery or outbox state in Arabic (the state itself stays in the class name).
pub(super) fn state_label(state: &str) -> &'static str {
    match state {
        "pending" => "في الانتظار",
        "retrying" => "يُعاد بعد فشل",
        "in_flight" => "يُرسل الآن",
        "delivered" => "أُرسل",
        "dead" => "فشل نهائيًا",
        _ => "غير معروف",
    }
}

/// One channel's delivery of an alert.
#[derive(Debug, Serialize)]
pub(super) struct DeliveryBadge {
    pub channel: String,
    pub state: String,
    pub state_label: &'static str,
    /// Attempts and the last error, for the badge's tooltip.
    pub detail: String,
}

impl From<&DeliveryView> for DeliveryBadge {
    fn from(d: &DeliveryView) -> DeliveryBadge {
        let mut detail = format!("attempts: {}", d.attempts);
        if let Some(error) = &d.last_error {
            detail.push_str(" — ");
            detail.push_str(error);
        }
        DeliveryBadge {
            channel: d.channel.clone(),
            state: d.state.clone(),
            state_label: state_label(&d.state),
            detail,
        }
    }
}

/// An alert on the alerts page.
#[derive(Debug, Serialize)]
pub(super) struct AlertCard {
    pub id: i64,
    pub story_id: i64,
    pub topic: String,
    pub topic_name: String,
    pub outlet: String,
    pub title: String,
    pub url: Option<String>,
    pub url_short: String,
    /// Published, else first seen.
    pub time: String,
    pub time_iso: String,
    pub matched: Vec<MarkedWord>,
    pub also_reported_by: Vec<String>,
    pub deliveries: Vec<DeliveryBadge>,
}

impl From<&AlertView> for AlertCard {
    fn from(a: &AlertView) -> AlertCard {
        let at = a.published.unwrap_or(a.first_seen_at);
        AlertCard {
            id: a.id,
            story_id: a.story_id,
            topic: a.topic.clone(),
            topic_name: a.topic_name.clone(),
            outlet: a.outlet.clone(),
            title: a.title.clone(),
            url_short: a.url.as_deref().map(shown_url).unwrap_or_default(),
            url: a.url.clone(),
            time: written_time(at),
            time_iso: at.to_rfc3339(),
            matched: a.matched.iter().map(MarkedWord::from).collect(),
            also_reported_by: a.also_reported_by.clone(),
            deliveries: a.deliveries.iter().map(DeliveryBadge::from).collect(),
        }
    }
}

/// A story of a cluster.
#[derive(Debug, Serialize)]
pub(super) struct StoryCard {
    pub id: i64,
    pub outlet: String,
    pub title: String,
    pub url: Option<String>,
    pub url_short: String,
    pub time: String,
    pub time_iso: String,
    pub summary: Option<String>,
}

impl From<&StoryBrief> for StoryCard {
    fn from(s: &StoryBrief) -> StoryCard {
        let at = s.published.unwrap_or(s.first_seen_at);
        StoryCard {
            id: s.id,
            outlet: s.outlet.clone().unwrap_or_else(|| s.feed.clone()),
            title: s.title.clone(),
            url_short: s.url.as_deref().map(shown_url).unwrap_or_default(),
            url: s.url.clone(),
            time: written_time(at),
            time_iso: at.to_rfc3339(),
            summary: s.summary.clone(),
        }
    }
}

/// A feed's health.
#[derive(Debug, Serialize)]
pub(super) struct FeedCard {
    pub id: String,
    pub url: String,
    /// `ok`, `failing`, `FAILING` or `never` (the CSS class).
    pub state_class: &'static str,
    pub state_label: &'static str,
    pub last_status: Option<String>,
    pub last_success: String,
    pub next_poll: String,
    pub consecutive_failures: u32,
    pub items_seen: u64,
    pub last_error: Option<String>,
    pub moved_to: Option<String>,
}

impl From<&FeedRow> for FeedCard {
    fn from(row: &FeedRow) -> FeedCard {
        let (state_class, state_label) = match row.state {
            "ok" => ("ok", "سليم"),
            "failing" => ("failing", "متعثّر"),
            "FAILING" => ("FAILING", "متعثّر منذ يوم أو أكثر"),
            _ => ("never", "لم يُقرأ بعد"),
        };
        let h = &row.health;
        FeedCard {
            id: row.id.clone(),
            url: h.url.clone(),
            state_class,
            state_label,
            last_status: h.last_status.as_deref().map(written_status),
            last_success: written_optional(h.last_success_at),
            next_poll: written_optional(h.next_poll_at),
            consecutive_failures: h.consecutive_failures,
            items_seen: h.items_seen,
            last_error: h.last_error.clone(),
            moved_to: h.moved_to.clone(),
        }
    }
}

/// A feed's last answer: an HTTP status as "HTTP 200", anything else (`error`, `parse`) as is.
fn written_status(status: &str) -> String {
    if !status.is_empty() && status.bytes().all(|b| b.is_ascii_digit()) {
        format!("HTTP {status}")
    } else {
        status.to_owned()
    }
}

/// One delivery waiting in the outbox.
#[derive(Debug, Serialize)]
pub(super) struct OutboxCard {
    pub id: i64,
    pub channel: String,
    pub state: String,
    pub state_label: &'static str,
    pub attempts: u32,
    pub topic: String,
    pub title: String,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub held_by: Option<String>,
    /// Only a dead delivery gets a retry button: the others are still on their way.
    pub dead: bool,
}

impl From<&OutboxEntry> for OutboxCard {
    fn from(e: &OutboxEntry) -> OutboxCard {
        OutboxCard {
            id: e.id,
            channel: e.channel.clone(),
            state: e.state.clone(),
            state_label: state_label(&e.state),
            attempts: e.attempts,
            topic: e.topic.clone(),
            title: e.title.clone(),
            created_at: written_time(e.created_at),
            next_attempt_at: e.next_attempt_at.map(written_time),
            last_error: e.last_error.clone(),
            held_by: e.held_by.clone(),
            dead: e.state == "dead",
        }
    }
}

/// A topic, from the config file or saved on the desk.
#[derive(Debug, Serialize)]
pub(super) struct TopicCard {
    pub id: String,
    pub name: String,
    /// `config` or `managed`.
    pub source: &'static str,
    pub any: Vec<String>,
    pub all: Vec<String>,
    pub none: Vec<String>,
    pub fields: Vec<&'static str>,
    pub notify: Vec<String>,
    /// Why a saved topic no longer applies (it fails the checks of the running config).
    pub problems: Vec<String>,
}

impl TopicCard {
    pub(super) fn new(topic: &Topic, source: &'static str) -> TopicCard {
        let terms =
            |list: &[crate::matcher::KeywordSpec]| list.iter().map(|k| k.term.clone()).collect();
        TopicCard {
            id: topic.id.clone(),
            name: topic.name.clone(),
            source,
            any: terms(&topic.any),
            all: terms(&topic.all),
            none: terms(&topic.none),
            fields: topic
                .fields
                .iter()
                .map(|f| field_label(f.as_str()))
                .collect(),
            notify: topic.notify.clone(),
            problems: Vec::new(),
        }
    }

    /// A saved topic that the running config refuses, shown with the reasons.
    pub(super) fn refused(id: &str, problems: Vec<String>) -> TopicCard {
        TopicCard {
            id: id.to_owned(),
            name: id.to_owned(),
            source: "managed",
            any: Vec::new(),
            all: Vec::new(),
            none: Vec::new(),
            fields: Vec::new(),
            notify: Vec::new(),
            problems,
        }
    }
}

/// A choice of a `<select>`: the value sent and its label.
#[derive(Debug, Serialize)]
pub(super) struct Choice {
    pub value: &'static str,
    pub label: &'static str,
}

/// How far back the alerts page and the try-it box look.
pub(super) const SINCE_CHOICES: [Choice; 4] = [
    Choice {
        value: "1d",
        label: "يوم",
    },
    Choice {
        value: "7d",
        label: "أسبوع",
    },
    Choice {
        value: "30d",
        label: "شهر",
    },
    Choice {
        value: "365d",
        label: "سنة",
    },
];

/// The fields a topic may search.
pub(super) const FIELD_CHOICES: [Choice; 3] = [
    Choice {
        value: "title",
        label: "العنوان",
    },
    Choice {
        value: "summary",
        label: "الملخص",
    },
    Choice {
        value: "content",
        label: "النص",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_highlight_marks_the_range_or_nothing() {
        let snippet = "بيان لداعش اليوم";
        let start = snippet.find("لداعش").expect("present");
        let end = start + "لداعش".len();
        let cases = [
            ("arabic_word", start, end, ("بيان ", "لداعش", " اليوم")),
            ("empty_range", 0, 0, ("", "", snippet)),
            ("past_the_end", start, snippet.len() + 1, (snippet, "", "")),
            ("inside_a_letter", start + 1, end, (snippet, "", "")),
            ("reversed", end, start, (snippet, "", "")),
        ];
        for (name, s, e, want) in cases {
            assert_eq!(split_highlight(snippet, s, e), want, "{name}");
        }
    }

    #[test]
    fn shown_url_drops_the_scheme_and_cuts_long_links() {
        assert_eq!(shown_url("https://outlet.test/a"), "outlet.test/a");
        assert_eq!(shown_url("ftp://x"), "ftp://x");
        let long = format!("http://outlet.test/{}", "ب".repeat(200));
        let shown = shown_url(&long);
        assert_eq!(shown.chars().count(), SHOWN_URL_CHARS);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn written_time_is_utc_to_the_minute() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T08:00:59+03:00")
            .expect("a time")
            .with_timezone(&Utc);
        assert_eq!(written_time(at), "2026-11-29 05:00 UTC");
    }

    /// An alert's card: the matched word cut out for its mark, the time published (else first
    /// seen), every channel's state named.
    #[test]
    fn an_alert_card_marks_its_words_and_names_each_delivery_state() {
        let seen = Utc::now();
        let snippet = "بيان لداعش عن الهجوم";
        let start = snippet.find("لداعش").expect("present");
        let delivery = |channel: &str, state: &str| DeliveryView {
            id: 1,
            channel: channel.into(),
            state: state.into(),
            attempts: 1,
            last_error: (state == "dead").then(|| "HTTP 400".to_owned()),
            next_attempt_at: None,
        };
        let view = AlertView {
            id: 7,
            story_id: 3,
            cluster_id: 3,
            topic: "isis".into(),
            topic_name: "داعش".into(),
            feed: "news".into(),
            outlet: "Outlet news".into(),
            title: snippet.into(),
            url: Some("https://outlet.test/n2".into()),
            published: None,
            first_seen_at: seen,
            raised_at: seen,
            matched: vec![MatchedWord {
                keyword: "داعش".into(),
                field: crate::model::Field::Title,
                matched: "لداعش".into(),
                snippet: snippet.into(),
                start,
                end: start + "لداعش".len(),
            }],
            also_reported_by: vec!["Outlet wire".into()],
            deliveries: vec![delivery("desk", "delivered"), delivery("ops", "dead")],
        };
        let card = AlertCard::from(&view);
        assert_eq!(card.time, written_time(seen));
        assert_eq!(card.url_short, "outlet.test/n2");
        let word = &card.matched[0];
        assert_eq!(
            (word.before.as_str(), word.mark.as_str()),
            ("بيان ", "لداعش")
        );
        assert_eq!(word.field, "العنوان");
        let labels: Vec<_> = card.deliveries.iter().map(|d| d.state_label).collect();
        assert_eq!(labels, ["أُرسل", "فشل نهائيًا"]);
        assert!(card.deliveries[1].detail.contains("HTTP 400"));
    }

    #[test]
    fn only_dead_deliveries_can_be_retried() {
        let entry = |state: &str| OutboxEntry {
            id: 1,
            channel: "ops".into(),
            state: state.into(),
            attempts: 3,
            topic: "isis".into(),
            title: "t".into(),
            created_at: Utc::now(),
            next_attempt_at: None,
            last_error: None,
            held_by: None,
        };
        for (state, dead) in [
            ("dead", true),
            ("pending", false),
            ("retrying", false),
            ("in_flight", false),
        ] {
            let card = OutboxCard::from(&entry(state));
            assert_eq!(card.dead, dead, "{state}");
            assert_ne!(card.state_label, "غير معروف", "{state}");
        }
    }
}
