//! The configuration: read the TOML file, check it as a whole, and hand out a checked `Config`.
//!
//! Three steps, as in every reload: `raw` parses the file's shape, `check` reports every problem
//! at once with its key path and line, and only a config without problems is returned.

mod check;
pub mod defaults;
mod managed;
mod raw;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::matcher::KeywordSpec;
use crate::model::Field;

pub use check::{DEFAULT_SESSION, MAX_SESSION, MIN_TOKEN_CHARS, check};
pub use managed::{
    MAX_KEYWORD_CHARS, MAX_MANAGED_KEYWORDS, MAX_MANAGED_TOPICS, MAX_PROBLEM_CHARS,
    MAX_PROBLEMS_LISTED, MAX_TOPIC_ID_CHARS, MAX_TOPIC_NAME_CHARS, check_managed_topic,
};

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub daemon: Daemon,
    pub poll: Poll,
    pub delivery: Delivery,
    pub feeds: Vec<Feed>,
    pub topics: Vec<Topic>,
    pub channels: Vec<Channel>,
    /// The analyst's desk (`[web]`): pages and `/api/v1` on the admin listener; `None`: off.
    pub web: Option<Web>,
}

/// `[web]`: who may use the analyst's desk, and how its session cookie is set.
#[derive(Debug, Clone)]
pub struct Web {
    /// The bearer token every API request carries, and the password of the login form.
    pub token: Secret,
    /// Mark the session cookie `Secure`: on when the desk is reached over TLS (a reverse
    /// proxy), off for plain HTTP on the loopback.
    pub secure_cookie: bool,
    /// How long a login lasts.
    pub session: Duration,
}

#[derive(Debug, Clone)]
pub struct Daemon {
    /// Where the state lives: a SQLite file, or a PostgreSQL database several instances share.
    pub state: StateLocation,
    /// This instance's name, recorded with the leases it holds (`rasad feeds`, `rasad outbox`).
    pub instance: String,
    /// How long a feed claimed by this instance stays its own without a renewal: an instance
    /// that stops renewing (it died) loses its feeds to the others after this.
    pub lease: Duration,
    /// Where the admin HTTP server (health, readiness, metrics) listens; `None`: off.
    pub listen: Option<std::net::SocketAddr>,
    /// Stories first seen longer ago are pruned (those an alert points to stay).
    pub retention: Duration,
    /// Only stories published this close to each other can be one story.
    pub cluster_window: Duration,
}

