//! The webhook channel: one signed POST per message in the channel's format (rasad's JSON, Slack,
//! Discord, Teams, Telegram, Mattermost), classified by its HTTP status.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use sha2::Sha256;

use super::render::message_view;
use super::{Pacing, Templates, message_key};
use crate::config::{ChannelOptions, Secret, WebhookChannel, WebhookFormat};
use crate::model::{Delivery, SendOutcome};

/// How much of a response body is kept as the receiver's answer.
const ANSWER_BYTES: usize = 300;
/// The most of a response body read at all: the answer and a `retry_after` hint sit at its
/// start, and a receiver (or a captive portal) must not make us buffer a large page.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The most of a `Location` header shown in a delivery's error.
const LOCATION_CHARS: usize = 200;

pub struct WebhookSink {
    client: reqwest::Client,
    /// Where to POST; for Telegram it holds the bot token, so it is never logged.
    url: url::Url,
    format: WebhookFormat,
    secret: Option<Secret>,
    chat_id: Option<String>,
    /// The Telegram bot token as given and as it appears in the URL (percent-encoded), kept to
    /// mask it in what a receiver answers (a Location header that repeats the request's path).
    token_forms: Vec<String>,
    templates: Templates,
    options: ChannelOptions,
    timeout: Duration,
}

impl std::fmt::Debug for WebhookSink {
    /// Without the URL: it may hold a secret (a Telegram bot token, a Slack hook path).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("host", &self.url.host_str())
            .field("format", &self.format)
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

/// A platform's limits: the shortest gap between two posts to one webhook or chat, and the most
/// alerts one message holds.
///
/// Slack allows about one message a second per webhook; Discord 30 a minute per channel;
/// Telegram about 20 a minute in a group; Teams Workflows throttle bursts. Message sizes:
/// Slack 50 blocks, Discord 10 embeds, Telegram 4096 characters.
pub fn platform_limits(format: WebhookFormat) -> (Duration, usize) {
    match format {
        WebhookFormat::Json => (Duration::ZERO, 100),
        WebhookFormat::Slack => (Duration::from_secs(1), 20),
        WebhookFormat::Discord => (Duration::from_secs(2), 10),
        WebhookFormat::Teams => (Duration::from_secs(1), 15),
        WebhookFormat::Telegram => (Duration::from_secs(3), 8),
        WebhookFormat::Mattermost => (Duration::from_millis(200), 30),
    }
}

impl WebhookSink {
    pub(super) fn new(
        config: &WebhookChannel,
        options: &ChannelOptions,
        templates: Templates,
    ) -> Result<WebhookSink, String> {
        // Redirects are never followed: a client that follows one turns the POST into a GET
        // (whose 200 would count as delivery) or resends the signed body to whatever host the
        // Location names, with the hook's secret URL in the Referer. `classify` decides instead.
        let client = reqwest::Client::builder()
            .user_agent(concat!("rasad/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let (url, chat_id) = match &config.telegram {
            Some((token, chat)) => {
                let base = config.url.as_str().trim_end_matches('/');
                let url = url::Url::parse(&format!("{base}/bot{}/sendMessage", token.expose()))
                    .map_err(|_| "the Telegram bot token does not fit in a URL".to_owned())?;
                (url, Some(chat.clone()))
            }
            None => (config.url.clone(), None),
        };
        let token_forms: Vec<String> = match &config.telegram {
            Some((token, _)) => {
                let encoded = url
                    .path_segments()
                    .and_then(|mut s| s.find_map(|p| p.strip_prefix("bot")))
                    .map(str::to_owned);
                std::iter::once(token.expose().to_owned())
                    .chain(encoded)
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            None => Vec::new(),
        };
        Ok(WebhookSink {
            client,
            url,
            format: config.format,
            secret: config.secret.clone(),
            chat_id,
            token_forms,
            templates,
            options: options.clone(),
            timeout: config.timeout,
        })
    }

    pub fn pacing(&self) -> Pacing {
        let (min_interval, max_alerts) = platform_limits(self.format);
        Pacing {
            digest: self.options.digest,
            max_per_hour: self.options.max_per_hour,
            min_interval,
            max_alerts,
            timeout: self.timeout,
        }
    }

    /// How many alerts each message of `deliveries` holds: greedily as many as the platform
    /// takes in one message, one at the least (a single alert's fields are clipped to fit).
    pub fn split(&self, deliveries: &[&Delivery]) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut rest = deliveries;
        while !rest.is_empty() {
            let mut n = rest.len();
            while n > 1 && !self.fits(&rest[..n]) {
                n -= 1;
            }
            sizes.push(n);
            rest = &rest[n..];
        }
        sizes
    }

    /// Whether one message of `deliveries` keeps the platform's limits. A body that does not
    /// render fits: sending it reports the template's error.
    fn fits(&self, deliveries: &[&Delivery]) -> bool {
        let view = message_view(deliveries, self.options.timezone, self.chat_id.as_deref());
        self.templates.body_value(&view).map_or(true, |body| {
            super::limits::check(self.format, &body).is_ok()
        })
    }

    pub async fn send(&self, deliveries: &[&Delivery]) -> SendOutcome {
        let view = message_view(deliveries, self.options.timezone, self.chat_id.as_deref());
        let body = match self.templates.body_value(&view) {
            Ok(body) => body,
            Err(e) => {
                return SendOutcome::Rejected {
                    reason: e.to_string(),
                };
            }
        };
        if let Err(e) = super::limits::check(self.format, &body) {
            // The platform would refuse it: say why here rather than as its 400.
            return SendOutcome::Rejected {
                reason: format!("the message is over the platform's limits: {e}"),
            };
        }
        let body = body.to_string();
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", message_key(deliveries));
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
                let status = response.status();
                let header_hint = crate::retry_after::retry_after(response.headers());
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
                let text = read_capped(response, MAX_RESPONSE_BYTES).await;
                let hint = header_hint.or_else(|| retry_after_in_body(&text));
                let outcome = classify(status, hint, location.as_deref(), &answer(status, &text));
                self.masked(outcome)
            }
            // The URL may hold a secret (a Telegram token, a Slack hook path): never show it.
            Err(e) if e.is_timeout() => SendOutcome::Retry {
                after: None,
                reason: "timed out".into(),
            },
            Err(e) => SendOutcome::Retry {
                after: None,
                reason: crate::error_chain(&e.without_url()),
            },
        }
    }
}

