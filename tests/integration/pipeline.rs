//! The whole pipeline through the binary: feed → match → store → email and webhook, exactly
//! once, across polls, restarts and failures of the receivers.

use std::time::Duration;

use crate::servers::SmtpServer;
use crate::support::{Env, KNOWN, RSS, count, counts, expected_signature, rss};

const WAIT: Duration = Duration::from_secs(10);

type Item = (&'static str, &'static str, &'static str);

/// Three Arabic items, one of which mentions لداعش.
const THREE: [Item; 3] = [
    ("a1", "أمطار غزيرة في عمّان", "توقعات الطقس لنهاية الأسبوع"),
    (
        "a2",
        "بيان لداعش يتبنى الهجوم",
        "قال مسؤول أمني إن التنظيم تبنى الهجوم على الحاجز",
    ),
    (
        "a3",
        "ارتفاع أسعار النفط",
        "صعدت الأسعار في التعاملات الآسيوية",
    ),
];
/// A fourth item, which mentions تنظيم الدولة.
const FOURTH: Item = (
    "a4",
    "غارات للتحالف على مواقع تنظيم الدولة",
    "قتلى في صفوف التنظيم",
);

fn three_items() -> String {
    rss(&THREE)
}

fn four_items() -> String {
    rss(&[THREE[0], THREE[1], THREE[2], FOURTH])
}

#[tokio::test]
async fn one_alert_per_story_across_polls_and_restarts() {
    let env = Env::start().await;
    env.write_config();
    // The feed is first known with an item that matches nothing.
    env.feeds.set(
        "/news.xml",
        rss(&[("a0", "افتتاح معرض الكتاب", "في الرياض")]),
        RSS,
    );
    let first = env.once().await;
    assert_eq!(
        counts(&first, ["feeds_ok", "new_stories", "alerts"]),
        [1, 1, 0]
    );

    // 1. Three new items, one mentioning لداعش: one email and one signed webhook call.
    env.feeds.set("/news.xml", three_items(), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 3, "{summary}");
    assert_eq!(count(&summary, "alerts"), 1, "{summary}");
    assert_eq!(count(&summary, "delivered"), 2, "{summary}");
    assert_eq!(count(&summary, "pending"), 0, "{summary}");

    let mails = env.smtp.wait_for_messages(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["desk@test.example"]);
    let mail = mails[0].decode();
    assert!(
        mail.subject.contains("داعش") && mail.subject.contains("بيان لداعش يتبنى الهجوم"),
        "{}",
        mail.subject
    );
    assert!(mail.html.contains("dir=\"rtl\""), "{}", mail.html);
    assert!(mail.html.contains("\">لداعش</mark>"), "{}", mail.html);
    assert!(
        mail.text.contains("بيان لداعش يتبنى الهجوم"),
        "{}",
        mail.text
    );

    let calls = env.hook.wait_for_accepted(1, WAIT).await;
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let timestamp = call
        .header("x-rasad-timestamp")
        .expect("a timestamp header");
    let signature = call
        .header("x-rasad-signature")
        .expect("a signature header");
    assert_eq!(
        signature,
        format!("sha256={}", expected_signature(timestamp, &call.body))
    );
    assert!(
        call.header("idempotency-key")
            .is_some_and(|k| !k.is_empty())
    );
    let body = call.json().expect("a JSON body");
    assert_eq!(body["version"], 1);
    assert_eq!(body["topic"]["id"], "isis");
    assert_eq!(body["story"]["title"], "بيان لداعش يتبنى الهجوم");
    assert_eq!(body["matches"][0]["matched"], "لداعش");

    // 2. The next poll: nothing new is sent, and the server saw a conditional request.
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["new_stories", "alerts", "delivered"]),
        [0, 0, 0]
    );
    assert!(env.feeds.conditional_requests("/news.xml") >= 1);
    assert!(env.feeds.not_modified_count("/news.xml") >= 1);

    // 3. A new matching item: exactly one more alert.
    env.feeds.set("/news.xml", four_items(), RSS);
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["new_stories", "alerts", "delivered"]),
        [1, 1, 2],
        "{summary}"
    );
    assert_eq!(env.smtp.wait_for_messages(2, WAIT).await.len(), 2);
    assert_eq!(env.hook.wait_for_accepted(2, WAIT).await.len(), 2);

    // A new process on the same state, with the feed served anew (new ETag): nothing re-sent.
    let same = env.feeds.requests().len();
    env.feeds.set("/news.xml", four_items(), RSS);
    let summary = env.once().await;
    assert!(env.feeds.requests().len() > same);
    assert_eq!(
        counts(&summary, ["new_stories", "alerts", "delivered"]),
        [0, 0, 0],
        "{summary}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.smtp.messages().len(), 2);
    assert_eq!(env.hook.requests().len(), 2);
}

