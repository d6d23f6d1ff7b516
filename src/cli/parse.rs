//! `rasad parse`: fetches or reads one feed and prints the stories parsed from it.

use std::process::ExitCode;

use anyhow::Context;

use rasad::source::display::terminal_safe;
use rasad::source::fetch::{FetchOutcome, Fetcher, Validators};
use rasad::source::parse::{BodyHints, parse_feed_with};

use crate::{Failure, input, runtime_failure};

pub(crate) async fn parse(
    source: String,
    json: bool,
    base: Option<String>,
    content_type: Option<String>,
) -> Result<ExitCode, Failure> {
    let mut content_type = content_type.filter(|ct| !ct.is_empty());
    let mut base = match base.filter(|u| !u.is_empty()) {
        Some(u) => Some(url::Url::parse(&u).context("bad --url").map_err(input)?),
        None => None,
    };
    let body = if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(&source).context("bad URL").map_err(input)?;
        let fetcher = Fetcher::new(
            concat!("rasad/", env!("CARGO_PKG_VERSION")),
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(30),
            rasad::config::defaults::MAX_BODY,
        )
        .map_err(runtime_failure)?;
        match fetcher.fetch(&url, &Validators::default()).await {
            FetchOutcome::Modified {
                body,
                content_type: served_as,
                ..
            } => {
                content_type = content_type.or(served_as);
                base = base.or(Some(url));
                body
            }
            FetchOutcome::Failed(e) => {
                return Err(runtime_failure(anyhow::anyhow!("{source}: {e}")));
            }
            other => return Err(runtime_failure(anyhow::anyhow!("{source}: {other:?}"))),
        }
    } else {
        std::fs::read(&source)
            .with_context(|| format!("cannot read {source}"))
            .map_err(input)?
    };
    let hints = BodyHints {
        content_type: content_type.as_deref(),
        url: base.as_ref(),
    };
    let feed = parse_feed_with(&body, hints)
        .with_context(|| source.clone())
        .map_err(input)?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&feed).expect("a parsed feed serialises")
        );
    } else {
        println!(
            "{} ({} entries)",
            terminal_safe(feed.feed.title.as_deref().unwrap_or("untitled feed")),
            feed.entries.len()
        );
        for entry in &feed.entries {
            let when = entry
                .published
                .or(entry.updated)
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "no date".into());
            println!(
                "- {} [{when}] {}",
                terminal_safe(entry.title.as_deref().unwrap_or("(no title)")),
                terminal_safe(entry.link.as_deref().unwrap_or(""))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
