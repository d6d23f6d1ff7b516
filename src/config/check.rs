//! Pure checks of a parsed config file: every problem is reported at once, with its key path and
//! line. No network I/O; secrets named by `*_env` and `*_file` are read here so that a missing
//! one is reported before the daemon starts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use url::Url;

use super::raw::{RawChannel, RawConfig, Str};
use super::*;

mod channel;
mod daemon;
mod delivery;
mod feed;
mod timings;
mod topic;
mod web;

pub use web::{DEFAULT_SESSION, MAX_SESSION, MIN_TOKEN_CHARS};

/// Checks `raw` (parsed from `text`, read from `path`) and builds the `Config`, or returns every
/// problem found.
pub fn check(raw: RawConfig, text: &str, path: &Path) -> Result<Config, Vec<Problem>> {
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    let daemon = c.daemon(&raw.daemon, path.parent().unwrap_or(Path::new(".")));
    let poll = c.poll(&raw.poll);
    let delivery = c.delivery(&raw.delivery);
    let feeds = c.feeds(&raw, poll.interval);
    let channels = c.channels(&raw, delivery.timeout);
    let topics = c.topics(&raw, &channels);
    let web = c.web(&raw.web, daemon.listen.is_some());
    if c.problems.is_empty() {
        Ok(Config {
            path: path.to_owned(),
            daemon,
            poll,
            delivery,
            feeds,
            topics,
            channels,
            web,
        })
    } else {
        Err(c.problems)
    }
}

/// Checks only `poll.interval` and the `[[feed]]` tables of `raw`, for commands that need the
/// feeds alone (`rasad export-opml`): the channels' secrets need not be at hand. Returns the
/// feeds and the default interval.
pub fn check_feeds(raw: &RawConfig, text: &str) -> Result<(Vec<Feed>, Duration), Vec<Problem>> {
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    let interval = c.duration("poll.interval", &raw.poll.interval, defaults::POLL_INTERVAL);
    let feeds = c.feeds(raw, interval);
    if c.problems.is_empty() {
        Ok((feeds, interval))
    } else {
        Err(c.problems)
    }
}

/// Checks the `[[topic]]` tables of `raw` (parsed from `text`) alone, against `channels`, for
/// a managed topic; returns the first topic, or every problem found.
pub(super) fn check_topic(
    raw: &RawConfig,
    text: &str,
    channels: &[Channel],
) -> Result<Topic, Vec<Problem>> {
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    let topic = c.topics(raw, channels).into_iter().next();
    match topic {
        Some(topic) if c.problems.is_empty() => Ok(topic),
        _ => Err(c.problems),
    }
}

/// How long a feed lease lasts unless `daemon.lease` says otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The longest duration any other key takes: an interval, timeout, backoff or window of a
/// year or more makes no sense for a news monitor, and dates computed from it must not leave
/// the calendar's range.
pub const MAX_DURATION: Duration = Duration::from_secs(YEAR_SECS);
/// The longest retention: stories may be kept for years, not for ever.
pub const MAX_RETENTION: Duration = Duration::from_secs(100 * YEAR_SECS);
/// A year as humantime reads and writes it (365.25 days).
const YEAR_SECS: u64 = 31_557_600;
/// The shortest lease accepted: renewals happen every third of it.
pub const MIN_LEASE: Duration = Duration::from_secs(1);

