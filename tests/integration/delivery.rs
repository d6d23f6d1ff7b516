//! Delivery through the binary against real SMTP and webhook servers: retries until the
//! receiver is back, Retry-After that pauses one channel only, dead deliveries put back by
//! `rasad outbox retry`, digests and hourly limits, threading, templates, `rasad notify-test`,
//! and a daemon killed mid-delivery that loses nothing. (Snapshots of the rendered formats are
//! unit tests in `src/sink/templates.rs`.)

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::servers::{SmtpServer, WebhookReceiver};
use crate::support::{Env, FAST_RETRIES, KNOWN, RSS, count, eventually, matching_items, rss};

const WAIT: Duration = Duration::from_secs(15);

/// Writes a config for `env`'s servers (see [`Env::write_config_with`]), with the email in
/// Riyadh time.
fn write_config(env: &Env, delivery: &str, desk_extra: &str, tail: &str) {
    env.write_config_with(
        delivery,
        &format!("timezone = \"Asia/Riyadh\"\n{desk_extra}"),
        tail,
    );
}

/// An environment whose feed is known (its first poll alerts no one), configured as in
/// [`write_config`].
async fn known_env(delivery: &str, desk_extra: &str, tail: &str) -> Env {
    let env = Env::start().await;
    write_config(&env, delivery, desk_extra, tail);
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 1, "{summary}");
    env
}

