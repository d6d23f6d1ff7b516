//! Feeds in every state of repair and servers in every mood, through the binary: each feed ends
//! in its own health state with a clear error, a hostile server delays no other feed, and a
//! huge or endless body never costs more memory than the body cap.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::servers::FeedServer;
use crate::support::{Env, PROCESS_LIMIT, RSS, rss, wait_with_peak_memory};

/// The body cap of these tests.
const MAX_BODY: usize = 1 << 20;
/// The fetch timeout of these tests: the dripping body is cut here.
const TIMEOUT: &str = "2s";

/// A config with one `[[feed]]` per `(id, url)`, a 2 s timeout and a 1 MiB body cap.
fn config(feeds: &[(&str, String)]) -> String {
    let mut text = format!(
        r#"
[daemon]
state = "state/rasad.db"

[poll]
interval = "5m"
timeout = "{TIMEOUT}"
max_body = "1MiB"

[[topic]]
id = "isis"
any = ["داعش"]
notify = ["out"]

[[channel]]
id = "out"
kind = "stdout"
"#
    );
    for (id, url) in feeds {
        text.push_str(&format!("\n[[feed]]\nid = \"{id}\"\nurl = \"{url}\"\n"));
    }
    text
}

/// `rasad feeds --json`, by feed id.
async fn health(env: &Env) -> HashMap<String, serde_json::Value> {
    let output = env.rasad(&["feeds", "--json"]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("a JSON row");
            (row["id"].as_str().expect("an id").to_owned(), row)
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// Serves every hostile case on `server` and returns the feeds, by id.
fn serve_hostile_cases(server: &FeedServer) -> Vec<(&'static str, String)> {
    let item = rss(&[("h1", "خبر عاجل", "نص")]);
    server.set("/not-modified.xml", item.clone(), RSS);
    server.set_raw(
        "/rate-limited.xml",
        429,
        &[("Retry-After", "120"), ("Content-Type", "text/plain")],
        "slow down",
    );
    server.set_status("/unavailable.xml", 503);
    server.set_drip(
        "/drip.xml",
        item.clone().into_bytes(),
        RSS,
        8,
        Duration::from_millis(200),
    );
    server.set("/huge.xml", vec![b' '; 50 << 20], RSS);
    server.set_raw(
        "/bomb.xml",
        200,
        &[("Content-Type", RSS), ("Content-Encoding", "gzip")],
        gzip(&vec![b' '; 16 << 20]),
    );
    server.set_raw("/loop-a.xml", 302, &[("Location", "/loop-b.xml")], "");
    server.set_raw("/loop-b.xml", 302, &[("Location", "/loop-a.xml")], "");
    // windows-1256, declared only in the HTTP header.
    let arabic = encoding_rs::WINDOWS_1256
        .encode(&rss(&[("w1", "بيان لداعش", "نص")]).replace(" encoding=\"UTF-8\"", ""))
        .0
        .to_vec();
    server.set(
        "/windows-1256.xml",
        arabic,
        "application/rss+xml; charset=windows-1256",
    );
    server.set(
        "/utf16.xml",
        utf16le_with_bom(&rss(&[("u1", "خبر", "نص")]).replace("UTF-8", "UTF-16")),
        "application/rss+xml",
    );
    // Malformed, but as browsers and feedparser forgive it.
    server.set(
        "/repairable.xml",
        "<rss><channel><title>أخبار &nbsp; & more</title><item><title>خبر &laquo;عاجل&raquo;</title>\
         <pubDate>الأحد، ١٢ مايو ٢٠٢٤ ١٠:٠٠ AST</pubDate></item></channel></rss> trailing junk",
        RSS,
    );
    server.set(
        "/broken.xml",
        "<rss version=\"2.0\"><channel><item><title>x</item></channel></rss>",
        RSS,
    );
    server.set_raw(
        "/page.html",
        200,
        &[("Content-Type", "text/html; charset=utf-8")],
        "<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" \
         href=\"https://outlet.test/rss.xml\"></head><body>news</body></html>",
    );
    server.set_raw("/moved.xml", 301, &[("Location", "/moved-new.xml")], "");
    server.set("/moved-new.xml", item, RSS);
    [
        "not-modified",
        "rate-limited",
        "unavailable",
        "drip",
        "huge",
        "bomb",
        "loop-a",
        "windows-1256",
        "utf16",
        "repairable",
        "broken",
        "page",
        "moved",
    ]
    .into_iter()
    .map(|id| {
        let path = if id == "page" {
            "/page.html".to_owned()
        } else {
            format!("/{id}.xml")
        };
        (id, server.url(&path))
    })
    .collect()
}

#[tokio::test]
async fn every_feed_ends_in_its_own_health_state_and_delays_no_other() {
    let env = Env::start().await;
    let calm = FeedServer::start().await;
    calm.set("/news.xml", rss(&[("n1", "خبر", "نص")]), RSS);
    let mut feeds = serve_hostile_cases(&env.feeds);
    feeds.push(("calm", calm.url("/news.xml")));
    std::fs::write(env.config_path(), config(&feeds)).expect("config written");

    // First poll, watched from outside: the calm feed is fetched at once, although the
    // hostile server drips, stalls and floods; memory stays near the body cap.
    let started = Instant::now();
    // Its log goes to a file: a piped stderr that nobody reads would stall it once full.
    let mut child = env.spawn(&["once", "--json"]);
    let calm_requests = calm
        .wait_for_requests("/news.xml", 1, Duration::from_secs(2))
        .await;
    let calm_after = started.elapsed();
    let still_running = child.try_wait().expect("child status").is_none();
    let (waited, peak_kib) = wait_with_peak_memory(&mut child).await;
    assert!(waited.success(), "rasad once failed");
    assert_eq!(calm_requests, 1);
    assert!(
        still_running && calm_after < Duration::from_secs(1),
        "the calm feed waited {calm_after:?} (rasad still running: {still_running})"
    );
    // A 50 MiB body or a 16 MiB gzip bomb held in memory would show here; the cap is 1 MiB.
    // A debug build of `rasad once` peaks at 39 to 42 MiB in this test (the bodies capped, its
    // word lists and tables included), so 48 MiB leaves no room for either.
    assert!(
        peak_kib > 0 && peak_kib < 48 * 1024,
        "peak memory {peak_kib} KiB"
    );
    eprintln!("rasad once: peak memory {peak_kib} KiB, calm feed fetched after {calm_after:?}");

    // Second poll: the unchanged feed answers 304.
    let second = env.once().await;
    assert_eq!(
        (second["feeds_ok"].as_u64(), second["feeds_failed"].as_u64()),
        (Some(6), Some(8)),
        "{second}"
    );
    let health = health(&env).await;
    let cases: [(&str, &str, &str); 14] = [
        ("calm", "ok", ""),
        ("not-modified", "ok", ""),
        ("rate-limited", "failing", "rate limited (HTTP 429)"),
        ("unavailable", "failing", "rate limited (HTTP 503)"),
        ("drip", "failing", "timed out after 2s"),
        (
            "huge",
            "failing",
            "body larger than the limit of 1048576 bytes",
        ),
        (
            "bomb",
            "failing",
            "body larger than the limit of 1048576 bytes",
        ),
        ("loop-a", "failing", "more than 5 redirects"),
        ("windows-1256", "ok", ""),
        ("utf16", "ok", ""),
        ("repairable", "ok", ""),
        (
            "broken",
            "failing",
            "parse failed: cannot read the feed (content type application/rss+xml",
        ),
        (
            "page",
            "failing",
            "not a feed (content type text/html; charset=utf-8); the page advertises the feed https://outlet.test/rss.xml",
        ),
        ("moved", "ok", ""),
    ];
    for (id, state, error) in cases {
        let row = &health[id];
        assert_eq!(row["state"], state, "{id}: {row}");
        let last_error = row["last_error"].as_str().unwrap_or_default();
        assert!(
            last_error.contains(error),
            "{id}: {last_error:?} lacks {error:?}"
        );
        if state == "ok" {
            assert_eq!(row["consecutive_failures"], 0, "{id}: {row}");
            assert!(row["items_seen"].as_u64() >= Some(1), "{id}: {row}");
        } else {
            assert_eq!(row["consecutive_failures"], 2, "{id}: {row}");
            assert!(row["failing_since"].is_string(), "{id}: {row}");
        }
    }
    assert_eq!(health["not-modified"]["last_status"], "304");
    assert_eq!(health["rate-limited"]["last_status"], "429");
    assert_eq!(health["rate-limited"]["server_wait_secs"], 120);
    assert!(
        health["moved"]["moved_to"]
            .as_str()
            .is_some_and(|to| to.ends_with("/moved-new.xml")),
        "{}",
        health["moved"]
    );
    // Retry-After: 120 puts the next poll at least 100 s (jitter) away.
    let next = health["rate-limited"]["next_poll_at"]
        .as_str()
        .expect("a next poll");
    let next = chrono::DateTime::parse_from_rfc3339(next).expect("RFC 3339");
    assert!(
        next > chrono::Utc::now() + chrono::Duration::seconds(100),
        "{next}"
    );
    calm.shutdown().await;
}

#[tokio::test]
async fn parse_reads_the_charset_of_the_http_header() {
    let env = Env::start().await;
    env.write_config();
    let body = encoding_rs::WINDOWS_1256
        .encode("<rss version=\"2.0\"><channel><title>أخبار</title><item><title>بيان لداعش</title><guid>g</guid></item></channel></rss>")
        .0
        .to_vec();
    env.feeds.set(
        "/arabic.xml",
        body.clone(),
        "text/xml; charset=windows-1256",
    );
    env.feeds.set("/undeclared.xml", body, "text/xml");
    for path in ["/arabic.xml", "/undeclared.xml"] {
        let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"))
            .args(["parse", "--json", &env.feeds.url(path)])
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(PROCESS_LIMIT, command)
            .await
            .expect("rasad parse finished within the limit")
            .expect("rasad started");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let parsed: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&output.stderr)));
        assert_eq!(parsed["entries"][0]["title"], "بيان لداعش", "{path}");
        assert_eq!(parsed["feed"]["encoding"], "windows-1256", "{path}");
    }
}

