//! `rasad healthcheck`: asks the running daemon whether it is ready.

use std::path::PathBuf;
use std::process::ExitCode;

use rasad::config::Config;

use crate::{Failure, input, runtime_failure};

/// Asks the daemon's `/readyz` and prints its answer.
pub(crate) async fn healthcheck(path: PathBuf) -> Result<ExitCode, Failure> {
    let config = Config::load(&path).map_err(input)?;
    let Some(addr) = config.daemon.listen else {
        return Err(input(anyhow::anyhow!(
            "daemon.listen is \"\" in {}: the admin HTTP server is off",
            path.display()
        )));
    };
    let (ready, body) = rasad::server::ask_ready(addr)
        .await
        .map_err(runtime_failure)?;
    print!("{body}");
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