/// Where the admin HTTP server listens unless `daemon.listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9797";

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(
        &mut self,
        path: impl Into<String>,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) {
        let line = self
            .text
            .get(..span.start)
            .map(|before| before.matches('\n').count() + 1);
        self.problems.push(Problem {
            path: path.into(),
            line,
            message: message.into(),
        });
    }

    fn duration(&mut self, path: &str, value: &Option<Str>, default: Duration) -> Duration {
        self.duration_within(path, value, default, MAX_DURATION)
    }

    /// A duration longer than zero and shorter than `max`.
    fn duration_within(
        &mut self,
        path: &str,
        value: &Option<Str>,
        default: Duration,
        max: Duration,
    ) -> Duration {
        let Some(value) = value else { return default };
        match humantime::parse_duration(value.get_ref()) {
            Ok(d) if d >= max => {
                self.problem(
                    path,
                    value.span(),
                    format!(
                        "{:?} is too long: it must be under {}",
                        value.get_ref(),
                        humantime::format_duration(max)
                    ),
                );
                default
            }
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.problem(path, value.span(), "must be longer than zero");
                default
            }
            Err(e) => {
                self.problem(
                    path,
                    value.span(),
                    format!(
                        "{:?} is not a duration like \"30s\" or \"5m\": {e}",
                        value.get_ref()
                    ),
                );
                default
            }
        }
    }

    /// `daemon.listen`: an address and port, or "" for no admin HTTP server.
    fn listen(&mut self, value: &Option<Str>) -> Option<std::net::SocketAddr> {
        let Some(value) = value else {
            return Some(
                DEFAULT_LISTEN
                    .parse()
                    .expect("the default listen address parses"),
            );
        };
        let text = value.get_ref().trim();
        if text.is_empty() {
            return None;
        }
        match text.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.problem(
                    "daemon.listen",
                    value.span(),
                    format!(
                        "{text:?} is not an address and port like \"127.0.0.1:9797\" (\"\" turns the admin HTTP server off)"
                    ),
                );
                None
            }
        }
    }

    fn size(&mut self, path: &str, value: &Option<Str>, default: u64) -> u64 {
        let Some(value) = value else { return default };
        match parse_size(value.get_ref()) {
            Some(n) if n > 0 => n,
            _ => {
                self.problem(
                    path,
                    value.span(),
                    format!(
                        "{:?} is not a size like \"10MiB\" or \"512KiB\"",
                        value.get_ref()
                    ),
                );
                default
            }
        }
    }

    fn fraction(&mut self, path: &str, value: &Option<Spanned<f64>>, default: f64) -> f64 {
        let Some(value) = value else { return default };
        let n = *value.get_ref();
        if (0.0..=0.5).contains(&n) {
            return n;
        }
        self.problem(
            path,
            value.span(),
            format!("must be a fraction from 0 to 0.5, not {n}"),
        );
        default
    }

    fn positive(&mut self, path: &str, value: &Option<Spanned<i64>>, default: usize) -> usize {
        let Some(value) = value else { return default };
        match usize::try_from(*value.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                self.problem(
                    path,
                    value.span(),
                    format!("must be a positive number, not {}", value.get_ref()),
                );
                default
            }
        }
    }

    /// Checks that `id` is a usable id and not seen before in `seen`.
    fn id(&mut self, path: &str, id: &Str, seen: &mut HashSet<String>) {
        let value = id.get_ref();
        if !super::is_valid_id(value) {
            self.problem(
                path,
                id.span(),
                format!("{value:?} must be non-empty ASCII letters, digits, '-', '_' or '.'"),
            );
        } else if !seen.insert(value.clone()) {
            self.problem(path, id.span(), format!("duplicate id {value:?}"));
        }
    }

    fn url(&mut self, path: &str, value: &Str, schemes: &[&str]) -> Option<Url> {
        match Url::parse(value.get_ref()) {
            Ok(url) if schemes.contains(&url.scheme()) => Some(url),
            Ok(_) => {
                self.problem(
                    path,
                    value.span(),
                    format!("{:?} must be {}", value.get_ref(), one_of(schemes)),
                );
                None
            }
            Err(e) => {
                self.problem(
                    path,
                    value.span(),
                    format!("{:?} is not a URL: {e}", value.get_ref()),
                );
                None
            }
        }
    }
}

/// `["a", "b", "c"]` as "a, b or c".
fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `%d/name` in a `*_file` path stands for systemd's `$CREDENTIALS_DIRECTORY/name`.
fn expand_credentials(path: &str) -> PathBuf {
    match (
        path.strip_prefix("%d/"),
        std::env::var_os("CREDENTIALS_DIRECTORY"),
    ) {
        (Some(rest), Some(dir)) => PathBuf::from(dir).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Parses sizes such as `10MiB`, `512 KiB`, `1000000` (bytes), `2MB`.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests;
