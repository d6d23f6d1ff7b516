//! The desk's pages in a real browser: headless Chromium (Debian's, driven by playwright-core
//! through `tests/browser/desk.js`) against `rasad run` with real feeds, SMTP and webhook
//! servers on 127.0.0.1. The browser signs in, reads an alert with its highlighted word, opens
//! the story's cluster, retries a dead delivery, tries a keyword and saves it as a topic; the
//! test then sees the retried delivery arrive and the saved topic alert on the next poll.
//!
//! `RASAD_SCREENSHOTS=docs` (a folder, relative to the crate) makes the same run write every
//! page at 1280 and 390 px wide there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{
    Env, FAST_RETRIES, KNOWN, RSS, count, eventually, matching_items, missing, rss,
};
use crate::web_api::{Desk, configure_desk, log_in};

/// The desk's token in these tests (at least 16 characters, as `[web]` asks).
const TOKEN: &str = "desk-token-pages-0123456789";
/// The browser that Debian's `chromium` package installs.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The longest the browser run may take (its own limit is 120 s).
const BROWSER_LIMIT: Duration = Duration::from_secs(150);
/// How long a poll, a delivery or a retry may take to show.
const PATIENCE: Duration = Duration::from_secs(30);

const ALERT_TITLE: &str = "بيان لداعش عن الهجوم على القرية";
const QUAKE_TITLE: &str = "الزلزال يضرب المدينة الساحلية";
const QUAKE_KEYWORD: &str = "الزلزال";
const SAVED_TOPIC: &str = "quake";
/// What the daemon logs when it starts matching with a changed set of saved topics.
const APPLIED: &str = "managed topics applied";

fn browser_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What the browser run needs: Chromium, node, and `npm ci` done in tests/browser.
fn browser_missing() -> Option<&'static str> {
    if !Path::new(CHROMIUM).exists() {
        return Some("/usr/bin/chromium (apt-get install chromium)");
    }
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("node");
    }
    if !browser_folder()
        .join("node_modules/playwright-core")
        .exists()
    {
        return Some("tests/browser/node_modules (run `npm ci` in tests/browser)");
    }
    None
}

