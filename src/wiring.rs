//! Everything one config version builds: the keyword automaton, the HTTP fetcher and the sinks.
//! A reload builds a new `Wiring` and swaps it in only when building succeeded. The outbox and
//! the admin server see of it only what they use (`outbox::Senders`, `server::Status`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::matcher::{Matcher, MatcherError, TopicSpec};
use crate::outbox::{Senders, Settings};
use crate::server::Status;
use crate::sink::{Sink, SinkError};
use crate::source::fetch::Fetcher;
use crate::telemetry::Telemetry;

#[derive(Debug)]
pub struct Wiring {
    pub config: Arc<Config>,
    pub matcher: Matcher,
    pub fetcher: Fetcher,
    pub sinks: HashMap<String, Sink>,
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
            matcher,
            fetcher,
            sinks,
            telemetry: Telemetry::new(),
        })
    }
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
    config
        .topics
        .iter()
        .map(|t| TopicSpec {
            id: Some(t.id.clone()),
            any: t.any.clone(),
            all: t.all.clone(),
            none: t.none.clone(),
            fields: t.fields.clone(),
        })
        .collect()
}