#[tokio::test]
async fn first_poll_of_a_new_feed_records_without_alerting() {
    let mut env = Env::with_known_feed().await;

    // A feed added later, full of matching items: its first poll alerts no one.
    env.extra_feeds.push("wire".into());
    env.write_config();
    env.feeds.set(
        "/wire.xml",
        rss(&[("w1", "هجوم لداعش", "x"), ("w2", "داعش يتبنى", "y")]),
        RSS,
    );
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["feeds_ok", "new_stories", "alerts"]),
        [2, 2, 0],
        "{summary}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(env.smtp.messages().is_empty());
    assert!(env.hook.requests().is_empty());

    // Its next new item alerts as usual.
    env.feeds.set(
        "/wire.xml",
        rss(&[("w1", "هجوم لداعش", "x"), ("w3", "ISIS claims attack", "z")]),
        RSS,
    );
    let summary = env.once().await;
    assert_eq!(count(&summary, "alerts"), 1, "{summary}");
}

#[tokio::test]
async fn webhook_failure_is_retried_with_the_same_idempotency_key() {
    let env = Env::with_known_feed().await;

    env.hook.push_statuses(&[500]);
    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "هجوم لداعش", "نص")]), RSS);
    let summary = env.once().await;
    assert_eq!(
        count(&summary, "delivered"),
        1,
        "the email went out: {summary}"
    );
    assert_eq!(
        count(&summary, "pending"),
        1,
        "the webhook waits for a retry: {summary}"
    );
    assert_eq!(env.hook.requests().len(), 1);
    assert!(env.hook.accepted().is_empty());

    tokio::time::sleep(Duration::from_millis(500)).await;
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["delivered", "pending"]),
        [1, 0],
        "{summary}"
    );
    let requests = env.hook.requests();
    assert_eq!(
        requests
            .iter()
            .map(|(_, status)| *status)
            .collect::<Vec<_>>(),
        [500, 200]
    );
    let keys: Vec<_> = requests
        .iter()
        .map(|(r, _)| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys[0], keys[1], "a retry carries the same Idempotency-Key");
    assert_eq!(env.smtp.messages().len(), 1, "the email is not sent twice");
}

#[tokio::test]
async fn smtp_outage_keeps_alerts_pending_until_it_returns() {
    let mut env = Env::with_known_feed().await;

    let port = env.smtp.port();
    let smtp = std::mem::replace(&mut env.smtp, SmtpServer::start().await);
    smtp.shutdown().await;
    env.write_config(); // still names the old port, now closed
    let config = std::fs::read_to_string(env.config_path()).expect("config");
    std::fs::write(
        env.config_path(),
        config.replace(
            &format!("smtp_port = {}", env.smtp.port()),
            &format!("smtp_port = {port}"),
        ),
    )
    .expect("config");

    env.feeds.set(
        "/news.xml",
        rss(&[KNOWN, ("n2", "اشتباكات مع عناصر داعش", "نص")]),
        RSS,
    );
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["alerts", "delivered", "pending"]),
        [1, 1, 1],
        "{summary}"
    );
    assert!(env.smtp.messages().is_empty());

    // The mail server comes back on its port: the pending alert goes out, once.
    let back = SmtpServer::start_on(port).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["delivered", "pending"]),
        [1, 0],
        "{summary}"
    );
    let mails = back.wait_for_messages(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].decode().subject.contains("اشتباكات مع عناصر داعش"));
    assert_eq!(env.hook.accepted().len(), 1);
    back.shutdown().await;
}

#[tokio::test]
async fn a_broken_feed_fails_alone() {
    let mut env = Env::start().await;
    env.extra_feeds = vec!["broken".into(), "missing".into()];
    env.write_config();
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    env.feeds.set(
        "/broken.xml",
        "<html><body>not a feed</body></html>",
        "text/html",
    );
    env.once().await;
    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "داعش", "نص")]), RSS);
    let output = env.rasad(&["once", "--json"]).await;
    assert!(output.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!(
        counts(&summary, ["feeds_ok", "feeds_failed", "alerts"]),
        [1, 2, 1],
        "{summary}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("feed=broken") && stderr.contains("parse failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("feed=missing") && stderr.contains("HTTP status 404"),
        "{stderr}"
    );
}

#[tokio::test]
async fn run_polls_on_schedule_and_stops_cleanly_on_sigterm() {
    let env = Env::start().await;
    env.write_config();
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"))
        .args(["run", "-c"])
        .arg(env.config_path())
        .env("RASAD_TEST_WEBHOOK_SECRET", crate::support::SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("rasad run starts");
    assert!(
        env.feeds.wait_for_requests("/news.xml", 1, WAIT).await >= 1,
        "first poll"
    );
    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "هجوم لداعش", "نص")]), RSS);
    assert_eq!(
        env.hook.wait_for_accepted(1, WAIT).await.len(),
        1,
        "the alert is delivered while running"
    );
    assert_eq!(env.smtp.wait_for_messages(1, WAIT).await.len(), 1);

    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits within the grace period")
        .expect("status");
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(env.hook.accepted().len(), 1, "nothing sent twice");
}

