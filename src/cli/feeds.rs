//! `rasad feeds`: the health of every feed, from the store.

use std::path::PathBuf;
use std::process::ExitCode;

use rasad::config::Config;

use super::open_state;
use crate::{Failure, input, runtime_failure};

pub(crate) async fn feeds(path: PathBuf, json: bool) -> Result<ExitCode, Failure> {
    use rasad::source::health;
    let config = Config::load(&path).map_err(input)?;
    let store = open_state(&config).await?;
    let known = store.feed_health().await.map_err(runtime_failure)?;
    store.close().await;
    let configured: Vec<(String, String)> = config
        .feeds
        .iter()
        .map(|f| (f.id.clone(), f.url.to_string()))
        .collect();
    let now = chrono::Utc::now();
    for row in health::rows(&configured, &known, now) {
        if json {
            println!(
                "{}",
                serde_json::to_string(&row).expect("a feed row serialises")
            );
        } else {
            println!("{}", health::line(&row, now));
        }
    }
    Ok(ExitCode::SUCCESS)
}
