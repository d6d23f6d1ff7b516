//! The commands of the `rasad` binary, one module each, and the loading they share.

use anyhow::Context;

use rasad::config::Config;
use rasad::store::Store;
use rasad::wiring::Wiring;

use crate::{Failure, input, runtime_failure};

pub(crate) mod backtest;
pub(crate) mod check;
pub(crate) mod cluster;
pub(crate) mod feeds;
pub(crate) mod healthcheck;
pub(crate) mod match_stdin;
pub(crate) mod notify_test;
pub(crate) mod once;
pub(crate) mod opml;
pub(crate) mod outbox;
pub(crate) mod parse;
pub(crate) mod run;

pub(crate) fn load(path: &std::path::Path) -> Result<(Wiring, Vec<String>), Failure> {
    let config = Config::load(path).map_err(input)?;
    let warnings = config.warnings();
    let runtime = Wiring::build(config)
        .context("cannot build the config")
        .map_err(input)?;
    Ok((runtime, warnings))
}

pub(crate) async fn open_store(runtime: &Wiring) -> Result<Store, Failure> {
    open_state(&runtime.config).await
}

/// The store the config names, holding leases as this config's instance.
pub(crate) async fn open_state(config: &Config) -> Result<Store, Failure> {
    Ok(Store::open(&config.daemon.state)
        .await
        .map_err(runtime_failure)?
        .with_instance(&config.daemon.instance))
}