/// `rasad outbox --json`, one object per undelivered delivery.
async fn outbox(env: &Env) -> Vec<serde_json::Value> {
    let output = env.rasad(&["outbox", "--json"]).await;
    assert!(
        output.status.success(),
        "rasad outbox failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Runs `rasad once` until nothing is pending (at most `rounds` times, `pause` apart).
async fn once_until_settled(env: &Env, rounds: usize, pause: Duration) -> serde_json::Value {
    let mut summary = env.once().await;
    for _ in 1..rounds {
        if count(&summary, "pending") == 0 {
            break;
        }
        tokio::time::sleep(pause).await;
        summary = env.once().await;
    }
    summary
}

#[tokio::test]
async fn smtp_down_for_three_rounds_then_up_delivers_every_alert_exactly_once() {
    let mut env = known_env(FAST_RETRIES, "", "").await;
    let port = env.smtp.port();
    let down = std::mem::replace(&mut env.smtp, SmtpServer::start().await);
    down.shutdown().await;

    env.feeds.set("/news.xml", matching_items(3), RSS);
    for round in 1..=3 {
        let summary = env.once().await;
        if round == 1 {
            assert_eq!(count(&summary, "alerts"), 3, "{summary}");
        }
        assert_eq!(count(&summary, "pending"), 3, "round {round}: {summary}");
        tokio::time::sleep(Duration::from_millis(450)).await;
    }
    // The webhook channel was not held up by the mail server being down.
    assert_eq!(env.hook.accepted().len(), 3);
    let waiting = outbox(&env).await;
    assert_eq!(waiting.len(), 3, "{waiting:?}");
    for entry in &waiting {
        assert_eq!(entry["channel"], "desk", "{entry}");
        assert!(
            ["pending", "retrying"].contains(&entry["state"].as_str().unwrap_or_default()),
            "{entry}"
        );
    }
    assert!(
        waiting
            .iter()
            .any(|e| e["last_error"].as_str().is_some_and(|m| !m.is_empty())),
        "{waiting:?}"
    );

    let up = SmtpServer::start_on(port).await;
    let _ = std::mem::replace(&mut env.smtp, up);
    let summary = once_until_settled(&env, 10, Duration::from_millis(450)).await;
    assert_eq!(count(&summary, "pending"), 0, "{summary}");
    let mails = env.smtp.messages();
    assert_eq!(mails.len(), 3);
    let subjects: HashSet<String> = mails.iter().map(|m| m.decode().subject).collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    let ids: HashSet<String> = mails
        .iter()
        .filter_map(|m| m.decode().header("Message-ID").map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(outbox(&env).await.is_empty());
}

#[tokio::test]
async fn webhook_answering_500_500_200_delivers_once() {
    let env = known_env(FAST_RETRIES, "", "").await;
    env.hook.push_statuses(&[500, 500]);
    env.feeds.set("/news.xml", matching_items(1), RSS);
    let summary = once_until_settled(&env, 10, Duration::from_millis(450)).await;
    assert_eq!(count(&summary, "pending"), 0, "{summary}");
    let requests = env.hook.requests();
    let statuses: Vec<u16> = requests.iter().map(|(_, s)| *s).collect();
    assert_eq!(statuses, [500, 500, 200]);
    let keys: HashSet<&str> = requests
        .iter()
        .filter_map(|(r, _)| r.header("idempotency-key"))
        .collect();
    assert_eq!(keys.len(), 1, "one delivery, retried with one key");
    assert_eq!(env.hook.accepted().len(), 1);

    // Every attempt is on record with what the receiver answered.
    let store = rasad::store::Store::open(&env.dir.path().join("state/rasad.db"))
        .await
        .expect("the state opens");
    let mut histories = Vec::new();
    for id in 1..=2 {
        let attempts = store.delivery_attempts(id).await.expect("readable");
        histories.push(
            attempts
                .into_iter()
                .map(|(_, outcome, reason)| format!("{outcome}: {reason}"))
                .collect::<Vec<_>>(),
        );
    }
    store.close().await;
    assert!(
        histories.contains(&vec![
            "retry: HTTP 500: status 500".to_owned(),
            "retry: HTTP 500: status 500".to_owned(),
            "delivered: HTTP 200: ok".to_owned(),
        ]),
        "{histories:?}"
    );
}

#[tokio::test]
async fn webhook_429_with_retry_after_pauses_that_channel_only() {
    // retry_max above the hint: a longer hint would be cut to it.
    let delivery = "retry_initial = \"200ms\"\nretry_max = \"5s\"\ntimeout = \"2s\"";
    let env = known_env(delivery, "", "").await;
    env.hook
        .push_status_with_headers(429, &[("Retry-After", "2")]);
    env.feeds.set("/news.xml", matching_items(3), RSS);
    let mut daemon = env.spawn(&["run"]);
    let first = env.hook.wait_for_requests(1, WAIT).await;
    assert_eq!(first.first().map(|(_, s)| *s), Some(429), "{first:?}");
    // Meanwhile the mail channel delivers everything.
    let mails = env.smtp.wait_for_messages(3, WAIT).await;
    assert_eq!(mails.len(), 3);
    let accepted = env.hook.wait_for_accepted(3, WAIT).await;
    daemon.start_kill().expect("rasad stopped");
    let _ = daemon.wait().await;
    assert_eq!(accepted.len(), 3, "{}", env.log());
    let requests = env.hook.requests();
    let paused_at = requests[0].0.received_at;
    for (request, _) in &requests[1..] {
        let gap = request.received_at.duration_since(paused_at);
        assert!(
            gap >= Duration::from_millis(1950),
            "a request came {gap:?} after the 429"
        );
    }
    assert_eq!(requests.len(), 4, "one 429, then the three alerts");
}

#[tokio::test]
async fn webhook_400_is_dead_listed_and_delivered_after_outbox_retry() {
    let env = known_env(FAST_RETRIES, "", "").await;
    env.hook.push_statuses(&[400, 400]);
    env.feeds.set("/news.xml", matching_items(2), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "dead"), 2, "{summary}");

    let dead = outbox(&env).await;
    assert_eq!(dead.len(), 2, "{dead:?}");
    for entry in &dead {
        assert_eq!(
            (entry["channel"].as_str(), entry["state"].as_str()),
            (Some("ops"), Some("dead")),
            "{entry}"
        );
        assert!(
            entry["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("400")),
            "{entry}"
        );
    }
    let listing = env.rasad(&["outbox"]).await;
    let text = String::from_utf8_lossy(&listing.stdout);
    assert!(text.contains("dead") && text.contains("HTTP 400"), "{text}");

    // One back by id: delivered, the other still dead.
    let id = dead[0]["id"].as_i64().expect("an id").to_string();
    let retried = env.rasad(&["outbox", "retry", &id]).await;
    assert!(retried.status.success(), "{retried:?}");
    let summary = env.once().await;
    assert_eq!(count(&summary, "delivered"), 1, "{summary}");
    let left = outbox(&env).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], dead[1]["id"]);

    // The rest back with --dead.
    let retried = env.rasad(&["outbox", "retry", "--dead"]).await;
    assert!(retried.status.success(), "{retried:?}");
    let summary = env.once().await;
    assert_eq!(count(&summary, "delivered"), 1, "{summary}");
    assert!(outbox(&env).await.is_empty());
    let keys: HashSet<String> = env
        .hook
        .accepted()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 2);

    // An unknown id is an input error.
    let missing = env.rasad(&["outbox", "retry", "999999"]).await;
    assert_eq!(missing.status.code(), Some(2));
}

