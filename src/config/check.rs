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
mod topic;

/// Checks `raw` (parsed from `text`, read from `path`) and builds the `Config`, or returns every
/// problem found.
pub fn check(raw: RawConfig, text: &str, path: &Path) -> Result<Config, Vec<Problem>> {
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let state = match &raw.daemon.state {
        Some(s) if s.get_ref().trim().is_empty() => {
            c.problem(
                "daemon.state",
                s.span(),
                "must not be empty; leave it out for the default",
            );
            StateLocation::File(PathBuf::new())
        }
        Some(s) if is_postgres_url(s.get_ref()) => c.postgres_state(s, &raw.daemon),
        Some(s) => StateLocation::parse(s.get_ref(), base),
        None => StateLocation::File(default_state_path()),
    };
    if let (StateLocation::File(_), Some(key)) = (
        &state,
        raw.daemon
            .state_password_env
            .as_ref()
            .or(raw.daemon.state_password_file.as_ref()),
    ) {
        c.problem(
            "daemon.state_password",
            key.span(),
            "is only used with a postgres:// state",
        );
    }
    let instance = match &raw.daemon.instance {
        Some(s) if s.get_ref().trim().is_empty() || s.get_ref().len() > 128 => {
            c.problem(
                "daemon.instance",
                s.span(),
                "must be 1 to 128 characters; leave it out for host name and process id",
            );
            String::new()
        }
        Some(s) => s.get_ref().trim().to_owned(),
        None => default_instance(),
    };
    let lease = c.duration("daemon.lease", &raw.daemon.lease, DEFAULT_LEASE);
    if lease < MIN_LEASE
        && let Some(value) = &raw.daemon.lease
    {
        c.problem(
            "daemon.lease",
            value.span(),
            format!(
                "{} is too short: an instance must be able to renew its leases; at least {}",
                humantime::format_duration(lease),
                humantime::format_duration(MIN_LEASE)
            ),
        );
    }
    let listen = c.listen(&raw.daemon.listen);
    let retention = c.duration_within(
        "daemon.retention",
        &raw.daemon.retention,
        Duration::from_secs(30 * 24 * 3600),
        MAX_RETENTION,
    );
    let cluster_window = c.duration(
        "daemon.cluster_window",
        &raw.daemon.cluster_window,
        Duration::from_secs(36 * 3600),
    );
    let poll = Poll {
        interval: c.duration(
            "poll.interval",
            &raw.poll.interval,
            Duration::from_secs(300),
        ),
        timeout: c.duration("poll.timeout", &raw.poll.timeout, Duration::from_secs(30)),
        connect_timeout: c.duration(
            "poll.connect_timeout",
            &raw.poll.connect_timeout,
            Duration::from_secs(10),
        ),
        max_body: c.size("poll.max_body", &raw.poll.max_body, 10 << 20),
        concurrency: c.positive("poll.concurrency", &raw.poll.concurrency, 16),
        alert_on_first_poll: raw.poll.alert_on_first_poll.unwrap_or(false),
        user_agent: raw
            .poll
            .user_agent
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_else(|| format!("rasad/{} (feed monitor)", env!("CARGO_PKG_VERSION"))),
        min_interval: c.duration(
            "poll.min_interval",
            &raw.poll.min_interval,
            Duration::from_secs(60),
        ),
        max_interval: c.duration(
            "poll.max_interval",
            &raw.poll.max_interval,
            Duration::from_secs(6 * 3600),
        ),
        per_host: c.positive("poll.per_host", &raw.poll.per_host, 2),
        adaptive: raw.poll.adaptive.unwrap_or(false),
        jitter: c.fraction("poll.jitter", &raw.poll.jitter, 0.1),
        allow_private_redirects: raw.poll.allow_private_redirects.unwrap_or(false),
    };
    if poll.min_interval > poll.max_interval
        && let Some(min) = &raw.poll.min_interval
    {
        c.problem(
            "poll.min_interval",
            min.span(),
            format!(
                "{} is longer than poll.max_interval ({})",
                humantime::format_duration(poll.min_interval),
                humantime::format_duration(poll.max_interval)
            ),
        );
    }
    let delivery = Delivery {
        retry_initial: c.duration(
            "delivery.retry_initial",
            &raw.delivery.retry_initial,
            Duration::from_secs(30),
        ),
        retry_max: c.duration(
            "delivery.retry_max",
            &raw.delivery.retry_max,
            Duration::from_secs(3600),
        ),
        timeout: c.duration(
            "delivery.timeout",
            &raw.delivery.timeout,
            Duration::from_secs(30),
        ),
        max_age: c.duration(
            "delivery.max_age",
            &raw.delivery.max_age,
            Duration::from_secs(48 * 3600),
        ),
    };
    let feeds = c.feeds(&raw, poll.interval);
    let channels = c.channels(&raw, delivery.timeout);
    let topics = c.topics(&raw, &channels);
    if c.problems.is_empty() {
        Ok(Config {
            path: path.to_owned(),
            daemon: Daemon {
                state,
                instance,
                lease,
                listen,
                retention,
                cluster_window,
            },
            poll,
            delivery,
            feeds,
            topics,
            channels,
        })
    } else {
        Err(c.problems)
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
        if value.is_empty()
            || !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
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

    fn feeds(&mut self, raw: &RawConfig, default_interval: Duration) -> Vec<Feed> {
        let mut seen = HashSet::new();
        let mut feeds = Vec::new();
        for (i, feed) in raw.feed.iter().enumerate() {
            let at = format!("feed[{}]", i + 1);
            let feed = feed.get_ref();
            self.id(&format!("{at}.id"), &feed.id, &mut seen);
            let url = self.url(&format!("{at}.url"), &feed.url, &["http", "https", "file"]);
            let interval =
                self.duration(&format!("{at}.interval"), &feed.interval, default_interval);
            if let Some(url) = url {
                let id = feed.id.get_ref().clone();
                let name = feed.name.clone().unwrap_or_else(|| id.clone());
                feeds.push(Feed {
                    id,
                    name,
                    url,
                    interval,
                });
            }
        }
        feeds
    }

    /// A channel that has problems of its own is still declared: do not report it twice.
    fn channel_declared(&self, raw: &RawConfig, id: &str) -> bool {
        raw.channel.iter().any(|c| c.get_ref().id.get_ref() == id)
    }

    fn channels(&mut self, raw: &RawConfig, default_timeout: Duration) -> Vec<Channel> {
        let mut seen = HashSet::new();
        let mut channels = Vec::new();
        for (i, spanned) in raw.channel.iter().enumerate() {
            let at = format!("channel[{}]", i + 1);
            let channel = spanned.get_ref();
            self.id(&format!("{at}.id"), &channel.id, &mut seen);
            let timeout =
                self.duration(&format!("{at}.timeout"), &channel.timeout, default_timeout);
            let kind = match channel.kind.get_ref().as_str() {
                "email" => self.email(&at, channel, timeout).map(ChannelKind::Email),
                "webhook" => self
                    .webhook(&at, channel, timeout)
                    .map(ChannelKind::Webhook),
                "stdout" => {
                    self.unused(&at, channel, "stdout");
                    Some(ChannelKind::Stdout)
                }
                other => {
                    self.problem(
                        format!("{at}.kind"),
                        channel.kind.span(),
                        format!("{other:?} must be email, webhook or stdout"),
                    );
                    None
                }
            };
            let options = self.channel_options(&at, channel);
            if let Some(kind) = kind {
                channels.push(Channel {
                    id: channel.id.get_ref().clone(),
                    kind,
                    options,
                });
            }
        }
        channels
    }

    fn email(&mut self, at: &str, ch: &RawChannel, timeout: Duration) -> Option<EmailChannel> {
        self.unused(at, ch, "email");
        let host = self.required(at, "smtp_host", &ch.smtp_host, ch);
        let from = self.required(at, "from", &ch.from, ch);
        let tls = match ch.tls.as_ref().map(|t| (t.get_ref().as_str(), t.span())) {
            None | Some(("starttls", _)) => TlsMode::Starttls,
            Some(("implicit", _)) => TlsMode::Implicit,
            Some(("none", _)) => TlsMode::None,
            Some((other, span)) => {
                self.problem(
                    format!("{at}.tls"),
                    span,
                    format!("{other:?} must be starttls, implicit or none"),
                );
                TlsMode::Starttls
            }
        };
        let port = match &ch.smtp_port {
            Some(p) => u16::try_from(*p.get_ref())
                .ok()
                .filter(|p| *p > 0)
                .unwrap_or_else(|| {
                    self.problem(
                        format!("{at}.smtp_port"),
                        p.span(),
                        format!("{} is not a port number", p.get_ref()),
                    );
                    0
                }),
            None => match tls {
                TlsMode::Starttls => 587,
                TlsMode::Implicit => 465,
                TlsMode::None => 25,
            },
        };
        let to: Vec<String> = ch
            .to
            .as_ref()
            .map(|t| t.get_ref().iter().map(|s| s.get_ref().clone()).collect())
            .unwrap_or_default();
        if to.is_empty() {
            let span = ch.to.as_ref().map(|t| t.span()).unwrap_or(ch.id.span());
            self.problem(
                format!("{at}.to"),
                span,
                "needs at least one recipient address",
            );
        }
        for (j, address) in ch.to.iter().flat_map(|t| t.get_ref().iter()).enumerate() {
            if address.get_ref().parse::<lettre::Address>().is_err() {
                self.problem(
                    format!("{at}.to[{}]", j + 1),
                    address.span(),
                    format!("{:?} is not an email address", address.get_ref()),
                );
            }
        }
        if let Some(from_value) = &ch.from
            && from_value
                .get_ref()
                .parse::<lettre::message::Mailbox>()
                .is_err()
        {
            self.problem(
                format!("{at}.from"),
                from_value.span(),
                format!(
                    "{:?} is not an address like \"rasad <rasad@example.org>\"",
                    from_value.get_ref()
                ),
            );
        }
        let password = self.secret(
            at,
            "password",
            &ch.password,
            &ch.password_env,
            &ch.password_file,
        );
        let credentials = match (&ch.username, password) {
            (Some(user), Some(password)) => Some((user.get_ref().clone(), password)),
            (Some(user), None) => {
                self.problem(
                    format!("{at}.username"),
                    user.span(),
                    "is set but no password_env or password_file is",
                );
                None
            }
            (None, Some(_)) => {
                self.problem(
                    format!("{at}.username"),
                    ch.id.span(),
                    "is needed when a password is set",
                );
                None
            }
            (None, None) => None,
        };
        Some(EmailChannel {
            smtp_host: host?,
            smtp_port: port,
            tls,
            credentials,
            from: from?,
            to,
            timeout,
        })
    }

    fn required(
        &mut self,
        at: &str,
        key: &str,
        value: &Option<Str>,
        ch: &RawChannel,
    ) -> Option<String> {
        match value {
            Some(v) if !v.get_ref().trim().is_empty() => Some(v.get_ref().clone()),
            _ => {
                self.problem(
                    format!("{at}.{key}"),
                    ch.id.span(),
                    format!("is required for a {} channel", ch.kind.get_ref()),
                );
                None
            }
        }
    }

    /// A `postgres://` state: a valid URL without a password of its own (secrets never sit in
    /// the file), given one by `daemon.state_password_env` or `_file` when they are set.
    fn postgres_state(&mut self, value: &Str, daemon: &super::raw::RawDaemon) -> StateLocation {
        let mut url = match Url::parse(value.get_ref()) {
            Ok(url) => url,
            Err(e) => {
                self.problem(
                    "daemon.state",
                    value.span(),
                    format!("not a valid PostgreSQL URL: {e}"),
                );
                return StateLocation::Postgres(value.get_ref().clone());
            }
        };
        let inline = url.password().is_some()
            || url
                .query_pairs()
                .any(|(k, _)| k.eq_ignore_ascii_case("password"));
        if inline {
            self.problem(
                "daemon.state",
                value.span(),
                "secrets never sit in the config file: take the password out of the URL and name it with daemon.state_password_env or daemon.state_password_file (or set PGPASSWORD)",
            );
        }
        let password = self.secret(
            "daemon",
            "state_password",
            &None,
            &daemon.state_password_env,
            &daemon.state_password_file,
        );
        if let Some(password) = password
            && url.set_password(Some(password.expose())).is_err()
        {
            self.problem(
                "daemon.state",
                value.span(),
                "this URL cannot carry a password (it has no host)",
            );
        }
        StateLocation::Postgres(url.to_string())
    }

    /// Resolves a secret given as `<name>_env` or `<name>_file`; an inline value is a problem.
    fn secret(
        &mut self,
        at: &str,
        name: &str,
        inline: &Option<Str>,
        env: &Option<Str>,
        file: &Option<Str>,
    ) -> Option<Secret> {
        if let Some(value) = inline {
            self.problem(format!("{at}.{name}"), value.span(), format!("secrets never sit in the config file: name an environment variable with {name}_env or a file with {name}_file"));
        }
        match (env, file) {
            (Some(_), Some(f)) => {
                self.problem(
                    format!("{at}.{name}_file"),
                    f.span(),
                    format!("give {name}_env or {name}_file, not both"),
                );
                None
            }
            (Some(var), None) => match std::env::var(var.get_ref()) {
                Ok(value) if !value.is_empty() => Some(Secret::new(value)),
                _ => {
                    self.problem(
                        format!("{at}.{name}_env"),
                        var.span(),
                        format!("environment variable {} is not set", var.get_ref()),
                    );
                    None
                }
            },
            (None, Some(f)) => {
                let path = expand_credentials(f.get_ref());
                match std::fs::read_to_string(&path) {
                    Ok(value) if !value.trim().is_empty() => {
                        Some(Secret::new(value.trim_end_matches(['\n', '\r'])))
                    }
                    Ok(_) => {
                        self.problem(
                            format!("{at}.{name}_file"),
                            f.span(),
                            format!("{} is empty", path.display()),
                        );
                        None
                    }
                    Err(e) => {
                        self.problem(
                            format!("{at}.{name}_file"),
                            f.span(),
                            format!("cannot read {}: {e}", path.display()),
                        );
                        None
                    }
                }
            }
            (None, None) => None,
        }
    }

    /// Reports keys that the channel's kind does not use.
    fn unused(&mut self, at: &str, ch: &RawChannel, kind: &str) {
        let email = [
            ("smtp_host", &ch.smtp_host),
            ("tls", &ch.tls),
            ("username", &ch.username),
            ("password_env", &ch.password_env),
            ("password_file", &ch.password_file),
            ("from", &ch.from),
        ];
        let webhook = [
            ("url", &ch.url),
            ("url_env", &ch.url_env),
            ("url_file", &ch.url_file),
            ("format", &ch.format),
            ("secret_env", &ch.secret_env),
            ("secret_file", &ch.secret_file),
            ("bot_token_env", &ch.bot_token_env),
            ("bot_token_file", &ch.bot_token_file),
            ("chat_id", &ch.chat_id),
        ];
        let mut foreign: Vec<(&str, &Option<Str>)> = Vec::new();
        if kind != "email" {
            foreign.extend(email);
        }
        if kind != "webhook" {
            foreign.extend(webhook);
        }
        for (key, value) in foreign {
            if let Some(value) = value {
                self.problem(
                    format!("{at}.{key}"),
                    value.span(),
                    format!("is not used by a {kind} channel"),
                );
            }
        }
        if kind != "email" {
            if let Some(port) = &ch.smtp_port {
                self.problem(
                    format!("{at}.smtp_port"),
                    port.span(),
                    format!("is not used by a {kind} channel"),
                );
            }
            if let Some(to) = &ch.to {
                self.problem(
                    format!("{at}.to"),
                    to.span(),
                    format!("is not used by a {kind} channel"),
                );
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
mod tests {
    use super::*;

    fn problems(toml_text: &str) -> Vec<String> {
        match Config::parse(toml_text, Path::new("/etc/rasad/rasad.toml")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            Err(other) => vec![other.to_string()],
        }
    }

    const GOOD: &str = r#"
[daemon]
state = "state/rasad.db"

[[feed]]
id = "bbc"
url = "https://feeds.bbci.co.uk/arabic/rss.xml"

[[topic]]
id = "isis"
any = ["داعش", { term = "تنظيم الدولة", aliases = ["الدولة الإسلامية"] }]
notify = ["out"]

[[channel]]
id = "out"
kind = "stdout"
"#;

    #[test]
    fn accepts_a_good_config_and_applies_defaults() {
        let config = Config::parse(GOOD, Path::new("/etc/rasad/rasad.toml")).expect("valid");
        assert_eq!(
            config.daemon.state,
            StateLocation::File(PathBuf::from("/etc/rasad/state/rasad.db"))
        );
        assert_eq!(config.daemon.lease, DEFAULT_LEASE);
        assert!(!config.daemon.instance.is_empty());
        assert_eq!(config.poll.interval, Duration::from_secs(300));
        assert_eq!(config.poll.max_body, 10 << 20);
        assert!(!config.poll.alert_on_first_poll);
        let terms: Vec<&str> = config.topics[0]
            .any
            .iter()
            .map(|k| k.term.as_str())
            .collect();
        assert_eq!(terms, ["داعش", "تنظيم الدولة", "الدولة الإسلامية"]);
        assert_eq!(
            config.summary().split(';').next(),
            Some("1 feeds, 1 topics, 3 keywords, 1 channels")
        );
    }

    #[test]
    fn reports_each_mistake_with_its_path_and_line() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "duplicate_feed_id",
                "[[feed]]\nid = \"bbc\"\nurl = \"https://b.example/rss\"\n",
                "line 18: feed[2].id: duplicate id \"bbc\"",
            ),
            (
                "bad_url_scheme",
                "[[feed]]\nid = \"ftp\"\nurl = \"ftp://b.example/rss\"\n",
                "feed[2].url: \"ftp://b.example/rss\" must be http, https or file",
            ),
            (
                "unknown_channel",
                "[[topic]]\nid = \"x\"\nany = [\"y\"]\nnotify = [\"nope\"]\n",
                "topic[2].notify[1]: unknown channel \"nope\"",
            ),
            (
                "empty_keyword_list",
                "[[topic]]\nid = \"x\"\nany = []\nnotify = [\"out\"]\n",
                "topic[2].any: needs at least one keyword",
            ),
            (
                "inline_secret",
                "[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsecret = \"s3cret\"\n",
                "channel[2].secret: secrets never sit in the config file",
            ),
            (
                "bad_duration",
                "[poll]\ninterval = \"5 parsecs\"\n",
                "poll.interval: \"5 parsecs\" is not a duration",
            ),
            (
                "interval_of_a_year",
                "[poll]\ninterval = \"1year\"\n",
                "poll.interval: \"1year\" is too long: it must be under 1year",
            ),
            (
                // `now + timeout` would be past the end of the calendar.
                "timeout_of_ten_million_years",
                "[poll]\ntimeout = \"10000000years\"\n",
                "poll.timeout: \"10000000years\" is too long",
            ),
            (
                "feed_interval_of_two_years",
                "[[feed]]\nid = \"slow\"\nurl = \"https://b.example/rss\"\ninterval = \"2years\"\n",
                "feed[2].interval: \"2years\" is too long: it must be under 1year",
            ),
            (
                "min_interval_above_max",
                "[poll]\nmin_interval = \"2h\"\nmax_interval = \"1h\"\n",
                "poll.min_interval: 2h is longer than poll.max_interval (1h)",
            ),
            (
                "jitter_out_of_range",
                "[poll]\njitter = 0.9\n",
                "poll.jitter: must be a fraction from 0 to 0.5, not 0.9",
            ),
            (
                "per_host_zero",
                "[poll]\nper_host = 0\n",
                "poll.per_host: must be a positive number, not 0",
            ),
            (
                "missing_env_secret",
                "[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsecret_env = \"RASAD_TEST_SURELY_UNSET\"\n",
                "channel[2].secret_env: environment variable RASAD_TEST_SURELY_UNSET is not set",
            ),
            (
                "email_key_on_webhook",
                "[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsmtp_host = \"mail\"\n",
                "channel[2].smtp_host: is not used by a webhook channel",
            ),
            (
                "email_without_recipient",
                "[[channel]]\nid = \"mail\"\nkind = \"email\"\nsmtp_host = \"mail\"\nfrom = \"a@b.example\"\n",
                "channel[2].to: needs at least one recipient",
            ),
        ];
        for (name, extra, want) in cases {
            let text = if extra.starts_with("[poll]") {
                format!("{extra}{GOOD}")
            } else {
                format!("{GOOD}{extra}")
            };
            let got = problems(&text);
            assert_eq!(got.len(), 1, "{name}: {got:?}");
            assert!(got[0].contains(want), "{name}: {got:?} lacks {want:?}");
        }
    }

    #[test]
    fn name_keywords_are_read_and_strict_ones_warned() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("a_long_name", "{ term = \"ماكاري\", name = true }", None),
            (
                "a_name_spelled_like_a_common_word",
                "{ term = \"بينيت\", name = true }",
                Some(
                    "name \"بينيت\" is matched only as written, with no suffix: one of its spellings is the common word \"بنيت\"",
                ),
            ),
            (
                "a_short_name",
                "{ term = \"أوباما\", name = true }",
                Some("its consonants without vowels (\"بم\") are too few"),
            ),
        ];
        for (case, keyword, want) in cases {
            let text = GOOD.replace("any = [\"داعش\", ", &format!("any = [{keyword}, "));
            let config = Config::parse(&text, Path::new("rasad.toml")).expect("valid");
            assert!(config.topics[0].any[0].options.name, "{case}");
            let warnings = config.warnings();
            let named: Vec<&String> = warnings.iter().filter(|w| w.contains("name ")).collect();
            match want {
                None => assert!(named.is_empty(), "{case}: {named:?}"),
                Some(want) => assert!(
                    named.len() == 1 && named[0].contains(want),
                    "{case}: {named:?} lacks {want:?}"
                ),
            }
        }
        let got =
            problems(&GOOD.replace("any = [\"داعش\", ", "any = [{ term = \"x\", name = 1 }, "));
        assert!(
            got.len() == 1 && got[0].contains(".name: has the wrong type"),
            "{got:?}"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let got = problems(&format!("{GOOD}\n[poll]\nintervall = \"5m\"\n"));
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("intervall"), "{got:?}");
    }

    #[test]
    fn parses_sizes() {
        for (text, want) in [
            ("10MiB", Some(10 << 20)),
            ("512 KiB", Some(512 << 10)),
            ("1000", Some(1000)),
            ("2MB", Some(2_000_000)),
            ("ten", None),
            ("5 parsecs", None),
        ] {
            assert_eq!(parse_size(text), want, "{text}");
        }
    }

    #[test]
    fn reads_the_state_location_instance_and_lease() {
        let dir = tempfile::tempdir().expect("a folder");
        let password = dir.path().join("db-password");
        std::fs::write(&password, "s3cret\n").expect("written");
        let with = |daemon: &str| GOOD.replace("[daemon]\nstate = \"state/rasad.db\"\n", daemon);
        let parse = |text: &str| Config::parse(text, Path::new("/etc/rasad/rasad.toml"));
        let shared = format!(
            "[daemon]\nstate = \"postgres://rasad@db.example:5432/rasad\"\nstate_password_file = {:?}\n",
            password.display().to_string()
        );
        let cases: &[(&str, &str, StateLocation, &str)] = &[
            (
                "a_relative_path_is_beside_the_config",
                "[daemon]\nstate = \"state/rasad.db\"\n",
                StateLocation::File(PathBuf::from("/etc/rasad/state/rasad.db")),
                "/etc/rasad/state/rasad.db",
            ),
            (
                "postgres_url_selects_shared_state",
                &shared,
                StateLocation::Postgres("postgres://rasad:s3cret@db.example:5432/rasad".into()),
                "postgres://rasad:***@db.example:5432/rasad",
            ),
            (
                "postgresql_scheme_too",
                "[daemon]\nstate = \"postgresql://db.example/rasad?sslmode=require\"\n",
                StateLocation::Postgres("postgresql://db.example/rasad?sslmode=require".into()),
                "postgresql://db.example/rasad?sslmode=require",
            ),
        ];
        for (name, daemon, want, shown) in cases {
            let config = parse(&with(daemon)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&config.daemon.state, want, "{name}");
            assert_eq!(
                config.daemon.state.to_string(),
                *shown,
                "{name}: password hidden"
            );
            assert!(!config.summary().contains("s3cret"), "{name}");
            assert!(!format!("{config:?}").contains("s3cret"), "{name}");
        }
        let inline = problems(&with(
            "[daemon]\nstate = \"postgres://rasad:s3cret@db.example/rasad\"\n",
        ));
        assert_eq!(inline.len(), 1, "{inline:?}");
        assert!(inline[0].contains("daemon.state: secrets never sit in the config file"));
        let misplaced = problems(&with(
            "[daemon]\nstate = \"r.db\"\nstate_password_env = \"HOME\"\n",
        ));
        assert_eq!(misplaced.len(), 1, "{misplaced:?}");
        assert!(misplaced[0].contains("only used with a postgres:// state"));
        let named = parse(&with(
            "[daemon]\nstate = \"postgres://db/r\"\ninstance = \"web-1\"\nlease = \"5s\"\n",
        ))
        .expect("valid");
        assert_eq!(named.daemon.instance, "web-1");
        assert_eq!(named.daemon.lease, Duration::from_secs(5));
        let wrong = problems(&with("[daemon]\nlease = \"200ms\"\ninstance = \"\"\n"));
        assert_eq!(wrong.len(), 2, "{wrong:?}");
        assert!(
            wrong[0].contains("daemon.instance: must be 1 to 128 characters"),
            "{wrong:?}"
        );
        assert!(
            wrong[1].contains("daemon.lease: 200ms is too short"),
            "{wrong:?}"
        );
    }

    #[test]
    fn reads_a_webhook_url_from_an_environment_variable_or_a_file() {
        let dir = tempfile::tempdir().expect("a folder");
        let hook = dir.path().join("hook-url");
        std::fs::write(&hook, "https://hooks.slack.test/services/T0/B0/xyz\n").expect("written");
        let ftp = dir.path().join("ftp-url");
        std::fs::write(&ftp, "ftp://files.test/drop\n").expect("written");
        let channel = |keys: &str| {
            format!(
                "{GOOD}[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nformat = \"slack\"\n{keys}\n"
            )
        };
        let from_file = Config::parse(
            &channel(&format!("url_file = {:?}", hook.display().to_string())),
            Path::new("/etc/rasad/rasad.toml"),
        )
        .expect("valid");
        let ChannelKind::Webhook(webhook) = &from_file.channels[1].kind else {
            panic!("a webhook channel");
        };
        assert_eq!(
            webhook.url.as_str(),
            "https://hooks.slack.test/services/T0/B0/xyz"
        );
        let path_value = std::env::var("PATH").unwrap_or_default();
        let cases = [
            (
                "file_holding_another_scheme",
                format!("url_file = {:?}", ftp.display().to_string()),
                "channel[2].url_file: the URL it holds must be http or https, not ftp",
            ),
            (
                "variable_holding_no_url",
                "url_env = \"PATH\"".to_owned(),
                "channel[2].url_env: what it holds is not a URL",
            ),
            (
                "unset_variable",
                "url_env = \"RASAD_TEST_SURELY_UNSET\"".to_owned(),
                "channel[2].url_env: environment variable RASAD_TEST_SURELY_UNSET is not set",
            ),
            (
                "url_and_url_file",
                format!(
                    "url = \"https://h.example/\"\nurl_file = {:?}",
                    hook.display().to_string()
                ),
                "channel[2].url: give url, url_env or url_file, not several",
            ),
        ];
        for (name, keys, want) in cases {
            let got = problems(&channel(&keys));
            assert_eq!(got.len(), 1, "{name}: {got:?}");
            assert!(got[0].contains(want), "{name}: {got:?} lacks {want:?}");
            assert!(
                path_value.is_empty() || !got[0].contains(&path_value),
                "{name}: the value is quoted"
            );
        }
    }

    #[test]
    fn reads_the_admin_listen_address() {
        let with =
            |listen: &str| GOOD.replace("[daemon]\n", &format!("[daemon]\nlisten = {listen}\n"));
        let parse = |text: &str| Config::parse(text, Path::new("/etc/rasad/rasad.toml"));
        let cases: &[(&str, String, Option<&str>)] = &[
            (
                "left_out_is_the_default",
                GOOD.to_owned(),
                Some("127.0.0.1:9797"),
            ),
            ("empty_turns_it_off", with("\"\""), None),
            (
                "any_address_and_port",
                with("\"0.0.0.0:8080\""),
                Some("0.0.0.0:8080"),
            ),
        ];
        for (name, text, want) in cases {
            let config = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                config.daemon.listen.map(|a| a.to_string()).as_deref(),
                *want,
                "{name}"
            );
        }
        let wrong = problems(&with("\"localhost\""));
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        assert!(
            wrong[0].contains("daemon.listen: \"localhost\" is not an address"),
            "{wrong:?}"
        );
    }
}
