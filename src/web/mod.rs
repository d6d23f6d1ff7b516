//! The analyst's desk on the admin listener, on when `[web]` is configured: the JSON API under
//! `/api/v1` (`api`), the login form and sessions (`auth`) and the server-rendered pages
//! (`pages`). Every answer carries the security headers of [`security_headers`].

pub(crate) mod api;
mod api_topics;
pub(crate) mod auth;
pub(crate) mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use tokio::sync::watch;

use crate::store::Store;
use crate::wiring::Wiring;

pub(crate) use auth::Auth;

/// The largest request body the desk reads: a topic or a draft rule is a few KiB, and nothing
/// the desk takes needs more.
pub const MAX_BODY: usize = 64 << 10;

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
}

impl WebState {
    /// The config of the running version (a reload swaps it).
    pub fn config(&self) -> Arc<crate::config::Config> {
        self.status.borrow().config.clone()
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
        .layer(middleware::map_response(security_headers))
        .with_state(state)
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