#[tokio::test]
async fn a_daemon_killed_mid_delivery_loses_nothing() {
    const ALERTS: usize = 200;
    let env = known_env(FAST_RETRIES, "", "").await;
    // A slow receiver makes sends really in flight when the daemon is killed.
    env.hook.set_delay(Some(Duration::from_millis(40)));
    env.feeds.set("/news.xml", matching_items(ALERTS), RSS);

    let mut first = env.spawn(&["run"]);
    env.hook.wait_for_requests(ALERTS / 4, WAIT).await;
    first.start_kill().expect("SIGKILL sent");
    let _ = first.wait().await;
    let before = env.hook.requests().len();
    assert!(before < ALERTS, "the kill came too late to test anything");
    // What the outbox had in flight (claimed, outcome not recorded) when the process died.
    let in_flight = |channel: &str, entries: &[serde_json::Value]| {
        entries
            .iter()
            .filter(|e| e["channel"] == channel && e["state"] == "in_flight")
            .count()
    };
    let entries = outbox(&env).await;
    let (hook_in_flight, mail_in_flight) =
        (in_flight("ops", &entries), in_flight("desk", &entries));
    assert!(
        hook_in_flight <= 1 && mail_in_flight <= 1,
        "one message at a time per channel"
    );

    let started = Instant::now();
    let mut second = env.spawn(&["run"]);
    let accepted = wait_for_distinct_keys(&env.hook, ALERTS, Duration::from_secs(25)).await;
    // Distinct messages: the mail in flight at the kill may arrive twice, and counting it
    // twice once stopped the wait one message short.
    eventually(WAIT, || {
        distinct_message_ids(&env.smtp.messages()) >= ALERTS
    })
    .await;
    let mails = env.smtp.messages();
    second.start_kill().expect("SIGKILL sent");
    let _ = second.wait().await;

    let mut per_key: HashMap<String, usize> = HashMap::new();
    for request in &accepted {
        let key = request.header("idempotency-key").expect("a key").to_owned();
        *per_key.entry(key).or_default() += 1;
    }
    assert_eq!(
        per_key.len(),
        ALERTS,
        "after {:?}: {}",
        started.elapsed(),
        env.log()
    );
    let duplicates = accepted.len() - per_key.len();
    eprintln!(
        "killed after {before} webhook requests with {hook_in_flight} webhook and {mail_in_flight} mail in flight; \
         all {ALERTS} arrived {:?} after the restart; {duplicates} duplicate webhook call(s)",
        started.elapsed()
    );
    assert!(
        duplicates <= hook_in_flight,
        "{duplicates} duplicate webhook calls, {hook_in_flight} in flight"
    );

    let ids: HashSet<String> = mails
        .iter()
        .filter_map(|m| m.decode().header("Message-ID").map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), ALERTS);
    assert!(
        mails.len() - ids.len() <= mail_in_flight,
        "{} mails",
        mails.len()
    );
}

/// How many distinct `Message-ID`s `mails` hold.
fn distinct_message_ids(mails: &[crate::servers::RecordedMail]) -> usize {
    mails
        .iter()
        .filter_map(|m| m.decode().header("Message-ID").map(str::to_owned))
        .collect::<HashSet<String>>()
        .len()
}

/// Waits until the receiver accepted `n` distinct Idempotency-Keys (or `timeout`).
async fn wait_for_distinct_keys(
    hook: &WebhookReceiver,
    n: usize,
    timeout: Duration,
) -> Vec<crate::servers::RecordedRequest> {
    eventually(timeout, || {
        let accepted = hook.accepted();
        let distinct: HashSet<&str> = accepted
            .iter()
            .filter_map(|r| r.header("idempotency-key"))
            .collect();
        distinct.len() >= n
    })
    .await;
    hook.accepted()
}

