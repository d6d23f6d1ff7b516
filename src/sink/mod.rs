//! Where alerts go: one `Sink` per configured channel, which renders a message (one alert, or a
//! digest of several) through the channel's templates and sends it, classifying the result as
//! `Delivered`, `Retry` or `Rejected`. Sinks never see the store.

pub(crate) mod bidi;
mod email;
pub(crate) mod limits;
pub mod render;
pub mod sample;
pub(crate) mod templates;
mod webhook;

use std::time::Duration;

use crate::config::{Channel, ChannelKind, WebhookFormat};
use crate::model::{Delivery, SendOutcome};

pub use email::EmailSink;
pub use templates::Templates;
pub use webhook::WebhookSink;

/// A built channel, ready to send.
#[derive(Debug)]
pub enum Sink {
    Email(EmailSink),
    Webhook(WebhookSink),
    /// Prints one readable block per message on standard output.
    Stdout(StdoutSink),
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("channel {channel}: {message}")]
    Build { channel: String, message: String },
}

/// How the outbox paces one channel: what the channel's config and its platform's limits allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Gather alerts for this long into one digest message.
    pub digest: Option<Duration>,
    /// At most this many messages an hour.
    pub max_per_hour: Option<u32>,
    /// The shortest gap between two messages (the platform's rate limit).
    pub min_interval: Duration,
    /// The most alerts one digest message holds (the platform's message size limits).
    pub max_alerts: usize,
    /// The longest one send may take; the outbox cuts it off there.
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct StdoutSink {
    templates: Templates,
    tz: chrono_tz::Tz,
}

impl Sink {
    /// Builds the client and templates of one channel (no connection is made yet).
    pub fn build(channel: &Channel) -> Result<Sink, SinkError> {
        let error = |message: String| SinkError::Build {
            channel: channel.id.clone(),
            message,
        };
        let format = match &channel.kind {
            ChannelKind::Webhook(config) => config.format,
            _ => WebhookFormat::Json,
        };
        let templates = Templates::new(format, &channel.options.templates)
            .map_err(|e| error(format!("templates: {e}")))?;
        let options = &channel.options;
        Ok(match &channel.kind {
            ChannelKind::Email(config) => {
                Sink::Email(EmailSink::new(config, options, templates).map_err(error)?)
            }
            ChannelKind::Webhook(config) => {
                Sink::Webhook(WebhookSink::new(config, options, templates).map_err(error)?)
            }
            ChannelKind::Stdout => Sink::Stdout(StdoutSink {
                templates,
                tz: options.timezone,
            }),
        })
    }

    /// Sends one message: `deliveries` holds one alert, or several for a digest.
    pub async fn send(&self, deliveries: &[&Delivery]) -> SendOutcome {
        if deliveries.is_empty() {
            return SendOutcome::Delivered {
                answer: "nothing to send".into(),
            };
        }
        match self {
            Sink::Email(sink) => sink.send(deliveries).await,
            Sink::Webhook(sink) => sink.send(deliveries).await,
            Sink::Stdout(sink) => sink.send(deliveries),
        }
    }

    /// How many alerts each message holds when `deliveries` are sent, in order: all in one,
    /// unless the platform's message limits make a digest several messages.
    pub fn split(&self, deliveries: &[&Delivery]) -> Vec<usize> {
        match self {
            Sink::Webhook(sink) => sink.split(deliveries),
            Sink::Email(_) | Sink::Stdout(_) => vec![deliveries.len()],
        }
    }

    /// How the outbox paces this channel.
    pub fn pacing(&self) -> Pacing {
        match self {
            Sink::Email(sink) => sink.pacing(),
            Sink::Webhook(sink) => sink.pacing(),
            Sink::Stdout(_) => Pacing {
                digest: None,
                max_per_hour: None,
                min_interval: Duration::ZERO,
                max_alerts: 50,
                timeout: Duration::from_secs(10),
            },
        }
    }
}

impl StdoutSink {
    fn send(&self, deliveries: &[&Delivery]) -> SendOutcome {
        use std::io::Write;
        let view = render::message_view(deliveries, self.tz, None);
        let block = match self.templates.text(&view) {
            Ok(block) => block,
            Err(e) => {
                return SendOutcome::Rejected {
                    reason: e.to_string(),
                };
            }
        };
        let mut out = std::io::stdout().lock();
        match out.write_all(block.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => SendOutcome::Delivered {
                answer: "written to standard output".into(),
            },
            Err(e) => SendOutcome::Retry {
                after: None,
                reason: format!("cannot write to standard output: {e}"),
            },
        }
    }
}

/// The `Idempotency-Key` of a message: the delivery's own key, or for a digest the key it was
/// sent with before (recorded by the outbox, so that it holds across restarts), else one
/// derived from all of its keys.
pub fn message_key(deliveries: &[&Delivery]) -> String {
    match deliveries {
        [one] => one.idempotency_key.clone(),
        [first, ..]
            if first.message_key.is_some()
                && deliveries
                    .iter()
                    .all(|d| d.message_key == first.message_key) =>
        {
            first.message_key.clone().unwrap_or_default()
        }
        many => {
            use sha2::{Digest, Sha256};
            let mut hash = Sha256::new();
            for d in many {
                hash.update(d.idempotency_key.as_bytes());
                hash.update(b"\n");
            }
            format!("digest-{}", &crate::dedupe::hex(&hash.finalize())[..32])
        }
    }
}
