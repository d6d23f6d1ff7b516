//! `rasad parse`: fetches or reads one feed and prints the stories parsed from it.

use std::process::ExitCode;

use anyhow::Context;

use rasad::config::defaults::CPU_DEADLINE;
use rasad::source::display::terminal_safe;
use rasad::source::fetch::{Fetcher, Validators};
use rasad::source::parse::{BodyHints, ParsedFeed};
use rasad::source::read::{Body, CpuBudget, Read, read};

use crate::{Failure, input, runtime_failure};

pub(crate) async fn parse(
    source: String,
    json: bool,
    base: Option<String>,
    content_type: Option<String>,
) -> Result<ExitCode, Failure> {
    let content_type = content_type.filter(|ct| !ct.is_empty());
    let base = match base.filter(|u| !u.is_empty()) {
        Some(u) => Some(url::Url::parse(&u).context("bad --url").map_err(input)?),
        None => None,
    };
    let feed = if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(&source).context("bad URL").map_err(input)?;
        let given = BodyHints {
            content_type: content_type.as_deref(),
            url: base.as_ref(),
        };
        read_url(&source, &url, given).await?
    } else {
        let body = Body {
            bytes: std::fs::read(&source)
                .with_context(|| format!("cannot read {source}"))
                .map_err(input)?,
            content_type,
            url: base,
        };
        match body
            .parse(CpuBudget::from_now(CPU_DEADLINE), |parsed| parsed)
            .await
        {
            Ok(parsed) => parsed.with_context(|| source.clone()).map_err(input)?,
            Err(abandoned) => return Err(input(anyhow::anyhow!("{source}: parse {abandoned}"))),
        }
    };
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

/// Reads the feed at `url` as a poll reads it, with the hints given on the command line winning
/// over the server's.
async fn read_url(
    source: &str,
    url: &url::Url,
    given: BodyHints<'_>,
) -> Result<ParsedFeed, Failure> {
    let fetcher = Fetcher::new(
        concat!("rasad/", env!("CARGO_PKG_VERSION")),
        std::time::Duration::from_secs(10),
        std::time::Duration::from_secs(30),
        rasad::config::defaults::MAX_BODY,
    )
    .map_err(runtime_failure)?;
    let limits = (None, CPU_DEADLINE);
    let reading = read(
        &fetcher,
        url,
        &Validators::default(),
        given,
        limits,
        |parsed| parsed,
    )
    .await;
    match reading.read {
        Read::Parsed { parsed, .. } => Ok(parsed),
        Read::ParseFailed(e) => Err(input(anyhow::Error::new(e).context(source.to_owned()))),
        Read::Abandoned(abandoned) => Err(input(anyhow::anyhow!("{source}: parse {abandoned}"))),
        Read::FetchFailed(e) => Err(runtime_failure(anyhow::anyhow!("{source}: {e}"))),
        other => Err(runtime_failure(anyhow::anyhow!("{source}: {other:?}"))),
    }
}
