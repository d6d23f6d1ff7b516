//! The store contract, written once and run against every backend: a SQLite file always, and a
//! PostgreSQL database of the test's own when `RASAD_TEST_POSTGRES_URL` is set. Then what only
//! a shared database must show: concurrent starts migrate once, two instances recording copies
//! of one story alert once, and feeds are leased to one instance at a time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rasad::config::StateLocation;
use rasad::dedupe::{ClusterPolicy, canonical_url, content_hash, fingerprint, identities};
use rasad::model::{AlertPayload, Story};
use rasad::source::fetch::Validators;
use rasad::store::{
    DeliveryUpdate, FeedEntry, NewAlert, NewStory, PollAttempt, PollHints, PollRecord, Store,
};

use crate::pg::TestDatabase;

/// One backend under test; the PostgreSQL database is dropped with it.
pub(crate) enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Backend {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    fn location(&self) -> StateLocation {
        match self {
            Backend::Sqlite(dir) => StateLocation::File(dir.path().join("state.db")),
            Backend::Postgres(db) => StateLocation::Postgres(db.url.clone()),
        }
    }

    /// A store on this backend, holding leases as `instance`.
    pub(crate) async fn open(&self, instance: &str) -> Store {
        Store::open(self.location())
            .await
            .unwrap_or_else(|e| panic!("{}: the store opens: {e}", self.name()))
            .with_instance(instance)
    }
}

/// SQLite, and PostgreSQL when configured.
pub(crate) async fn backends(test: &str) -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite(tempfile::tempdir().expect("a folder"))];
    if let Some(db) = TestDatabase::create(test).await {
        all.push(Backend::Postgres(db));
    }
    all
}

pub(crate) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("a time")
}

fn feed_url(feed: &str) -> String {
    format!("https://{feed}.test/rss")
}

/// An item of `feed` with guid `guid`, linking to `link`.
pub(crate) fn story(feed: &str, guid: &str, title: &str, summary: &str, link: &str) -> Story {
    Story {
        feed: feed.to_owned(),
        key: format!("guid:{guid}"),
        title: title.to_owned(),
        summary_html: summary.to_owned(),
        summary: summary.to_owned(),
        content_html: String::new(),
        content: String::new(),
        url: Some(link.to_owned()),
        guid: Some(guid.to_owned()),
        published: None,
        fetched: Utc::now(),
    }
}

/// The story as the pipeline plans it; with `topic`, one alert to the `ops` and `desk` channels.
pub(crate) fn planned(story: Story, topic: Option<&str>, edited: bool) -> NewStory {
    let alerts = topic
        .map(|topic| NewAlert {
            payload: AlertPayload {
                topic_id: topic.to_owned(),
                topic_name: topic.to_owned(),
                feed_name: format!("Outlet {}", story.feed),
                story: story.clone(),
                hits: Vec::new(),
                also_reported_by: Vec::new(),
            },
            channels: vec!["ops".to_owned(), "desk".to_owned()],
        })
        .into_iter()
        .collect();
    NewStory {
        canonical_url: story.url.as_deref().and_then(canonical_url),
        outlet: format!("Outlet {}", story.feed),
        fingerprint: fingerprint(&story.title, &story.summary),
        identities: identities(&story, &feed_url(&story.feed)),
        content_hash: content_hash(&story.title, &story.summary),
        edited,
        alerts,
        story,
    }
}

pub(crate) fn poll(feed: &str, at: DateTime<Utc>, stories: Vec<NewStory>) -> PollRecord {
    PollRecord {
        feed_id: feed.to_owned(),
        url: feed_url(feed),
        validators: Validators {
            etag: Some(format!("\"{feed}-1\"")),
            last_modified: None,
        },
        at,
        next_poll_at: at + chrono::Duration::minutes(5),
        items: stories.len(),
        stories,
        cluster_policy: ClusterPolicy::default(),
        hints: PollHints::default(),
    }
}

pub(crate) const TITLE: &str = "انفجار في مرفأ بيروت يوقع عشرات القتلى والجرحى";
pub(crate) const LEAD: &str = "هز انفجار ضخم مرفأ بيروت مساء الثلاثاء وأوقع عشرات القتلى ومئات الجرحى ودمر مباني في محيط المرفأ";

#[tokio::test]
async fn store_records_polls_with_one_alert_per_cluster_and_topic() {
    for backend in backends("store_records_polls").await {
        let name = backend.name();
        let store = backend.open("a").await;
        let at = now();
        assert_eq!(
            store.feed_state("f1", &feed_url("f1")).await.unwrap(),
            Default::default(),
            "{name}: an unknown feed has the default state"
        );
        let s1 = story("f1", "1", TITLE, LEAD, "https://outlet.test/a?utm_source=x");
        let s2 = story(
            "f1",
            "2",
            "خبر آخر",
            "نص لا علاقة له",
            "https://outlet.test/b",
        );
        let counts = store
            .record_poll(&poll(
                "f1",
                at,
                vec![
                    planned(s1.clone(), Some("t"), false),
                    planned(s2, None, false),
                ],
            ))
            .await
            .unwrap();
        assert_eq!(
            (counts.new_stories, counts.alerts, counts.deliveries),
            (2, 1, 2),
            "{name}: one alert with a delivery per channel"
        );
        let state = store.feed_state("f1", &feed_url("f1")).await.unwrap();
        assert_eq!(state.validators.etag.as_deref(), Some("\"f1-1\""), "{name}");
        assert_eq!(state.first_success_at, Some(at), "{name}");
        assert_eq!(state.next_poll_at, Some(at + chrono::Duration::minutes(5)));
        let moved = store
            .feed_state("f1", "https://elsewhere.test/rss")
            .await
            .unwrap();
        assert_eq!(
            moved.validators,
            Validators::default(),
            "{name}: validators follow the URL"
        );

        let keys = vec!["guid:1".to_owned(), "guid:9".to_owned()];
        let known = store.known_keys("f1", &keys).await.unwrap();
        assert_eq!(known.len(), 1, "{name}");
        assert_eq!(known["guid:1"], Some(content_hash(TITLE, LEAD)), "{name}");

        // A repeat records nothing; an edit updates in place and alerts only for new topics.
        let repeat = store
            .record_poll(&poll("f1", at, vec![planned(s1.clone(), Some("t"), false)]))
            .await
            .unwrap();
        assert_eq!(
            (repeat.new_stories, repeat.alerts),
            (0, 0),
            "{name}: repeat"
        );
        let mut edited = s1.clone();
        edited.title = format!("{TITLE} (محدث)");
        let edit = store
            .record_poll(&poll(
                "f1",
                at,
                vec![planned(edited.clone(), Some("t"), true)],
            ))
            .await
            .unwrap();
        assert_eq!(
            (edit.edited, edit.alerts),
            (1, 0),
            "{name}: edit, same topic"
        );
        let edit = store
            .record_poll(&poll("f1", at, vec![planned(edited, Some("u"), true)]))
            .await
            .unwrap();
        assert_eq!(
            (edit.edited, edit.alerts),
            (1, 1),
            "{name}: edit, new topic"
        );

        // Another feed carries the same link: one cluster, no second alert for `t`.
        let copy = story("f2", "x7", "عنوان مختلف تماما", "", "https://outlet.test/a");
        let joined = store
            .record_poll(&poll("f2", at, vec![planned(copy, Some("t"), false)]))
            .await
            .unwrap();
        assert_eq!(
            (joined.new_stories, joined.joined, joined.alerts),
            (1, 1, 0),
            "{name}: joined by identity"
        );
        // A third feed carries the same text under another link: joined by fingerprint.
        let rewrite = story("f3", "z", TITLE, LEAD, "https://other.test/story/1");
        let joined = store
            .record_poll(&poll("f3", at, vec![planned(rewrite, Some("t"), false)]))
            .await
            .unwrap();
        assert_eq!(
            (joined.joined, joined.alerts),
            (1, 0),
            "{name}: joined by fingerprint"
        );
        let c1 = store
            .story_clusters("f1", &["guid:1".into()])
            .await
            .unwrap();
        let c3 = store
            .story_clusters("f3", &["guid:z".into()])
            .await
            .unwrap();
        assert_eq!(c1["guid:1"], c3["guid:z"], "{name}: one cluster");
        let times = store.recent_item_times("f1", 10).await.unwrap();
        assert_eq!(times, vec![at, at], "{name}");
        store.close().await;
    }
}

