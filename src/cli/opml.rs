//! `rasad import-opml` and `rasad export-opml`: a feed reader's subscription list turned into
//! `[[feed]]` tables, and the config's feeds written as OPML.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use rasad::config::Config;
use rasad::opml::{ExportFeed, MAX_OPML_BYTES, feeds_toml, read_opml, write_opml};

use crate::{Failure, input};

/// Prints the feeds of the OPML file at `path` as `[[feed]]` tables, and a note on standard
/// error for each outline skipped. Exit 1 when the file lists no feed.
pub(crate) fn import_opml(path: PathBuf) -> Result<ExitCode, Failure> {
    let bytes = read_bounded(&path).map_err(input)?;
    let imported = read_opml(&bytes)
        .with_context(|| format!("{}", path.display()))
        .map_err(input)?;
    for note in &imported.notes {
        eprintln!("note: {}: {note}", path.display());
    }
    if imported.feeds.is_empty() {
        eprintln!("{}: no outline with an xmlUrl: no feed", path.display());
        return Ok(ExitCode::from(1));
    }
    print!("{}", feeds_toml(&imported, &path.display().to_string()));
    Ok(ExitCode::SUCCESS)
}

/// The file's bytes, refused past [`MAX_OPML_BYTES`] without reading the rest.
fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_OPML_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > MAX_OPML_BYTES {
        anyhow::bail!(
            "{}: larger than the bound of {MAX_OPML_BYTES} bytes for an OPML file",
            path.display()
        );
    }
    Ok(bytes)
}

/// Prints the config's feeds as an OPML 2.0 document. Only the feeds are checked: the
/// channels' secrets need not be set where the list is exported.
pub(crate) fn export_opml(path: PathBuf) -> Result<ExitCode, Failure> {
    let (feeds, default_interval) = Config::load_feeds(&path).map_err(input)?;
    let feeds: Vec<ExportFeed> = feeds
        .iter()
        .map(|feed| ExportFeed {
            id: feed.id.clone(),
            name: feed.name.clone(),
            url: feed.url.to_string(),
            interval: (feed.interval != default_interval)
                .then(|| humantime::format_duration(feed.interval).to_string()),
        })
        .collect();
    let file = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    print!(
        "{}",
        write_opml(&feeds, &format!("rasad feeds ({file})"), chrono::Utc::now())
    );
    Ok(ExitCode::SUCCESS)
}
