//! `rasad once`: one poll of every feed, or with `--dry-run` one read that stores and sends nothing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use rasad::app;
use rasad::source::display::terminal_safe;

use super::{load, open_store};
use crate::{Failure, runtime_failure};

pub(crate) async fn once(path: PathBuf, json: bool) -> Result<ExitCode, Failure> {
    let (runtime, _) = load(&path)?;
    let store = open_store(&runtime).await?;
    let progress = rasad::progress::Progress::on_terminal(runtime.config.feeds.len());
    let summary = app::once(Arc::new(runtime), &store, progress.counts()).await;
    progress.finish().await;
    let summary = summary.map_err(runtime_failure)?;
    store.close().await;
    if json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("a summary serialises")
        );
    } else {
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn dry_run(path: PathBuf, json: bool) -> Result<ExitCode, Failure> {
    let (runtime, _) = load(&path)?;
    let matches = app::dry_run(&runtime).await;
    for m in &matches {
        if json {
            println!(
                "{}",
                serde_json::to_string(m).expect("a dry-run match serialises")
            );
        } else {
            println!(
                "{} [{}] {} ({})",
                m.feed,
                m.topics.join(", "),
                terminal_safe(&m.title),
                terminal_safe(m.url.as_deref().unwrap_or("no link"))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