#[tokio::test]
async fn the_feeds_command_lists_configured_feeds_never_polled() {
    let env = Env::start().await;
    env.write_config();
    let output = env.rasad(&["feeds"]).await;
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("never polled") && l.contains("news")),
        "{stdout}"
    );
}

/// Two feeds on one slow host wait for each other when `per_host` is 1; a feed on another host
/// does not wait for either.
#[tokio::test]
async fn requests_to_one_host_are_limited() {
    use rasad::source::fetch::{FetchOutcome, Fetcher, Validators};
    let slow = FeedServer::start().await;
    let quick = FeedServer::start().await;
    slow.set_delay(Some(Duration::from_millis(400)));
    for path in ["/a.xml", "/b.xml"] {
        slow.set(path, rss(&[]), RSS);
    }
    quick.set("/c.xml", rss(&[]), RSS);
    let fetcher = Fetcher::new(
        "rasad-test",
        Duration::from_secs(2),
        Duration::from_secs(5),
        MAX_BODY as u64,
    )
    .expect("client builds")
    .with_per_host(1);
    let fetch = |url: String| {
        let fetcher = fetcher.clone();
        async move {
            let started = Instant::now();
            let url = url::Url::parse(&url).expect("a URL");
            let outcome = fetcher.fetch(&url, &Validators::default()).await;
            assert!(
                matches!(outcome, FetchOutcome::Modified { .. }),
                "{outcome:?}"
            );
            started.elapsed()
        }
    };
    let (a, b, c) = tokio::join!(
        fetch(slow.url("/a.xml")),
        fetch(slow.url("/b.xml")),
        fetch(quick.url("/c.xml"))
    );
    let (first, second) = (a.min(b), a.max(b));
    assert!(first >= Duration::from_millis(400), "{first:?}");
    assert!(
        second >= Duration::from_millis(800),
        "the second waited only {second:?}"
    );
    assert!(
        c < Duration::from_millis(300),
        "the other host waited {c:?}"
    );
    slow.shutdown().await;
    quick.shutdown().await;
}
