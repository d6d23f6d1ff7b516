//! Sample alerts, one Arabic and one Latin, with fixed times: what `rasad notify-test` sends,
//! and what the rendering tests and snapshots render.

use chrono::{DateTime, Utc};

use crate::model::{AlertPayload, Delivery, Field, Hit, Story};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a fixed, valid time")
        .with_timezone(&Utc)
}

/// The hit on `word` inside the story's `field`.
fn hit_on(story: &Story, topic: &str, keyword: &str, field: Field, word: &str) -> Hit {
    let start = story
        .field_text(field)
        .find(word)
        .expect("the sample word is in the sample text");
    let span = start..start + word.len();
    Hit {
        topic: Some(topic.to_owned()),
        keyword: keyword.to_owned(),
        name: false,
        field,
        snippet: String::new(),
        keyword_span: span.clone(),
        token_span: span,
    }
}

/// An Arabic story about داعش, matched in its title and summary.
pub fn sample_delivery() -> Delivery {
    let summary = "قال مسؤول أمني إن عناصر من داعش هاجموا حاجزاً عسكرياً قرب الحدود فجر اليوم، \
                   وإن قوات التحالف ردّت بغارات على مواقع التنظيم.";
    let story = Story {
        feed: "sample".into(),
        key: "sample-1".into(),
        title: "بيان لداعش يتبنى الهجوم على الحاجز".into(),
        summary_html: format!("<p>{summary}</p>"),
        summary: summary.into(),
        content_html: String::new(),
        content: String::new(),
        url: Some("https://news.example/ar/2026/11/29/hajiz?id=1&lang=ar".into()),
        guid: None,
        published: Some(at("2026-11-29T08:00:00Z")),
        fetched: at("2026-11-29T08:02:00Z"),
    };
    let hits = vec![
        hit_on(&story, "isis", "داعش", Field::Title, "لداعش"),
        hit_on(&story, "isis", "داعش", Field::Summary, "داعش"),
    ];
    delivery(
        AlertPayload {
            topic_id: "isis".into(),
            topic_name: "داعش".into(),
            feed_name: "وكالة الأنباء التجريبية".into(),
            story,
            hits,
            also_reported_by: Vec::new(),
        },
        "0193c0de-0000-7000-8000-000000000001",
    )
}

/// An English story about ISIS, matched in its title and summary.
pub fn sample_latin_delivery() -> Delivery {
    let summary = "Security officials said ISIS fighters attacked a checkpoint near the border \
                   before dawn; coalition aircraft struck the group's positions in response.";
    let story = Story {
        feed: "sample-en".into(),
        key: "sample-2".into(),
        title: "ISIS claims attack on border checkpoint".into(),
        summary_html: summary.into(),
        summary: summary.into(),
        content_html: String::new(),
        content: String::new(),
        url: Some("https://news.example/en/2026/11/29/checkpoint".into()),
        guid: None,
        published: Some(at("2026-11-29T08:00:00Z")),
        fetched: at("2026-11-29T08:02:00Z"),
    };
    let hits = vec![
        hit_on(&story, "isis", "ISIS", Field::Title, "ISIS"),
        hit_on(&story, "isis", "ISIS", Field::Summary, "ISIS"),
    ];
    delivery(
        AlertPayload {
            topic_id: "isis".into(),
            topic_name: "ISIS".into(),
            feed_name: "Sample Wire".into(),
            story,
            hits,
            also_reported_by: Vec::new(),
        },
        "0193c0de-0000-7000-8000-000000000002",
    )
}

fn delivery(payload: AlertPayload, key: &str) -> Delivery {
    Delivery {
        id: 0,
        alert_id: 0,
        cluster_id: 0,
        channel: String::new(),
        idempotency_key: key.to_owned(),
        attempts: 0,
        created_at: payload.story.fetched,
        payload,
        lease_token: 0,
        message_key: None,
    }
}
