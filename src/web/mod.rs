//! The analyst's desk on the admin listener, on when `[web]` is configured: the JSON API under
//! `/api/v1` (`api`), the login form and sessions (`auth`) and the server-rendered pages
//! (`pages`). Every answer carries the security headers of [`security_headers`].

pub(crate) mod api;
mod api_topics;
pub(crate) mod auth;
pub(crate) mod pages;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::sync::{Notify, watch};

use crate::store::Store;
use crate::wiring::Wiring;

pub(crate) use auth::Auth;

/// The largest request body the desk reads: a topic or a draft rule is a few KiB, and nothing
/// the desk takes needs more.
pub const MAX_BODY: usize = 64 << 10;

/// The longest the desk works on one request: a store that stopped answering (a table locked
/// by another client, PostgreSQL behind a network partition) gets the request a 503, not a
/// browser left waiting and a connection held for ever. A backtest of a week's news takes well
/// under a second.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// The policy of every page and answer of the desk: its own scripts, styles and images only,
/// no inline script or style, no framing, forms posted only to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What every handler of the desk reads: the state, the running config version (its topics,
/// channels and `[web]` table) and the sessions.
#[derive(Clone)]
pub(crate) struct WebState {
    pub store: Store,
    pub status: watch::Receiver<Arc<Wiring>>,
    pub auth: Arc<Auth>,
    /// Wakes the outbox's workers: a delivery put back in the queue is sent at once, not when
    /// an idle channel next looks.
    pub wake_outbox: Arc<Notify>,
}

impl WebState {
    /// The config of the running version (a reload swaps it).
    pub fn config(&self) -> Arc<crate::config::Config> {
        self.status.borrow().config.clone()
    }

    /// Puts the dead or waiting delivery `id` back in the queue, due now, and wakes the outbox
    /// to send it. False when no such undelivered delivery exists.
    pub async fn retry_delivery(&self, id: i64) -> Result<bool, crate::store::StoreError> {
        let requeued = self.store.requeue(id, chrono::Utc::now()).await?;
        if requeued {
            self.wake_outbox.notify_one();
        }
        Ok(requeued)
    }
}

/// The desk's routes: the API (behind the token or a session), the login form and the pages,
/// with bounded bodies and the security headers on every answer.
pub(crate) fn routes(state: WebState) -> Router {
    let api = api::routes().route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_api_access,
    ));
    Router::new()
        .merge(api)
        .merge(auth::routes())
        .merge(pages::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(answer_within))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// The answer to `request`, or 503 when it is not ready within [`ANSWER_WITHIN`] (the work on
/// it is dropped).
async fn answer_within(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    match tokio::time::timeout(ANSWER_WITHIN, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(%method, limit = ?ANSWER_WITHIN, "desk: a request was not answered in time; is the state store answering?");
            api::error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the desk did not answer in time (the state store may be slow); see the daemon's log",
            )
        }
    }
}

/// Adds the content security policy, `nosniff` and `no-referrer` to an answer of the desk.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
