//! The desk's JSON API under `/api/v1`: one table of endpoints (what `openapi.json` must
//! describe), the error shape `{"error": "..."}`, and the read-only views of the state (alerts,
//! stories, feeds, outbox). Topics and the backtest are in `api_topics`.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use chrono::Utc;

use super::WebState;
use super::api_topics;
use crate::store::StoreError;

/// The OpenAPI 3.0 document of this API, written by hand beside the code it describes.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every endpoint of the API: method, path (as axum and OpenAPI both write it) and handler.
/// The router is built from this table, and a test holds it equal to `openapi.json`.
pub(crate) fn endpoints() -> Vec<(Method, &'static str, MethodRouter<WebState>)> {
    let mut table = vec![
        (Method::GET, "/api/v1/openapi.json", get(openapi)),
        (Method::GET, "/api/v1/feeds", get(feeds)),
        (Method::GET, "/api/v1/outbox", get(outbox)),
        (Method::POST, "/api/v1/outbox/{id}/retry", post(retry)),
    ];
    table.extend(api_topics::endpoints());
    table
}

/// The API's routes (access is checked by `auth::require_api_access`, layered in `web`).
pub(crate) fn routes() -> Router<WebState> {
    endpoints()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            router.route(path, handler)
        })
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
    /// The store failed (a database restarting): logged in full, answered in brief.
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

/// The query string's parameters; a parameter given twice keeps its first value. Never
/// fails: a malformed query is read as far as it goes, and each handler names what it lacks.
pub(crate) fn query_parameters(query: Option<String>) -> HashMap<String, String> {
    super::auth::form_fields(query.unwrap_or_default().as_bytes())
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
            "unknown query parameter {unknown:?}; this endpoint takes {}",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))),
    }
}

/// A numeric path id, or 404 naming what was not found.
pub(crate) fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("no {what} {raw:?}: ids are numbers")))
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
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "delivery")?;
    if !state.store.requeue(id, Utc::now()).await? {
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
        }
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
