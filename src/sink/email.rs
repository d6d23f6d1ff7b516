//! The email channel: one multipart (text + HTML) message per alert or digest over SMTP, with
//! STARTTLS, implicit TLS or none, AUTH when credentials are set, and thread headers that keep
//! the alerts of one story cluster together.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render::message_view;
use super::{Pacing, Templates, message_key};
use crate::config::{ChannelOptions, EmailChannel, TlsMode};
use crate::model::{Delivery, SendOutcome};

#[derive(Debug)]
pub struct EmailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    templates: Templates,
    options: ChannelOptions,
    timeout: Duration,
}

impl EmailSink {
    pub(super) fn new(
        config: &EmailChannel,
        options: &ChannelOptions,
        templates: Templates,
    ) -> Result<EmailSink, String> {
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
            templates,
            options: options.clone(),
            timeout: config.timeout,
        })
    }

    pub fn pacing(&self) -> Pacing {
        Pacing {
            digest: self.options.digest,
            max_per_hour: self.options.max_per_hour,
            min_interval: Duration::ZERO,
            max_alerts: 50,
            // An SMTP session is several commands, each bounded by the timeout.
            timeout: self.timeout.saturating_mul(3),
        }
    }

    pub async fn send(&self, deliveries: &[&Delivery]) -> SendOutcome {
        let message = match self.message(deliveries) {
            Ok(message) => message,
            Err(reason) => {
                return SendOutcome::Rejected {
                    reason: format!("cannot build the message: {reason}"),
                };
            }
        };
        match self.transport.send(message).await {
            Ok(response) => SendOutcome::Delivered {
                answer: format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
            },
            Err(e) => classify(
                e.status().and_then(|code| code.to_string().parse().ok()),
                crate::error_chain(&e),
            ),
        }
    }

    fn message(&self, deliveries: &[&Delivery]) -> Result<Message, String> {
        let view = message_view(deliveries, self.options.timezone, None);
        let subject = self.templates.subject(&view).map_err(|e| e.to_string())?;
        let text = self.templates.text(&view).map_err(|e| e.to_string())?;
        let html = self.templates.html(&view).map_err(|e| e.to_string())?;
        let domain = self.from.email.domain().to_owned();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(format!("<{}@{domain}>", message_key(deliveries))));
        if let [one] = deliveries {
            // Every alert about one story cluster refers to the same (virtual) first message,
            // so that mail clients thread them together.
            let root = thread_root(one.cluster_id, &domain);
            builder = builder.in_reply_to(root.clone()).references(root);
        }
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| e.to_string())
    }
}

/// The Message-ID that the alerts of one story cluster reply to.
pub fn thread_root(cluster_id: i64, domain: &str) -> String {
    format!("<story-{cluster_id}@{domain}>")
}

/// SMTP 5xx refusals are final; 4xx replies, timeouts and connection failures (no reply code)
/// are retried.
fn classify(code: Option<u16>, reason: String) -> SendOutcome {
    match code {
        Some(500..=599) => SendOutcome::Rejected { reason },
        _ => SendOutcome::Retry {
            after: None,
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_smtp_replies() {
        let cases = [
            ("service_not_available_retries", Some(421), "retry"),
            ("mailbox_busy_retries", Some(450), "retry"),
            ("local_error_retries", Some(451), "retry"),
            ("insufficient_storage_retries", Some(452), "retry"),
            ("no_such_user_is_dead", Some(550), "dead"),
            ("message_too_big_is_dead", Some(552), "dead"),
            ("transaction_failed_is_dead", Some(554), "dead"),
            ("connection_refused_retries", None, "retry"),
        ];
        for (name, code, want) in cases {
            let got = match classify(code, "r".into()) {
                SendOutcome::Retry { .. } => "retry",
                SendOutcome::Rejected { .. } => "dead",
                SendOutcome::Delivered { .. } => "delivered",
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn alerts_of_one_cluster_share_a_thread_root() {
        assert_eq!(thread_root(42, "example.org"), "<story-42@example.org>");
        assert_ne!(
            thread_root(42, "example.org"),
            thread_root(43, "example.org")
        );
    }
}
