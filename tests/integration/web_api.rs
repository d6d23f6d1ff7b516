//! The analyst's desk as its users meet it: `rasad run` with `[web]`, asked over HTTP on its
//! admin port with the bearer token or a session from the login form; and without `[web]`,
//! nothing new served.

use std::time::Duration;

use crate::support::{Env, FAST_RETRIES, RSS, count, eventually_async, matching_items};

/// The desk's token in these tests.
pub const TOKEN: &str = "desk-token-0123456789abcdef";
/// How long a test waits for the daemon to answer or to act.
const WAIT: Duration = Duration::from_secs(20);
/// How long a delivery put back in the queue may wait for the outbox: an idle channel looks
/// for due deliveries every 30 s (`outbox::IDLE`) unless a poll wakes it.
/// How soon a delivery retried on the desk must be sent: well under the outbox's idle wait
/// (30 s), which a retry that did not wake the outbox had to sit out.
const RETRY_SENT_WITHIN: Duration = Duration::from_secs(10);
/// The longest one request may take.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// A running `rasad run` with the desk on, and an HTTP client for it.
pub struct Desk {
    pub env: Env,
    pub base: String,
    child: tokio::process::Child,
    pub client: reqwest::Client,
}

/// A port free at the time of asking, for `daemon.listen`.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Writes `env`'s config with the admin server on a free port and `[web]` reading [`TOKEN`]
/// from a file (`web` lines are added to the table); returns the base URL.
pub fn configure_desk(env: &mut Env, web: &str) -> String {
    let addr = format!("127.0.0.1:{}", free_port());
    env.listen = addr.clone();
    let token_file = env.dir.path().join("desk-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token written");
    let table = format!(
        "\n[web]\ntoken_file = {:?}\n{web}\n",
        token_file.display().to_string()
    );
    env.write_config_with(FAST_RETRIES, "timeout = \"5s\"", &table);
    format!("http://{addr}")
}

