//! What the analyst's desk reads and writes in the store, on every backend: managed topics and
//! their revision, recent alerts with matched words, other outlets and delivery states, and a
//! story with its cluster.

use std::time::Duration;

use rasad::model::{Field, Hit};
use rasad::store::{AlertQuery, DeliveryUpdate, Store};
use serde_json::json;

use crate::store::{LEAD, TITLE, backends, now, planned, poll, story};

#[tokio::test]
async fn managed_topics_are_saved_replaced_and_deleted_and_each_change_bumps_the_revision() {
    for backend in backends("managed_topics").await {
        let name = backend.name();
        let (a, b) = (backend.open("a").await, backend.open("b").await);
        let start = a.topics_revision().await.unwrap();
        assert!(a.managed_topics().await.unwrap().is_empty(), "{name}");

        let first = json!({"id": "ports", "any": ["مرفأ"]});
        let at = now();
        assert!(
            a.save_managed_topic("ports", &first, at).await.unwrap(),
            "{name}: created"
        );
        let after_create = b.topics_revision().await.unwrap();
        assert_ne!(
            after_create, start,
            "{name}: the other store sees the change"
        );

        let second = json!({"id": "ports", "any": ["ميناء"], "notify": ["ops"]});
        let later = at + chrono::Duration::seconds(5);
        assert!(
            !b.save_managed_topic("ports", &second, later).await.unwrap(),
            "{name}: a second save replaces"
        );
        let after_replace = a.topics_revision().await.unwrap();
        assert_ne!(after_replace, after_create, "{name}");

        let topics = a.managed_topics().await.unwrap();
        assert_eq!(topics.len(), 1, "{name}");
        assert_eq!(
            (
                &topics[0].id,
                &topics[0].rule,
                topics[0].created_at,
                topics[0].updated_at
            ),
            (&"ports".to_owned(), &second, at, later),
            "{name}: the new rule, the first creation time"
        );

        assert!(!a.delete_managed_topic("absent").await.unwrap(), "{name}");
        assert_eq!(
            a.topics_revision().await.unwrap(),
            after_replace,
            "{name}: deleting nothing changes nothing"
        );
        assert!(b.delete_managed_topic("ports").await.unwrap(), "{name}");
        assert_ne!(a.topics_revision().await.unwrap(), after_replace, "{name}");
        assert!(a.managed_topics().await.unwrap().is_empty(), "{name}");
        a.close().await;
        b.close().await;
    }
}

/// A hit of `keyword` on the word `token` of `text` (the story's title).
fn hit_in_title(text: &str, keyword: &str, token: &str) -> Hit {
    let start = text.find(token).expect("the token is in the text");
    Hit {
        topic: Some("t".to_owned()),
        keyword: keyword.to_owned(),
        name: false,
        field: Field::Title,
        keyword_span: start..start + token.len(),
        token_span: start..start + token.len(),
        snippet: text.to_owned(),
    }
}

/// Outlet Y carries the story, then Outlet X alerts on it (delivered to `ops`, pending for
/// `desk`); an hour later another story alerts on feed `z`.
async fn record_alerts(store: &Store, at: chrono::DateTime<chrono::Utc>) {
    let link = "https://outlet.test/a";
    let mut x = planned(story("x", "1", TITLE, LEAD, link), Some("t"), false);
    x.alerts[0].payload.hits = vec![
        hit_in_title(TITLE, "بيروت", "بيروت"),
        hit_in_title(TITLE, "قتلى", "القتلى"),
    ];
    let y = planned(story("y", "1", TITLE, LEAD, link), None, false);
    store.record_poll(&poll("y", at, vec![y])).await.unwrap();
    store.record_poll(&poll("x", at, vec![x])).await.unwrap();
    let claimed = store
        .claim_due("ops", at, 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        store
            .record_outcome(&claimed[0], at, &DeliveryUpdate::Delivered, "250 ok")
            .await
            .unwrap()
    );
    let other = "زلزال بقوة ست درجات يضرب جنوب تركيا";
    let z = planned(
        story("z", "1", other, "", "https://z.test/b"),
        Some("u"),
        false,
    );
    let hour = chrono::Duration::hours(1);
    store
        .record_poll(&poll("z", at + hour, vec![z]))
        .await
        .unwrap();
}

