//! Everything one config version builds: the keyword automaton, the HTTP fetcher and the sinks.
//! A reload builds a new `Wiring` and swaps it in only when building succeeded. The outbox and
//! the admin server see of it only what they use (`outbox::Senders`, `server::Status`).
//!
//! Managed topics (kept in the state, see `store::ManagedTopic`) join the config's topics here:
//! checked against the config as `rasad check` would, they are matched by the same automaton,
//! after the config's. A change of them rebuilds the automaton only (`Wiring::with_managed`);
//! the fetcher and the sinks are shared with the wiring it replaces.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, Topic};
use crate::matcher::{Matcher, MatcherError, TopicSpec};
use crate::outbox::{Senders, Settings};
use crate::server::Status;
use crate::sink::{Sink, SinkError};
use crate::source::fetch::Fetcher;
use crate::store::ManagedTopic;
use crate::telemetry::Telemetry;

#[derive(Debug)]
pub struct Wiring {
    pub config: Arc<Config>,
    /// The managed topics in force, each checked against `config`; matched after the config's
    /// topics, and listed apart from them (`"source": "managed"`).
    pub managed: Vec<Topic>,
    pub matcher: Matcher,
    pub fetcher: Fetcher,
    /// Shared with the wirings that differ from this one only by their managed topics.
    pub sinks: Arc<HashMap<String, Sink>>,
    /// Metrics and liveness marks; a reload hands the running ones to the new runtime.
    pub telemetry: Telemetry,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("keywords: {0}")]
    Matcher(#[from] MatcherError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl Wiring {
    pub fn build(config: Config) -> Result<Wiring, BuildError> {
        let matcher = Matcher::new(topic_specs(&config))?;
        let poll = &config.poll;
        let fetcher = Fetcher::new(
            &poll.user_agent,
            poll.connect_timeout,
            poll.timeout,
            poll.max_body,
        )?
        .with_per_host(poll.per_host)
        .with_private_redirects(poll.allow_private_redirects);
        let sinks = config
            .channels
            .iter()
            .map(|c| Ok((c.id.clone(), Sink::build(c)?)))
            .collect::<Result<HashMap<_, _>, SinkError>>()?;
        Ok(Wiring {
            config: Arc::new(config),
            managed: Vec::new(),
            matcher,
            fetcher,
            sinks: Arc::new(sinks),
            telemetry: Telemetry::new(),
        })
    }

    /// This wiring with `managed` as its managed topics: the automaton is rebuilt over the
    /// config's topics and them; the config, fetcher, sinks and telemetry are kept.
    pub fn with_managed(&self, managed: Vec<Topic>) -> Result<Wiring, MatcherError> {
        let specs = self.config.topics.iter().chain(&managed).map(topic_spec);
        Ok(Wiring {
            matcher: Matcher::new(specs.collect())?,
            config: Arc::clone(&self.config),
            managed,
            fetcher: self.fetcher.clone(),
            sinks: Arc::clone(&self.sinks),
            telemetry: self.telemetry.clone(),
        })
    }

    /// Every topic in force: the config's, then the managed ones.
    pub fn topics(&self) -> impl Iterator<Item = &Topic> {
        self.config.topics.iter().chain(&self.managed)
    }
}

/// The managed topics among `stored` that check against `config`, in their order. One that does
/// not (a reload removed a channel it notifies, or a config topic took its id) is skipped with
/// a warning naming it and saying why; the others apply. At most
/// [`MAX_MANAGED_TOPICS`](crate::config::MAX_MANAGED_TOPICS) apply, the first by id: instances
/// saving at once can store a few more, and the automaton stays bounded.
pub fn checked_managed(stored: &[ManagedTopic], config: &Config) -> Vec<Topic> {
    let max = crate::config::MAX_MANAGED_TOPICS;
    if stored.len() > max {
        let skipped = stored[max..]
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>();
        let skipped = skipped.join(", ");
        tracing::warn!(%skipped, "managed topics skipped: more are stored than {max}");
    }
    stored
        .iter()
        .take(max)
        .filter_map(
            |topic| match crate::config::check_managed_topic(&topic.rule, config) {
                Ok(checked) if checked.id == topic.id => Some(checked),
                Ok(checked) => {
                    tracing::warn!(topic = %topic.id, rule_id = %checked.id, "managed topic skipped: its rule names another id");
                    None
                }
                Err(problems) => {
                    let problems = problems.join("; ");
                    tracing::warn!(topic = %topic.id, %problems, "managed topic skipped: it no longer checks against the config");
                    None
                }
            },
        )
        .collect()
}

impl Senders for Wiring {
    fn sinks(&self) -> &HashMap<String, Sink> {
        &self.sinks
    }

    fn settings(&self) -> Settings {
        Settings::from_config(&self.config.delivery)
    }

    fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }
}

impl Status for Wiring {
    fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    fn stale_after(&self) -> Duration {
        crate::server::stale_after(&self.config)
    }
}

/// The keyword rules of every topic, for the one automaton.
pub fn topic_specs(config: &Config) -> Vec<TopicSpec> {
    config.topics.iter().map(topic_spec).collect()
}

/// One topic's keyword rules.
pub fn topic_spec(t: &Topic) -> TopicSpec {
    TopicSpec {
        id: Some(t.id.clone()),
        any: t.any.clone(),
        all: t.all.clone(),
        none: t.none.clone(),
        fields: t.fields.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::Utc;
    use serde_json::json;

    use super::*;

    const CONFIG: &str = r#"
[[topic]]
id = "isis"
any = ["داعش"]

[[channel]]
id = "out"
kind = "stdout"
"#;

    fn stored(id: &str, rule: serde_json::Value) -> ManagedTopic {
        ManagedTopic {
            id: id.to_owned(),
            rule,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn managed_topics_that_no_longer_check_are_skipped_and_the_rest_are_matched() {
        let config = Config::parse(CONFIG, Path::new("/etc/rasad/rasad.toml")).expect("valid");
        let rules = [
            stored(
                "ports",
                json!({"id": "ports", "any": ["مرفأ"], "notify": ["out"]}),
            ),
            stored(
                "paged",
                json!({"id": "paged", "any": ["مطار"], "notify": ["pager"]}),
            ),
            stored("isis", json!({"id": "isis", "any": ["مطار"]})),
            stored("renamed", json!({"id": "other", "any": ["مطار"]})),
        ];
        let managed = checked_managed(&rules, &config);
        let ids: Vec<&str> = managed.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["ports"]);

        let wiring = Wiring::build(config).expect("built");
        let story = |title: &str| crate::model::Story {
            feed: "f".into(),
            key: "k".into(),
            title: title.into(),
            summary_html: String::new(),
            summary: String::new(),
            content_html: String::new(),
            content: String::new(),
            url: None,
            guid: None,
            published: None,
            fetched: Utc::now(),
        };
        let port = story("حريق في مرفأ طرابلس");
        assert!(wiring.matcher.match_story(&port).is_empty());
        let live = wiring.with_managed(managed).expect("rebuilt");
        let hits = live.matcher.match_story(&port);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].topic.as_deref(), Some("ports"));
        let both: Vec<&str> = live.topics().map(|t| t.id.as_str()).collect();
        assert_eq!(both, ["isis", "ports"], "the config's first");
        assert_eq!(live.matcher.match_story(&story("بيان لداعش")).len(), 1);
        assert!(
            Arc::ptr_eq(&live.sinks, &wiring.sinks),
            "the sinks are shared"
        );
    }
}
