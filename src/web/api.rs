//! The desk's JSON API under `/api/v1`: one table of endpoints (what `openapi.json` must
//! describe), the error shape `{"error": "..."}`, and the read-only views of the state (alerts,
//! stories, feeds, outbox). Topics and the backtest are in `api_topics`.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use chrono::{DateTime, Utc};

use super::WebState;
use super::api_topics;
use crate::store::{AlertQuery, MAX_ALERTS_LISTED, StoreError};

/// Alerts listed unless `limit` says otherwise.
pub const DEFAULT_ALERTS_LISTED: u32 = 50;

/// The OpenAPI 3.0 document of this API, written by hand beside the code it describes.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every endpoint of the API: method, path (as axum and OpenAPI both write it) and handler.
/// The router is built from this table, and a test holds it equal to `openapi.json`.
pub(crate) fn endpoints() -> Vec<(Method, &'static str, MethodRouter<WebState>)> {
    let mut table = vec![
        (Method::GET, "/api/v1/openapi.json", get(openapi)),
        (Method::GET, "/api/v1/alerts", get(alerts)),
        (Method::GET, "/api/v1/stories/{id}", get(story)),
        (Method::GET, "/api/v1/feeds", get(feeds)),
        (Method::GET, "/api/v1/outbox", get(outbox)),
        (Method::POST, "/api/v1/outbox/{id}/retry", post(retry)),
    ];
    table.extend(api_topics::endpoints());
    table
}

/// The API's routes (access is checked by `auth::require_api_access`, layered in `web`), a
/// JSON 405 for a method a path does not take, and a JSON 404 for any other path under
/// `/api/v1` (`/api/v1` and `/api/v1/` too), behind the same check: without the token a caller
/// learns nothing of which paths exist.
pub(crate) fn routes() -> Router<WebState> {
    endpoints()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            router.route(path, handler)
        })
        .method_not_allowed_fallback(method_not_allowed)
        .route("/api/v1", any(unknown_endpoint))
        .route("/api/v1/", any(unknown_endpoint))
        .route("/api/v1/{*rest}", any(unknown_endpoint))
}

async fn unknown_endpoint() -> ApiError {
    ApiError::not_found("no such endpoint; GET /api/v1/openapi.json lists them")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this path does not take this method; GET /api/v1/openapi.json lists them",
    )
}

/// A refusal or failure of the API, answered as `{"error": message}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<StoreError> for ApiError {
    /// The store failed (a database restarting): logged in full, answered with a short message.
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "desk: the state store failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the state store did not answer; see the daemon's log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.message)
    }
}

/// `{"error": message}` with `status`.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The longest query string the API reads: its parameters are a number, a topic id and a time.
pub const MAX_QUERY_BYTES: usize = 2048;
/// The most characters of a request that an error answer quotes: enough to recognise it, and
/// an answer stays small whatever was sent.
pub const MAX_QUOTED_CHARS: usize = 64;

/// The query string's parameters; a parameter given twice keeps its first value. Never
/// fails: a malformed query is read as far as it goes, and each handler names what it lacks.
/// (`auth::require_api_access` refuses a query longer than [`MAX_QUERY_BYTES`] before.)
pub(crate) fn query_parameters(query: Option<String>) -> HashMap<String, String> {
    super::auth::form_fields(query.unwrap_or_default().as_bytes())
}

/// Refuses a query string longer than [`MAX_QUERY_BYTES`], saying how long it was.
pub(crate) fn query_within_bounds(query: Option<&str>) -> Result<(), ApiError> {
    let bytes = query.map_or(0, str::len);
    if bytes > MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(format!(
            "the query string has {bytes} bytes; the API reads at most {MAX_QUERY_BYTES}"
        )));
    }
    Ok(())
}

/// `text` quoted for an error answer, cut after [`MAX_QUOTED_CHARS`] characters.
pub(crate) fn quoted(text: &str) -> String {
    let mut chars = text.chars();
    let mut head: String = chars.by_ref().take(MAX_QUOTED_CHARS).collect();
    if chars.next().is_some() {
        head.push('…');
    }
    format!("{head:?}")
}

/// Refuses query parameters other than `known`: a misspelt filter must not silently return
/// everything.
pub(crate) fn only_parameters(
    query: &HashMap<String, String>,
    known: &[&str],
) -> Result<(), ApiError> {
    match query.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(ApiError::bad_request(format!(
            "unknown query parameter {}; this endpoint takes {}",
            quoted(unknown),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))),
    }
}