impl WebhookSink {
    /// `outcome` with the bot token masked wherever the receiver repeated it.
    fn masked(&self, outcome: SendOutcome) -> SendOutcome {
        let mask = |text: String| {
            self.token_forms
                .iter()
                .fold(text, |text, token| text.replace(token.as_str(), "***"))
        };
        match outcome {
            SendOutcome::Delivered { answer } => SendOutcome::Delivered {
                answer: mask(answer),
            },
            SendOutcome::Retry { after, reason } => SendOutcome::Retry {
                after,
                reason: mask(reason),
            },
            SendOutcome::Rejected { reason } => SendOutcome::Rejected {
                reason: mask(reason),
            },
        }
    }
}

/// The start of a response body, at most `limit` bytes, as text; what cannot be read is left
/// out (the status alone decides the outcome).
async fn read_capped(mut response: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// `HTTP 200: ok`, the body cut short and on one line.
fn answer(status: StatusCode, body: &str) -> String {
    let body: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(ANSWER_BYTES)
        .collect();
    let body = body.trim();
    if body.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {body}", status.as_u16())
    }
}

/// The wait a 429 body asks for: Discord's `retry_after` (seconds) or Telegram's
/// `parameters.retry_after`.
fn retry_after_in_body(body: &str) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let seconds = value
        .get("retry_after")
        .or_else(|| value.get("parameters")?.get("retry_after"))?
        .as_f64()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86400.0)))
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

