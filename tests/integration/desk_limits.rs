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