/// A port free at the time of asking, for `daemon.listen`.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The webhook bodies the receiver accepted (2xx), as JSON.
fn accepted_topics(env: &Env) -> Vec<serde_json::Value> {
    env.hook
        .accepted()
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

/// Runs `tests/browser/desk.js` against the desk at `listen` with the settings `vars`: its JSON
/// summary, or a panic with what it printed.
async fn run_browser(listen: &str, vars: &[(&str, &std::ffi::OsStr)]) -> serde_json::Value {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(browser_folder().join("desk.js"))
        .current_dir(browser_folder())
        .env("RASAD_DESK_URL", format!("http://{listen}"))
        .env("RASAD_DESK_TOKEN", TOKEN)
        .env("CHROMIUM", CHROMIUM)
        .envs(vars.iter().copied())
        .kill_on_drop(true);
    let output = tokio::time::timeout(BROWSER_LIMIT, command.output())
        .await
        .expect("the browser run finished within its limit")
        .expect("node started");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser run failed: {stderr}\n{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{last:?} is not JSON ({e}): {stderr}"))
}

/// The analyst's path (`walk`): sign in, read, retry, try, save.
async fn walk_through_the_desk(listen: &str) -> serde_json::Value {
    let vars: [(&str, &str); 6] = [
        ("RASAD_DESK_MODE", "walk"),
        ("RASAD_DESK_TITLE", ALERT_TITLE),
        ("RASAD_DESK_KEYWORD", QUAKE_KEYWORD),
        ("RASAD_DESK_EXPECT", QUAKE_TITLE),
        ("RASAD_DESK_TOPIC", SAVED_TOPIC),
        ("RASAD_DESK_RETRY", "1"),
    ];
    let vars: Vec<(&str, &std::ffi::OsStr)> = vars.iter().map(|(k, v)| (*k, v.as_ref())).collect();
    run_browser(listen, &vars).await
}

/// With `RASAD_SCREENSHOTS` set (a folder, relative to the crate), every page at both widths.
async fn screenshots_when_asked(listen: &str) {
    let Some(folder) = std::env::var_os("RASAD_SCREENSHOTS").filter(|f| !f.is_empty()) else {
        return;
    };
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let keywords = format!("{QUAKE_KEYWORD}\nداعش");
    let vars = [
        ("RASAD_DESK_MODE", "screenshots".as_ref()),
        ("RASAD_DESK_KEYWORD", keywords.as_ref()),
        ("RASAD_SCREENSHOTS", folder.as_os_str()),
    ];
    let seen = run_browser(listen, &vars).await;
    assert_eq!(texts(&seen["screenshots"]).len(), 10, "{seen}");
}

fn texts(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_desk_in_a_browser_signs_in_reads_alerts_retries_tries_and_saves_a_topic() {
    if let Some(what) = browser_missing() {
        missing(
            "the_desk_in_a_browser_signs_in_reads_alerts_retries_tries_and_saves_a_topic",
            what,
        );
        return;
    }
    let mut env = Env::start().await;
    env.extra_feeds.push("wire".into());
    env.listen = format!("127.0.0.1:{}", free_port());
    let token_file = env.dir.path().join("desk.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token written");
    let web = format!(
        "\n[web]\ntoken_file = {:?}\n",
        token_file.display().to_string()
    );
    env.write_config_with(FAST_RETRIES, "timeout = \"5s\"", &web);

    // Both feeds known first, so that what comes next alerts.
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    env.feeds
        .set("/wire.xml", rss(&[("w0", "خبر آخر", "نص")]), RSS);
    env.once().await;
    // One story carried by both outlets (one alert, "also reported by"), and one that no
    // topic watches yet: the try-it box must find it.
    let quake = ("n3", QUAKE_TITLE, "خسائر كبيرة في الميناء");
    env.feeds.set(
        "/news.xml",
        rss(&[KNOWN, ("n2", ALERT_TITLE, "نص الخبر"), quake]),
        RSS,
    );
    env.feeds.set(
        "/wire.xml",
        rss(&[
            ("w0", "خبر آخر", "نص"),
            ("w1", ALERT_TITLE, "نص الخبر"),
            (
                "w2",
                "تنظيم الدولة يتبنى هجومًا في شمال سوريا",
                "أعلن التنظيم في بيان مسؤوليته عن الهجوم",
            ),
        ]),
        RSS,
    );
    // The webhook refuses both alerts (the story both outlets carried, and the wire's own):
    // their deliveries die, for the outbox page's retry button.
    env.hook.set_default_status(400);
    let _daemon = env.spawn(&["run"]);
    let refused = env.hook.wait_for_requests(2, PATIENCE).await;
    assert_eq!(refused.len(), 2, "two alerts refused: {}", env.log());
    env.hook.set_default_status(200);

    let seen = walk_through_the_desk(&env.listen).await;

    assert!(
        texts(&seen["alert_marks"])
            .iter()
            .any(|m| m.contains("داعش")),
        "{seen}"
    );
    assert_eq!(seen["cluster"], 2, "the story's cluster: {seen}");
    assert!(seen["feeds"].as_u64() == Some(2), "{seen}");
    assert!(
        texts(&seen["try_marks"])
            .iter()
            .any(|m| m.contains(QUAKE_KEYWORD)),
        "{seen}"
    );
    assert_eq!(
        seen["try_counts"][QUAKE_KEYWORD], 1,
        "one story kept mentions the keyword: {seen}"
    );
    assert!(
        seen["refused"].as_str().is_some_and(|m| m.contains("any")),
        "a topic without keywords is refused with the check's message: {seen}"
    );
    // The delivery retried in the browser reaches the webhook; the other stays dead.
    let isis_sent = || {
        accepted_topics(&env)
            .iter()
            .filter(|b| b["topic"]["id"] == "isis")
            .count()
    };
    assert!(
        eventually(PATIENCE, || isis_sent() == 1).await,
        "the retried delivery was not sent again: {}",
        env.log()
    );

    // The topic saved in the browser alerts from the poll after the daemon applied it (it
    // looks for changes every few seconds), without a restart.
    let applied_only_the_saved_one = || {
        env.log()
            .lines()
            .rfind(|l| l.contains(APPLIED))
            .is_some_and(|l| l.trim_end().ends_with(&format!("topics={SAVED_TOPIC}")))
    };
    assert!(
        eventually(PATIENCE, applied_only_the_saved_one).await,
        "the saved topic (and no other) was not applied: {}",
        env.log()
    );
    env.feeds.set(
        "/news.xml",
        rss(&[
            KNOWN,
            ("n2", ALERT_TITLE, "نص الخبر"),
            quake,
            ("n4", "الزلزال الثاني يضرب الساحل", "هزة ارتدادية"),
        ]),
        RSS,
    );
    assert!(
        eventually(PATIENCE, || accepted_topics(&env)
            .iter()
            .any(|b| b["topic"]["id"] == SAVED_TOPIC))
        .await,
        "the topic saved on the desk did not alert: {}",
        env.log()
    );
    let overflow = seen["phone_overflow"]
        .as_object()
        .expect("the phone widths measured");
    assert_eq!(overflow.len(), 5, "{seen}");
    let deleted = seen["deleted"].as_str().expect("a deleted topic");
    assert!(
        accepted_topics(&env)
            .iter()
            .all(|b| b["topic"]["id"] != deleted),
        "the topic deleted on the desk alerted"
    );
    screenshots_when_asked(&env.listen).await;
}

/// The first value of the attribute `attribute` in `html` (`attribute="…"`).
fn attribute(html: &str, attribute: &str) -> Option<String> {
    let marker = format!("{attribute}=\"");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..start + html[start..].find('"')?].to_owned())
}

/// Signs in through the login form, as a browser would: the session cookie.
async fn sign_in(desk: &Desk) -> String {
    log_in(desk, TOKEN, "").await.0
}

/// A page (status and HTML) asked for with the session `session`.
async fn page(desk: &Desk, session: &str, path: &str) -> (u16, String) {
    let response = desk
        .client
        .get(format!("{}{path}", desk.base))
        .header("cookie", format!("rasad_session={session}"))
        .send()
        .await
        .expect("the desk answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a page"))
}

