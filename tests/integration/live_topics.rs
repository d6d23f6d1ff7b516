//! Managed topics apply while `rasad run` runs: a topic saved through the store (as the desk
//! saves it) alerts on the next poll without a restart, and a deleted one stops alerting; on
//! SQLite (the daemon's own state file) and on PostgreSQL (two instances on one database, each
//! applying the change); a reload of the config (SIGHUP) keeps them, and polling goes on when
//! they cannot be read.

use std::time::Duration;

use rasad::store::Store;
use serde_json::json;

use crate::ops::signal;
use crate::pg::TestDatabase;
use crate::servers::RecordedRequest;
use crate::support::{Env, KNOWN, RSS, count, eventually, rss};

/// No step of these tests waits longer than this (a change applies within 2 s, polls run
/// every second).
const WAIT: Duration = Duration::from_secs(30);
/// What the daemon logs each time it applies a change of the managed topics.
const APPLIED: &str = "managed topics applied";

/// A story the managed topic `ports` alerts on and the config topic `isis` does not.
const PORT_STORY: (&str, &str, &str) = ("p1", "حريق في مرفأ طرابلس", "اندلع حريق في المرفأ");
/// A later one, after the topic is deleted.
const PORT_STORY_2: (&str, &str, &str) = ("p2", "إغلاق مرفأ اللاذقية", "أغلق المرفأ");
/// A story of the config topic, to know that a poll after the delete was recorded and sent.
const ISIS_STORY: (&str, &str, &str) = ("i1", "هجوم لتنظيم داعش", "تبنى داعش الهجوم");

/// The topic ids of the alerts the webhook receiver accepted.
fn alerted_topics(accepted: &[RecordedRequest]) -> Vec<String> {
    accepted
        .iter()
        .filter_map(|r| r.json())
        .filter_map(|body| body["topic"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// Points the environment's config at `state` (a PostgreSQL URL) and makes its `news` feed
/// known there, with [`KNOWN`] as its only item, so that the next new items alert.
async fn known_feed_on(env: &Env, state: &str) {
    env.write_config();
    let text = std::fs::read_to_string(env.config_path()).expect("the config");
    let text = text.replace(
        "state = \"state/rasad.db\"",
        &format!("state = \"{state}\""),
    );
    std::fs::write(env.config_path(), text).expect("config written");
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 1, "{summary}");
}

/// Runs `instances` daemons on the environment's config; saves `ports` through `store`, waits
/// for every daemon to apply it, reloads them all (SIGHUP), and publishes a story it matches: it alerts. Then deletes it,
/// waits again, and publishes another such story beside one of the config topic's: only the
/// config topic alerts.
async fn saved_topic_alerts_and_deleted_one_stops(env: &Env, store: &Store, instances: usize) {
    let mut daemons: Vec<_> = (0..instances).map(|_| env.spawn(&["run"])).collect();
    let applied = |n: usize| move || env.log().matches(APPLIED).count() >= n;
    let rule = json!({"id": "ports", "name": "الموانئ", "any": ["مرفأ"], "notify": ["ops"]});
    assert!(
        store
            .save_managed_topic("ports", &rule, chrono::Utc::now())
            .await
            .unwrap()
    );
    assert!(eventually(WAIT, applied(instances)).await, "{}", env.log());
    // A reload of the config keeps the managed topics.
    for daemon in &daemons {
        signal(daemon, "HUP");
    }
    let reloaded = || env.log().matches("config reloaded").count() >= instances;
    assert!(eventually(WAIT, reloaded).await, "{}", env.log());
    assert!(
        eventually(WAIT, applied(2 * instances)).await,
        "{}",
        env.log()
    );
    env.feeds.set("/news.xml", rss(&[KNOWN, PORT_STORY]), RSS);
    let accepted = env.hook.wait_for_accepted(1, WAIT).await;
    assert_eq!(alerted_topics(&accepted), ["ports"], "{}", env.log());
    let body = accepted[0].json().expect("a JSON body");
    assert_eq!(body["topic"]["name"], "الموانئ");
    assert_eq!(body["story"]["title"], PORT_STORY.1);

    assert!(store.delete_managed_topic("ports").await.unwrap());
    assert!(
        eventually(WAIT, applied(3 * instances)).await,
        "{}",
        env.log()
    );
    env.feeds.set(
        "/news.xml",
        rss(&[KNOWN, PORT_STORY, PORT_STORY_2, ISIS_STORY]),
        RSS,
    );
    let accepted = env.hook.wait_for_accepted(2, WAIT).await;
    // The config topic's alert came from the poll that recorded the port story too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let topics = alerted_topics(&env.hook.accepted());
    assert_eq!(topics, ["ports", "isis"], "{}", env.log());
    assert_eq!(accepted.len(), 2);
    for daemon in &mut daemons {
        daemon.start_kill().expect("rasad stopped");
        let _ = daemon.wait().await;
    }
}

#[tokio::test]
async fn a_managed_topic_saved_while_rasad_runs_alerts_on_the_next_poll_and_a_deleted_one_stops() {
    let env = Env::with_known_feed().await;
    let store = Store::open(env.dir.path().join("state/rasad.db"))
        .await
        .expect("the daemon's state file opens");
    saved_topic_alerts_and_deleted_one_stops(&env, &store, 1).await;
    store.close().await;
}

#[tokio::test]
async fn a_managed_topic_applies_on_every_instance_sharing_a_postgres_database() {
    let Some(db) = TestDatabase::create("live_topics_postgres").await else {
        return;
    };
    let env = Env::start().await;
    known_feed_on(&env, &db.url).await;
    let store = Store::open(rasad::config::StateLocation::Postgres(db.url.clone()))
        .await
        .expect("the database opens");
    saved_topic_alerts_and_deleted_one_stops(&env, &store, 2).await;
    store.close().await;
}

/// The topics revision cannot be read (its table is gone): the daemon says so once, keeps
/// polling and alerting with the topics in force, and says when it can read it again.
#[tokio::test]
async fn polling_goes_on_when_the_managed_topics_cannot_be_read() {
    let env = Env::with_known_feed().await;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(env.dir.path().join("state/rasad.db"))
        .busy_timeout(Duration::from_secs(10));
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("the state file opens");
    sqlx::query("ALTER TABLE topics_revision RENAME TO topics_revision_away")
        .execute(&pool)
        .await
        .expect("the table moved away");
    let mut daemon = env.spawn(&["run"]);
    let unreadable = "cannot read the managed topics";
    assert!(
        eventually(WAIT, || env.log().contains(unreadable)).await,
        "{}",
        env.log()
    );
    env.feeds.set("/news.xml", rss(&[KNOWN, ISIS_STORY]), RSS);
    let accepted = env.hook.wait_for_accepted(1, WAIT).await;
    assert_eq!(alerted_topics(&accepted), ["isis"], "{}", env.log());
    sqlx::query("ALTER TABLE topics_revision_away RENAME TO topics_revision")
        .execute(&pool)
        .await
        .expect("the table back");
    pool.close().await;
    let again = "the managed topics can be read again";
    assert!(
        eventually(WAIT, || env.log().contains(again)).await,
        "{}",
        env.log()
    );
    daemon.start_kill().expect("rasad stopped");
    let _ = daemon.wait().await;
    assert_eq!(
        env.log().matches(unreadable).count(),
        1,
        "warned once: {}",
        env.log()
    );
}
