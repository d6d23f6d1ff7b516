//! The daemon as an administrator meets it: `rasad run` as a child process, reloaded with
//! SIGHUP, stopped with SIGTERM, talking to a test `NOTIFY_SOCKET`, and answering on its admin
//! HTTP port; plus the systemd unit checked by `systemd-analyze` where it exists.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Env, KNOWN, RSS, SECRET, eventually, eventually_async, rss};

const WAIT: Duration = Duration::from_secs(15);

/// The topic line of the config `Env::write_config` writes, and the same with one more keyword.
const TOPIC_KEYWORDS: &str = r#"any = ["داعش", "تنظيم الدولة", "ISIS"]"#;
const TOPIC_KEYWORDS_ADDED: &str = r#"any = ["داعش", "تنظيم الدولة", "ISIS", "الحوثي"]"#;

/// Starts `rasad run` with extra environment variables; its log goes to `rasad.log`.
fn start(env: &Env, vars: &[(&str, &str)]) -> tokio::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(env.dir.path().join("rasad.log"))
        .expect("log file opened");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"));
    command
        .args(["run", "-c"])
        .arg(env.config_path())
        .env("RASAD_TEST_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("JOURNAL_STREAM")
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    command.spawn().expect("rasad run starts")
}

pub(crate) fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("still running").to_string();
    let sent = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{name} {pid}");
}

/// Stops the child with SIGTERM and returns its exit status and how long it took.
async fn stop(mut child: tokio::process::Child) -> (std::process::ExitStatus, Duration) {
    let started = Instant::now();
    signal(&child, "TERM");
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("rasad exits after SIGTERM")
        .expect("exit status");
    (status, started.elapsed())
}

/// A port free at the time of asking, for `daemon.listen`.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// An environment whose `news` feed is known, with the admin server on a free port.
async fn env_with_admin() -> (Env, String) {
    let mut env = Env::with_known_feed().await;
    let addr = format!("127.0.0.1:{}", free_port());
    env.listen = addr.clone();
    env.write_config();
    (env, addr)
}

/// `GET path` over HTTP/1.1 on `addr`: the status, the content type and the body.
async fn get(addr: &str, path: &str) -> Option<(u16, String, String)> {
    let mut conn = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    Some((status, content_type, body.to_owned()))
}

async fn wait_ready(addr: &str) -> bool {
    eventually_async(WAIT, || async {
        matches!(get(addr, "/readyz").await, Some((200, _, _)))
    })
    .await
}

/// Parses Prometheus/OpenMetrics text into `name{labels}` → value; panics on a line that is not
/// a comment or a well-formed sample, or when `# EOF` is not the last line.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let valid_name = |name: &str| {
        !name.is_empty()
            && name.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "the text ends with # EOF");
    let mut samples = HashMap::new();
    for line in lines {
        if let Some(comment) = line.strip_prefix("# ") {
            let kind = comment.split(' ').next().unwrap_or_default();
            assert!(
                ["HELP", "TYPE", "UNIT", "EOF"].contains(&kind),
                "comment {line:?}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("labels in {line:?}"));
                for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                    let (key, quoted) = pair
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("label {pair:?} in {line:?}"));
                    assert!(valid_name(key), "label name {key:?} in {line:?}");
                    assert!(!quoted.contains("://"), "a label holds a URL: {line:?}");
                }
                name
            }
            None => series,
        };
        assert!(valid_name(name), "metric name {name:?} in {line:?}");
        samples.insert(series.to_owned(), value);
    }
    samples
}