/// The `{id}` of a path, percent-decoded. An id that is not UTF-8 once decoded names nothing:
/// 404 as JSON, where axum's own answer is a 400 in plain text.
pub(crate) struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => Ok(PathText(text)),
            Err(_) => Err(ApiError::not_found(
                "no such id: the path is not UTF-8 once percent-decoded",
            )),
        }
    }
}

/// A numeric path id, or 404 naming what was not found.
pub(crate) fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("no {what} {}: ids are numbers", quoted(raw))))
}

/// A `since` parameter: an RFC 3339 time, or a whole number of seconds, minutes, hours, days or
/// weeks back from `now` ("7d", "36h"): exactly the two forms `openapi.json` describes.
pub(crate) fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Some(back) = short_duration(text) {
        return Ok(chrono::Duration::try_seconds(back)
            .and_then(|back| now.checked_sub_signed(back))
            .unwrap_or(DateTime::<Utc>::MIN_UTC));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "since: {} is neither an RFC 3339 time like \"2026-12-01T00:00:00Z\" nor a duration like \"7d\" (s, m, h, d or w)",
                quoted(text)
            )
        })
}

/// `7d` as seconds: 1 to [`MAX_SINCE_DIGITS`] digits and one unit letter.
fn short_duration(text: &str) -> Option<i64> {
    let unit = match text.as_bytes().last()? {
        b's' => 1,
        b'm' => 60,
        b'h' => 3600,
        b'd' => 86_400,
        b'w' => 7 * 86_400,
        _ => return None,
    };
    let digits = &text[..text.len() - 1];
    let valid = (1..=MAX_SINCE_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| digits.parse::<i64>().ok().map(|n| n * unit))?
}

/// The most digits of a `since` duration: 9 digits of weeks still fit a time span in seconds.
pub const MAX_SINCE_DIGITS: usize = 9;

/// `GET /api/v1/alerts?limit=&topic=&since=`: the newest alerts first, with their matched
/// words, the other outlets that carried the story and each channel's delivery.
async fn alerts(
    State(state): State<WebState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = query_parameters(query);
    only_parameters(&query, &["limit", "topic", "since"])?;
    let limit = match query.get("limit") {
        None => DEFAULT_ALERTS_LISTED,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_ALERTS_LISTED).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit: {} must be a number from 1 to {MAX_ALERTS_LISTED}",
                    quoted(text)
                ))
            })?,
    };
    let since = query
        .get("since")
        .map(|text| parse_since(text, Utc::now()))
        .transpose()
        .map_err(ApiError::bad_request)?;
    let query = AlertQuery {
        limit,
        topic: query.get("topic").cloned(),
        since,
    };
    Ok(Json(state.store.recent_alerts(&query).await?).into_response())
}

