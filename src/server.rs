//! The admin HTTP server on `daemon.listen`: `/healthz` (alive), `/readyz` (store reachable and
//! polling recent, or why not) and `/metrics` (OpenMetrics text from the telemetry), with the
//! analyst's desk (`web`) beside them when `[web]` is configured; and the client side of
//! `/readyz` for `rasad healthcheck`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::Store;
use crate::telemetry::Telemetry;
use crate::wiring::Wiring;

/// The longest `/readyz` and `/metrics` wait for the store before they call it unreachable.
const STORE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr} (daemon.listen): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no answer from http://{addr}/readyz")]
    Ask {
        addr: SocketAddr,
        source: reqwest::Error,
    },
}

/// Binds `addr` before polling starts, so that a taken port is reported at once.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Asks the daemon listening on `addr` (its loopback address when `addr` is unspecified)
/// whether it is ready: the answer and `/readyz`'s body.
pub async fn ask_ready(mut addr: SocketAddr) -> Result<(bool, String), ServerError> {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let ask = async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .no_proxy()
            .build()?;
        let response = client.get(format!("http://{addr}/readyz")).send().await?;
        let ready = response.status().is_success();
        Ok((ready, response.text().await?))
    };
    ask.await
        .map_err(|source| ServerError::Ask { addr, source })
}

/// What the admin server reads of the running config version: its telemetry, and how long
/// without a finished poll means polling is stuck ([`stale_after`]).
pub(crate) trait Status: Send + Sync + 'static {
    fn telemetry(&self) -> &Telemetry;
    fn stale_after(&self) -> Duration;
}

struct Admin<S> {
    store: Store,
    status: watch::Receiver<Arc<S>>,
}

// By hand: a derive would ask `S: Clone`, which the shared `Arc<S>` does not need.
impl<S> Clone for Admin<S> {
    fn clone(&self) -> Self {
        Admin {
            store: self.store.clone(),
            status: self.status.clone(),
        }
    }
}

/// Serves the admin endpoints on `listener` until `stop`, and the desk when the config at
/// start has `[web]` (its token and session settings are read once: a change needs a restart).
pub(crate) async fn serve(
    listener: TcpListener,
    store: Store,
    status: watch::Receiver<Arc<Wiring>>,
    stop: CancellationToken,
) {
    let web = status.borrow().config.web.clone();
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz::<Wiring>))
        .route("/metrics", get(metrics::<Wiring>))
        .with_state(Admin {
            store: store.clone(),
            status: status.clone(),
        });
    if let Some(web) = web {
        let auth = Arc::new(crate::web::Auth::new(&web));
        app = app.merge(crate::web::routes(crate::web::WebState {
            store,
            status,
            auth,
        }));
        tracing::info!("the analyst's desk is served at /login and /api/v1");
    }
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "admin HTTP listening");
    }
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!(error = %e, "admin HTTP server failed");
    }
}

async fn readyz<S: Status>(State(admin): State<Admin<S>>) -> Response {
    match not_ready_reason(&admin).await {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

/// Why the daemon is not ready, or `None` when it is.
async fn not_ready_reason<S: Status>(admin: &Admin<S>) -> Option<String> {
    let status = admin.status.borrow().clone();
    match tokio::time::timeout(STORE_TIMEOUT, admin.store.outbox_counts(Utc::now())).await {
        Err(_) => return Some(format!("store did not answer within {STORE_TIMEOUT:?}")),
        Ok(Err(e)) => return Some(format!("store unreachable: {e}")),
        Ok(Ok(_)) => {}
    }
    let limit = status.stale_after();
    match status.telemetry().since_last_poll() {
        None => Some("polling not scheduled yet".into()),
        Some(age) if age > limit => Some(format!(
            "no poll finished for {}s (limit {}s)",
            age.as_secs(),
            limit.as_secs()
        )),
        Some(_) => None,
    }
}

/// How long without a finished poll means the scheduler is stuck: three of the longest feed
/// intervals plus one fetch timeout.
pub(crate) fn stale_after(config: &Config) -> Duration {
    let longest = config
        .feeds
        .iter()
        .map(|f| f.interval)
        .max()
        .unwrap_or(config.poll.interval);
    longest * 3 + config.poll.timeout
}

async fn metrics<S: Status>(State(admin): State<Admin<S>>) -> Response {
    let telemetry = admin.status.borrow().telemetry().clone();
    let now = Utc::now();
    match tokio::time::timeout(STORE_TIMEOUT, admin.store.outbox_entries(now)).await {
        Ok(Ok(entries)) => telemetry.set_outbox(&entries, now),
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot read the outbox"),
        Err(_) => tracing::warn!("metrics: the store did not answer"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        telemetry.encode(),
    )
        .into_response()
}
