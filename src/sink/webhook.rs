//! The webhook channel: one signed JSON POST per alert, classified by its HTTP status.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use sha2::Sha256;

use super::render;
use crate::config::{Secret, WebhookChannel};
use crate::model::{Delivery, SendOutcome};

#[derive(Debug)]
pub struct WebhookSink {
    client: reqwest::Client,
    url: url::Url,
    secret: Option<Secret>,
}

impl WebhookSink {
    pub fn new(config: &WebhookChannel) -> Result<WebhookSink, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("rasad/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(WebhookSink {
            client,
            url: config.url.clone(),
            secret: config.secret.clone(),
        })
    }

    pub async fn send(&self, delivery: &Delivery) -> SendOutcome {
        let body = render::webhook_body(delivery).to_string();
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &delivery.idempotency_key);
        if let Some(secret) = &self.secret {
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
                .to_string();
            request = request.header("X-Rasad-Timestamp", &timestamp).header(
                "X-Rasad-Signature",
                format!("sha256={}", sign(secret.expose(), &timestamp, &body)),
            );
        }
        match request.body(body).send().await {
            Ok(response) => {
                let retry_after = crate::retry_after::retry_after(response.headers());
                classify(response.status(), retry_after)
            }
            Err(e) if e.is_timeout() => SendOutcome::Retry {
                after: None,
                reason: "timed out".into(),
            },
            Err(e) => SendOutcome::Retry {
                after: None,
                reason: crate::error_chain(&e),
            },
        }
    }
}

/// The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    crate::dedupe::hex(&mac.finalize().into_bytes())
}

/// 2xx is delivered; 408, 425, 429 and 5xx are retried (honouring `Retry-After`); any other
/// status is a refusal that retrying would not change.
pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> SendOutcome {
    let code = status.as_u16();
    if status.is_success() {
        SendOutcome::Delivered
    } else if matches!(code, 408 | 425 | 429) || status.is_server_error() {
        SendOutcome::Retry {
            after: retry_after,
            reason: format!("HTTP {code}"),
        }
    } else {
        SendOutcome::Rejected {
            reason: format!("HTTP {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        let wait = Some(Duration::from_secs(7));
        let cases: &[(&str, u16, Option<Duration>, &str)] = &[
            ("ok_is_delivered", 200, None, "delivered"),
            ("accepted_is_delivered", 202, None, "delivered"),
            ("server_error_retries", 500, None, "retry"),
            ("bad_gateway_retries", 502, None, "retry"),
            ("too_many_requests_retries_after_hint", 429, wait, "retry"),
            ("request_timeout_retries", 408, None, "retry"),
            ("not_found_is_rejected", 404, None, "rejected"),
            ("unauthorised_is_rejected", 401, None, "rejected"),
            ("redirect_is_rejected", 301, None, "rejected"),
        ];
        for (name, code, hint, want) in cases {
            let outcome = classify(StatusCode::from_u16(*code).expect("valid"), *hint);
            let got = match &outcome {
                SendOutcome::Delivered => "delivered",
                SendOutcome::Retry { after, .. } => {
                    assert_eq!(after, hint, "{name}");
                    "retry"
                }
                SendOutcome::Rejected { .. } => "rejected",
            };
            assert_eq!(got, *want, "{name}");
        }
    }

    #[test]
    fn signs_like_the_documented_recipe() {
        // Reference value from Python: hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            sign("s3cret", "1700000000", "{}"),
            "97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
    }
}
