//! The config file as TOML gives it: serde structs that mirror the file, with spans for checks.
//!
//! Only the shape is enforced here (unknown keys and wrong types are errors from the TOML parser,
//! with line and column). Values stay as written, so that `check` can report every problem at once.

use serde::Deserialize;
use toml::Spanned;

pub type Str = Spanned<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub daemon: RawDaemon,
    #[serde(default)]
    pub poll: RawPoll,
    #[serde(default)]
    pub delivery: RawDelivery,
    #[serde(default)]
    pub feed: Vec<Spanned<RawFeed>>,
    #[serde(default)]
    pub topic: Vec<Spanned<RawTopic>>,
    #[serde(default)]
    pub channel: Vec<Spanned<RawChannel>>,
    pub web: Option<Spanned<RawWeb>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub state: Option<Str>,
    pub state_password_env: Option<Str>,
    pub state_password_file: Option<Str>,
    pub instance: Option<Str>,
    pub lease: Option<Str>,
    pub listen: Option<Str>,
    pub retention: Option<Str>,
    pub cluster_window: Option<Str>,
}

/// `[web]`: the analyst's desk on the admin listener. `token` is only read to be refused
/// (secrets never sit in the file) with a message that says where it goes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub token: Option<Str>,
    pub token_env: Option<Str>,
    pub token_file: Option<Str>,
    pub secure_cookie: Option<bool>,
    pub session: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoll {
    pub interval: Option<Str>,
    pub timeout: Option<Str>,
    pub connect_timeout: Option<Str>,
    pub max_body: Option<Str>,
    pub concurrency: Option<Spanned<i64>>,
    pub alert_on_first_poll: Option<bool>,
    pub user_agent: Option<Str>,
    pub min_interval: Option<Str>,
    pub max_interval: Option<Str>,
    pub per_host: Option<Spanned<i64>>,
    pub adaptive: Option<bool>,
    pub jitter: Option<Spanned<f64>>,
    pub allow_private_redirects: Option<bool>,
    pub cpu_deadline: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    pub retry_initial: Option<Str>,
    pub retry_max: Option<Str>,
    pub timeout: Option<Str>,
    pub max_age: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub id: Str,
    pub url: Str,
    pub name: Option<String>,
    pub interval: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub id: Str,
    pub name: Option<String>,
    pub any: Option<Spanned<Vec<RawKeyword>>>,
    #[serde(default)]
    pub all: Vec<RawKeyword>,
    #[serde(default)]
    pub none: Vec<RawKeyword>,
    pub fields: Option<Spanned<Vec<Str>>>,
    #[serde(default)]
    pub notify: Vec<Str>,
}

/// A keyword: a plain string or a table with options, checked key by key in `check` so that a
/// mistake is reported with its path.
pub type RawKeyword = Spanned<toml::Value>;

/// Every key any channel kind takes; `check` rejects those that do not fit the kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    pub id: Str,
    pub kind: Str,
    // email
    pub smtp_host: Option<Str>,
    pub smtp_port: Option<Spanned<i64>>,
    pub tls: Option<Str>,
    pub username: Option<Str>,
    pub password: Option<Str>,
    pub password_env: Option<Str>,
    pub password_file: Option<Str>,
    pub from: Option<Str>,
    pub to: Option<Spanned<Vec<Str>>>,
    // webhook
    pub url: Option<Str>,
    /// The URL from an environment variable or a file: Slack, Discord, Teams and Mattermost
    /// hook URLs are secrets themselves.
    pub url_env: Option<Str>,
    pub url_file: Option<Str>,
    pub format: Option<Str>,
    pub secret: Option<Str>,
    pub secret_env: Option<Str>,
    pub secret_file: Option<Str>,
    // telegram webhooks
    pub bot_token: Option<Str>,
    pub bot_token_env: Option<Str>,
    pub bot_token_file: Option<Str>,
    pub chat_id: Option<Str>,
    // every kind
    pub timeout: Option<Str>,
    pub timezone: Option<Str>,
    pub digest: Option<Str>,
    pub max_per_hour: Option<Spanned<i64>>,
    pub subject_template: Option<Str>,
    pub text_template: Option<Str>,
    pub html_template: Option<Str>,
    pub body_template: Option<Str>,
}
