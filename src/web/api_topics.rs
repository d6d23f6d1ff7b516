//! The desk's topics (the config's, read-only, and the managed ones kept in the state, checked
//! by `config::check_managed_topic` like a `[[topic]]` table) and the backtest of a draft rule.
//! A saved topic applies from the next poll: the daemon watches `Store::topics_revision`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::WebState;
use super::api::{ApiError, PathText, only_parameters, parse_since, query_parameters, quoted};
use crate::backtest::{MAX_ALERTS, Rule, backtest};
use crate::config::{Config, MAX_MANAGED_TOPICS, Topic, check_managed_topic};
use crate::matcher::{KeywordSpec, Prefixes, Suffixes, TopicSpec};

/// How far back a backtest looks unless its body says `since`.
pub const DEFAULT_BACKTEST_SINCE: &str = "7d";
/// Alerts a backtest returns unless its body says `limit` (at most `backtest::MAX_ALERTS`).
pub const DEFAULT_BACKTEST_LIMIT: usize = 100;

/// The endpoints of this file, for the API's table.
pub(crate) fn endpoints() -> Vec<(Method, &'static str, MethodRouter<WebState>)> {
    vec![
        (Method::GET, "/api/v1/topics", get(list_topics)),
        (Method::POST, "/api/v1/topics", post(create_topic)),
        (Method::PUT, "/api/v1/topics/{id}", put(replace_topic)),
        (
            Method::DELETE,
            "/api/v1/topics/{id}",
            axum::routing::delete(delete_topic),
        ),
        (Method::POST, "/api/v1/backtest", post(run_backtest)),
    ]
}

/// A topic as the desk lists it.
#[derive(Debug, Serialize)]
struct TopicItem {
    id: String,
    /// `config` (read-only here) or `managed` (kept in the state).
    source: &'static str,
    /// The keys of a `[[topic]]` table.
    rule: Value,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    /// Why a managed topic no longer checks against the running config (it is skipped until
    /// fixed); empty when it applies.
    problems: Vec<String>,
}

/// `GET /api/v1/topics`: the config's topics, then the managed ones, each with its source.
async fn list_topics(
    State(state): State<WebState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    only_parameters(&query_parameters(query), &[])?;
    let config = state.config();
    let mut items: Vec<TopicItem> = config.topics.iter().map(config_item).collect();
    for managed in state.store.managed_topics().await? {
        let problems = check_managed_topic(&managed.rule, &config)
            .err()
            .unwrap_or_default();
        items.push(TopicItem {
            id: managed.id,
            source: "managed",
            rule: managed.rule,
            created_at: Some(managed.created_at),
            updated_at: Some(managed.updated_at),
            problems,
        });
    }
    Ok(Json(items).into_response())
}

fn config_item(topic: &Topic) -> TopicItem {
    TopicItem {
        id: topic.id.clone(),
        source: "config",
        rule: topic_rule(topic),
        created_at: None,
        updated_at: None,
        problems: Vec::new(),
    }
}

/// A config topic as the JSON of its `[[topic]]` table (aliases listed as keywords of their own).
fn topic_rule(topic: &Topic) -> Value {
    let keywords = |list: &[KeywordSpec]| list.iter().map(keyword_rule).collect::<Vec<_>>();
    json!({
        "id": topic.id,
        "name": topic.name,
        "any": keywords(&topic.any),
        "all": keywords(&topic.all),
        "none": keywords(&topic.none),
        "fields": topic.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "notify": topic.notify,
    })
}

/// A keyword as a string, or as a table when it has options.
fn keyword_rule(keyword: &KeywordSpec) -> Value {
    let options = &keyword.options;
    if *options == Default::default() {
        return Value::String(keyword.term.clone());
    }
    let mut table = Map::new();
    table.insert("term".into(), keyword.term.clone().into());
    if let Some(suffixes) = options.suffixes {
        let name = match suffixes {
            Suffixes::Default => "default",
            Suffixes::None => "none",
            Suffixes::PronounsOnly => "pronouns-only",
        };
        table.insert("suffixes".into(), name.into());
    }
    if let Some(prefixes) = options.prefixes {
        let name = match prefixes {
            Prefixes::Default => "default",
            Prefixes::ArticleOnly => "article-only",
            Prefixes::None => "none",
        };
        table.insert("prefixes".into(), name.into());
    }
    if options.case_sensitive {
        table.insert("case_sensitive".into(), true.into());
    }
    if options.name {
        table.insert("name".into(), true.into());
    }
    Value::Object(table)
}

/// A request body as a JSON object, or 400 (413 past `web::MAX_BODY`) saying why not.
fn json_object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
    }
}