/// Two feeds of one outlet carry a story that a third outlet carried too: the alert names the
/// third outlet only, when it is raised as when it is sent (the list read when raising it once
/// named the alert's own outlet, and the list read when sending it, shorter, did not replace it).
#[tokio::test]
async fn also_reported_by_never_names_the_alerts_own_outlet() {
    for backend in backends("also_reported_by_own_outlet").await {
        let name = backend.name();
        let store = backend.open("a").await;
        let at = now();
        let link = "https://outlet.test/a";
        let by = |feed: &str, outlet: &str, topic: Option<&str>| {
            let mut new = planned(story(feed, feed, TITLE, LEAD, link), topic, false);
            new.outlet = outlet.to_owned();
            for alert in &mut new.alerts {
                alert.payload.feed_name = outlet.to_owned();
            }
            poll(feed, at, vec![new])
        };
        for record in [
            by("x1", "Outlet X", None),
            by("y1", "Outlet Y", None),
            by("x2", "Outlet X", Some("t")),
        ] {
            store.record_poll(&record).await.unwrap();
        }
        let claimed = store
            .claim_due("ops", at, 10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "{name}: one alert for the story");
        assert_eq!(
            claimed[0].payload.also_reported_by,
            vec!["Outlet Y".to_owned()],
            "{name}"
        );
        store.close().await;
    }
}