/// 2xx is delivered; 408, 425, 429 and 5xx are retried (honouring the receiver's wait); a
/// redirect is never delivery: a temporary one (302, 303, 307) is retried with its `Location`
/// in the error, a permanent one (301, 308) or any other 3xx is dead, since the channel's URL
/// must be changed (their error names the status and the Location, not the body); any other
/// status is a refusal that retrying would not change.
pub fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    location: Option<&str>,
    answer: &str,
) -> SendOutcome {
    let code = status.as_u16();
    if status.is_redirection() {
        let location = shown_location(location);
        return match code {
            302 | 303 | 307 => SendOutcome::Retry {
                after: retry_after,
                reason: format!(
                    "HTTP {code}: redirected to {location}; redirects are not followed"
                ),
            },
            301 | 308 => SendOutcome::Rejected {
                reason: format!(
                    "HTTP {code}: moved permanently to {location}: update the channel's url"
                ),
            },
            _ => SendOutcome::Rejected {
                reason: format!("HTTP {code}: a redirect (to {location}) is not a delivery"),
            },
        };
    }
    if status.is_success() {
        SendOutcome::Delivered {
            answer: answer.to_owned(),
        }
    } else if matches!(code, 408 | 425 | 429) || status.is_server_error() {
        SendOutcome::Retry {
            after: retry_after,
            reason: answer.to_owned(),
        }
    } else {
        SendOutcome::Rejected {
            reason: answer.to_owned(),
        }
    }
}