#[tokio::test]
async fn a_digest_channel_sends_one_message_grouped_by_topic() {
    let coalition = "\n[[topic]]\nid = \"coalition\"\nname = \"التحالف\"\nany = [\"التحالف\"]\nnotify = [\"desk\"]\n";
    let env = known_env(FAST_RETRIES, "digest = \"1s\"", coalition).await;
    env.feeds.set(
        "/news.xml",
        rss(&[
            ("d1", "بيان لداعش", "نص"),
            ("d2", "غارات التحالف", "نص"),
            ("d3", "هجوم لداعش", "نص"),
            KNOWN,
        ]),
        RSS,
    );
    let first = env.once().await;
    assert_eq!(count(&first, "alerts"), 3, "{first}");
    // The digest window is still open: nothing went out by mail yet, but nothing is lost.
    assert!(env.smtp.messages().is_empty());
    assert_eq!(outbox(&env).await.len(), 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let summary = env.once().await;
    assert_eq!(count(&summary, "delivered"), 3, "{summary}");
    let mails = env.smtp.messages();
    assert_eq!(mails.len(), 1, "one digest");
    let mail = mails[0].decode();
    assert!(mail.subject.contains('3'), "{}", mail.subject);
    let isis = mail.text.find("══ داعش (2) ══").expect("a داعش group");
    let coalition = mail
        .text
        .find("══ التحالف (1) ══")
        .expect("an التحالف group");
    assert!(isis < coalition, "{}", mail.text);
    assert_eq!(mail.html.matches("<mark").count(), 3, "{}", mail.html);
}

#[tokio::test]
async fn the_hourly_limit_holds_the_overflow_for_one_digest_across_restarts() {
    let env = known_env(FAST_RETRIES, "max_per_hour = 2", "").await;
    env.feeds.set("/news.xml", matching_items(3), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "pending"), 0, "{summary}");
    let mails = env.smtp.messages();
    assert_eq!(mails.len(), 2, "one alone, then the overflow as one digest");
    let digest = mails[1].decode();
    assert_eq!(
        digest.text.matches("بيان لداعش رقم").count(),
        2,
        "{}",
        digest.text
    );

    // More alerts in the same hour wait (in another process: the count is in the store).
    env.feeds.set("/news.xml", matching_items(5), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "alerts"), 2, "{summary}");
    assert_eq!(env.smtp.messages().len(), 2);
    let held: Vec<_> = outbox(&env)
        .await
        .into_iter()
        .filter(|e| e["channel"] == "desk")
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(held.iter().all(|e| e["state"] == "pending"), "{held:?}");
}

#[tokio::test]
async fn arabic_alert_and_digest_emails_parse_back_with_a_mime_parser() {
    // One alert alone, then the overflow of the hourly limit as a digest: both kinds of email,
    // sent with SMTP AUTH whose password must not travel inside them.
    let env = Env::start().await;
    env.smtp.require_auth("desk-user", crate::support::SECRET);
    write_config(
        &env,
        FAST_RETRIES,
        "max_per_hour = 2\nusername = \"desk-user\"\npassword_env = \"RASAD_TEST_WEBHOOK_SECRET\"",
        "",
    );
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    env.once().await;
    env.feeds.set("/news.xml", matching_items(3), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "pending"), 0, "{summary}");
    let mails = env.smtp.messages();
    assert_eq!(mails.len(), 2, "one alone, then one digest");
    assert!(
        mails
            .iter()
            .all(|m| m.auth_user.as_deref() == Some("desk-user")),
        "the emails were sent after SMTP AUTH"
    );
    let cases = [
        ("single", &mails[0], vec!["بيان لداعش رقم 0"]),
        (
            "digest",
            &mails[1],
            vec!["بيان لداعش رقم 1", "بيان لداعش رقم 2"],
        ),
    ];
    for (name, mail, titles) in cases {
        let parsed = mail_parser::MessageParser::default()
            .parse(mail.data.as_bytes())
            .unwrap_or_else(|| panic!("{name}: not a MIME message: {}", mail.data));
        let subject = parsed.subject().unwrap_or_default();
        let text = parsed
            .body_text(0)
            .unwrap_or_else(|| panic!("{name}: no text part"));
        let html = parsed
            .body_html(0)
            .unwrap_or_else(|| panic!("{name}: no HTML part"));
        if name == "single" {
            assert!(subject.contains(titles[0]), "{name}: subject {subject:?}");
        } else {
            assert!(subject.contains('2'), "{name}: subject {subject:?}");
        }
        // What a reader sees of the HTML: the keyword marks split a title into elements.
        let mut seen = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => seen.push(c),
                _ => {}
            }
        }
        for title in &titles {
            assert!(
                text.contains(title),
                "{name}: {title} not in the text: {text}"
            );
            assert!(
                seen.contains(title),
                "{name}: {title} not in the HTML: {html}"
            );
        }
        let links = if name == "single" {
            ["m0"].as_slice()
        } else {
            &["m1", "m2"]
        };
        // The link as a browser reads the attribute (the template escapes `/` as `&#x2f;`).
        let hrefs = html.replace("&#x2f;", "/").replace("&amp;", "&");
        for guid in links {
            let link = format!("href=\"https://outlet.test/{guid}");
            assert!(
                hrefs.contains(&link),
                "{name}: {link} not in the HTML: {html}"
            );
        }
        assert!(html.contains("dir=\"rtl\""), "{name}: {html}");
        // The raw message and every decoded part: a body may travel base64-encoded.
        let secret = crate::support::SECRET;
        for (part, content) in [
            ("raw", mail.data.as_str()),
            ("subject", subject),
            ("text", &text),
            ("html", &html),
        ] {
            assert!(
                !content.contains(secret),
                "{name}: the password in the {part}"
            );
        }
    }
}

