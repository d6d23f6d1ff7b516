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

/// Keywords given on the command line (`-k`, and `--name` for names), as `rasad match` and
/// `rasad backtest` take them; a name kept strict is said on stderr.
pub(crate) fn command_line_keywords(
    keywords: Vec<String>,
    names: Vec<String>,
) -> Vec<rasad::matcher::KeywordSpec> {
    use rasad::matcher::{KeywordOptions, KeywordSpec};
    for name in &names {
        if let Some(strict) = rasad::matcher::strictness(name) {
            eprintln!("warning: name {name:?} is matched only as written: {strict}");
        }
    }
    let names = names.into_iter().map(|term| KeywordSpec {
        term,
        options: KeywordOptions {
            name: true,
            ..KeywordOptions::default()
        },
    });
    keywords
        .into_iter()
        .map(KeywordSpec::plain)
        .chain(names)
        .collect()
}

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