impl Daemon {
    /// How stories are grouped into clusters: the default policy with this config's window.
    pub fn cluster_policy(&self) -> crate::dedupe::ClusterPolicy {
        crate::dedupe::ClusterPolicy {
            window: self.cluster_window,
            ..crate::dedupe::ClusterPolicy::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Poll {
    /// Default interval between two polls of one feed.
    pub interval: Duration,
    /// Limit on one whole fetch, headers and body.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_body: u64,
    /// Feeds fetched at the same time.
    pub concurrency: usize,
    /// Alert on the items of a feed's first successful poll (off: adding a feed floods no one).
    pub alert_on_first_poll: bool,
    pub user_agent: String,
    /// Server hints (`Cache-Control`, `Expires`, `<ttl>`) and adaptive schedules are clamped to
    /// `[min_interval, max_interval]`; `max_interval` also caps failure backoff and `Retry-After`.
    pub min_interval: Duration,
    pub max_interval: Duration,
    /// Requests to one host at the same time.
    pub per_host: usize,
    /// Follow each feed's recent item frequency instead of its fixed interval.
    pub adaptive: bool,
    /// Each wait is spread by ± this fraction (0 to 0.5).
    pub jitter: f64,
    /// Follow a redirect from a public address to a loopback, link-local, private or multicast
    /// one (refused by default: a feed could point rasad at the host's own services).
    pub allow_private_redirects: bool,
    /// How long one poll's CPU work may take before the poll is abandoned as failed.
    pub cpu_deadline: Duration,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    /// Wait before the first retry of a failed delivery; it doubles with each failure.
    pub retry_initial: Duration,
    /// The longest wait between two attempts.
    pub retry_max: Duration,
    /// Default limit on one send.
    pub timeout: Duration,
    /// A delivery still failing this long after it entered the outbox is given up (dead).
    pub max_age: Duration,
}

/// Whether `id` may name a feed, topic or channel: non-empty ASCII letters, digits, `-`, `_`
/// and `.` (ids appear in logs, metric labels and the state).
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[derive(Debug, Clone)]
pub struct Feed {
    pub id: String,
    /// The outlet's name as shown in alerts; the id when not given.
    pub name: String,
    pub url: Url,
    pub interval: Duration,
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub id: String,
    /// The name shown in alerts; the id when not given.
    pub name: String,
    /// Keywords of which any one makes a story relevant (aliases included).
    pub any: Vec<KeywordSpec>,
    /// Keywords that must all hit as well.
    pub all: Vec<KeywordSpec>,
    /// Keywords of which any one makes a story irrelevant to this topic.
    pub none: Vec<KeywordSpec>,
    /// The fields searched (all by default).
    pub fields: Vec<Field>,
    /// Channel ids.
    pub notify: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub kind: ChannelKind,
    /// Digests, limits, time zone and templates: the same keys for every kind.
    pub options: ChannelOptions,
}

/// How a channel paces and presents its alerts, whatever its kind.
#[derive(Debug, Clone, Default)]
pub struct ChannelOptions {
    /// Gather the alerts of this long into one message, grouped by topic.
    pub digest: Option<Duration>,
    /// At most this many messages an hour; the overflow waits for the next digest.
    pub max_per_hour: Option<u32>,
    /// The time zone of the times shown in alerts (UTC by default).
    pub timezone: chrono_tz::Tz,
    /// Template sources read from the channel's `*_template` files, replacing the defaults.
    pub templates: TemplateOverrides,
}

/// Template sources that replace the embedded defaults (see `sink::templates`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateOverrides {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub body: Option<String>,
}

/// The body a webhook channel posts: rasad's own JSON or a chat platform's message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
    Discord,
    /// A Microsoft Teams Workflows webhook: an Adaptive Card in a message envelope.
    Teams,
    /// The Telegram Bot API's `sendMessage`, with `parse_mode = HTML`.
    Telegram,
    Mattermost,
}

impl WebhookFormat {
    pub const ALL: [WebhookFormat; 6] = [
        WebhookFormat::Json,
        WebhookFormat::Slack,
        WebhookFormat::Discord,
        WebhookFormat::Teams,
        WebhookFormat::Telegram,
        WebhookFormat::Mattermost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
            WebhookFormat::Teams => "teams",
            WebhookFormat::Telegram => "telegram",
            WebhookFormat::Mattermost => "mattermost",
        }
    }
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Email(EmailChannel),
    Webhook(WebhookChannel),
    Stdout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587 by default).
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Implicit,
    /// No TLS at all (port 25 by default): only for a relay on a trusted network.
    None,
}

#[derive(Debug, Clone)]
pub struct EmailChannel {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: TlsMode,
    /// Username and password, when the server wants AUTH.
    pub credentials: Option<(String, Secret)>,
    pub from: String,
    pub to: Vec<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct WebhookChannel {
    /// The webhook URL; for Telegram, the Bot API's base (`https://api.telegram.org`).
    pub url: Url,
    pub format: WebhookFormat,
    /// The HMAC key that signs each body, when set.
    pub secret: Option<Secret>,
    /// Telegram only: the bot token and the chat to post to.
    pub telegram: Option<(Secret, String)>,
    pub timeout: Duration,
}

/// A secret value read from the environment or a file; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the key is, as `feed[2].url` (1-based indexes, as a person counts tables).
    pub path: String,
    /// The line in the file, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks `text` as if read from `path` (relative paths in it are resolved
    /// against the file's folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        check(raw, text, path).map_err(|problems| ConfigError::Invalid {
            path: path.to_owned(),
            problems,
        })
    }

    /// Reads the file at `path` and checks only its feeds and `poll.interval`: the feeds and the
    /// default interval, for commands that need no more (the channels' secrets need not be set).
    pub fn load_feeds(path: &Path) -> Result<(Vec<Feed>, Duration), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let raw: raw::RawConfig = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        check::check_feeds(&raw, &text).map_err(|problems| ConfigError::Invalid {
            path: path.to_owned(),
            problems,
        })
    }

    /// How many keywords (with aliases and exclusions) the topics hold.
    pub fn keyword_count(&self) -> usize {
        self.topics
            .iter()
            .map(|t| t.any.len() + t.all.len() + t.none.len())
            .sum()
    }

    /// Things that are allowed but probably not meant, for `rasad check` and the start-up log.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (i, topic) in self.topics.iter().enumerate() {
            if topic.notify.is_empty() {
                warnings.push(format!("topic[{}].notify: topic {:?} names no channel; its alerts are recorded but sent nowhere", i + 1, topic.id));
            }
        }
        for (i, topic) in self.topics.iter().enumerate() {
            for keyword in topic.any.iter().chain(&topic.all).chain(&topic.none) {
                let letters = crate::text::fold_str(&keyword.term)
                    .chars()
                    .filter(|c| crate::text::is_word_char(*c))
                    .count();
                if keyword.options.name
                    && let Some(strict) = crate::matcher::strictness(&keyword.term)
                {
                    warnings.push(format!(
                        "topic[{}]: name {:?} is matched only as written, with no suffix: {strict}",
                        i + 1,
                        keyword.term
                    ));
                }
                if letters <= 2 {
                    warnings.push(format!(
                        "topic[{}]: keyword {:?} is very short: it matches only as a whole word or with the article",
                        i + 1,
                        keyword.term
                    ));
                }
            }
        }
        if let (Some(web), Some(listen)) = (&self.web, self.daemon.listen)
            && !web.secure_cookie
            && !listen.ip().is_loopback()
        {
            warnings.push(format!(
                "web: the desk listens on {listen} with secure_cookie = false: its token and session cookie cross the network in clear unless a TLS proxy is in front (then set secure_cookie = true)"
            ));
        }
        if self.feeds.is_empty() {
            warnings.push("feed: no [[feed]] is configured; there is nothing to poll".to_owned());
        }
        for (i, channel) in self.channels.iter().enumerate() {
            if let ChannelKind::Email(email) = &channel.kind
                && email.credentials.is_some()
                && email.tls == TlsMode::None
            {
                warnings.push(format!(
                    "channel[{}]: channel {:?} logs in to {} with tls = \"none\": the SMTP password crosses the network unencrypted; use tls = \"starttls\" or \"implicit\"",
                    i + 1,
                    channel.id,
                    email.smtp_host
                ));
            }
        }
        warnings
    }

    /// A one-line summary for `rasad check` and the start-up log.
    pub fn summary(&self) -> String {
        format!(
            "{} feeds, {} topics, {} keywords, {} channels; state in {}",
            self.feeds.len(),
            self.topics.len(),
            self.keyword_count(),
            self.channels.len(),
            self.daemon.state
        )
    }
}

