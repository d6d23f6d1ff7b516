//! The desk's bounds as an attacker or a careless user meets them, against `rasad run`: how many
//! managed topics one can save, how much of a request an error answer quotes, and where a
//! login may send the browser.

use crate::support::Env;
use crate::web_api::{Desk, TOKEN, configure_desk};

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