#[tokio::test]
async fn alerts_about_one_story_thread_together() {
    let coalition = "\n[[topic]]\nid = \"coalition\"\nname = \"التحالف\"\nany = [\"التحالف\"]\nnotify = [\"desk\"]\n";
    let env = known_env(FAST_RETRIES, "", coalition).await;
    env.feeds.set(
        "/news.xml",
        rss(&[
            ("t1", "غارات التحالف على مواقع داعش", "نص"),
            ("t2", "بيان لداعش", "نص"),
            KNOWN,
        ]),
        RSS,
    );
    let summary = env.once().await;
    assert_eq!(count(&summary, "alerts"), 3, "{summary}");
    let mails: Vec<_> = env.smtp.messages().iter().map(|m| m.decode()).collect();
    assert_eq!(mails.len(), 3);
    let thread = |needle: &str| -> Vec<String> {
        mails
            .iter()
            .filter(|m| m.subject.contains(needle))
            .map(|m| m.header("References").unwrap_or_default().to_owned())
            .collect()
    };
    let same_story = thread("غارات التحالف");
    assert_eq!(same_story.len(), 2);
    assert_eq!(same_story[0], same_story[1]);
    assert!(same_story[0].starts_with("<story-"), "{same_story:?}");
    let other = thread("بيان لداعش");
    assert_eq!(other.len(), 1);
    assert_ne!(other[0], same_story[0]);
    for mail in &mails {
        assert_eq!(mail.header("In-Reply-To"), mail.header("References"));
        assert!(mail.text.contains("+03:00 (Asia/Riyadh)"), "{}", mail.text);
    }
}

#[tokio::test]
async fn notify_test_reports_what_each_server_answered() {
    let telegram = WebhookReceiver::start().await;
    let tail = format!(
        "\n[[channel]]\nid = \"tg\"\nkind = \"webhook\"\nformat = \"telegram\"\nurl = \"http://{}\"\nbot_token_env = \"RASAD_TEST_WEBHOOK_SECRET\"\nchat_id = \"-10042\"\n",
        telegram.addr()
    );
    let env = Env::start().await;
    write_config(&env, FAST_RETRIES, "", &tail);
    let cases = [
        ("desk", 0, "250"),
        ("ops", 0, "HTTP 200: ok"),
        ("tg", 0, "HTTP 200: ok"),
    ];
    for (channel, code, answer) in cases {
        let output = env.rasad(&["notify-test", channel]).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(code), "{channel}: {output:?}");
        assert!(stdout.contains(answer), "{channel}: {stdout}");
    }
    let mail = env.smtp.messages()[0].decode();
    assert!(mail.subject.contains("بيان لداعش"), "{}", mail.subject);
    let sent = telegram.accepted();
    assert_eq!(sent.len(), 1);
    let token = crate::support::SECRET;
    let path = format!("/bot{}/sendMessage", token);
    let encoded: String = url_path_encode(&path);
    assert!(
        sent[0].path == path || sent[0].path == encoded,
        "{}",
        sent[0].path
    );
    let body = sent[0].json().expect("JSON");
    assert_eq!(body["chat_id"], "-10042");
    assert_eq!(body["parse_mode"], "HTML");

    // A refusal is reported with exit code 3.
    env.hook.push_statuses(&[400]);
    let output = env.rasad(&["notify-test", "ops"]).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("HTTP 400"));
    let output = env.rasad(&["notify-test", "nope"]).await;
    assert_eq!(output.status.code(), Some(2));

    // A Telegram server that is down: retried, and the bot token (in the URL) is never shown.
    telegram.shutdown().await;
    let output = env.rasad(&["notify-test", "tg"]).await;
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("would be retried"), "{stderr}");
    assert!(
        !stderr.contains(token) && !stderr.contains(&url_path_encode(token)),
        "{stderr}"
    );
}

