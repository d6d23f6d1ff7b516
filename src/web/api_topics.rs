//! The desk's topics (the config's, read-only, and the managed ones kept in the state) and the
//! backtest of a draft rule.

use axum::http::Method;
use axum::routing::MethodRouter;

use super::WebState;

/// The endpoints of this file, for the API's table.
pub(crate) fn endpoints() -> Vec<(Method, &'static str, MethodRouter<WebState>)> {
    Vec::new()
}
