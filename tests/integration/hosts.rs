//! Slow and hostile hosts: polls queued behind one slow host hold no poll slot that a feed of
//! another host could use, and a redirect from a public address to a private one is refused
//! (and followed when `poll.allow_private_redirects` says so), each beside a normal feed that
//! still alerts.

use std::time::Duration;

use crate::servers::FeedServer;
use crate::support::{Env, RSS, rss};

/// How long a test waits for an alert that should come within a second or two.
const WAIT: Duration = Duration::from_secs(30);

/// The config's head: one topic, the webhook channel, and `poll` as the `[poll]` table.
fn head(env: &Env, poll: &str) -> String {
    format!(
        r#"
[daemon]
state = "state/rasad.db"

[poll]
interval = "5m"
timeout = "20s"
alert_on_first_poll = true
{poll}

[[topic]]
id = "isis"
any = ["داعش"]
notify = ["ops"]

[[channel]]
id = "ops"
kind = "webhook"
url = "{}"
"#,
        env.hook.url()
    )
}

fn feed_table(id: &str, url: &str) -> String {
    format!("\n[[feed]]\nid = \"{id}\"\nurl = \"{url}\"\n")
}

/// The per-host limit (1) makes eight feeds of a slow host (3 s an answer) poll one after
/// another, 24 s in all; with two poll slots, a feed of another host listed after them must
/// still alert at once. When a poll waiting for its host's turn held a slot, the quick feed
/// waited for the slow host's whole queue.
#[tokio::test]
async fn polls_waiting_for_a_slow_host_leave_the_slots_to_other_hosts() {
    const SLOW_FEEDS: usize = 8;
    let env = Env::start().await;
    // A second server, on a port of its own: the per-host limit counts host and port.
    let slow = FeedServer::start().await;
    slow.set_delay(Some(Duration::from_secs(3)));
    let mut config = head(&env, "concurrency = 2\nper_host = 1");
    // Listed first, so due first: the slow host's feeds are taken before the quick one.
    for i in 0..SLOW_FEEDS {
        let path = format!("/slow-{i}.xml");
        slow.set(&path, rss(&[]), RSS);
        config.push_str(&feed_table(&format!("a-slow-{i}"), &slow.url(&path)));
    }
    env.feeds
        .set("/quick.xml", rss(&[("q1", "هجوم لداعش", "نص")]), RSS);
    config.push_str(&feed_table("z-quick", &env.feeds.url("/quick.xml")));
    std::fs::write(env.config_path(), config).expect("config written");

    let mut daemon = env.spawn(&["run"]);
    let alerts = env.hook.wait_for_accepted(1, WAIT).await;
    // Counted when the alert was seen: requests reach the slow host one every 3 s.
    let slow_requests = slow.requests().len();
    daemon.start_kill().expect("rasad stopped");
    let _ = daemon.wait().await;
    assert_eq!(alerts.len(), 1, "no alert; log:\n{}", env.log());
    assert!(
        slow_requests <= 2,
        "the quick feed alerted only after {slow_requests} of the slow host's polls"
    );
    slow.shutdown().await;
}

/// A public address that stands for the feed's outlet. It is reached only through the feed
/// server acting as the HTTP proxy (see [`through_proxy`]): nothing leaves the host.
const PUBLIC: &str = "192.0.2.10";

/// Environment variables that send every request through `proxy` except those to 127.0.0.1
/// (the webhook receiver and the normal feed), as when rasad runs behind a forward proxy.
fn through_proxy(proxy: &str) -> Vec<(&'static str, String)> {
    let mut vars = Vec::new();
    for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        vars.push((name, proxy.to_owned()));
    }
    for name in ["NO_PROXY", "no_proxy"] {
        vars.push((name, "127.0.0.1".to_owned()));
    }
    vars
}

/// The bodies of the alerts the webhook accepted, as one JSON text.
fn alerts_text(env: &Env) -> String {
    let bodies: Vec<serde_json::Value> = env
        .hook
        .accepted()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON webhook body"))
        .collect();
    serde_json::to_string(&bodies).expect("JSON")
}

