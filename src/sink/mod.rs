//! Where alerts go: one `Sink` per configured channel, which renders a delivery and sends it,
//! classifying the result as `Delivered`, `Retry` or `Rejected`. Sinks never see the store.

mod email;
pub mod render;
mod webhook;

use crate::config::{Channel, ChannelKind};
use crate::model::{Delivery, SendOutcome};

pub use email::EmailSink;
pub use webhook::{WebhookSink, sign};

/// A built channel, ready to send.
#[derive(Debug)]
pub enum Sink {
    Email(EmailSink),
    Webhook(WebhookSink),
    /// Prints one readable block per alert on standard output.
    Stdout,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("channel {channel}: {message}")]
    Build { channel: String, message: String },
}

impl Sink {
    /// Builds the client of one channel (no connection is made yet).
    pub fn build(channel: &Channel) -> Result<Sink, SinkError> {
        let error = |message: String| SinkError::Build {
            channel: channel.id.clone(),
            message,
        };
        Ok(match &channel.kind {
            ChannelKind::Email(config) => Sink::Email(EmailSink::new(config).map_err(error)?),
            ChannelKind::Webhook(config) => Sink::Webhook(WebhookSink::new(config).map_err(error)?),
            ChannelKind::Stdout => Sink::Stdout,
        })
    }

    /// Sends one delivery and says how it went.
    pub async fn send(&self, delivery: &Delivery) -> SendOutcome {
        match self {
            Sink::Email(sink) => sink.send(delivery).await,
            Sink::Webhook(sink) => sink.send(delivery).await,
            Sink::Stdout => {
                use std::io::Write;
                let block = render::text_block(&delivery.payload);
                let mut out = std::io::stdout().lock();
                match out.write_all(block.as_bytes()).and_then(|()| out.flush()) {
                    Ok(()) => SendOutcome::Delivered,
                    Err(e) => SendOutcome::Retry {
                        after: None,
                        reason: format!("cannot write to standard output: {e}"),
                    },
                }
            }
        }
    }
}