/// `path` with the bytes outside ASCII percent-encoded, as an HTTP client sends it.
fn url_path_encode(path: &str) -> String {
    path.bytes()
        .map(|b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_slow_webhook_does_not_hold_up_the_mail() {
    let env = known_env(FAST_RETRIES, "", "").await;
    env.hook.set_delay(Some(Duration::from_millis(1500)));
    env.feeds.set("/news.xml", matching_items(3), RSS);
    let mut daemon = env.spawn(&["run"]);
    let first_call = env.hook.wait_for_requests(1, WAIT).await;
    assert_eq!(first_call.len(), 1);
    let mails = env
        .smtp
        .wait_for_messages(3, Duration::from_millis(2500))
        .await;
    let calls = env.hook.requests().len();
    daemon.start_kill().expect("rasad stopped");
    let _ = daemon.wait().await;
    assert_eq!(
        mails.len(),
        3,
        "the mail waited for the webhook: {}",
        env.log()
    );
    assert!(calls < 3, "{calls} webhook calls already");
}

#[tokio::test]
async fn channel_templates_from_files_replace_the_defaults() {
    let env = Env::start().await;
    let body = env.dir.path().join("body.json");
    std::fs::write(
        &body,
        "{{ {\"text\": alert.topic ~ \": \" ~ alert.title, \"n\": count} | tojson }}",
    )
    .expect("template written");
    let subject = env.dir.path().join("subject.txt");
    std::fs::write(&subject, "تنبيه: {{ alert.title }}\nX-Injected: yes")
        .expect("template written");
    write_config(
        &env,
        FAST_RETRIES,
        &format!("subject_template = \"{}\"", subject.display()),
        &format!("body_template = \"{}\"", body.display()),
    );
    for channel in ["ops", "desk"] {
        let output = env.rasad(&["notify-test", channel]).await;
        assert!(output.status.success(), "{output:?}");
    }
    let call = &env.hook.accepted()[0];
    assert_eq!(
        call.json().expect("JSON"),
        serde_json::json!({"text": "داعش: بيان لداعش يتبنى الهجوم على الحاجز", "n": 1})
    );
    let mail = env.smtp.messages()[0].decode();
    assert_eq!(
        mail.subject,
        "تنبيه: بيان لداعش يتبنى الهجوم على الحاجز X-Injected: yes"
    );
    assert!(mail.header("X-Injected").is_none());
}

#[tokio::test]
async fn webhook_redirects_are_never_followed_nor_taken_for_delivery() {
    let env = Env::start().await;
    write_config(&env, FAST_RETRIES, "", "");
    let landing = format!("http://{}/landing", env.hook.addr());
    // (status, exit code, what the error must say)
    let cases = [
        (
            301,
            3,
            format!("HTTP 301: moved permanently to {landing}: update the channel's url"),
        ),
        (
            308,
            3,
            format!("HTTP 308: moved permanently to {landing}: update the channel's url"),
        ),
        (302, 3, "would be retried".to_owned()),
        (303, 3, format!("redirected to {landing}")),
        (307, 3, format!("redirected to {landing}")),
    ];
    for (status, code, want) in &cases {
        let before = env.hook.requests().len();
        env.hook
            .push_status_with_headers(*status, &[("Location", landing.as_str())]);
        let output = env.rasad(&["notify-test", "ops"]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(*code), "{status}: {output:?}");
        assert!(stderr.contains(want.as_str()), "{status}: {stderr}");
        let requests = env.hook.requests();
        let new: Vec<_> = requests[before..]
            .iter()
            .map(|(r, s)| (r.method.as_str(), r.path.as_str(), *s))
            .collect();
        assert_eq!(
            new,
            [("POST", "/hook", *status)],
            "{status}: the redirect was followed"
        );
        assert!(
            requests[before..]
                .iter()
                .all(|(r, _)| r.header("referer").is_none()),
            "{status}: a Referer was sent"
        );
    }

    // Through the outbox: a 301 is dead at once, a 302 waits for a retry with the Location in
    // its error.
    env.hook
        .push_status_with_headers(301, &[("Location", landing.as_str())]);
    env.hook
        .push_status_with_headers(302, &[("Location", landing.as_str())]);
    env.hook.set_default_status(302);
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    env.once().await;
    env.feeds.set("/news.xml", matching_items(2), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "dead"), 1, "{summary}");
    let entries = outbox(&env).await;
    let mut errors: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["channel"] == "ops")
        .map(|e| {
            (
                e["state"].as_str().unwrap_or_default().to_owned(),
                e["last_error"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    errors.sort();
    assert_eq!(errors.len(), 2, "{entries:?}");
    assert_eq!(errors[0].0, "dead");
    assert!(
        errors[0].1.contains("update the channel's url"),
        "{errors:?}"
    );
    assert_eq!(errors[1].0, "retrying");
    assert!(
        errors[1].1.contains(&format!("redirected to {landing}")),
        "{errors:?}"
    );
    assert!(
        env.hook.accepted().is_empty(),
        "nothing counts as delivered"
    );
}

/// The delivery ids in a JSON webhook body (one alert or a digest), sorted.
fn delivery_ids(request: &crate::servers::RecordedRequest) -> Vec<String> {
    let body = request.json().expect("a JSON body");
    let alerts = match body["event"].as_str() {
        Some("digest") => body["alerts"].as_array().cloned().unwrap_or_default(),
        _ => vec![body],
    };
    let mut ids: Vec<String> = alerts
        .iter()
        .filter_map(|a| a["delivery_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_digest_interrupted_by_a_crash_is_resent_with_the_same_key() {
    let env = known_env(FAST_RETRIES, "", "digest = \"1s\"").await;
    // The receiver holds the first digest until the daemon is killed.
    env.hook.set_delay(Some(Duration::from_secs(10)));
    env.feeds.set("/news.xml", matching_items(3), RSS);
    let mut first = env.spawn(&["run"]);
    let seen = env.hook.wait_for_requests(1, WAIT).await;
    first.start_kill().expect("SIGKILL sent");
    let _ = first.wait().await;
    assert_eq!(seen.len(), 1, "{}", env.log());
    let interrupted = &seen[0].0;
    let key = interrupted
        .header("idempotency-key")
        .expect("a key")
        .to_owned();
    let digest = delivery_ids(interrupted);
    assert_eq!(digest.len(), 3, "one digest of three");

    // The dead sender's lease (timeout 2 s + 5 s) runs out, and two more alerts join the queue
    // before the digest is claimed again: one claim now holds all five.
    tokio::time::sleep(Duration::from_millis(7500)).await;
    env.hook.set_delay(None);
    env.feeds.set("/news.xml", matching_items(5), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "pending"), 0, "{summary}");
    // The receiver logged the interrupted request as answered: leave it out.
    let accepted: Vec<_> = env.hook.accepted().into_iter().skip(1).collect();
    let resent: Vec<_> = accepted
        .iter()
        .filter(|r| r.header("idempotency-key") == Some(key.as_str()))
        .collect();
    assert_eq!(
        resent.len(),
        1,
        "the digest went out again under its key: {}",
        env.log()
    );
    assert_eq!(delivery_ids(resent[0]), digest, "as the same digest");
    let all: HashSet<String> = accepted.iter().flat_map(delivery_ids).collect();
    assert_eq!(all.len(), 5, "and the new alerts separately");
}

#[tokio::test]
async fn a_telegram_redirect_does_not_show_the_bot_token() {
    let telegram = WebhookReceiver::start().await;
    let tail = format!(
        "\n[[channel]]\nid = \"tg\"\nkind = \"webhook\"\nformat = \"telegram\"\nurl = \"http://{}\"\nbot_token_env = \"RASAD_TEST_WEBHOOK_SECRET\"\nchat_id = \"-10042\"\n",
        telegram.addr()
    );
    let env = Env::start().await;
    write_config(&env, FAST_RETRIES, "", &tail);
    let token = crate::support::SECRET;
    let encoded = url_path_encode(token);
    // The server answers with a Location that repeats the request's path, token and all.
    let location = format!("https://api.telegram.test/bot{encoded}/sendMessage");
    telegram.push_status_with_headers(308, &[("Location", location.as_str())]);
    let output = env.rasad(&["notify-test", "tg"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(
        stderr.contains("moved permanently to https://api.telegram.test/bot***/sendMessage"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(token) && !stderr.contains(&encoded),
        "{stderr}"
    );
    telegram.shutdown().await;
}

#[tokio::test]
async fn a_discord_digest_over_6000_characters_goes_out_as_several_messages() {
    let env = known_env(FAST_RETRIES, "", "format = \"discord\"\ndigest = \"1s\"").await;
    // Ten different stories (words of their own, so that none is taken for a copy of another),
    // each long enough that ten embeds pass 6,000 characters.
    let words = |i: usize, from: usize| -> String {
        (from..from + 60)
            .map(|j| format!("كلمة{}", i * 1000 + j))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let items: Vec<(String, String, String)> = (0..10)
        .map(|i| {
            (
                format!("long{i}"),
                format!("بيان لداعش {}", words(i, 0)),
                format!("نص الخبر عن داعش {}", words(i, 100)),
            )
        })
        .collect();
    let mut refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str()))
        .collect();
    refs.push(KNOWN);
    env.feeds.set("/news.xml", rss(&refs), RSS);
    let summary = once_until_settled(&env, 8, Duration::from_millis(600)).await;
    assert_eq!(
        (count(&summary, "pending"), count(&summary, "dead")),
        (0, 0),
        "{summary}"
    );
    let messages = env.hook.accepted();
    assert!(
        messages.len() >= 2,
        "split: {} message(s): {:?}",
        messages.len(),
        messages.iter().map(|m| m.body_text()).collect::<Vec<_>>()
    );
    let mut embeds = 0;
    for message in &messages {
        let body = message.json().expect("JSON");
        let list = body["embeds"].as_array().expect("embeds");
        let chars: usize = list
            .iter()
            .map(|e| {
                ["/title", "/description", "/footer/text", "/author/name"]
                    .iter()
                    .filter_map(|p| e.pointer(p).and_then(|v| v.as_str()))
                    .map(|s| s.encode_utf16().count())
                    .sum::<usize>()
            })
            .sum();
        assert!(chars <= 6000, "{chars} characters in one message");
        assert!(list.len() <= 10);
        embeds += list.len();
    }
    assert_eq!(embeds, 10, "every alert went out, none cut away");
}

/// Runs the Adaptive Cards library's parser and validator (`tests/teams/validate.js`, installed
/// by `npm ci` in `tests/teams`) on one Teams body: `Err` with what it reported.
fn check_teams_card(body: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/teams/validate.js");
    let mut child = std::process::Command::new("node")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(body)
        .map_err(|e| format!("writing to node: {e}"))?;
    let output = child.wait_with_output().map_err(|e| format!("node: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[tokio::test]
async fn teams_cards_pass_the_adaptive_cards_validator() {
    let modules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/teams/node_modules/adaptivecards"
    );
    let node = std::process::Command::new("node").arg("--version").output();
    if !std::path::Path::new(modules).exists() || node.is_err() {
        crate::support::missing(
            "teams_cards_pass_the_adaptive_cards_validator",
            "node or tests/teams/node_modules (run `npm ci` in tests/teams)",
        );
        return;
    }
    // The validator itself refuses a card that Teams would not render.
    assert!(
        check_teams_card(
            br#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.5","body":[{"type":"TextBlock","text":"x","size":"Huge"}]}}]}"#
        )
        .is_err()
    );

    // The sample alert, as a Teams channel sends it to a real receiver.
    let teams = WebhookReceiver::start().await;
    let tail = format!(
        "\n[[channel]]\nid = \"teams\"\nkind = \"webhook\"\nformat = \"teams\"\nurl = \"http://{}/teams\"\n",
        teams.addr()
    );
    let env = Env::start().await;
    write_config(&env, FAST_RETRIES, "", &tail);
    let output = env.rasad(&["notify-test", "teams"]).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let sent = teams.accepted();
    assert_eq!(sent.len(), 1);
    let mut bodies = vec![("notify_test".to_owned(), sent[0].body.clone())];
    // And the rendered snapshots (a unit test keeps them equal to the renderer's output).
    for lang in ["ar", "en"] {
        let path = format!(
            "{}/tests/data/snapshots/webhook-teams-{lang}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        bodies.push((path.clone(), std::fs::read(&path).expect("snapshot read")));
    }
    for (name, body) in bodies {
        if let Err(problems) = check_teams_card(&body) {
            panic!("{name}: {problems}");
        }
    }
}