/// `rasad feeds --json`: each feed's row by id.
async fn feed_rows(env: &Env) -> Vec<serde_json::Value> {
    let output = env.rasad(&["feeds", "--json"]).await;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect()
}

fn row<'a>(rows: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} has a row: {rows:?}"))
}

/// A feed on a public address that redirects to the metadata service or to a loopback
/// address is refused before anything connects there, and `rasad feeds` says why; the normal
/// feed beside them alerts. With `poll.allow_private_redirects = true` the loopback redirect
/// is followed.
#[tokio::test]
async fn redirects_from_a_public_address_to_a_private_one_are_refused_unless_allowed() {
    let env = Env::start().await;
    let proxy = format!("http://{}", env.feeds.addr());
    let vars = through_proxy(&proxy);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let port = env.feeds.addr().port();
    let metadata = "http://169.254.169.254/latest/meta-data/feed.xml";
    let loopback = format!("http://127.0.0.2:{port}/inside.xml");
    env.feeds
        .set_raw("/to-metadata.xml", 302, &[("Location", metadata)], "");
    env.feeds
        .set_raw("/to-loopback.xml", 302, &[("Location", &loopback)], "");
    env.feeds.set(
        "/inside.xml",
        rss(&[("in-1", "بيان داخلي لداعش", "نص")]),
        RSS,
    );
    env.feeds
        .set("/calm.xml", rss(&[("calm-1", "هجوم لداعش", "نص")]), RSS);
    let calm = feed_table("calm", &env.feeds.url("/calm.xml"));
    let to_metadata = feed_table("to-metadata", &format!("http://{PUBLIC}/to-metadata.xml"));
    let to_loopback = feed_table("to-loopback", &format!("http://{PUBLIC}/to-loopback.xml"));

    let config = format!("{}{calm}{to_metadata}{to_loopback}", head(&env, ""));
    std::fs::write(env.config_path(), config).expect("config written");
    let output = env.rasad_with(&["once", "--json"], &vars).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The feeds on the public address were asked for through the proxy, and the targets of
    // their redirects never were.
    let asked: Vec<String> = env
        .feeds
        .requests()
        .iter()
        .filter_map(|r| r.header("host").map(str::to_owned))
        .collect();
    assert!(asked.iter().any(|h| h == PUBLIC), "{asked:?}");
    assert_eq!(env.feeds.request_count("/latest/meta-data/feed.xml"), 0);
    assert_eq!(env.feeds.request_count("/inside.xml"), 0);
    let text = alerts_text(&env);
    assert!(text.contains("هجوم لداعش"), "{text}");
    assert!(!text.contains("بيان داخلي"), "{text}");
    let rows = feed_rows(&env).await;
    assert_eq!(row(&rows, "calm")["state"], "ok");
    for (id, target, ip) in [
        ("to-metadata", metadata, "169.254.169.254"),
        ("to-loopback", loopback.as_str(), "127.0.0.2"),
    ] {
        let row = row(&rows, id);
        assert_eq!(row["state"], "failing", "{row}");
        let error = row["last_error"].as_str().unwrap_or_default();
        let said = format!(
            "refused to follow a redirect from a public address to {target} ({ip}, not a public address); poll.allow_private_redirects = true allows it"
        );
        assert!(error.contains(&said), "{id}: {error}");
    }

    // Allowed: the loopback redirect is followed (the metadata feed is left out, so that
    // nothing could go there even without the proxy).
    let config = format!(
        "{}{calm}{to_loopback}",
        head(&env, "allow_private_redirects = true")
    );
    std::fs::write(env.config_path(), config).expect("config written");
    let output = env.rasad_with(&["once", "--json"], &vars).await;
    assert!(output.status.success());
    let inside: Vec<String> = env
        .feeds
        .requests()
        .iter()
        .filter(|r| r.path == "/inside.xml")
        .filter_map(|r| r.header("host").map(str::to_owned))
        .collect();
    assert_eq!(inside, [format!("127.0.0.2:{port}")]);
    let text = alerts_text(&env);
    assert!(text.contains("بيان داخلي لداعش"), "{text}");
    let rows = feed_rows(&env).await;
    assert_eq!(row(&rows, "to-loopback")["state"], "ok", "{rows:?}");
}