/// The pages without a browser: a session is needed (the static files excepted), bad ids and
/// durations are answered with what was wrong, and a retry needs the session's CSRF token.
#[tokio::test]
async fn the_pages_need_a_session_and_answer_bad_input_and_forged_forms_clearly() {
    let mut env = Env::with_known_feed().await;
    let base = configure_desk(&mut env, "");
    // This file's token in place of the one `configure_desk` wrote (read when the daemon starts).
    std::fs::write(env.dir.path().join("desk-token"), format!("{TOKEN}\n")).expect("token");
    env.hook.push_statuses(&[400, 400]);
    env.feeds.set("/news.xml", matching_items(2), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "dead"), 2, "{summary}");
    let desk = Desk::start(env, base).await;

    let anonymous = desk
        .client
        .get(format!("{}/outbox", desk.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(anonymous.status(), 303);
    assert_eq!(
        anonymous
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/login?next=%2Foutbox")
    );
    for (path, kind) in [
        ("/static/desk.css", "text/css"),
        ("/static/desk.js", "text/javascript"),
    ] {
        let asset = desk
            .client
            .get(format!("{}{path}", desk.base))
            .send()
            .await
            .expect("an answer");
        assert_eq!(asset.status(), 200, "{path}");
        let content_type = asset
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert!(
            content_type.is_some_and(|t| t.starts_with(kind)),
            "{path}: {content_type:?}"
        );
    }

    let session = sign_in(&desk).await;
    let (status, alerts) = page(&desk, &session, "/").await;
    assert_eq!(status, 200);
    assert!(alerts.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert_eq!(alerts.matches("data-alert-id=").count(), 2, "{alerts}");
    assert!(alerts.contains("<mark>لداعش</mark>"), "{alerts}");
    let csrf = attribute(
        &alerts[alerts.find("csrf-token").expect("a CSRF meta tag")..],
        "content",
    )
    .expect("its token");

    for (path, want, says) in [
        ("/stories/abc", 400, "story id \"abc\" is not a number"),
        ("/stories/987654", 404, "no story with id 987654"),
        (
            "/?since=soon",
            400,
            "since: \"soon\" is neither an RFC 3339 time",
        ),
    ] {
        let (status, html) = page(&desk, &session, path).await;
        assert_eq!(status, want, "{path}");
        let shown = html.replace("&quot;", "\"").replace("&#34;", "\"");
        assert!(shown.contains(says), "{path}: {html}");
    }

    let (_, outbox) = page(&desk, &session, "/outbox").await;
    assert_eq!(outbox.matches("class=\"retry\"").count(), 2, "{outbox}");
    let id = attribute(&outbox, "data-delivery-id").expect("a delivery");
    let retry = |csrf: String| {
        desk.client
            .post(format!("{}/outbox/{id}/retry", desk.base))
            .header("cookie", format!("rasad_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}"))
            .send()
    };
    let forged = retry("forged".into()).await.expect("an answer");
    assert_eq!(forged.status(), 403, "a form without the session's token");
    let done = retry(csrf).await.expect("an answer");
    assert_eq!(done.status(), 303);
    let back = done
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        back.as_deref(),
        Some(format!("/outbox?retried={id}").as_str())
    );
    let (_, outbox) = page(&desk, &session, &back.expect("a location")).await;
    assert!(outbox.contains(&format!("أُعيدت الرسالة {id}")), "{outbox}");
    assert_eq!(outbox.matches("class=\"retry\"").count(), 1, "{outbox}");

    let (status, topics) = page(&desk, &session, "/topics").await;
    assert_eq!(status, 200);
    assert!(topics.contains("data-topic-id=\"isis\"") && topics.contains("id=\"try-form\""));
    assert!(
        !desk.env.log().contains(&session),
        "the session reached the log"
    );
    desk.stop().await;
}