/// A `Location` header as shown in an error: on one line, cut short, or `(none)`.
fn shown_location(location: Option<&str>) -> String {
    match location.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => l
            .chars()
            .filter(|c| !c.is_control())
            .take(LOCATION_CHARS)
            .collect(),
        None => "(no Location)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn classifies_statuses() {
        let wait = Some(Duration::from_secs(7));
        let cases: &[(&str, u16, Option<Duration>, &str)] = &[
            ("ok_is_delivered", 200, None, "delivered"),
            ("accepted_is_delivered", 202, None, "delivered"),
            ("no_content_is_delivered", 204, None, "delivered"),
            ("server_error_retries", 500, None, "retry"),
            ("bad_gateway_retries", 502, None, "retry"),
            ("unavailable_retries_after_hint", 503, wait, "retry"),
            ("too_many_requests_retries_after_hint", 429, wait, "retry"),
            ("request_timeout_retries", 408, None, "retry"),
            ("too_early_retries", 425, None, "retry"),
            ("bad_request_is_rejected", 400, None, "rejected"),
            ("not_found_is_rejected", 404, None, "rejected"),
            ("unauthorised_is_rejected", 401, None, "rejected"),
            ("gone_is_rejected", 410, None, "rejected"),
            ("payload_too_large_is_rejected", 413, None, "rejected"),
            ("moved_permanently_is_dead", 301, None, "rejected"),
            ("permanent_redirect_is_dead", 308, None, "rejected"),
            ("found_retries", 302, None, "retry"),
            ("see_other_retries", 303, None, "retry"),
            ("temporary_redirect_retries", 307, None, "retry"),
            ("multiple_choices_is_dead", 300, None, "rejected"),
            ("not_modified_is_not_delivery", 304, None, "rejected"),
        ];
        for (name, code, hint, want) in cases {
            let outcome = classify(
                StatusCode::from_u16(*code).expect("valid"),
                *hint,
                Some("https://elsewhere.test/x"),
                "x",
            );
            let got = match &outcome {
                SendOutcome::Delivered { .. } => "delivered",
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
    fn redirect_errors_name_the_location_and_what_to_do() {
        let cases = [
            (
                "permanent_says_update_the_url",
                301,
                Some("https://hooks.test/new"),
                "HTTP 301: moved permanently to https://hooks.test/new: update the channel's url",
            ),
            (
                "temporary_names_the_location",
                307,
                Some("/landing"),
                "HTTP 307: redirected to /landing; redirects are not followed",
            ),
            (
                "missing_location_is_said",
                302,
                None,
                "HTTP 302: redirected to (no Location); redirects are not followed",
            ),
            (
                "control_characters_are_dropped",
                308,
                Some("/a\r\nX-Evil: 1"),
                "HTTP 308: moved permanently to /aX-Evil: 1: update the channel's url",
            ),
        ];
        for (name, code, location, want) in cases {
            let status = StatusCode::from_u16(code).expect("valid");
            let outcome = classify(status, None, location, "HTTP 399: some page");
            assert_eq!(outcome.reason(), want, "{name}");
        }
    }

    /// A sink of `format` posting nowhere (only `split` is used).
    fn sink(format: WebhookFormat) -> WebhookSink {
        let config = WebhookChannel {
            url: url::Url::parse("http://127.0.0.1:9/hook").expect("valid"),
            format,
            secret: None,
            telegram: (format == WebhookFormat::Telegram)
                .then(|| (Secret::new("1:t".to_owned()), "-1".to_owned())),
            timeout: Duration::from_secs(1),
        };
        let templates =
            Templates::new(format, &Default::default()).expect("the default templates build");
        WebhookSink::new(&config, &ChannelOptions::default(), templates).expect("builds")
    }

    /// `n` alerts, each under its own topic, with long Arabic titles full of characters that
    /// the formats escape.
    fn long_alerts(n: usize) -> Vec<Delivery> {
        (0..n)
            .map(|i| {
                let mut d = crate::sink::sample::sample_delivery();
                d.idempotency_key = format!("k{i}");
                d.payload.topic_id = format!("t{i}");
                d.payload.topic_name = format!("موضوع {i}");
                d.payload.story.title = format!("{i} عنوان & <طويل> ").repeat(60);
                d.payload.story.summary += &" نص إضافي طويل".repeat(40);
                d
            })
            .collect()
    }

    #[test]
    fn digests_split_into_messages_that_keep_every_platforms_limits() {
        let mut split_formats = Vec::new();
        for format in WebhookFormat::ALL {
            let sink = sink(format);
            let (_, max_alerts) = platform_limits(format);
            let alerts = long_alerts(max_alerts);
            let refs: Vec<&Delivery> = alerts.iter().collect();
            let sizes = sink.split(&refs);
            assert_eq!(
                sizes.iter().sum::<usize>(),
                alerts.len(),
                "{format:?}: every alert is in a message"
            );
            assert!(sizes.iter().all(|n| *n >= 1), "{format:?}: {sizes:?}");
            let mut start = 0;
            for n in &sizes {
                let part = &refs[start..start + n];
                let view = message_view(part, chrono_tz::Tz::UTC, Some("-1"));
                let body = sink.templates.body_value(&view).expect("renders");
                assert_eq!(
                    crate::sink::limits::check(format, &body),
                    Ok(()),
                    "{format:?}: part of {n} at {start}"
                );
                start += n;
            }
            if sizes.len() > 1 {
                split_formats.push(format);
            }
        }
        // Before splitting, these digests went out whole and the platform refused them (or
        // the template cut alerts away).
        assert_eq!(
            split_formats,
            [
                WebhookFormat::Slack,
                WebhookFormat::Discord,
                WebhookFormat::Telegram,
                WebhookFormat::Mattermost
            ]
        );
    }

    #[test]
    fn reads_the_wait_from_discord_and_telegram_bodies() {
        let cases = [
            (
                "discord",
                r#"{"message":"rate limited","retry_after":1.5,"global":false}"#,
                Some(1500),
            ),
            (
                "telegram",
                r#"{"ok":false,"error_code":429,"parameters":{"retry_after":3}}"#,
                Some(3000),
            ),
            ("no_hint", r#"{"ok":false}"#, None),
            ("not_json", "slow down", None),
            ("negative", r#"{"retry_after":-1}"#, None),
        ];
        for (name, body, want) in cases {
            assert_eq!(
                retry_after_in_body(body).map(|d| d.as_millis()),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn answers_are_one_short_line() {
        let cases = [
            ("empty_body", 204, "", "HTTP 204"),
            ("body_kept", 200, "ok\n", "HTTP 200: ok"),
            (
                "breaks_removed",
                400,
                "bad\r\nrequest",
                "HTTP 400: bad  request",
            ),
        ];
        for (name, code, body, want) in cases {
            let status = StatusCode::from_u16(code).expect("valid");
            assert_eq!(answer(status, body), want, "{name}");
        }
        let long = "x".repeat(5000);
        assert_eq!(
            answer(StatusCode::OK, &long).len(),
            "HTTP 200: ".len() + ANSWER_BYTES
        );
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