impl Desk {
    /// Starts `rasad run` on `env` (configured by [`configure_desk`]) and waits until it is
    /// ready.
    pub async fn start(env: Env, base: String) -> Desk {
        let child = env.spawn(&["run"]);
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_LIMIT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let desk = Desk {
            env,
            base,
            child,
            client,
        };
        let ready = eventually_async(WAIT, || async {
            desk.client
                .get(format!("{}/readyz", desk.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(
            ready,
            "the daemon never got ready; log:\n{}",
            desk.env.log()
        );
        desk
    }

    /// `METHOD path` with the bearer token and an optional JSON body: status and body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the desk answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: {text:?} is not JSON: {e}"));
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Stops the daemon (SIGTERM, then a kill when it lingers) and waits for it.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: a plain signal to the child this test started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        if tokio::time::timeout(WAIT, self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// A desk whose `news` feed is known and whose webhook refused two alerts (they are dead in
/// the outbox; the emails went out).
async fn desk_with_dead_deliveries() -> Desk {
    desk_with_dead_deliveries_in(None).await
}

/// [`desk_with_dead_deliveries`] with its state in the PostgreSQL database `state` (a URL)
/// when given.
async fn desk_with_dead_deliveries_in(state: Option<&str>) -> Desk {
    let mut env = Env::start().await;
    let base = configure_desk(&mut env, "");
    if let Some(url) = state {
        let text = std::fs::read_to_string(env.config_path()).expect("the config");
        let text = text.replace("state = \"state/rasad.db\"", &format!("state = {url:?}"));
        std::fs::write(env.config_path(), text).expect("the config written");
    }
    env.feeds.set(
        "/news.xml",
        crate::support::rss(&[crate::support::KNOWN]),
        RSS,
    );
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 1, "{summary}");
    env.hook.push_statuses(&[400, 400]);
    env.feeds.set("/news.xml", matching_items(2), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "dead"), 2, "{summary}");
    Desk::start(env, base).await
}

/// The paths of the OpenAPI document, with `{id}` as 1.
fn described_operations() -> Vec<(reqwest::Method, String)> {
    let document: serde_json::Value =
        serde_json::from_str(include_str!("../../src/web/openapi.json")).expect("JSON");
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("an item").keys() {
            let method = method.to_ascii_uppercase().parse().expect("a method");
            operations.push((method, path.replace("{id}", "1")));
        }
    }
    operations
}

#[tokio::test]
async fn the_desk_answers_401_without_the_token_and_keeps_health_open() {
    let desk = desk_with_dead_deliveries().await;
    for (method, path) in described_operations() {
        for token in [None, Some("desk-token-0123456789abcdeX"), Some("")] {
            let mut request = desk
                .client
                .request(method.clone(), format!("{}{path}", desk.base));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("an answer");
            assert_eq!(response.status(), 401, "{method} {path} with {token:?}");
            let challenge = response.headers().get("www-authenticate").cloned();
            assert_eq!(
                challenge.as_ref().and_then(|v| v.to_str().ok()),
                Some("Bearer realm=\"rasad\""),
                "{method} {path}"
            );
            let body: serde_json::Value =
                serde_json::from_str(&response.text().await.expect("a body")).expect("JSON");
            assert!(body["error"].is_string(), "{body}");
        }
    }
    let unknown = desk
        .client
        .get(format!("{}/api/v1/nothing/here", desk.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        unknown.status(),
        401,
        "an unknown API path without the token"
    );
    let (status, body) = desk.get("/api/v1/nothing/here").await;
    assert_eq!(status, 404, "{body}");
    for open in ["/healthz", "/readyz", "/metrics"] {
        let response = desk
            .client
            .get(format!("{}{open}", desk.base))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200, "{open}");
    }
    assert!(!desk.env.log().contains(TOKEN), "the token reached the log");
    desk.stop().await;
}

#[tokio::test]
async fn the_desk_lists_feeds_and_the_outbox_and_retries_a_dead_delivery() {
    let desk = desk_with_dead_deliveries().await;
    let (status, feeds) = desk.get("/api/v1/feeds").await;
    assert_eq!(status, 200, "{feeds}");
    let cli = desk.env.rasad(&["feeds", "--json"]).await;
    let printed: Vec<serde_json::Value> = String::from_utf8_lossy(&cli.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let keys = |rows: &[serde_json::Value]| -> Vec<String> {
        rows.iter()
            .map(|r| format!("{} {} {}", r["id"], r["state"], r["url"]))
            .collect()
    };
    let served = feeds.as_array().expect("an array");
    assert_eq!(keys(served), keys(&printed));
    assert_eq!(served[0]["id"], "news");
    assert_eq!(served[0]["state"], "ok");
    let fields = |row: &serde_json::Value| {
        let mut names: Vec<String> = row.as_object().expect("a row").keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(fields(&served[0]), fields(&printed[0]), "the same fields");

    let (status, outbox) = desk.get("/api/v1/outbox").await;
    assert_eq!(status, 200, "{outbox}");
    let dead: Vec<&serde_json::Value> = outbox
        .as_array()
        .expect("an array")
        .iter()
        .filter(|e| e["state"] == "dead")
        .collect();
    assert_eq!(dead.len(), 2, "{outbox}");
    let id = dead[0]["id"].as_i64().expect("an id");
    let (status, answer) = desk
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/outbox/{id}/retry"),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["state"].as_str()),
        (200, Some("pending")),
        "{answer}"
    );
    let delivered = eventually_async(RETRY_SENT_WITHIN, || async {
        let (_, outbox) = desk.get("/api/v1/outbox").await;
        outbox
            .as_array()
            .is_some_and(|entries| entries.len() == 1 && entries[0]["id"] != serde_json::json!(id))
    })
    .await;
    assert!(
        delivered,
        "the retried delivery was not sent within {RETRY_SENT_WITHIN:?}: the outbox was not woken"
    );

    let cases = [
        ("unknown_delivery", "/api/v1/outbox/999999/retry", 404),
        ("id_not_a_number", "/api/v1/outbox/abc/retry", 404),
    ];
    for (name, path, want) in cases {
        let (status, body) = desk.call(reqwest::Method::POST, path, None).await;
        assert_eq!(status, want, "{name}: {body}");
        assert!(body["error"].is_string(), "{name}: {body}");
    }
    let (status, body) = desk.get("/api/v1/feeds?state=ok").await;
    assert_eq!(status, 400, "{body}");
    desk.stop().await;
}

/// The value of `name` in the response's `Set-Cookie` headers.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (key, value) = v.split(';').next()?.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
}

/// Logs in to `desk` through the form with `token`, as a browser would (with `cookies` sent as
/// well): the new session id and the login form's CSRF token.
pub async fn log_in(desk: &Desk, token: &str, cookies: &str) -> (String, String) {
    let form = desk
        .client
        .get(format!("{}/login", desk.base))
        .send()
        .await
        .expect("the login form");
    let pairing = set_cookie(&form, "rasad_login").expect("the form's cookie");
    let page = form.text().await.expect("a page");
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a csrf field") + marker.len();
    let csrf = page[start..start + page[start..].find('"').expect("quoted")].to_owned();
    let login = desk
        .client
        .post(format!("{}/login", desk.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("rasad_login={pairing}; {cookies}"))
        .body(format!("token={token}&csrf={csrf}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(login.status(), 303, "signed in");
    let session = set_cookie(&login, "rasad_session").expect("a session");
    (session, csrf)
}

/// The value of the hidden field `name` in an HTML form.
fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

#[tokio::test]
async fn a_login_opens_a_session_that_needs_its_csrf_token_to_change_anything() {
    let desk = desk_with_dead_deliveries().await;
    let url = |path: &str| format!("{}{path}", desk.base);
    let form = desk
        .client
        .get(url("/login?next=/outbox"))
        .send()
        .await
        .expect("the form");
    assert_eq!(form.status(), 200);
    let csp = form
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(
        form.headers()
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    let pairing = set_cookie(&form, "rasad_login").expect("the form's cookie");
    let page = form.text().await.expect("a page");
    let csrf = hidden_field(&page, "csrf").expect("a csrf field");
    let post = |token: &str, csrf: &str, cookie: &str| {
        desk.client
            .post(url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("rasad_login={cookie}"))
            .body(format!("token={token}&csrf={csrf}&next=%2Foutbox"))
            .send()
    };
    let wrong = post("wrong-token-0123456789", &csrf, &pairing)
        .await
        .expect("an answer");
    assert_eq!(wrong.status(), 401);
    let forged = post(TOKEN, "forged", &pairing).await.expect("an answer");
    assert_eq!(forged.status(), 403, "a form not served to this browser");
    let login = post(TOKEN, &csrf, &pairing).await.expect("an answer");
    assert_eq!(login.status(), 303);
    assert_eq!(
        login
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/outbox")
    );
    let cookie_line = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("rasad_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(
        cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"),
        "{cookie_line}"
    );
    assert!(
        !cookie_line.contains("Secure"),
        "secure_cookie is off by default"
    );
    let session = set_cookie(&login, "rasad_session").expect("a session");
    let with_session = |method: reqwest::Method, path: &str| {
        desk.client
            .request(method, url(path))
            .header("cookie", format!("rasad_session={session}"))
    };
    let read = with_session(reqwest::Method::GET, "/api/v1/outbox")
        .send()
        .await
        .expect("an answer");
    assert_eq!(read.status(), 200);
    let change = with_session(reqwest::Method::POST, "/api/v1/outbox/1/retry")
        .send()
        .await
        .expect("an answer");
    assert_eq!(change.status(), 403, "no X-CSRF-Token");
    let change = with_session(reqwest::Method::POST, "/api/v1/outbox/1/retry")
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        change.status(),
        403,
        "the login form's token is not the session's"
    );
    let log = desk.env.log();
    for secret in [TOKEN, session.as_str(), csrf.as_str()] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    desk.stop().await;
}

#[tokio::test]
async fn without_a_web_table_nothing_new_is_served() {
    let mut env = Env::with_known_feed().await;
    let addr = format!("127.0.0.1:{}", free_port());
    env.listen = addr.clone();
    env.write_config();
    let desk = Desk::start(env, format!("http://{addr}")).await;
    for path in ["/api/v1/feeds", "/api/v1/openapi.json", "/login"] {
        let response = desk
            .client
            .get(format!("{}{path}", desk.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 404, "{path}");
    }
    desk.stop().await;
}

/// How long schemathesis may run before the test gives up on it.
const SCHEMATHESIS_LIMIT: Duration = Duration::from_secs(300);
/// Test cases schemathesis generates per operation and phase.
const SCHEMATHESIS_EXAMPLES: &str = "30";

/// schemathesis (`st`, pinned in tests/api/requirements.txt) against the desk's own OpenAPI
/// document, with stories, alerts and dead deliveries in the state: no answer may be a 5xx,
/// and every answer must match the document (status, content type, headers, schema).
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_mismatch_with_the_openapi_document() {
    let found = tokio::process::Command::new("st")
        .arg("--version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !found {
        crate::support::missing(
            "schemathesis",
            "`st` is not on PATH (pip install -r tests/api/requirements.txt)",
        );
        return;
    }
    let desk = desk_with_dead_deliveries().await;
    let settings = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/schemathesis.toml");
    let mut command = tokio::process::Command::new("st");
    command
        .current_dir(desk.env.dir.path())
        .args(["--config-file", settings, "run"])
        .arg(format!("{}/api/v1/openapi.json", desk.base))
        .args(["--checks", "all"])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--max-examples", SCHEMATHESIS_EXAMPLES])
        .args(["--seed", "17", "--workers", "1", "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"])
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCHEMATHESIS_LIMIT, command.output())
        .await
        .expect("schemathesis finished within its limit")
        .expect("schemathesis ran");
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    desk.stop().await;
}

#[tokio::test]
async fn the_desk_lists_alerts_newest_first_and_a_story_with_its_cluster() {
    let desk = desk_with_dead_deliveries().await;
    let (status, alerts) = desk.get("/api/v1/alerts").await;
    assert_eq!(status, 200, "{alerts}");
    let alerts = alerts.as_array().expect("an array").clone();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let raised: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["raised_at"].as_str())
        .collect();
    assert!(
        raised.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {raised:?}"
    );
    for alert in &alerts {
        assert_eq!(alert["topic"], "isis", "{alert}");
        assert_eq!(alert["feed"], "news", "{alert}");
        assert!(
            alert["title"].as_str().is_some_and(|t| t.contains("داعش")),
            "{alert}"
        );
        let word = &alert["matched"][0];
        assert_eq!(word["keyword"], "داعش", "{alert}");
        let snippet = word["snippet"].as_str().expect("a snippet");
        let (start, end) = (
            word["start"].as_u64().expect("start"),
            word["end"].as_u64().expect("end"),
        );
        assert_eq!(
            snippet.get(start as usize..end as usize),
            word["matched"].as_str(),
            "the span is the matched word: {word}"
        );
        let mut states: Vec<(String, String)> = alert["deliveries"]
            .as_array()
            .expect("deliveries")
            .iter()
            .map(|d| {
                (
                    d["channel"].as_str().unwrap_or_default().to_owned(),
                    d["state"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        states.sort();
        assert_eq!(
            states,
            [
                ("desk".to_owned(), "delivered".to_owned()),
                ("ops".to_owned(), "dead".to_owned())
            ],
            "{alert}"
        );
    }
    let filtered = [
        ("limit", "/api/v1/alerts?limit=1", 1),
        ("other_topic", "/api/v1/alerts?topic=ports", 0),
        (
            "since_a_time",
            "/api/v1/alerts?since=2000-01-01T00:00:00Z",
            2,
        ),
        ("since_a_duration", "/api/v1/alerts?since=1h&topic=isis", 2),
    ];
    for (name, path, want) in filtered {
        let (status, body) = desk.get(path).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body.as_array().map(Vec::len), Some(want), "{name}: {body}");
    }
    let refused = [
        ("limit_zero", "/api/v1/alerts?limit=0", "limit"),
        ("limit_too_high", "/api/v1/alerts?limit=100000", "limit"),
        (
            "since_not_a_time",
            "/api/v1/alerts?since=yesterday",
            "since",
        ),
    ];
    for (name, path, named) in refused {
        let (status, body) = desk.get(path).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.starts_with(named)),
            "{name}: {body}"
        );
    }

    let story_id = alerts[0]["story_id"].as_i64().expect("a story id");
    let (status, view) = desk.get(&format!("/api/v1/stories/{story_id}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["story"]["id"], story_id, "{view}");
    assert_eq!(view["story"]["title"], alerts[0]["title"], "{view}");
    let cluster = view["cluster"].as_array().expect("a cluster");
    assert!(
        cluster.iter().any(|s| s["id"] == story_id),
        "itself included: {view}"
    );
    let (status, body) = desk.get("/api/v1/stories/999999").await;
    assert_eq!(status, 404, "{body}");
    desk.stop().await;
}

#[tokio::test]
async fn a_backtest_finds_what_a_draft_rule_would_have_alerted() {
    let desk = desk_with_dead_deliveries().await;
    let post =
        |body: serde_json::Value| desk.call(reqwest::Method::POST, "/api/v1/backtest", Some(body));
    let (status, report) = post(serde_json::json!({"any": ["داعش"], "since": "7d"})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["alerts"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    assert_eq!(
        report["keywords"],
        serde_json::json!([{"keyword": "داعش", "stories": 2}])
    );
    let hit = &report["alerts"][0]["hits"][0];
    let snippet = hit["snippet"].as_str().expect("a snippet");
    let range = hit["highlight"]["start"].as_u64().expect("start") as usize
        ..hit["highlight"]["end"].as_u64().expect("end") as usize;
    assert_eq!(snippet.get(range), hit["matched"].as_str(), "{hit}");

    let (status, report) = post(serde_json::json!({"any": ["خبر"], "none": ["داعش"]})).await;
    assert_eq!(status, 200, "{report}");
    let titles: Vec<&str> = report["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["title"].as_str())
        .collect();
    assert_eq!(titles, ["خبر"], "the known story only: {report}");

    let refused = [
        (
            "no_keyword",
            serde_json::json!({"any": []}),
            422,
            "topic.any",
        ),
        (
            "bad_field",
            serde_json::json!({"any": ["داعش"], "fields": ["body"]}),
            422,
            "topic.fields",
        ),
        (
            "a_channel",
            serde_json::json!({"any": ["داعش"], "notify": ["ops"]}),
            422,
            "notify",
        ),
        (
            "bad_since",
            serde_json::json!({"any": ["داعش"], "since": "yesterday"}),
            400,
            "since",
        ),
        (
            "bad_limit",
            serde_json::json!({"any": ["داعش"], "limit": 0}),
            400,
            "limit",
        ),
        (
            "not_an_object",
            serde_json::json!(["داعش"]),
            400,
            "the body",
        ),
        (
            "over_64_kib",
            serde_json::json!({"any": ["داعش"], "name": "x".repeat(70_000)}),
            413,
            "length limit",
        ),
    ];
    for (name, body, want, named) in refused {
        let (status, answer) = post(body).await;
        assert_eq!(status, want, "{name}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| e.contains(named)),
            "{name}: {answer}"
        );
    }
    desk.stop().await;
}

/// The managed topic `ports` of [`save_a_topic_and_see_it_alert`].
fn ports_rule() -> serde_json::Value {
    serde_json::json!({"id": "ports", "name": "الموانئ", "any": ["ميناء"], "notify": ["ops"]})
}

/// Saves the topic `ports` through the desk, waits until the daemon applies it, and sees a
/// new story alert for it (listed by the desk, received by the webhook).
async fn save_a_topic_and_see_it_alert(desk: &Desk) {
    let rule = ports_rule();
    let (status, created) = desk
        .call(reqwest::Method::POST, "/api/v1/topics", Some(rule.clone()))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["id"].as_str(), created["source"].as_str()),
        (Some("ports"), Some("managed"))
    );

    // The daemon looks for changed topics every few seconds: the story comes after that.
    let applied = crate::support::eventually(WAIT, || {
        desk.env
            .log()
            .lines()
            .any(|l| l.contains("managed topics applied") && l.contains("ports"))
    })
    .await;
    assert!(
        applied,
        "the daemon never applied the topic; log:\n{}",
        desk.env.log()
    );
    desk.env.feeds.set(
        "/news.xml",
        crate::support::rss(&[("p1", "افتتاح الميناء الجديد", "نص")]),
        RSS,
    );
    let alerted = eventually_async(WAIT, || async {
        let (_, alerts) = desk.get("/api/v1/alerts?topic=ports").await;
        alerts.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    assert!(
        alerted,
        "the saved topic never alerted; log:\n{}",
        desk.env.log()
    );
    let delivered = desk
        .env
        .hook
        .wait_for_accepted(1, WAIT)
        .await
        .iter()
        .any(|r| String::from_utf8_lossy(&r.body).contains("ports"));
    assert!(
        delivered,
        "the webhook never got the alert of the saved topic"
    );
}

#[tokio::test]
async fn a_topic_saved_on_the_desk_alerts_on_the_next_poll_and_config_topics_stay_read_only() {
    let desk = desk_with_dead_deliveries().await;
    save_a_topic_and_see_it_alert(&desk).await;
    let rule = ports_rule();

    let (status, topics) = desk.get("/api/v1/topics").await;
    assert_eq!(status, 200, "{topics}");
    let listed: Vec<(String, String)> = topics
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_owned(),
                t["source"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("isis".to_owned(), "config".to_owned()),
            ("ports".to_owned(), "managed".to_owned())
        ]
    );

    let change = serde_json::json!({"any": ["ميناء", "مرفأ"], "notify": ["ops"]});
    let (status, changed) = desk
        .call(reqwest::Method::PUT, "/api/v1/topics/ports", Some(change))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["rule"]["any"],
        serde_json::json!(["ميناء", "مرفأ"]),
        "{changed}"
    );

    let refused = [
        (
            "duplicate",
            reqwest::Method::POST,
            "/api/v1/topics",
            Some(rule.clone()),
            409,
        ),
        (
            "config_id",
            reqwest::Method::POST,
            "/api/v1/topics",
            Some(serde_json::json!({"id": "isis", "any": ["x"]})),
            409,
        ),
        (
            "unknown_channel",
            reqwest::Method::POST,
            "/api/v1/topics",
            Some(serde_json::json!({"id": "p2", "any": ["ميناء"], "notify": ["pager"]})),
            422,
        ),
        (
            "change_config_topic",
            reqwest::Method::PUT,
            "/api/v1/topics/isis",
            Some(serde_json::json!({"any": ["x"]})),
            403,
        ),
        (
            "change_unknown_topic",
            reqwest::Method::PUT,
            "/api/v1/topics/nope",
            Some(serde_json::json!({"any": ["x"]})),
            404,
        ),
        (
            "change_the_id",
            reqwest::Method::PUT,
            "/api/v1/topics/ports",
            Some(serde_json::json!({"id": "other", "any": ["x"]})),
            422,
        ),
        (
            "delete_config_topic",
            reqwest::Method::DELETE,
            "/api/v1/topics/isis",
            None,
            403,
        ),
        (
            "delete_unknown_topic",
            reqwest::Method::DELETE,
            "/api/v1/topics/nope",
            None,
            404,
        ),
    ];
    for (name, method, path, body, want) in refused {
        let (status, answer) = desk.call(method, path, body).await;
        assert_eq!(status, want, "{name}: {answer}");
        assert!(answer["error"].is_string(), "{name}: {answer}");
    }
    let (_, problems) = desk
        .call(
            reqwest::Method::POST,
            "/api/v1/topics",
            Some(serde_json::json!({"id": "p2", "any": ["ميناء"], "notify": ["pager"]})),
        )
        .await;
    assert_eq!(
        problems["problems"],
        serde_json::json!(["topic.notify[1]: unknown channel \"pager\""])
    );

    let deleted = desk
        .client
        .delete(format!("{}/api/v1/topics/ports", desk.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer");
    assert_eq!(deleted.status(), 204);
    let (_, topics) = desk.get("/api/v1/topics").await;
    assert_eq!(topics.as_array().map(Vec::len), Some(1), "{topics}");
    desk.stop().await;
}

/// The desk over a PostgreSQL state: alerts and stories read from it, a topic saved there
/// applies and alerts.
#[tokio::test]
async fn the_desk_reads_and_saves_topics_in_a_postgresql_state() {
    let Some(db) = crate::pg::TestDatabase::create("web_api_postgres").await else {
        return;
    };
    let desk = desk_with_dead_deliveries_in(Some(&db.url)).await;
    let (status, alerts) = desk.get("/api/v1/alerts?topic=isis").await;
    assert_eq!(
        (status, alerts.as_array().map(Vec::len)),
        (200, Some(2)),
        "{alerts}"
    );
    let story_id = alerts[0]["story_id"].as_i64().expect("a story id");
    let (status, view) = desk.get(&format!("/api/v1/stories/{story_id}")).await;
    assert_eq!(
        (status, view["story"]["id"].as_i64()),
        (200, Some(story_id)),
        "{view}"
    );
    let (status, outbox) = desk.get("/api/v1/outbox").await;
    assert_eq!(
        (status, outbox.as_array().map(Vec::len)),
        (200, Some(2)),
        "{outbox}"
    );
    save_a_topic_and_see_it_alert(&desk).await;
    desk.stop().await;
    drop(db);
}

#[tokio::test]
async fn rasad_check_names_what_is_wrong_with_the_web_table() {
    let mut env = Env::start().await;
    configure_desk(&mut env, "session = \"90days\"");
    std::fs::write(env.dir.path().join("desk-token"), "short\n").expect("written");
    let output = env.rasad(&["check"]).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for wanted in [
        "web.token_file: the token must be at least 16 characters",
        "web.session: \"90days\" is too long",
    ] {
        assert!(stderr.contains(wanted), "{wanted:?} missing from {stderr}");
    }
    assert!(!stderr.contains("short"), "the token is quoted: {stderr}");
}
