//! Hostile bodies, each served beside a normal feed: every one costs at most its own poll. It
//! ends in its own health state (read up to a bound, and saying so), the normal feed still
//! alerts, the poll ends in bounded time and peak memory stays bounded.

use std::time::{Duration, Instant};

use crate::support::{Env, RSS, rss, wait_with_peak_memory};

/// An RSS feed of one item with a raw (unescaped) `title` and `description`, and `date`.
fn item_feed(guid: &str, title: &str, description: &str, date: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <item><guid>{guid}</guid><title>{title}</title><description>{description}</description>\
         <pubDate>{date}</pubDate></item></channel></rss>"
    )
}

/// Serves each hostile body; returns `(feed id, state, text its last error must hold)`.
fn serve_hostile_bodies(env: &Env) -> Vec<(&'static str, &'static str, &'static str)> {
    let date = "Sun, 29 Nov 2026 08:00:00 GMT";
    // 16 KiB of DTD that once expanded to 20 MB.
    let value = "x".repeat(10_000);
    env.feeds.set(
        "/entity-bomb.xml",
        format!(
            "<!DOCTYPE rss [<!ENTITY e \"{value}\">]><rss version=\"2.0\"><channel><item><guid>b</guid>\
             <title>{}</title></item></channel></rss>",
            "&e;".repeat(2_000)
        ),
        RSS,
    );
    // 800 KB of the keyword with no separator: the matcher once took minutes.
    env.feeds.set(
        "/long-word.xml",
        item_feed("w", "خبر", &"داعش".repeat(100_000), date),
        RSS,
    );
    // A hit per occurrence, each with the whole field as its snippet.
    env.feeds.set(
        "/commas.xml",
        item_feed("c", "بيان", &"ISIS,".repeat(100_000), date),
        RSS,
    );
    // Unclosed Atom links: the repair once searched to the end of the body for each.
    env.feeds.set(
        "/atom-links.xml",
        format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><entry><id>a</id><title>خبر</title>{}</entry></feed>",
            "<link rel=\"alternate\">x".repeat(40_000)
        ),
        "application/atom+xml",
    );
    // A NUL in the title and guid: PostgreSQL refuses it.
    env.feeds.set(
        "/nul.xml",
        item_feed("n\u{0}1", "بيان\u{0} لداعش", "نص", date),
        RSS,
    );
    // A date that panicked the date reader and lost the whole feed.
    env.feeds
        .set("/bad-date.xml", item_feed("d", "خبر", "نص", "+aé1"), RSS);
    // More items than a feed may hold.
    let items: Vec<(String, String, String)> = (0..5_000)
        .map(|i| (format!("m{i}"), format!("خبر {i}"), "نص".to_owned()))
        .collect();
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str()))
        .collect();
    env.feeds.set("/many-items.xml", rss(&items), RSS);
    vec![
        (
            "entity-bomb",
            "ok",
            "over a bound: DTD entities would expand past the body's length",
        ),
        ("long-word", "ok", ""),
        ("commas", "ok", ""),
        // Not a feed anyone can read, and said so at once.
        (
            "atom-links",
            "failing",
            "parse failed: cannot read the feed (content type application/atom+xml)",
        ),
        ("nul", "ok", ""),
        ("bad-date", "ok", ""),
        (
            "many-items",
            "ok",
            "over a bound: 5000 items, the newest 1000 read",
        ),
    ]
}

fn config(env: &Env, feeds: &[&str]) -> String {
    let mut text = format!(
        r#"
[daemon]
state = "state/rasad.db"

[poll]
interval = "5m"
timeout = "10s"
max_body = "2MiB"
alert_on_first_poll = true

[[topic]]
id = "isis"
any = ["داعش", "ISIS"]
notify = ["ops"]

[[channel]]
id = "ops"
kind = "webhook"
url = "{}"
"#,
        env.hook.url()
    );
    for id in feeds {
        text.push_str(&format!(
            "\n[[feed]]\nid = \"{id}\"\nurl = \"{}\"\n",
            env.feeds.url(&format!("/{id}.xml"))
        ));
    }
    text
}

