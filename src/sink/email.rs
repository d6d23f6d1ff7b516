//! The email channel: one multipart (text + HTML) message per alert over SMTP, with STARTTLS,
//! implicit TLS or none, and AUTH when credentials are set.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render;
use crate::config::{EmailChannel, TlsMode};
use crate::model::{Delivery, SendOutcome};

#[derive(Debug)]
pub struct EmailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl EmailSink {
    pub fn new(config: &EmailChannel) -> Result<EmailSink, String> {
        let tls = match config.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls | TlsMode::Implicit => {
                let parameters = TlsParameters::new(config.smtp_host.clone())
                    .map_err(|e| format!("TLS set-up for {}: {e}", config.smtp_host))?;
                if config.tls == TlsMode::Starttls {
                    Tls::Required(parameters)
                } else {
                    Tls::Wrapper(parameters)
                }
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host)
                .port(config.smtp_port)
                .tls(tls)
                .timeout(Some(config.timeout));
        if let Some((user, password)) = &config.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("from address {:?}: {e}", config.from))?;
        let to = config
            .to
            .iter()
            .map(|a| a.parse().map_err(|e| format!("recipient {a:?}: {e}")))
            .collect::<Result<Vec<Mailbox>, String>>()?;
        Ok(EmailSink {
            transport: builder.build(),
            from,
            to,
        })
    }

    pub async fn send(&self, delivery: &Delivery) -> SendOutcome {
        let message = match self.message(delivery) {
            Ok(message) => message,
            Err(e) => {
                return SendOutcome::Rejected {
                    reason: format!("cannot build the message: {e}"),
                };
            }
        };
        match self.transport.send(message).await {
            Ok(_) => SendOutcome::Delivered,
            Err(e) => classify(&e),
        }
    }

    fn message(&self, delivery: &Delivery) -> Result<Message, lettre::error::Error> {
        let payload = &delivery.payload;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(render::subject(payload))
            .message_id(Some(format!("<{}@rasad>", delivery.idempotency_key)));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(render::text_block(payload)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(render::email_html(payload)),
                ),
        )
    }
}

/// SMTP 5xx refusals are final; 4xx replies, timeouts and connection failures are retried.
fn classify(e: &lettre::transport::smtp::Error) -> SendOutcome {
    let reason = crate::error_chain(e);
    if e.is_permanent() {
        SendOutcome::Rejected { reason }
    } else {
        SendOutcome::Retry {
            after: None,
            reason,
        }
    }
}