#[tokio::test]
async fn recent_alerts_list_matched_words_other_outlets_and_deliveries_newest_first() {
    for backend in backends("recent_alerts").await {
        let name = backend.name();
        let store = backend.open("a").await;
        let at = now();
        record_alerts(&store, at).await;
        let all = |limit| AlertQuery {
            limit,
            ..AlertQuery::default()
        };

        let alerts = store.recent_alerts(&all(10)).await.unwrap();
        let topics: Vec<&str> = alerts.iter().map(|a| a.topic.as_str()).collect();
        assert_eq!(topics, ["u", "t"], "{name}: newest first");
        let t = &alerts[1];
        assert_eq!(
            (t.feed.as_str(), t.outlet.as_str(), t.title.as_str()),
            ("x", "Outlet x", TITLE),
            "{name}"
        );
        assert_eq!(t.url.as_deref(), Some("https://outlet.test/a"), "{name}");
        assert_eq!((t.first_seen_at, t.raised_at), (at, at), "{name}");
        assert_eq!(t.also_reported_by, ["Outlet y"], "{name}");
        let words: Vec<(&str, &str, &str)> = t
            .matched
            .iter()
            .map(|m| {
                (
                    m.keyword.as_str(),
                    m.matched.as_str(),
                    &m.snippet[m.start..m.end],
                )
            })
            .collect();
        assert_eq!(
            words,
            [("بيروت", "بيروت", "بيروت"), ("قتلى", "القتلى", "القتلى")],
            "{name}: each word's range in its snippet"
        );
        assert_eq!(t.matched[0].snippet, TITLE, "{name}");
        let states: Vec<(&str, &str, u32)> = t
            .deliveries
            .iter()
            .map(|d| (d.channel.as_str(), d.state.as_str(), d.attempts))
            .collect();
        assert_eq!(
            states,
            [("ops", "delivered", 1), ("desk", "pending", 0)],
            "{name}"
        );
        assert_eq!(t.deliveries[0].next_attempt_at, None, "{name}");
        assert!(t.deliveries[1].next_attempt_at.is_some(), "{name}");

        let newest = store.recent_alerts(&all(1)).await.unwrap();
        assert_eq!(newest.len(), 1, "{name}: the limit holds");
        assert_eq!(newest[0].topic, "u", "{name}");
        let of_t = AlertQuery {
            limit: 10,
            topic: Some("t".to_owned()),
            since: None,
        };
        let only_t = store.recent_alerts(&of_t).await.unwrap();
        assert_eq!(only_t.len(), 1, "{name}");
        assert_eq!(only_t[0].id, t.id, "{name}");
        let recent = AlertQuery {
            limit: 10,
            topic: None,
            since: Some(at + chrono::Duration::minutes(30)),
        };
        let since: Vec<String> = store
            .recent_alerts(&recent)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.topic)
            .collect();
        assert_eq!(since, ["u"], "{name}: older alerts are left out");

        let view = store.story_view(t.story_id).await.unwrap().expect("stored");
        let cluster: Vec<(&str, Option<&str>)> = view
            .cluster
            .iter()
            .map(|s| (s.feed.as_str(), s.outlet.as_deref()))
            .collect();
        assert_eq!(
            cluster,
            [("y", Some("Outlet y")), ("x", Some("Outlet x"))],
            "{name}: the cluster, oldest first"
        );
        assert_eq!(view.story.id, t.story_id, "{name}");
        assert_eq!(view.story.cluster_id, t.cluster_id, "{name}");
        assert_eq!(view.story.summary.as_deref(), Some(LEAD), "{name}");
        let alone = store.story_view(alerts[0].story_id).await.unwrap();
        assert_eq!(alone.map(|v| v.cluster.len()), Some(1), "{name}");
        assert_eq!(store.story_view(i64::MAX).await.unwrap(), None, "{name}");
        store.close().await;
    }
}