/// A poll's stories are written together: each still joins the cluster of a story earlier in
/// the same poll that shares its link, and the alert sent names the other outlets of the
/// cluster, those before and after its story in the poll, in the order they were seen.
#[tokio::test]
async fn stories_of_one_poll_join_the_cluster_of_earlier_ones_sharing_their_link() {
    for backend in backends("one_poll_joins_earlier").await {
        let name = backend.name();
        let store = backend.open("a").await;
        let at = now();
        let link = "https://outlet.test/same-story";
        let stories = [("a", "X", None), ("b", "Y", Some("t")), ("c", "Z", None)]
            .into_iter()
            .enumerate()
            .map(|(round, (guid, outlet, topic))| {
                // Texts that share no word: only the link makes them one story.
                let text = distinct_text(round);
                let mut new = planned(story("f", guid, &text, &text, link), topic, false);
                new.outlet = format!("Outlet {outlet}");
                new
            })
            .collect();
        let counts = store.record_poll(&poll("f", at, stories)).await.unwrap();
        assert_eq!((counts.new_stories, counts.joined), (3, 2), "{name}");
        let claimed = store
            .claim_due("ops", at, 10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "{name}: one alert");
        assert_eq!(
            claimed[0].payload.also_reported_by,
            vec!["Outlet X".to_owned(), "Outlet Z".to_owned()],
            "{name}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn store_records_attempts_and_feed_health() {
    for backend in backends("store_records_attempts").await {
        let name = backend.name();
        let store = backend.open("a").await;
        let at = now();
        let attempt = |status: &str, error: Option<&str>, at: DateTime<Utc>| PollAttempt {
            feed_id: "f".into(),
            url: feed_url("f"),
            at,
            next_poll_at: at + chrono::Duration::minutes(1),
            status: status.into(),
            error: error.map(str::to_owned),
            hints: PollHints {
                server_wait: Some(Duration::from_secs(120)),
                moved_to: None,
                note: None,
            },
        };
        store
            .record_attempt(&attempt("error", Some("boom"), at))
            .await
            .unwrap();
        let later = at + chrono::Duration::minutes(1);
        store
            .record_attempt(&attempt("429", Some("slow down"), later))
            .await
            .unwrap();
        let health = store.feed_health().await.unwrap();
        assert_eq!(health.len(), 1, "{name}");
        let h = &health[0];
        assert_eq!(
            (
                h.consecutive_failures,
                h.failing_since,
                h.last_status.as_deref()
            ),
            (2, Some(at), Some("429")),
            "{name}"
        );
        assert_eq!(h.last_error.as_deref(), Some("slow down"), "{name}");
        assert_eq!(h.server_wait_secs, Some(120), "{name}");
        assert_eq!(h.last_success_at, None, "{name}");
        let state = store.feed_state("f", &feed_url("f")).await.unwrap();
        assert_eq!(state.consecutive_failures, 2, "{name}");
        store
            .record_attempt(&attempt("304", None, later))
            .await
            .unwrap();
        let h = &store.feed_health().await.unwrap()[0];
        assert_eq!(
            (h.consecutive_failures, h.failing_since, h.last_success_at),
            (0, None, Some(later)),
            "{name}: a 304 is a success"
        );
        assert_eq!(
            (h.lease_owner.as_deref(), h.lease_until),
            (None, None),
            "{name}"
        );
        // A known feed is recorded by one statement, which keeps the URL the poll used (the
        // config's, changed since the feed was first seen).
        let moved = PollAttempt {
            url: "https://moved.test/rss".into(),
            ..attempt("304", None, later)
        };
        store.record_attempt(&moved).await.unwrap();
        let h = &store.feed_health().await.unwrap()[0];
        assert_eq!(h.url, "https://moved.test/rss", "{name}");
        store.close().await;
    }
}

/// Records one alerting story on `feed`; returns the ids of its two deliveries (ops, desk).
async fn one_alert(store: &Store, feed: &str, at: DateTime<Utc>) {
    let s = story(feed, "1", TITLE, LEAD, &format!("https://{feed}.test/a"));
    let counts = store
        .record_poll(&poll(feed, at, vec![planned(s, Some("t"), false)]))
        .await
        .unwrap();
    assert_eq!(counts.deliveries, 2);
}

#[tokio::test]
async fn store_leases_deliveries_and_records_outcomes() {
    for backend in backends("store_leases_deliveries").await {
        let name = backend.name();
        let a = backend.open("instance-a").await;
        let b = backend.open("instance-b").await;
        let at = now();
        one_alert(&a, "f", at).await;
        let lease = Duration::from_secs(30);
        let claimed = a.claim_due("ops", at, 10, lease).await.unwrap();
        assert_eq!(claimed.len(), 1, "{name}");
        let ops = &claimed[0];
        assert_eq!((ops.channel.as_str(), ops.attempts), ("ops", 0), "{name}");
        assert_eq!(ops.payload.topic_id, "t", "{name}");
        assert!(
            b.claim_due("ops", at, 10, lease).await.unwrap().is_empty(),
            "{name}: a leased delivery is not claimed twice"
        );
        let entries = a.outbox_entries(at).await.unwrap();
        let held: Vec<(&str, Option<&str>)> = entries
            .iter()
            .map(|e| (e.state.as_str(), e.held_by.as_deref()))
            .collect();
        assert_eq!(
            held,
            [("in_flight", Some("instance-a")), ("pending", None)],
            "{name}: the outbox shows who holds what"
        );
        assert_eq!(
            a.renew_deliveries(&[ops.id], ops.lease_token, at, Duration::from_millis(300))
                .await
                .unwrap(),
            1,
            "{name}"
        );
        assert_eq!(
            b.renew_deliveries(&[ops.id], ops.lease_token + 1, at, lease)
                .await
                .unwrap(),
            0,
            "{name}: only the claim's token renews"
        );
        // The holder stopped renewing: after its lease another instance takes the delivery (on
        // PostgreSQL the lease runs out by the database's clock, so it is waited for).
        tokio::time::sleep(Duration::from_millis(400)).await;
        let expired = at + chrono::Duration::seconds(61);
        let again = b.claim_due("ops", expired, 10, lease).await.unwrap();
        assert_eq!(again.len(), 1, "{name}: an expired lease is claimed again");
        assert_eq!(again[0].idempotency_key, ops.idempotency_key, "{name}");
        assert_ne!(again[0].lease_token, ops.lease_token, "{name}");

        let retry_at = expired + chrono::Duration::seconds(5);
        assert!(
            b.record_outcome(
                &again[0],
                expired,
                &DeliveryUpdate::RetryAt(retry_at),
                "HTTP 500",
            )
            .await
            .unwrap(),
            "{name}"
        );
        let counts = b.outbox_counts(expired).await.unwrap();
        assert_eq!((counts.due, counts.waiting), (1, 1), "{name}");
        assert_eq!(b.next_delivery_at().await.unwrap(), Some(at), "{name}");
        let queue = b.channel_queue("ops").await.unwrap();
        assert_eq!(
            (queue.pending, queue.next_due),
            (1, Some(retry_at)),
            "{name}"
        );
        let entry = b.outbox_entries(expired).await.unwrap();
        let retrying = entry.iter().find(|e| e.id == ops.id).unwrap();
        assert_eq!(
            (
                retrying.state.as_str(),
                retrying.attempts,
                retrying.last_error.as_deref()
            ),
            ("retrying", 1, Some("HTTP 500")),
            "{name}"
        );
        let desk = b.claim_due("desk", expired, 10, lease).await.unwrap();
        assert!(
            b.record_outcome(&desk[0], expired, &DeliveryUpdate::Dead, "HTTP 400")
                .await
                .unwrap()
        );
        let later = retry_at + chrono::Duration::seconds(1);
        let retried = a.claim_due("ops", later, 10, lease).await.unwrap();
        assert_eq!(retried[0].attempts, 1, "{name}");
        assert!(
            a.record_outcome(&retried[0], later, &DeliveryUpdate::Delivered, "HTTP 200")
                .await
                .unwrap()
        );
        let counts = a.outbox_counts(later).await.unwrap();
        assert_eq!(
            (counts.due, counts.waiting, counts.delivered, counts.dead),
            (0, 0, 1, 1),
            "{name}"
        );
        let history: Vec<String> = a
            .delivery_attempts(ops.id)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, outcome, reason)| format!("{outcome}:{reason}"))
            .collect();
        assert_eq!(history, ["retry:HTTP 500", "delivered:HTTP 200"], "{name}");

        // Requeueing: a delivered one stays delivered; a dead one comes back due now.
        assert!(!a.requeue(ops.id, later).await.unwrap(), "{name}");
        assert!(a.requeue(desk[0].id, later).await.unwrap(), "{name}");
        assert_eq!(a.outbox_counts(later).await.unwrap().due, 1, "{name}");
        let desk = a.claim_due("desk", later, 10, lease).await.unwrap();
        assert!(
            a.record_outcome(&desk[0], later, &DeliveryUpdate::Dead, "again")
                .await
                .unwrap()
        );
        assert_eq!(a.requeue_dead(later).await.unwrap(), 1, "{name}");

        // Messages and a paused channel.
        a.record_message("desk", later, 1).await.unwrap();
        let sent = a
            .messages_since("desk", later - chrono::Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(sent, vec![later], "{name}");
        let pause = later + chrono::Duration::minutes(10);
        a.postpone_channel("desk", pause).await.unwrap();
        assert_eq!(
            a.channel_queue("desk").await.unwrap().next_due,
            Some(pause),
            "{name}"
        );
        a.close().await;
        b.close().await;
    }
}

#[tokio::test]
async fn store_prunes_old_stories_but_keeps_alerted_ones() {
    for backend in backends("store_prunes").await {
        let name = backend.name();
        let store = backend.open("a").await;
        let old = now() - chrono::Duration::days(40);
        one_alert(&store, "f", old).await;
        let quiet = story("f", "2", "خبر قديم", "نص", "https://f.test/b");
        store
            .record_poll(&poll("f", old, vec![planned(quiet, None, false)]))
            .await
            .unwrap();
        let fresh = story("f", "3", "خبر جديد", "نص", "https://f.test/c");
        store
            .record_poll(&poll("f", now(), vec![planned(fresh, None, false)]))
            .await
            .unwrap();
        let day = Duration::from_secs(24 * 3600);
        let removed = store.prune(now(), 30 * day, day).await.unwrap();
        assert_eq!(removed, 1, "{name}: only the old story without an alert");
        let keys: Vec<String> = ["guid:1", "guid:2", "guid:3"].map(String::from).to_vec();
        let mut known: Vec<String> = store
            .known_keys("f", &keys)
            .await
            .unwrap()
            .into_keys()
            .collect();
        known.sort();
        assert_eq!(known, ["guid:1", "guid:3"], "{name}");
        assert_eq!(
            store.prune(now(), Duration::MAX, day).await.unwrap(),
            0,
            "{name}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn store_prunes_delivered_deliveries_and_their_attempts_after_the_retention() {
    for backend in backends("store_prunes_deliveries").await {
        let name = backend.name();
        let store = backend.open("a").await;
        let old = now() - chrono::Duration::days(40);
        one_alert(&store, "f", old).await;
        let lease = Duration::from_secs(30);
        // Long ago: `ops` delivered after a failed attempt, `desk` dead.
        let ops = store.claim_due("ops", old, 10, lease).await.unwrap();
        let retry = old + chrono::Duration::seconds(1);
        assert!(
            store
                .record_outcome(&ops[0], old, &DeliveryUpdate::RetryAt(retry), "HTTP 500")
                .await
                .unwrap()
        );
        let ops = store.claim_due("ops", retry, 10, lease).await.unwrap();
        assert!(
            store
                .record_outcome(&ops[0], retry, &DeliveryUpdate::Delivered, "HTTP 200")
                .await
                .unwrap()
        );
        let desk = store.claim_due("desk", old, 10, lease).await.unwrap();
        assert!(
            store
                .record_outcome(&desk[0], old, &DeliveryUpdate::Dead, "HTTP 400")
                .await
                .unwrap()
        );
        store.record_message("ops", retry, 1).await.unwrap();
        // A recent alert, delivered today, stays.
        let fresh = story("f", "9", "خبر جديد عن داعش", "نص جديد", "https://f.test/z");
        store
            .record_poll(&poll("f", now(), vec![planned(fresh, Some("u"), false)]))
            .await
            .unwrap();
        let today = store.claim_due("ops", now(), 10, lease).await.unwrap();
        assert_eq!(today.len(), 1, "{name}");
        assert!(
            store
                .record_outcome(&today[0], now(), &DeliveryUpdate::Delivered, "HTTP 200")
                .await
                .unwrap()
        );
        let day = Duration::from_secs(24 * 3600);
        store.prune(now(), 30 * day, day).await.unwrap();
        let counts = store.outbox_counts(now()).await.unwrap();
        assert_eq!(
            (counts.delivered, counts.dead, counts.due),
            (1, 1, 1),
            "{name}: the old delivered row is gone; the dead one and today's stay"
        );
        assert!(
            store.delivery_attempts(ops[0].id).await.unwrap().is_empty(),
            "{name}: its attempts too"
        );
        assert_eq!(
            store.delivery_attempts(desk[0].id).await.unwrap().len(),
            1,
            "{name}: the dead one keeps its history"
        );
        assert_eq!(
            store.delivery_attempts(today[0].id).await.unwrap().len(),
            1,
            "{name}"
        );
        assert!(
            store
                .messages_since("ops", old - chrono::Duration::hours(1))
                .await
                .unwrap()
                .is_empty(),
            "{name}: old message counts go too"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn store_leases_feeds_to_one_instance_at_a_time() {
    for backend in backends("store_leases_feeds").await {
        let name = backend.name();
        let a = backend.open("instance-a").await;
        let b = backend.open("instance-b").await;
        let at = now();
        let ids: Vec<String> = (0..6).map(|i| format!("feed{i}")).collect();
        let entries: Vec<FeedEntry> = ids
            .iter()
            .map(|id| FeedEntry {
                id: id.clone(),
                url: feed_url(id),
                due_by: at + chrono::Duration::hours(6),
            })
            .collect();
        // Two instances register the same feeds: each is known once, due now.
        a.register_feeds(&entries).await.unwrap();
        b.register_feeds(&entries).await.unwrap();
        assert_eq!(a.feed_health().await.unwrap().len(), 6, "{name}");
        // On PostgreSQL leases are timed by the database's clock: this one runs out for real.
        let lease = Duration::from_secs(2);
        let mut got_a = a.claim_feeds(&ids, at, 4, lease).await.unwrap();
        let mut got_b = b.claim_feeds(&ids, at, 4, lease).await.unwrap();
        assert_eq!((got_a.len(), got_b.len()), (4, 2), "{name}");
        assert!(
            a.claim_feeds(&ids, at, 4, lease).await.unwrap().is_empty(),
            "{name}: leased feeds are not claimed again"
        );
        got_a.append(&mut got_b);
        got_a.sort();
        assert_eq!(got_a, ids, "{name}: every feed claimed exactly once");
        let health = a.feed_health().await.unwrap();
        let held_by_b: Vec<&str> = health
            .iter()
            .filter(|h| h.lease_owner.as_deref() == Some("instance-b"))
            .map(|h| h.id.as_str())
            .collect();
        assert_eq!(
            held_by_b.len(),
            2,
            "{name}: `rasad feeds` shows who polls what"
        );
        let b_ids: Vec<String> = held_by_b.iter().map(|s| s.to_string()).collect();
        let next_due = a.next_feed_due(&ids).await.unwrap().unwrap();
        let until = at + chrono::Duration::seconds(2);
        assert!(
            next_due >= until && next_due <= now() + chrono::Duration::seconds(2),
            "{name}: nothing is due before the leases run out, at {next_due}"
        );

        // `a` records its polls (releasing its feeds); `b` dies and stops renewing.
        let recorded = a.claim_feeds(&ids, at, 4, lease).await.unwrap();
        assert!(recorded.is_empty());
        for id in ids.iter().filter(|id| !b_ids.contains(id)) {
            a.record_attempt(&PollAttempt {
                feed_id: id.clone(),
                url: feed_url(id),
                at,
                next_poll_at: at + chrono::Duration::minutes(5),
                status: "304".into(),
                error: None,
                hints: PollHints::default(),
            })
            .await
            .unwrap();
        }
        assert_eq!(
            a.renew_feeds(&b_ids, at, lease).await.unwrap(),
            b_ids,
            "{name}: not a's to renew: b holds them"
        );
        let released: Vec<String> = ids
            .iter()
            .filter(|id| !b_ids.contains(id))
            .cloned()
            .collect();
        assert!(
            a.renew_feeds(&released, at, lease)
                .await
                .unwrap()
                .is_empty(),
            "{name}: a feed released by its recorded poll is not lost"
        );
        let during = at + chrono::Duration::seconds(1);
        assert!(
            a.claim_feeds(&ids, during, 10, lease)
                .await
                .unwrap()
                .is_empty(),
            "{name}"
        );
        tokio::time::sleep(lease + Duration::from_millis(100)).await;
        let after = at + chrono::Duration::seconds(3);
        let mut taken_over = a.claim_feeds(&ids, after, 10, lease).await.unwrap();
        taken_over.sort();
        assert_eq!(
            taken_over, b_ids,
            "{name}: an expired lease is claimed by another instance"
        );
        let health = a.feed_health().await.unwrap();
        let released = health.iter().find(|h| !b_ids.contains(&h.id)).unwrap();
        assert_eq!(
            released.lease_owner, None,
            "{name}: a recorded poll releases the lease"
        );

        // Renewing keeps a feed; the instance that stalled learns it lost it; releasing sets
        // when the feed is due again.
        let lost = a
            .renew_feeds(&taken_over, after, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(lost.is_empty(), "{name}");
        assert_eq!(
            b.renew_feeds(&taken_over, after, lease).await.unwrap(),
            taken_over,
            "{name}: b's leases were lost to a"
        );
        assert!(
            b.claim_feeds(&ids, after + chrono::Duration::seconds(30), 10, lease)
                .await
                .unwrap()
                .is_empty()
        );
        let next = after + chrono::Duration::seconds(20);
        a.release_feed(&taken_over[0], next).await.unwrap();
        let claimed = b.claim_feeds(&ids, next, 10, lease).await.unwrap();
        assert_eq!(claimed, [taken_over[0].clone()], "{name}");

        // A stored next poll beyond a feed's cap is brought forward when feeds are registered.
        let capped: Vec<FeedEntry> = entries
            .iter()
            .map(|e| FeedEntry {
                due_by: at + chrono::Duration::minutes(1),
                ..e.clone()
            })
            .collect();
        a.register_feeds(&capped).await.unwrap();
        let health = a.feed_health().await.unwrap();
        assert!(
            health.iter().all(|h| h
                .next_poll_at
                .is_none_or(|t| t <= at + chrono::Duration::minutes(1))),
            "{name}"
        );
        a.close().await;
        b.close().await;
    }
}

#[tokio::test]
async fn postgres_instances_starting_together_migrate_once() {
    let Some(db) = TestDatabase::create("postgres_migrate_once").await else {
        return;
    };
    let opens = (0..6).map(|_| Store::open(StateLocation::Postgres(db.url.clone())));
    let stores: Vec<Store> = futures_join_all(opens).await;
    let mut conn = db.connect().await;
    let (applied, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .expect("the migrations table");
    assert_eq!(applied, distinct, "each migration applied once");
    assert!(applied >= 1);
    for store in stores {
        store.close().await;
    }
}

/// Runs the store openings side by side and waits for all of them.
async fn futures_join_all(
    opens: impl Iterator<
        Item = impl Future<Output = Result<Store, rasad::store::StoreError>> + Send + 'static,
    >,
) -> Vec<Store> {
    let tasks: Vec<_> = opens.map(tokio::spawn).collect();
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(
            task.await
                .expect("an open does not panic")
                .expect("every concurrent open succeeds"),
        );
    }
    stores
}

/// Ten words that no other round's text shares (each starts with the round's own letter).
fn distinct_text(round: usize) -> String {
    const LETTERS: [char; 17] = [
        'ج', 'ح', 'خ', 'د', 'ذ', 'ر', 'ز', 'س', 'ش', 'ص', 'ض', 'ط', 'ظ', 'ع', 'غ', 'ق', 'م',
    ];
    (0..10)
        .map(|j| {
            [round, j, round + 3 * j]
                .map(|i| LETTERS[i % LETTERS.len()])
                .iter()
                .chain(['ق', 'ع'].iter())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_instances_recording_one_story_at_once_alert_once() {
    let Some(db) = TestDatabase::create("postgres_one_story_at_once").await else {
        return;
    };
    let location = StateLocation::Postgres(db.url.clone());
    let a = Store::open(&location).await.unwrap().with_instance("a");
    let b = Store::open(&location).await.unwrap().with_instance("b");
    let at = now();
    // Rounds of the same story reaching two instances through two feeds at the same moment:
    // by identity (same link) in even rounds, by text alone in odd ones.
    for round in 0..12 {
        let title = distinct_text(round);
        let link = |feed: &str| {
            if round % 2 == 0 {
                format!("https://outlet.test/story/{round}")
            } else {
                format!("https://{feed}.test/story/{round}")
            }
        };
        let record = |feed: &str| {
            poll(
                feed,
                at,
                vec![planned(
                    story(feed, &format!("r{round}"), &title, "", &link(feed)),
                    Some("t"),
                    false,
                )],
            )
        };
        let (ra, rb) = (record("fa"), record("fb"));
        let (ca, cb) = tokio::join!(a.record_poll(&ra), b.record_poll(&rb));
        let (ca, cb) = (ca.unwrap(), cb.unwrap());
        assert_eq!(
            ca.alerts + cb.alerts,
            1,
            "round {round}: two instances recorded one story; alerts {ca:?} {cb:?}"
        );
        assert_eq!(ca.joined + cb.joined, 1, "round {round}");
    }
    let counts = a.outbox_counts(at).await.unwrap();
    assert_eq!(counts.due, 24, "12 alerts, 2 channels each");
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn store_hands_a_dead_instances_feeds_out_before_other_due_feeds() {
    for backend in backends("store_dead_instance_first").await {
        let name = backend.name();
        let (a, b) = (backend.open("a").await, backend.open("b").await);
        let at = now();
        let ids: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        let entries: Vec<FeedEntry> = ids
            .iter()
            .map(|id| FeedEntry {
                id: id.clone(),
                url: feed_url(id),
                due_by: at,
            })
            .collect();
        a.register_feeds(&entries).await.unwrap();
        let lease = Duration::from_millis(300);
        // `a` claims the feed that sorts last, then dies; its lease runs out for real.
        assert_eq!(a.claim_feeds(&ids[2..], at, 1, lease).await.unwrap(), ["z"]);
        tokio::time::sleep(lease + Duration::from_millis(100)).await;
        let later = at + chrono::Duration::seconds(1);
        assert_eq!(
            b.claim_feeds(&ids, later, 1, lease).await.unwrap(),
            ["z"],
            "{name}: the feed a dead instance left goes first"
        );
        a.close().await;
        b.close().await;
    }
}

#[tokio::test]
async fn a_sender_that_outlived_its_lease_cannot_overwrite_the_new_holders_outcome() {
    for backend in backends("store_fences_outcomes").await {
        let name = backend.name();
        let a = backend.open("instance-a").await;
        let b = backend.open("instance-b").await;
        let at = now();
        one_alert(&a, "f", at).await;
        // `a` claims, then stalls past its lease; `b` claims the delivery again.
        let stale = a
            .claim_due("ops", at, 10, Duration::from_millis(200))
            .await
            .unwrap();
        assert_eq!(stale.len(), 1, "{name}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let later = at + chrono::Duration::seconds(1);
        let fresh = b
            .claim_due("ops", later, 10, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(fresh.len(), 1, "{name}");
        assert_eq!(
            a.renew_deliveries(
                &[stale[0].id],
                stale[0].lease_token,
                later,
                Duration::from_secs(30)
            )
            .await
            .unwrap(),
            0,
            "{name}: the stale holder cannot extend the new lease"
        );
        // The stale sender's failure arrives while `b` is still sending: it changes nothing.
        assert!(
            !a.record_outcome(&stale[0], later, &DeliveryUpdate::Dead, "HTTP 400")
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            b.record_outcome(&fresh[0], later, &DeliveryUpdate::Delivered, "HTTP 200")
                .await
                .unwrap(),
            "{name}"
        );
        // And a late success of the stale sender does not count a second attempt.
        assert!(
            !a.record_outcome(&stale[0], later, &DeliveryUpdate::Delivered, "HTTP 200")
                .await
                .unwrap(),
            "{name}"
        );
        let counts = a.outbox_counts(later).await.unwrap();
        assert_eq!((counts.delivered, counts.dead), (1, 0), "{name}");
        let history: Vec<String> = a
            .delivery_attempts(fresh[0].id)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, outcome, reason)| format!("{outcome}:{reason}"))
            .collect();
        assert_eq!(history, ["delivered:HTTP 200"], "{name}");
        a.close().await;
        b.close().await;
    }
}

/// Two instances on one PostgreSQL database whose clocks run five minutes behind and ahead of
/// the real time. Only a shared database has several instances, and it times their leases by
/// its own clock: `None` where no PostgreSQL server is configured.
struct Skewed {
    /// Holds the test database, which is dropped with it.
    _backend: Backend,
    slow: Store,
    fast: Store,
    real: DateTime<Utc>,
    behind: DateTime<Utc>,
    ahead: DateTime<Utc>,
}

impl Skewed {
    async fn open(database: &str) -> Option<Skewed> {
        let backend = Backend::Postgres(TestDatabase::create(database).await?);
        let real = now();
        Some(Skewed {
            slow: backend.open("clock-behind").await,
            fast: backend.open("clock-ahead").await,
            _backend: backend,
            real,
            behind: real - chrono::Duration::minutes(5),
            ahead: real + chrono::Duration::minutes(5),
        })
    }
}

#[tokio::test]
async fn instances_with_skewed_clocks_neither_send_twice_nor_lose_a_delivery() {
    let Some(Skewed {
        slow,
        fast,
        real,
        behind,
        ahead,
        _backend,
    }) = Skewed::open("store_skewed_clocks").await
    else {
        return;
    };
    one_alert(&slow, "f", behind).await;
    let lease = Duration::from_secs(30);
    let held = slow.claim_due("ops", behind, 10, lease).await.unwrap();
    assert_eq!(held.len(), 1, "the delivery is due by the slow clock too");
    // Five minutes ahead, the 30 s lease looks long gone, but it is not.
    assert!(
        fast.claim_due("ops", ahead, 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "a live lease was taken by an instance whose clock is ahead"
    );
    assert_eq!(
        slow.renew_deliveries(&[held[0].id], held[0].lease_token, behind, lease)
            .await
            .unwrap(),
        1,
        "a renewal from a slow clock still extends the lease"
    );
    assert!(
        fast.claim_due("ops", ahead, 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "the renewed lease is live"
    );
    assert!(
        slow.record_outcome(&held[0], behind, &DeliveryUpdate::Delivered, "HTTP 200")
            .await
            .unwrap()
    );
    // The other channel's delivery goes to whichever instance claims first, once.
    let desk = fast.claim_due("desk", ahead, 10, lease).await.unwrap();
    assert_eq!(desk.len(), 1);
    assert!(
        slow.claim_due("desk", behind, 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        fast.record_outcome(&desk[0], ahead, &DeliveryUpdate::Delivered, "250")
            .await
            .unwrap()
    );
    let counts = slow.outbox_counts(real).await.unwrap();
    assert_eq!((counts.due, counts.waiting, counts.delivered), (0, 0, 2));
    slow.close().await;
    fast.close().await;
}

#[tokio::test]
async fn an_instance_whose_clock_runs_ahead_cannot_take_a_feed_leased_by_the_database_clock() {
    let Some(Skewed {
        slow,
        fast,
        real,
        behind,
        ahead,
        _backend,
    }) = Skewed::open("store_skewed_feed_clocks").await
    else {
        return;
    };
    let ids: Vec<String> = ["x", "y"].map(String::from).to_vec();
    let entries: Vec<FeedEntry> = ids
        .iter()
        .map(|id| FeedEntry {
            id: id.clone(),
            url: feed_url(id),
            due_by: behind,
        })
        .collect();
    slow.register_feeds(&entries).await.unwrap();
    let lease = Duration::from_secs(30);
    let held = slow.claim_feeds(&ids[..1], behind, 1, lease).await.unwrap();
    assert_eq!(held, ["x"], "the feed is due by the slow clock too");
    // Five minutes ahead, the 30 s lease looks long gone, but it is not.
    assert_eq!(
        fast.claim_feeds(&ids, ahead, 10, lease).await.unwrap(),
        ["y"],
        "a live feed lease was taken by an instance whose clock is ahead"
    );
    assert!(
        slow.renew_feeds(&held, behind, lease)
            .await
            .unwrap()
            .is_empty(),
        "a renewal from a slow clock keeps the lease"
    );
    let health = slow.feed_health().await.unwrap();
    let x = health.iter().find(|h| h.id == "x").unwrap();
    let until = x.lease_until.expect("x is leased");
    assert!(
        until > real + chrono::Duration::seconds(20),
        "the renewed lease runs from the database's clock, not the slow one: {until}"
    );
    assert!(
        fast.claim_feeds(&ids, ahead, 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "the renewed lease is live"
    );
    // Releasing hands the feed on at the due time its holder names.
    slow.release_feed("x", behind).await.unwrap();
    assert_eq!(
        fast.claim_feeds(&ids, ahead, 10, lease).await.unwrap(),
        ["x"]
    );
    assert_eq!(
        slow.renew_feeds(&held, behind, lease).await.unwrap(),
        ["x"],
        "the slow instance learns the feed is held by another"
    );
    slow.close().await;
    fast.close().await;
}

#[tokio::test]
async fn a_delivery_with_an_unreadable_payload_is_dead_and_does_not_block_its_channel() {
    for backend in backends("store_unreadable_payload").await {
        let name = backend.name();
        let store = backend.open("instance-a").await;
        let at = now();
        one_alert(&store, "f", at).await;
        let s = story(
            "f",
            "2",
            "فيضانات تغمر قرى في جنوب السودان",
            "أعلنت السلطات إجلاء آلاف السكان بعد ارتفاع منسوب النهر",
            "https://f.test/b",
        );
        store
            .record_poll(&poll("f", at, vec![planned(s, Some("t"), false)]))
            .await
            .unwrap();
        // The first alert's stored payload is damaged (a hand edit, a bad migration).
        let damage = "UPDATE alerts SET payload = '{\"topic_id\": 1' WHERE id = (SELECT MIN(id) FROM alerts)";
        match backend.location() {
            StateLocation::File(path) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap();
                sqlx::query(damage).execute(&pool).await.unwrap();
                pool.close().await;
            }
            StateLocation::Postgres(url) => {
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                sqlx::query(damage).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
        let claimed = store
            .claim_due("ops", at, 10, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{name}: the claim fails: {e}"));
        assert_eq!(claimed.len(), 1, "{name}: the readable one is sent");
        let entries = store.outbox_entries(at).await.unwrap();
        let dead: Vec<&str> = entries
            .iter()
            .filter(|e| e.state == "dead" && e.channel == "ops")
            .filter_map(|e| e.last_error.as_deref())
            .collect();
        assert_eq!(dead.len(), 1, "{name}: {entries:?}");
        assert!(dead[0].contains("unreadable payload"), "{name}: {dead:?}");
        store.close().await;
    }
}

/// Runs `statement` on the backend's database through a connection of the test's own.
async fn run_behind(backend: &Backend, statement: &'static str) {
    match backend.location() {
        StateLocation::File(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("a connection to the SQLite file");
            sqlx::query(statement)
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            pool.close().await;
        }
        StateLocation::Postgres(url) => {
            let pool = sqlx::PgPool::connect(&url)
                .await
                .expect("a connection to the database");
            sqlx::query(statement)
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            pool.close().await;
        }
    }
}

/// A poll whose write fails rolls back its story, and the store's cluster index forgets it too:
/// a copy of that story recorded next by another feed starts its own cluster and alerts, rather
/// than joining a cluster that was never committed.
#[tokio::test]
async fn a_failed_poll_leaves_no_rolled_back_story_in_the_cluster_index() {
    for backend in backends("store_failed_poll_recovery").await {
        let name = backend.name();
        let store = backend.open("instance-a").await;
        let at = now();
        // A first poll, so that the index is read before the failure.
        one_alert(&store, "f", at).await;
        let title = "فيضانات تغمر قرى في جنوب السودان";
        let lead = "أعلنت السلطات إجلاء آلاف السكان بعد ارتفاع منسوب النهر وانهيار سدود ترابية";
        run_behind(&backend, "ALTER TABLE alerts RENAME TO alerts_away").await;
        let lost = story("g", "1", title, lead, "https://g.test/1");
        let failed = store
            .record_poll(&poll("g", at, vec![planned(lost, Some("t"), false)]))
            .await
            .expect_err("a poll cannot alert without the alerts table");
        assert!(
            failed.to_string().contains("record_poll"),
            "{name}: the error names the operation: {failed}"
        );
        run_behind(&backend, "ALTER TABLE alerts_away RENAME TO alerts").await;
        let copy = story("h", "1", title, lead, "https://h.test/1");
        let counts = store
            .record_poll(&poll("h", at, vec![planned(copy, Some("t"), false)]))
            .await
            .unwrap_or_else(|e| panic!("{name}: the next poll is recorded: {e}"));
        assert_eq!(
            (counts.new_stories, counts.joined, counts.alerts),
            (1, 0, 1),
            "{name}: the copy is a story of its own"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn store_keeps_story_text_for_backtests_and_pages_through_it_newest_first() {
    use rasad::store::STORED_SUMMARY_BYTES;
    for backend in backends("store_story_text").await {
        let name = backend.name();
        let store = backend.open("a").await;
        let at = now();
        let hours = |h: i64| at - chrono::Duration::hours(h);
        let long = "قصف مدفعي على ريف إدلب الجنوبي ".repeat(500);
        let polls = [
            (hours(3), "1", "خبر أول", "نص أول".to_owned()),
            (hours(2), "2", "خبر ثان", long.clone()),
            (hours(1), "3", "خبر ثالث", String::new()),
            (
                at - chrono::Duration::days(10),
                "0",
                "خبر قديم",
                "نص قديم".to_owned(),
            ),
        ];
        for (when, guid, title, summary) in &polls {
            let s = story("f", guid, title, summary, &format!("https://f.test/{guid}"));
            store
                .record_poll(&poll("f", *when, vec![planned(s, None, false)]))
                .await
                .unwrap();
        }
        let since = at - chrono::Duration::days(7);
        let first = store.stories_since(since, None, 2).await.unwrap();
        let titles = |page: &[rasad::store::StoredStory]| {
            page.iter().map(|s| s.title.clone()).collect::<Vec<_>>()
        };
        assert_eq!(titles(&first), ["خبر ثالث", "خبر ثان"], "{name}");
        assert_eq!(first[0].summary, None, "{name}: an empty summary is none");
        let kept = first[1].summary.as_deref().expect("a summary");
        assert!(
            kept.len() <= STORED_SUMMARY_BYTES && long.starts_with(kept) && kept.len() > 4000,
            "{name}: the summary is cut to its bound ({} bytes)",
            kept.len()
        );
        assert_eq!(first[1].url.as_deref(), Some("https://f.test/2"), "{name}");
        assert_eq!(first[1].outlet.as_deref(), Some("Outlet f"), "{name}");
        assert_eq!(first[1].first_seen_at, hours(2), "{name}");
        let second = store
            .stories_since(since, Some(first[1].cursor()), 2)
            .await
            .unwrap();
        assert_eq!(
            titles(&second),
            ["خبر أول"],
            "{name}: the page after the cursor"
        );
        assert_eq!(second[0].summary.as_deref(), Some("نص أول"), "{name}");
        let none = store
            .stories_since(since, Some(second[0].cursor()), 2)
            .await
            .unwrap();
        assert!(
            none.is_empty(),
            "{name}: the story before `since` is left out"
        );

        // An edit rewrites the text.
        let edited = story("f", "1", "خبر أول معدل", "نص معدل", "https://f.test/1");
        store
            .record_poll(&poll("f", at, vec![planned(edited, None, true)]))
            .await
            .unwrap();
        let all = store.stories_since(since, None, 10).await.unwrap();
        let one = all
            .iter()
            .find(|s| s.url.as_deref() == Some("https://f.test/1"));
        assert_eq!(
            one.map(|s| (s.title.as_str(), s.summary.as_deref())),
            Some(("خبر أول معدل", Some("نص معدل"))),
            "{name}"
        );

        // Past the retention: a story without an alert goes, one with an alert keeps its row
        // but not its text.
        one_alert(&store, "g", at - chrono::Duration::days(10)).await;
        let day = Duration::from_secs(24 * 3600);
        store.prune(at, 7 * day, day).await.unwrap();
        let old: Vec<_> = store
            .stories_since(at - chrono::Duration::days(30), None, 10)
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.first_seen_at < since)
            .map(|s| (s.feed_id, s.title, s.summary))
            .collect();
        assert_eq!(old, [("g".to_owned(), TITLE.to_owned(), None)], "{name}");
        store.close().await;
    }
}

/// Brings a new database at `backend` to the schema an older rasad left: the migrations before
/// `first_new` only, applied from a copy of those files.
async fn migrate_before(backend: &Backend, first_new: i64) {
    let (source, kind) = match backend {
        Backend::Sqlite(_) => ("migrations/sqlite", "sqlite"),
        Backend::Postgres(_) => ("migrations/postgres", "postgres"),
    };
    let old = tempfile::tempdir().expect("a folder");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
    for entry in std::fs::read_dir(&dir).expect("the migrations") {
        let path = entry.expect("a migration").path();
        let file = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let version: i64 = file[..4].parse().expect("a numbered migration");
        if version < first_new {
            std::fs::copy(&path, old.path().join(&file)).expect("copied");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.path())
        .await
        .expect("the old migrations");
    match backend.location() {
        StateLocation::File(path) => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.expect(kind);
            migrator.run(&pool).await.expect("old migrations run");
            sqlx::query(
                "INSERT INTO stories (feed_id, story_key, title, first_seen_at) VALUES ('f', 'k', 'خبر سابق', $1)",
            )
            .bind(now().timestamp_millis())
            .execute(&pool)
            .await
            .expect("an old story");
            pool.close().await;
        }
        StateLocation::Postgres(url) => {
            let pool = sqlx::PgPool::connect(&url).await.expect(kind);
            migrator.run(&pool).await.expect("old migrations run");
            sqlx::query(
                "INSERT INTO stories (feed_id, story_key, title, first_seen_at) VALUES ('f', 'k', 'خبر سابق', $1)",
            )
            .bind(now().timestamp_millis())
            .execute(&pool)
            .await
            .expect("an old story");
            pool.close().await;
        }
    }
}

#[tokio::test]
async fn a_state_from_before_stored_summaries_is_migrated_and_its_stories_have_none() {
    for backend in backends("store_migrates_story_text").await {
        let name = backend.name();
        let first_new = match backend {
            Backend::Sqlite(_) => 8,
            Backend::Postgres(_) => 4,
        };
        migrate_before(&backend, first_new).await;
        let store = backend.open("a").await;
        let stories = store
            .stories_since(now() - chrono::Duration::days(1), None, 10)
            .await
            .unwrap();
        let read: Vec<_> = stories
            .iter()
            .map(|s| (s.title.as_str(), s.summary.clone()))
            .collect();
        assert_eq!(read, [("خبر سابق", None)], "{name}");
        let s = story("f", "2", "خبر جديد", "نص جديد", "https://f.test/2");
        store
            .record_poll(&poll("f", now(), vec![planned(s, None, false)]))
            .await
            .unwrap();
        let newest = store
            .stories_since(now() - chrono::Duration::days(1), None, 1)
            .await
            .unwrap();
        assert_eq!(newest[0].summary.as_deref(), Some("نص جديد"), "{name}");
        store.close().await;
    }
}