/// 422 with every problem the checks found, one per line in `error` and listed in `problems`.
fn refused(problems: Vec<String>) -> Response {
    let body = json!({ "error": problems.join("\n"), "problems": problems });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// 403 for a topic of the config file.
fn config_topic_refusal(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!("topic id {id:?} is defined in the config file; change it there"),
    )
}

/// `POST /api/v1/topics`: a new managed topic (201); 409 when the id is taken, 422 with the
/// checks' messages when the rule is bad.
async fn create_topic(
    State(state): State<WebState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let rule = Value::Object(json_object(body)?);
    let config = state.config();
    let managed = state.store.managed_topics().await?;
    if let Some(id) = rule.get("id").and_then(Value::as_str) {
        let taken = config.topics.iter().any(|t| t.id == id) || managed.iter().any(|t| t.id == id);
        if taken {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("a topic with id {id:?} exists; change it with PUT /api/v1/topics/{id}"),
            ));
        }
    }
    if managed.len() >= MAX_MANAGED_TOPICS {
        return Ok(refused(vec![format!(
            "the state holds {} managed topics, the most it takes ({MAX_MANAGED_TOPICS}); delete one first",
            managed.len()
        )]));
    }
    let topic = match check_managed_topic(&rule, &config) {
        Ok(topic) => topic,
        Err(problems) => return Ok(refused(problems)),
    };
    state
        .store
        .save_managed_topic(&topic.id, &rule, Utc::now())
        .await?;
    tracing::info!(topic = %topic.id, "desk: a topic created");
    Ok((
        StatusCode::CREATED,
        Json(saved_item(&state, &topic.id).await?),
    )
        .into_response())
}

/// The managed topic `id` as listed, read back after a save.
async fn saved_item(state: &WebState, id: &str) -> Result<TopicItem, ApiError> {
    let managed = state
        .store
        .managed_topics()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found(format!("topic {id:?} was deleted meanwhile")))?;
    Ok(TopicItem {
        id: managed.id,
        source: "managed",
        rule: managed.rule,
        created_at: Some(managed.created_at),
        updated_at: Some(managed.updated_at),
        problems: Vec::new(),
    })
}

/// `PUT /api/v1/topics/{id}`: a managed topic's new rule; 403 for a config topic, 404 for no
/// such topic, 422 when the rule is bad or names another id.
async fn replace_topic(
    State(state): State<WebState>,
    PathText(id): PathText,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut rule = json_object(body)?;
    let config = state.config();
    existing_managed(&state, &config, &id).await?;
    match rule.get("id") {
        None => {
            rule.insert("id".into(), id.clone().into());
        }
        Some(Value::String(given)) if *given == id => {}
        Some(given) => {
            return Ok(refused(vec![format!(
                "topic.id: {} is not the topic of the path ({id:?}); an id cannot change",
                quoted(&given.to_string())
            )]));
        }
    }
    let rule = Value::Object(rule);
    if let Err(problems) = check_managed_topic(&rule, &config) {
        return Ok(refused(problems));
    }
    state
        .store
        .save_managed_topic(&id, &rule, Utc::now())
        .await?;
    tracing::info!(topic = %id, "desk: a topic changed");
    Ok(Json(saved_item(&state, &id).await?).into_response())
}

/// Refuses a config topic (403) and an id no managed topic has (404).
async fn existing_managed(state: &WebState, config: &Config, id: &str) -> Result<(), ApiError> {
    if config.topics.iter().any(|t| t.id == id) {
        return Err(config_topic_refusal(id));
    }
    if !state
        .store
        .managed_topics()
        .await?
        .iter()
        .any(|t| t.id == id)
    {
        return Err(ApiError::not_found(format!("no topic {}", quoted(id))));
    }
    Ok(())
}

/// `DELETE /api/v1/topics/{id}`: a managed topic removed (204); 403 for a config topic.
async fn delete_topic(
    State(state): State<WebState>,
    PathText(id): PathText,
) -> Result<Response, ApiError> {
    if state.config().topics.iter().any(|t| t.id == id) {
        return Err(config_topic_refusal(&id));
    }
    if !state.store.delete_managed_topic(&id).await? {
        return Err(ApiError::not_found(format!("no topic {}", quoted(&id))));
    }
    tracing::info!(topic = %id, "desk: a topic deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/backtest`: a draft rule (`any`, `all`, `none`, `fields`, and `since`, `limit`)
/// tried on the stories the state kept: the `rasad backtest --json` report.
async fn run_backtest(
    State(state): State<WebState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut draft = json_object(body)?;
    let config = state.config();
    let since = match draft.remove("since") {
        None => parse_since(DEFAULT_BACKTEST_SINCE, Utc::now()),
        Some(Value::String(text)) => parse_since(&text, Utc::now()),
        Some(other) => Err(format!(
            "since: {} is not a string",
            quoted(&other.to_string())
        )),
    }
    .map_err(ApiError::bad_request)?;
    let retained = chrono::Duration::from_std(config.daemon.retention)
        .ok()
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let limit = backtest_limit(draft.remove("limit"))?;
    let spec = match draft_topic(draft, &config) {
        Ok(spec) => spec,
        Err(problems) => return Ok(refused(problems)),
    };
    let rule = match Rule::new(spec) {
        Ok(rule) => rule,
        Err(e) => return Ok(refused(vec![e.to_string()])),
    };
    let report = backtest(&state.store, &rule, since.max(retained), limit)
        .await
        .map_err(|e| match e {
            crate::backtest::BacktestError::Store(e) => ApiError::from(e),
            other => {
                tracing::error!(error = %other, "desk: a backtest failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the backtest failed; see the daemon's log",
                )
            }
        })?;
    Ok(Json(report).into_response())
}

fn backtest_limit(value: Option<Value>) -> Result<usize, ApiError> {
    let Some(value) = value else {
        return Ok(DEFAULT_BACKTEST_LIMIT);
    };
    value
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (1..=MAX_ALERTS).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "limit: {} must be a number from 1 to {MAX_ALERTS}",
                quoted(&value.to_string())
            ))
        })
}