#[tokio::test]
async fn each_hostile_body_costs_only_its_own_poll() {
    let env = Env::start().await;
    env.feeds
        .set("/calm.xml", rss(&[("calm-1", "هجوم لداعش", "نص")]), RSS);
    let cases = serve_hostile_bodies(&env);
    let ids: Vec<&str> = cases.iter().map(|(id, _, _)| *id).chain(["calm"]).collect();
    std::fs::write(env.config_path(), config(&env, &ids)).expect("config written");

    let started = Instant::now();
    // Its log goes to a file: a piped stderr that nobody reads would stall it once full.
    let mut child = env.spawn(&["once", "--json"]);
    let (status, peak_kib) = wait_with_peak_memory(&mut child).await;
    let took = started.elapsed();
    assert!(status.success(), "rasad once failed");
    eprintln!("hostile bodies: rasad once took {took:?}, peak memory {peak_kib} KiB");
    // The bodies total under 4 MB; a 20 MB expansion or a snippet per hit would show here.
    assert!(
        peak_kib > 0 && peak_kib < 120 * 1024,
        "peak memory {peak_kib} KiB"
    );
    assert!(took < Duration::from_secs(30), "rasad once took {took:?}");

    // The calm feed alerted, and so did the feed of commas, once; nothing else did.
    let bodies: Vec<serde_json::Value> = env
        .hook
        .accepted()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON webhook body"))
        .collect();
    let text = serde_json::to_string(&bodies).expect("JSON");
    assert!(text.contains("هجوم لداعش"), "{text}");
    assert!(
        text.contains("بيان لداعش") || text.contains("بيان لداعش"),
        "the NUL title alerts, cleaned: {text}"
    );
    assert!(!text.contains("\\u0000"), "a NUL reached an alert: {text}");
    assert_eq!(bodies.len(), 3, "{text}");

    let output = env.rasad(&["feeds", "--json"]).await;
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    for (id, state, note) in cases.iter().chain(&[("calm", "ok", "")]) {
        let row = rows
            .iter()
            .find(|r| r["id"] == *id)
            .unwrap_or_else(|| panic!("{id} has a row"));
        assert_eq!(row["state"], *state, "{id}: {row}");
        let last_error = row["last_error"].as_str().unwrap_or_default();
        if note.is_empty() {
            assert_eq!(last_error, "", "{id}: {row}");
        } else {
            assert!(last_error.contains(note), "{id}: {row}");
        }
        if *state == "ok" {
            assert!(row["items_seen"].as_u64() >= Some(1), "{id}: {row}");
        }
    }
    let many = rows
        .iter()
        .find(|r| r["id"] == "many-items")
        .expect("a row");
    assert_eq!(many["items_seen"], 1_000, "{many}");
}

/// What `rasad run` and `rasad once` do when a poll task panics (a bug hostile input might
/// find): the feed is recorded as failed, with its backoff, instead of being dropped from the
/// schedule with its slot and lease.
#[tokio::test]
async fn a_crashed_poll_is_recorded_as_a_failure_and_polled_again_on_backoff() {
    let env = Env::start().await;
    let text = config(&env, &["crashy"]);
    let config = rasad::config::Config::parse(&text, &env.config_path()).expect("config checks");
    let runtime = std::sync::Arc::new(rasad::wiring::Wiring::build(config).expect("builds"));
    std::fs::create_dir_all(env.dir.path().join("state")).expect("state folder");
    let store = rasad::store::Store::open(&env.dir.path().join("state/rasad.db"))
        .await
        .expect("store opens");
    let before = chrono::Utc::now();
    for failures in 1..=2u32 {
        let report =
            rasad::pipeline::record_abandoned(&runtime, 0, &store, "the poll crashed: boom")
                .await
                .expect("recorded");
        assert!(report.next_poll_at > before, "{report:?}");
        let health = store.feed_health().await.expect("health");
        let row = health.iter().find(|h| h.id == "crashy").expect("a row");
        assert_eq!(row.consecutive_failures, failures, "{row:?}");
        assert_eq!(row.last_status.as_deref(), Some("error"), "{row:?}");
        assert_eq!(row.last_error.as_deref(), Some("the poll crashed: boom"));
        assert!(row.next_poll_at.is_some_and(|t| t > before), "{row:?}");
        assert!(row.lease_owner.is_none(), "{row:?}");
    }
    store.close().await;
}

/// A NUL in a title and a guid, on PostgreSQL (which refuses NUL in text): the item is stored
/// cleaned and alerts, and the feed stays `ok` beside a normal one.
#[tokio::test]
async fn a_nul_in_a_title_and_guid_is_stored_cleaned_on_postgres() {
    let Some(db) = crate::pg::TestDatabase::create("hostile_nul_postgres").await else {
        return;
    };
    let env = Env::start().await;
    env.feeds
        .set("/calm.xml", rss(&[("calm-1", "هجوم لداعش", "نص")]), RSS);
    env.feeds.set(
        "/nul.xml",
        item_feed(
            "n\u{0}1",
            "بيان\u{0} لداعش",
            "نص",
            "Sun, 29 Nov 2026 08:00:00 GMT",
        ),
        RSS,
    );
    let text = config(&env, &["nul", "calm"]).replace(
        "state = \"state/rasad.db\"",
        &format!("state = \"{}\"", db.url),
    );
    std::fs::write(env.config_path(), text).expect("config written");
    let summary = env.once().await;
    assert_eq!(summary["feeds_failed"], 0, "{summary}");
    let text = serde_json::to_string(
        &env.hook
            .accepted()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).expect("a JSON webhook body"))
            .collect::<Vec<serde_json::Value>>(),
    )
    .expect("JSON");
    assert!(text.contains("بيان لداعش"), "{text}");
    assert!(text.contains("هجوم لداعش"), "{text}");
    assert!(!text.contains("\\u0000"), "a NUL reached an alert: {text}");
    let output = env.rasad(&["feeds", "--json"]).await;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let row: serde_json::Value = serde_json::from_str(line).expect("a JSON row");
        assert_eq!(row["state"], "ok", "{row}");
        assert_eq!(row["items_seen"], 1, "{row}");
    }
    let mut conn = db.connect().await;
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT story_key, title FROM stories WHERE feed_id = 'nul'")
            .fetch_all(&mut conn)
            .await
            .expect("stories readable");
    assert_eq!(stored.len(), 1, "{stored:?}");
    let (key, title) = &stored[0];
    assert_eq!(title, "بيان لداعش");
    assert!(!key.contains('\0'), "{key:?}");
}