/// `GET /api/v1/stories/{id}`: a story and every story of its cluster.
async fn story(
    State(state): State<WebState>,
    PathText(id): PathText,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "story")?;
    match state.store.story_view(id).await? {
        Some(view) => Ok(Json(view).into_response()),
        None => Err(ApiError::not_found(format!("no story {id}"))),
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /api/v1/feeds`: the configured feeds' health, each row as `rasad feeds --json`
/// prints it.
async fn feeds(
    State(state): State<WebState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    only_parameters(&query_parameters(query), &[])?;
    let config = state.config();
    let known = state.store.feed_health().await?;
    let configured: Vec<(String, String)> = config
        .feeds
        .iter()
        .map(|f| (f.id.clone(), f.url.to_string()))
        .collect();
    let rows = crate::source::health::rows(&configured, &known, Utc::now());
    Ok(Json(rows).into_response())
}

/// `GET /api/v1/outbox`: every delivery not delivered, as `rasad outbox --json` prints them.
async fn outbox(
    State(state): State<WebState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    only_parameters(&query_parameters(query), &[])?;
    let entries = state.store.outbox_entries(Utc::now()).await?;
    Ok(Json(entries).into_response())
}

/// `POST /api/v1/outbox/{id}/retry`: a dead or waiting delivery due again now.
async fn retry(
    State(state): State<WebState>,
    PathText(id): PathText,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "delivery")?;
    if !state.retry_delivery(id).await? {
        return Err(ApiError::not_found(format!(
            "no undelivered delivery with id {id}"
        )));
    }
    tracing::info!(delivery = id, "desk: a delivery put back in the queue");
    Ok(Json(serde_json::json!({ "id": id, "state": "pending" })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every endpoint of the router is in the OpenAPI document, and the document describes
    /// no endpoint the router lacks.
    #[test]
    fn the_openapi_document_describes_every_route_and_no_other() {
        let document: serde_json::Value =
            serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(document["openapi"], "3.0.3");
        let routed: std::collections::BTreeSet<(String, String)> = endpoints()
            .into_iter()
            .map(|(method, path, _)| (path.to_owned(), method.as_str().to_ascii_lowercase()))
            .collect();
        let described: std::collections::BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, item)| {
                let item = item.as_object().expect("a path item");
                item.keys()
                    .filter(|k| *k != "parameters")
                    .map(|method| (path.clone(), method.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(routed, described);
        for (path, method) in &described {
            let operation = &document["paths"][path][method];
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path} lacks its 401"
            );
            // Every answer but the document itself may be a store failure or a timeout.
            assert!(
                path.ends_with("openapi.json") || operation["responses"]["503"].is_object(),
                "{method} {path} lacks its 503"
            );
        }
    }

    #[test]
    fn since_is_a_time_or_a_duration_back() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .expect("a time")
            .with_timezone(&Utc);
        let at = |text: &str| parse_since(text, now).map(|t| t.to_rfc3339());
        let cases = [
            (
                "rfc3339",
                "2026-12-01T00:00:00Z",
                Ok("2026-12-01T00:00:00+00:00".to_owned()),
            ),
            (
                "offset",
                "2026-12-01T03:00:00+03:00",
                Ok("2026-12-01T00:00:00+00:00".to_owned()),
            ),
            ("days", "7d", Ok("2026-11-30T12:00:00+00:00".to_owned())),
            ("hours", "36h", Ok("2026-12-06T00:00:00+00:00".to_owned())),
        ];
        for (name, text, want) in cases {
            assert_eq!(at(text), want, "{name}");
        }
        let far = parse_since("999999999w", now).expect("a duration");
        assert_eq!(far, DateTime::<Utc>::MIN_UTC, "clamped, not overflowed");
        for wrong in [
            "last week",
            "7 days",
            " 7d",
            "7",
            "d",
            "1234567890d",
            "-7d",
            "",
        ] {
            let error = parse_since(wrong, now).expect_err(wrong);
            assert!(error.starts_with(&format!("since: {wrong:?}")), "{error}");
        }
    }

    /// An error answer quotes what it refuses, cut short: a long parameter used to come back
    /// whole.
    #[test]
    fn error_answers_quote_at_most_a_few_dozen_characters_of_the_request() {
        let long = "x".repeat(MAX_QUERY_BYTES - 2);
        let cases = [
            ("unknown_parameter", {
                let query = query_parameters(Some(format!("{long}=1")));
                only_parameters(&query, &["limit"])
                    .expect_err("unknown")
                    .message
            }),
            (
                "path_id",
                path_id(&long, "story").expect_err("not a number").message,
            ),
            (
                "since",
                parse_since(&long, Utc::now()).expect_err("not a time"),
            ),
        ];
        for (name, message) in cases {
            assert!(message.len() < 300, "{name}: {} bytes", message.len());
            let head = format!("\"{}…\"", "x".repeat(MAX_QUOTED_CHARS));
            assert!(message.contains(&head), "{name}: {message}");
        }
        let too_long = query_within_bounds(Some(&format!("limit={long}"))).expect_err("too long");
        assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
        assert!(too_long.message.len() < 300, "{}", too_long.message);
        assert!(query_within_bounds(Some(&"x".repeat(MAX_QUERY_BYTES))).is_ok());
        assert!(query_within_bounds(None).is_ok());
    }

    #[test]
    fn unknown_query_parameters_are_refused_by_name() {
        let query = query_parameters(Some("limit=3&lmit=4".into()));
        let error = only_parameters(&query, &["limit", "topic"]).expect_err("lmit is unknown");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(error.message.contains("\"lmit\""), "{}", error.message);
        assert!(only_parameters(&query_parameters(None), &[]).is_ok());
    }
}