fn sample(metrics: &HashMap<String, f64>, series: &str) -> f64 {
    metrics.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn sighup_after_adding_a_keyword_makes_the_next_poll_alert_on_it() {
    let env = Env::with_known_feed().await;
    let child = start(&env, &[]);
    assert!(
        env.feeds.wait_for_requests("/news.xml", 2, WAIT).await >= 2,
        "the daemon polls"
    );

    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("h1", "الحوثي يعلن", "نص")]), RSS);
    let before = env.feeds.request_count("/news.xml");
    assert!(
        env.feeds
            .wait_for_requests("/news.xml", before + 2, WAIT)
            .await
            >= before + 2
    );
    assert!(
        env.hook.accepted().is_empty(),
        "no alert before the keyword exists"
    );

    let config = std::fs::read_to_string(env.config_path()).expect("config read");
    assert!(config.contains(TOPIC_KEYWORDS));
    std::fs::write(
        env.config_path(),
        config.replace(TOPIC_KEYWORDS, TOPIC_KEYWORDS_ADDED),
    )
    .expect("config written");
    signal(&child, "HUP");
    assert!(
        eventually(WAIT, || env.log().contains("config reloaded")).await,
        "{}",
        env.log()
    );

    env.feeds.set(
        "/news.xml",
        rss(&[
            KNOWN,
            ("h1", "الحوثي يعلن", "نص"),
            ("h2", "هجوم للحوثيين", "نص"),
        ]),
        RSS,
    );
    let hooks = env.hook.wait_for_accepted(1, WAIT).await;
    assert_eq!(hooks.len(), 1, "one alert after the reload: {}", env.log());
    assert!(
        hooks[0].body_text().contains("هجوم للحوثيين"),
        "{}",
        hooks[0].body_text()
    );
    assert_eq!(
        env.smtp.wait_for_messages(1, WAIT).await.len(),
        1,
        "the email channel too"
    );
    let (status, _) = stop(child).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn sighup_with_a_broken_config_keeps_the_old_one_and_says_why() {
    let (env, addr) = env_with_admin().await;
    let child = start(&env, &[]);
    assert!(wait_ready(&addr).await, "ready: {}", env.log());

    let good = std::fs::read_to_string(env.config_path()).expect("config read");
    let broken = format!("{good}\n[[feed]]\nid = \"news\"\nurl = \"ftp://outlet.test/rss\"\n");
    std::fs::write(env.config_path(), broken).expect("config written");
    signal(&child, "HUP");
    assert!(
        eventually(WAIT, || env.log().contains("reload failed")).await,
        "{}",
        env.log()
    );
    let log = env.log();
    for why in ["duplicate id \"news\"", "must be http, https or file"] {
        assert!(log.contains(why), "the log says {why:?}: {log}");
    }

    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "هجوم لداعش", "نص")]), RSS);
    assert_eq!(
        env.hook.wait_for_accepted(1, WAIT).await.len(),
        1,
        "still alerting: {log}"
    );
    let (_, _, text) = get(&addr, "/metrics").await.expect("metrics answer");
    let metrics = parse_metrics(&text);
    assert_eq!(
        sample(&metrics, "rasad_reloads_total{result=\"failed\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(&metrics, "rasad_reloads_total{result=\"ok\"}"),
        0.0,
        "{text}"
    );
    let (status, _) = stop(child).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn sigterm_exits_0_within_10s_and_loses_no_delivery() {
    let env = Env::with_known_feed().await;
    env.hook.set_delay(Some(Duration::from_secs(2)));
    let child = start(&env, &[]);
    assert!(env.feeds.wait_for_requests("/news.xml", 2, WAIT).await >= 2);
    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "هجوم لداعش", "نص")]), RSS);
    assert_eq!(
        env.hook.wait_for_requests(1, WAIT).await.len(),
        1,
        "a send is in flight"
    );

    let (status, took) = stop(child).await;
    assert!(status.success(), "exit status {status:?}: {}", env.log());
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    eprintln!("stopped {took:?} after SIGTERM with a 2 s send in flight");

    // Each of the two deliveries (webhook and email) was either confirmed or is still queued.
    let output = env.rasad(&["outbox", "--json"]).await;
    let queued: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an outbox line is JSON"))
        .collect();
    assert!(queued.iter().all(|d| d["state"] != "dead"), "{queued:?}");
    let delivered = env.hook.accepted().len() + env.smtp.messages().len();
    assert_eq!(
        delivered + queued.len(),
        2,
        "delivered {delivered}, queued {queued:?}"
    );

    env.hook.set_delay(None);
    env.once().await;
    assert_eq!(env.hook.accepted().len(), 1, "the webhook got it once");
    assert_eq!(env.smtp.messages().len(), 1, "the mail got it once");
}