/// The draft's keywords checked as a topic table (with an id no config topic has, and no
/// channel), as the compiled topic.
fn draft_topic(mut draft: Map<String, Value>, config: &Config) -> Result<TopicSpec, Vec<String>> {
    let id = (0..)
        .map(|n| {
            if n == 0 {
                "draft".to_owned()
            } else {
                format!("draft-{n}")
            }
        })
        .find(|id| !config.topics.iter().any(|t| &t.id == id))
        .expect("some draft id is free");
    for key in ["id", "notify"] {
        if draft.contains_key(key) {
            return Err(vec![format!(
                "{key}: a draft rule has none; it is tried, not saved"
            )]);
        }
    }
    draft.insert("id".into(), id.into());
    let topic = check_managed_topic(&Value::Object(draft), config)?;
    Ok(TopicSpec {
        id: None,
        any: topic.any,
        all: topic.all,
        none: topic.none,
        fields: topic.fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_topic_is_listed_as_the_table_it_came_from() {
        let text = r#"
[[topic]]
id = "ports"
name = "الموانئ"
any = ["مرفأ", { term = "ميناء", suffixes = "pronouns-only" }, { term = "US", case_sensitive = true }]
fields = ["title"]
"#;
        let config =
            Config::parse(text, std::path::Path::new("/etc/rasad/rasad.toml")).expect("valid");
        let rule = topic_rule(&config.topics[0]);
        assert_eq!(
            rule,
            json!({
                "id": "ports",
                "name": "الموانئ",
                "any": ["مرفأ", {"term": "ميناء", "suffixes": "pronouns-only"}, {"term": "US", "case_sensitive": true}],
                "all": [],
                "none": [],
                "fields": ["title"],
                "notify": [],
            })
        );
        let mut again = rule.clone();
        again["id"] = "ports-copy".into();
        let copy = check_managed_topic(&again, &config).expect("the listed rule checks");
        assert_eq!(copy.any, config.topics[0].any, "the same keywords");
    }

    #[test]
    fn a_draft_rule_takes_no_id_or_channel_and_a_free_draft_id() {
        let text = "[[topic]]\nid = \"draft\"\nany = [\"x\"]\n";
        let config =
            Config::parse(text, std::path::Path::new("/etc/rasad/rasad.toml")).expect("valid");
        let object = |v: Value| v.as_object().expect("an object").clone();
        let spec = draft_topic(object(json!({"any": ["مرفأ"]})), &config).expect("a good draft");
        assert_eq!(spec.any.len(), 1);
        let cases = [
            (
                "an_id",
                json!({"id": "x", "any": ["مرفأ"]}),
                "id: a draft rule has none",
            ),
            (
                "a_channel",
                json!({"notify": [], "any": ["مرفأ"]}),
                "notify: a draft rule has none",
            ),
            (
                "no_keyword",
                json!({"any": []}),
                "topic.any: needs at least one keyword",
            ),
        ];
        for (name, draft, want) in cases {
            let problems = draft_topic(object(draft), &config).expect_err(name);
            assert!(
                problems.iter().any(|p| p.contains(want)),
                "{name}: {problems:?}"
            );
        }
        let limits = [
            (None, Ok(DEFAULT_BACKTEST_LIMIT)),
            (Some(json!(5)), Ok(5)),
            (Some(json!(0)), Err(())),
            (Some(json!("5")), Err(())),
            (Some(json!(MAX_ALERTS + 1)), Err(())),
        ];
        for (value, want) in limits {
            assert_eq!(
                backtest_limit(value.clone()).map_err(|_| ()),
                want,
                "{value:?}"
            );
        }
    }
}
