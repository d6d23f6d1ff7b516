//! The desk's server-rendered pages.

use axum::Router;

use super::WebState;

/// The pages' routes (none yet: the API and the login form stand alone).
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
}