/// Where the state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A SQLite file (one instance).
    File(PathBuf),
    /// A `postgres://` or `postgresql://` URL (any number of instances).
    Postgres(String),
}

impl StateLocation {
    /// Reads `daemon.state` as written: a PostgreSQL URL, else a path relative to `base`.
    pub fn parse(value: &str, base: &Path) -> StateLocation {
        if is_postgres_url(value) {
            StateLocation::Postgres(value.to_owned())
        } else {
            StateLocation::File(base.join(value))
        }
    }
}

/// True for the URL schemes that select PostgreSQL.
pub fn is_postgres_url(value: &str) -> bool {
    value.starts_with("postgres://") || value.starts_with("postgresql://")
}

/// Shown in logs and `rasad check`: a URL's password is never printed.
impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::File(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(url) => match Url::parse(url) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    write!(f, "{url}")
                }
                Err(_) => f.write_str("postgres://(unreadable URL)"),
            },
        }
    }
}

/// As `Display`: a URL's password stays hidden in debug output too.
impl fmt::Debug for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::File(path) => write!(f, "File({path:?})"),
            StateLocation::Postgres(_) => write!(f, "Postgres({self})"),
        }
    }
}

impl From<&Path> for StateLocation {
    fn from(path: &Path) -> StateLocation {
        StateLocation::File(path.to_owned())
    }
}

impl From<&PathBuf> for StateLocation {
    fn from(path: &PathBuf) -> StateLocation {
        StateLocation::File(path.clone())
    }
}

impl From<PathBuf> for StateLocation {
    fn from(path: PathBuf) -> StateLocation {
        StateLocation::File(path)
    }
}

impl From<&StateLocation> for StateLocation {
    fn from(location: &StateLocation) -> StateLocation {
        location.clone()
    }
}

/// The instance name when the config gives none: the host name and the process id, which tell
/// apart instances on several machines and several on one.
pub fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// The state file when the config names none: `$STATE_DIRECTORY` under systemd, else the
/// user's XDG state folder, so that a checkout runs without root.
pub fn default_state_path() -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dirs) = env("STATE_DIRECTORY") {
        // systemd may list several folders separated by ':'; the first is ours.
        let first = dirs
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        return PathBuf::from(first).join("rasad.db");
    }
    if let Some(xdg) = env("XDG_STATE_HOME") {
        return PathBuf::from(xdg).join("rasad").join("rasad.db");
    }
    if let Some(home) = env("HOME") {
        return PathBuf::from(home).join(".local/state/rasad/rasad.db");
    }
    PathBuf::from("rasad.db")
}
