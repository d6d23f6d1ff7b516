//! `rasad run`: the daemon, until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use rasad::app;

use super::{load, open_store};
use crate::{Failure, runtime_failure};

pub(crate) async fn run(path: PathBuf) -> Result<ExitCode, Failure> {
    let (runtime, warnings) = load(&path)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(config = %path.display(), summary = %runtime.config.summary(), "starting");
    let store = open_store(&runtime).await?;
    // A taken port costs the admin server, not the alerts: rasad polls and delivers without it.
    let admin = match runtime.config.daemon.listen {
        Some(addr) => match rasad::server::bind(addr).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::error!(error = %e, "running without the admin HTTP server");
                None
            }
        },
        None => None,
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    app::run(path, runtime, store, admin, shutdown)
        .await
        .map_err(runtime_failure)?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT.
pub(crate) async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    shutdown.cancel();
}