#[tokio::test]
async fn tells_the_notify_socket_ready_watchdog_reloading_and_stopping() {
    let env = Env::with_known_feed().await;
    let socket_path = env.dir.path().join("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).expect("notify socket");
    let path = socket_path.to_str().expect("a UTF-8 path");
    let child = start(
        &env,
        &[("NOTIFY_SOCKET", path), ("WATCHDOG_USEC", "1000000")],
    );

    let mut messages = Vec::new();
    receive_until(&socket, "READY=1", &mut messages).await;
    assert!(
        messages[0].lines().any(|l| l == "READY=1"),
        "READY first: {messages:?}"
    );
    let ready_at = Instant::now();
    receive_until(&socket, "WATCHDOG=1", &mut messages).await;
    assert!(
        ready_at.elapsed() < Duration::from_secs(3),
        "a ping within the interval"
    );

    signal(&child, "HUP");
    let mut reload = Vec::new();
    receive_until(&socket, "RELOADING=1", &mut reload).await;
    let reloading = reload.last().expect("received above");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    let mut after = Vec::new();
    receive_until(&socket, "READY=1", &mut after).await;

    let (status, _) = stop(child).await;
    let mut stopping = Vec::new();
    receive_until(&socket, "STOPPING=1", &mut stopping).await;
    assert!(status.success(), "{status:?}");
}

/// Receives datagrams into `messages` until one has the line `want`; panics after [`WAIT`].
async fn receive_until(socket: &tokio::net::UnixDatagram, want: &str, messages: &mut Vec<String>) {
    let end = tokio::time::Instant::now() + WAIT;
    let mut buf = vec![0u8; 4096];
    while !messages.iter().any(|m| m.lines().any(|l| l == want)) {
        match tokio::time::timeout_at(end, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => messages.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            _ => panic!("no {want} within {WAIT:?}; got {messages:?}"),
        }
    }
}

#[tokio::test]
async fn metrics_parse_and_move_with_the_work_done() {
    let (env, addr) = env_with_admin().await;
    let child = start(&env, &[]);
    assert!(wait_ready(&addr).await, "ready: {}", env.log());
    let (status, _, body) = get(&addr, "/healthz").await.expect("healthz answers");
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    let (status, content_type, text) = get(&addr, "/metrics").await.expect("metrics answer");
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let before = parse_metrics(&text);

    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "هجوم لداعش", "نص")]), RSS);
    assert_eq!(env.hook.wait_for_accepted(1, WAIT).await.len(), 1);
    assert_eq!(env.smtp.wait_for_messages(1, WAIT).await.len(), 1);
    let delivered = |m: &HashMap<String, f64>| {
        sample(
            m,
            "rasad_deliveries_total{channel=\"ops\",outcome=\"delivered\"}",
        ) + sample(
            m,
            "rasad_deliveries_total{channel=\"desk\",outcome=\"delivered\"}",
        )
    };
    let mut after = HashMap::new();
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        let (_, _, text) = get(&addr, "/metrics").await.expect("metrics answer");
        after = parse_metrics(&text);
        if delivered(&after) >= 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    let cases = [
        (
            "one new story",
            "rasad_new_stories_total{feed=\"news\"}",
            1.0,
        ),
        ("one topic hit", "rasad_hits_total{topic=\"isis\"}", 1.0),
        (
            "an alert for the webhook",
            "rasad_alerts_total{topic=\"isis\",channel=\"ops\"}",
            1.0,
        ),
        (
            "an alert for the mail",
            "rasad_alerts_total{topic=\"isis\",channel=\"desk\"}",
            1.0,
        ),
        (
            "two items in the changed feed",
            "rasad_items_parsed_total{feed=\"news\"}",
            2.0,
        ),
        (
            "webhook delivered",
            "rasad_deliveries_total{channel=\"ops\",outcome=\"delivered\"}",
            1.0,
        ),
        (
            "mail delivered",
            "rasad_deliveries_total{channel=\"desk\",outcome=\"delivered\"}",
            1.0,
        ),
    ];
    for (name, series, want) in cases {
        assert_eq!(moved(series), want, "{name}: {series}\n{after:?}");
    }
    assert!(
        moved("rasad_fetches_total{feed=\"news\",status=\"2xx\"}") >= 1.0,
        "{after:?}"
    );
    // A scrape may fall between a fetch's two updates: the timings lead the count by one at most.
    let timed = sample(&after, "rasad_fetch_duration_seconds_count{feed=\"news\"}");
    let counted = sample(&after, "rasad_fetches_total{feed=\"news\",status=\"2xx\"}")
        + sample(&after, "rasad_fetches_total{feed=\"news\",status=\"304\"}");
    assert!(
        timed >= 1.0 && (timed - counted).abs() <= 1.0,
        "every fetch is timed: {timed} timings, {counted} fetches"
    );

    let healthcheck = env.rasad(&["healthcheck"]).await;
    assert!(healthcheck.status.success(), "{healthcheck:?}");
    assert_eq!(String::from_utf8_lossy(&healthcheck.stdout), "ready\n");
    let (status, _) = stop(child).await;
    assert!(status.success(), "{status:?}");
    let healthcheck = env.rasad(&["healthcheck"]).await;
    assert_eq!(
        healthcheck.status.code(),
        Some(3),
        "nobody answers after the stop"
    );
}