#[tokio::test]
async fn check_lists_every_mistake_with_its_key_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[[feed]]
id = "bbc"
url = "https://feeds.bbci.co.uk/arabic/rss.xml"

[[feed]]
id = "bbc"
url = "ftp://example.org/feed.xml"

[[topic]]
id = "isis"
any = []
notify = ["desk"]

[[channel]]
id = "ops"
kind = "webhook"
url = "https://hooks.example.org/x"
secret = "inline-secret"
"#,
    )
    .expect("written");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rasad"))
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for want in [
        "line 7: feed[2].id: duplicate id \"bbc\"",
        "line 8: feed[2].url: \"ftp://example.org/feed.xml\" must be http, https or file",
        "line 12: topic[1].any: needs at least one keyword",
        "line 13: topic[1].notify[1]: unknown channel \"desk\"",
        "line 19: channel[1].secret: secrets never sit in the config file",
    ] {
        assert!(stderr.contains(want), "missing {want:?} in:\n{stderr}");
    }
    assert!(
        !stderr.contains("inline-secret"),
        "the secret is never echoed"
    );

    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[feed]]\nid = \"a\"\nurl = \"https://a.example/rss\"\n[[topic]]\nid = \"t\"\nany = [\"داعش\"]\nnotify = [\"out\"]\n[[channel]]\nid = \"out\"\nkind = \"stdout\"\n").expect("written");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rasad"))
        .args(["check", "-c"])
        .arg(&good)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 feeds, 1 topics, 1 keywords, 1 channels"),
        "{stdout}"
    );
}

#[tokio::test]
async fn email_authenticates_with_a_password_from_a_file() {
    let env = Env::start().await;
    env.write_config();
    let password_file = env.dir.path().join("smtp-password");
    std::fs::write(&password_file, "كلمة-سر\n").expect("written");
    let config = std::fs::read_to_string(env.config_path()).expect("config");
    let with_auth = config.replace(
        "tls = \"none\"",
        &format!(
            "tls = \"none\"\nusername = \"rasad\"\npassword_file = \"{}\"",
            password_file.display()
        ),
    );
    std::fs::write(env.config_path(), with_auth).expect("config");
    env.smtp.require_auth("rasad", "كلمة-سر");
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    env.once().await;
    env.feeds.set(
        "/news.xml",
        rss(&[KNOWN, ("n2", "عملية ضد داعش", "نص")]),
        RSS,
    );
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["delivered", "pending"]),
        [2, 0],
        "{summary}"
    );
    let mails = env.smtp.wait_for_messages(1, WAIT).await;
    assert_eq!(mails[0].auth_user.as_deref(), Some("rasad"));
}

#[tokio::test]
async fn dry_run_prints_matches_and_writes_no_state() {
    let env = Env::start().await;
    env.write_config();
    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "مقاتلو داعش", "نص")]), RSS);
    let output = env.rasad(&["once", "--dry-run", "--json"]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["topics"][0], "isis");
    assert_eq!(lines[0]["matched"][0], "داعش");
    assert!(
        !env.dir.path().join("state").exists(),
        "a dry run creates no state"
    );
    assert!(env.smtp.messages().is_empty() && env.hook.requests().is_empty());
}

#[tokio::test]
async fn shipped_configs_pass_check() {
    for (path, secrets) in [
        ("config/rasad.toml", &[][..]),
        (
            "config/rasad.example.toml",
            &[
                "RASAD_SMTP_PASSWORD",
                "RASAD_WEBHOOK_SECRET",
                "RASAD_TELEGRAM_TOKEN",
            ][..],
        ),
    ] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rasad"));
        command.args(["check", "-c", path]);
        for name in secrets {
            command.env(name, "test-value");
        }
        let output = command.output().expect("runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{path}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn dry_run_reads_the_charset_from_the_http_header_as_a_poll_does() {
    let env = Env::start().await;
    env.write_config();
    let text = rss(&[("n1", "هجوم لداعش", "نص")]).replace(" encoding=\"UTF-8\"", "");
    let (body, _, unmappable) = encoding_rs::ISO_8859_6.encode(&text);
    assert!(!unmappable, "the sample is in ISO-8859-6's repertoire");
    env.feeds.set(
        "/news.xml",
        body.into_owned(),
        "application/rss+xml; charset=iso-8859-6",
    );
    let output = env.rasad(&["once", "--dry-run", "--json"]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\"matched\":[\"لداعش\"]"), "{stdout}");
}
