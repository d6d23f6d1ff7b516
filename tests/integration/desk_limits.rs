//! The desk's bounds and edges as an attacker or a careless user meets them, against `rasad
//! run`: how many managed topics one can save, how much of a request an error answer quotes,
//! how long a request may wait for the store, and what the API's own root and a wrong method
//! answer.

use crate::support::Env;
use crate::web_api::{Desk, TOKEN, configure_desk, log_in};

/// A desk on a fresh state with the `news` feed configured.
async fn fresh_desk() -> Desk {
    let mut env = Env::start().await;
    let base = configure_desk(&mut env, "");
    Desk::start(env, base).await
}

#[tokio::test]
async fn the_desk_refuses_a_managed_topic_past_the_most_the_state_takes() {
    let desk = fresh_desk().await;
    for n in 0..rasad::config::MAX_MANAGED_TOPICS {
        let rule = serde_json::json!({"id": format!("t{n}"), "any": [format!("كلمة{n}")]});
        let (status, body) = desk
            .call(reqwest::Method::POST, "/api/v1/topics", Some(rule))
            .await;
        assert_eq!(status, 201, "topic {n}: {body}");
    }
    let one_more = serde_json::json!({"id": "one-more", "any": ["مرفأ"]});
    let (status, body) = desk
        .call(reqwest::Method::POST, "/api/v1/topics", Some(one_more))
        .await;
    assert_eq!(status, 422, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains("delete one first"), "{body}");
    let deleted = desk
        .client
        .delete(format!("{}/api/v1/topics/t0", desk.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer");
    assert_eq!(deleted.status(), 204);
    let again = serde_json::json!({"id": "one-more", "any": ["مرفأ"]});
    let (status, body) = desk
        .call(reqwest::Method::POST, "/api/v1/topics", Some(again))
        .await;
    assert_eq!(status, 201, "room again after a delete: {body}");
    desk.stop().await;
}

/// The largest error answer these requests may get: a refusal quotes a few dozen characters of
/// what it refuses and lists a bounded number of problems.
const SMALL_ANSWER: usize = 16 << 10;

#[tokio::test]
async fn error_answers_stay_small_whatever_the_request_carried() {
    let desk = fresh_desk().await;
    let long = "x".repeat(1_500);
    let huge = "x".repeat(20_000);
    let since = "7".repeat(60_000);
    let empty_keywords = vec!["!"; 10_000];
    let cases = [
        (
            "long_limit",
            reqwest::Method::GET,
            format!("/api/v1/alerts?limit={long}"),
            None,
            400,
        ),
        (
            "long_parameter",
            reqwest::Method::GET,
            format!("/api/v1/alerts?{long}=1"),
            None,
            400,
        ),
        (
            "query_past_the_bound",
            reqwest::Method::GET,
            format!("/api/v1/feeds?a={huge}"),
            None,
            400,
        ),
        (
            "long_topic_path",
            reqwest::Method::DELETE,
            format!("/api/v1/topics/{huge}"),
            None,
            404,
        ),
        (
            "long_story_path",
            reqwest::Method::GET,
            format!("/api/v1/stories/{huge}"),
            None,
            404,
        ),
        (
            "long_since",
            reqwest::Method::POST,
            "/api/v1/backtest".to_owned(),
            Some(serde_json::json!({"any": ["مرفأ"], "since": since})),
            400,
        ),
        (
            "thousands_of_bad_keywords",
            reqwest::Method::POST,
            "/api/v1/topics".to_owned(),
            Some(serde_json::json!({"id": "p", "any": empty_keywords})),
            422,
        ),
    ];
    for (name, method, path, body, want) in cases {
        let (status, answer) = desk.call(method, &path, body).await;
        assert_eq!(status, want, "{name}: {answer}");
        let size = answer.to_string().len();
        assert!(size < SMALL_ANSWER, "{name}: an answer of {size} bytes");
    }
    desk.stop().await;
}

/// How long the desk works on one request before it answers 503 (`web::ANSWER_WITHIN`).
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// A PostgreSQL state whose `managed_topics` table another client holds locked: a request that
/// reads it used to wait for ever; it gets a 503 in time, and the desk answers again once the
/// lock is gone.
#[tokio::test]
async fn a_store_that_does_not_answer_gets_a_503_in_time_not_a_request_hung_for_ever() {
    use sqlx::Connection;
    let Some(db) = crate::pg::TestDatabase::create("desk_store_hangs").await else {
        return;
    };
    let mut env = Env::start().await;
    let base = configure_desk(&mut env, "");
    let text = std::fs::read_to_string(env.config_path()).expect("the config");
    let text = text.replace(
        "state = \"state/rasad.db\"",
        &format!("state = {:?}", db.url),
    );
    std::fs::write(env.config_path(), text).expect("the config written");
    let desk = Desk::start(env, base).await;
    let (status, _) = desk.get("/api/v1/topics").await;
    assert_eq!(status, 200, "the desk reads its topics");

    let mut other = db.connect().await;
    let mut lock = other.begin().await.expect("a transaction");
    sqlx::query("LOCK TABLE managed_topics IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("the table locked");
    let patient = reqwest::Client::builder()
        .no_proxy()
        .timeout(ANSWER_WITHIN * 2)
        .build()
        .expect("an HTTP client");
    let started = std::time::Instant::now();
    let answer = patient
        .get(format!("{}/api/v1/topics", desk.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the desk answers before the client gives up");
    let waited = started.elapsed();
    assert_eq!(answer.status(), 503);
    assert!(
        waited < ANSWER_WITHIN + std::time::Duration::from_secs(10),
        "{waited:?}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&answer.text().await.expect("a body")).expect("JSON");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("in time")),
        "{body}"
    );
    // The answer is one the API's document promises (it was not: a client generated from the
    // document knew no 503).
    let document: serde_json::Value =
        serde_json::from_str(include_str!("../../src/web/openapi.json")).expect("JSON");
    assert!(
        document["paths"]["/api/v1/topics"]["get"]["responses"]["503"].is_object(),
        "503 not documented for GET /api/v1/topics"
    );

    lock.rollback().await.expect("the lock released");
    let (status, _) = desk.get("/api/v1/topics").await;
    assert_eq!(status, 200, "the desk answers again");
    desk.stop().await;
    drop(db);
}

/// `/api/v1` and `/api/v1/` used to answer a bare 404 before the token was asked for, and a
/// wrong method an empty 405: every path under the API asks for the token first and answers
/// JSON.
#[tokio::test]
async fn the_api_root_and_a_wrong_method_ask_for_the_token_and_answer_json() {
    let desk = fresh_desk().await;
    for path in ["/api/v1", "/api/v1/"] {
        let anonymous = desk
            .client
            .get(format!("{}{path}", desk.base))
            .send()
            .await
            .expect("an answer");
        assert_eq!(anonymous.status(), 401, "{path}");
        let (status, body) = desk.get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    for method in ["PATCH", "OPTIONS", "TRACE"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let (status, body) = desk.call(method.clone(), "/api/v1/topics", None).await;
        assert_eq!(status, 405, "{method}: {body}");
        assert!(body["error"].is_string(), "{method}: {body}");
    }
    desk.stop().await;
}

/// Every level of the daemon's log, `trace` included, after a login and API calls with the
/// token and with the session: neither the token, nor the session id, nor the login form's
/// CSRF token is in it.
#[tokio::test]
async fn no_secret_of_the_desk_reaches_a_trace_log() {
    let mut env = Env::start().await;
    let base = configure_desk(&mut env, "");
    env.log_level = "trace";
    let desk = Desk::start(env, base).await;
    let url = |path: &str| format!("{}{path}", desk.base);
    let (session, csrf) = log_in(&desk, TOKEN, "").await;
    let read = desk
        .client
        .get(url("/api/v1/topics"))
        .header("cookie", format!("rasad_session={session}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(read.status(), 200);
    let rule = serde_json::json!({"id": "ports", "any": ["مرفأ"]});
    let (status, body) = desk
        .call(reqwest::Method::POST, "/api/v1/topics", Some(rule))
        .await;
    assert_eq!(status, 201, "{body}");
    let wrong = desk
        .client
        .get(url("/api/v1/topics"))
        .bearer_auth("wrong-token-0123456789abcdef")
        .send()
        .await
        .expect("an answer");
    assert_eq!(wrong.status(), 401);
    let log = desk.env.log();
    desk.stop().await;
    assert!(log.contains("TRACE"), "the log is at trace level:\n{log}");
    for (name, secret) in [
        ("token", TOKEN),
        ("wrong token", "wrong-token-0123456789abcdef"),
        ("session id", session.as_str()),
        ("login csrf", csrf.as_str()),
    ] {
        assert!(!log.contains(secret), "the {name} reached the log");
    }
}

/// A path id that is not UTF-8 once percent-decoded (`%ff`) used to get axum's plain-text 400;
/// it names nothing, and the answer is a JSON 404 like any other unknown id.
#[tokio::test]
async fn a_path_id_that_is_not_utf8_is_a_json_404() {
    let desk = fresh_desk().await;
    let cases = [
        (reqwest::Method::GET, "/api/v1/stories/%ff"),
        (reqwest::Method::POST, "/api/v1/outbox/%ff/retry"),
        (reqwest::Method::DELETE, "/api/v1/topics/%ff"),
        (reqwest::Method::PUT, "/api/v1/topics/%ff%fe"),
    ];
    for (method, path) in cases {
        let body = (method == reqwest::Method::PUT).then(|| serde_json::json!({"any": ["مرفأ"]}));
        let (status, answer) = desk.call(method.clone(), path, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert!(answer["error"].is_string(), "{method} {path}: {answer}");
    }
    desk.stop().await;
}

/// A login gives a new session id and ends the one the browser had: an id that leaked before
/// the login used to stay good until it expired.
#[tokio::test]
async fn a_login_ends_the_session_the_browser_had() {
    let desk = fresh_desk().await;
    let reads = |session: String| {
        let request = desk
            .client
            .get(format!("{}/api/v1/topics", desk.base))
            .header("cookie", format!("rasad_session={session}"));
        async move { request.send().await.expect("an answer").status().as_u16() }
    };
    let (first, _) = log_in(&desk, TOKEN, "").await;
    assert_eq!(reads(first.clone()).await, 200);
    let (second, _) = log_in(&desk, TOKEN, &format!("rasad_session={first}")).await;
    assert_ne!(second, first, "a new id");
    assert_eq!(reads(second).await, 200);
    assert_eq!(reads(first).await, 401, "the old session ended");
    desk.stop().await;
}