#[tokio::test]
async fn outbox_gauges_show_depth_and_age_of_waiting_deliveries() {
    let (env, addr) = env_with_admin().await;
    env.hook.set_default_status(503);
    let child = start(&env, &[]);
    assert!(wait_ready(&addr).await, "ready: {}", env.log());
    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "هجوم لداعش", "نص")]), RSS);
    assert!(!env.hook.wait_for_requests(1, WAIT).await.is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, _, text) = get(&addr, "/metrics").await.expect("metrics answer");
    let metrics = parse_metrics(&text);
    let waiting: f64 = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("rasad_outbox_depth{channel=\"ops\""))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(waiting, 1.0, "{text}");
    assert!(
        sample(
            &metrics,
            "rasad_outbox_oldest_pending_age_seconds{channel=\"ops\"}"
        ) >= 1.0,
        "{text}"
    );
    assert!(
        sample(
            &metrics,
            "rasad_deliveries_total{channel=\"ops\",outcome=\"retry\"}"
        ) >= 1.0,
        "{text}"
    );
    let (status, _) = stop(child).await;
    assert!(status.success(), "{status:?}");
}

#[test]
fn systemd_analyze_accepts_the_unit_and_rates_it_well_exposed_at_most_1_5() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/rasad.service");
    let text = std::fs::read_to_string(&unit).expect("systemd/rasad.service exists");
    let Ok(version) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        println!("skipped: systemd-analyze is not installed");
        return;
    };
    assert!(version.status.success());
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("rasad.service");
    std::fs::write(
        &copy,
        text.replace("/usr/bin/rasad", env!("CARGO_BIN_EXE_rasad")),
    )
    .expect("unit copied");
    let verify = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "verify failed: {stderr}");
    let own: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("rasad.service"))
        .collect();
    assert!(own.is_empty(), "verify complains: {own:?}");

    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=15"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze runs");
    let report = String::from_utf8_lossy(&security.stdout);
    let overall = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall level in {report}"));
    println!("{overall}");
    assert!(security.status.success(), "exposure above 1.5: {overall}");
}

#[tokio::test]
async fn a_taken_admin_port_is_logged_and_alerts_still_go_out() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let mut env = Env::with_known_feed().await;
    env.listen = taken.local_addr().expect("its address").to_string();
    env.write_config();
    let child = start(&env, &[]);
    let logged = eventually(WAIT, || {
        env.log().contains("running without the admin HTTP server")
    });
    assert!(logged.await, "{}", env.log());
    assert!(
        env.log()
            .contains(&format!("cannot listen on {}", env.listen)),
        "{}",
        env.log()
    );
    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "هجوم لداعش", "نص")]), RSS);
    assert_eq!(
        env.hook.wait_for_accepted(1, WAIT).await.len(),
        1,
        "{}",
        env.log()
    );
    let (status, _) = stop(child).await;
    assert!(status.success(), "{status:?}");
}
