//! One conditional GET of one feed, classified into a `FetchOutcome`.
//!
//! Limits, and why: a connect timeout and a total timeout so that one dead server cannot hold a
//! poll slot; a body cap counted on decompressed bytes so that a gzip bomb or an endless stream
//! cannot exhaust memory; at most 5 redirects, never from https to http; at most `per_host`
//! requests at a time to one host (host and port), so that many feeds of one outlet do not
//! hammer it; no redirect from a public address to a private one (`address`), unless allowed.
//!
//! A fetch runs in a [`HostTurn`]: [`Fetcher::fetch`] waits for one itself, while a poll takes
//! its turn before its poll slot (`app::slots`) and hands it to [`Fetcher::fetch_with_hints`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::source::address::{addresses, refused_hop};

/// Redirects followed before a fetch fails.
pub const MAX_REDIRECTS: usize = 5;

/// What the server said about when to come back and where the feed now lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHints {
    /// How long the response stays fresh (`Cache-Control: max-age`, or `Expires`).
    pub fresh_for: Option<Duration>,
    /// The feed moved for good (301 or 308 at every hop): its new URL.
    pub permanent_redirect: Option<Url>,
}

pub use crate::model::Validators;

/// What one fetch gave.
#[derive(Debug)]
pub enum FetchOutcome {
    /// A new body, with the validators to send next time.
    Modified {
        body: Vec<u8>,
        content_type: Option<String>,
        validators: Validators,
    },
    /// 304: nothing changed since the validators we sent.
    NotModified,
    /// 429 or 503: the server asks us to wait.
    RateLimited {
        status: u16,
        retry_after: Option<Duration>,
    },
    Failed(FetchError),
}

impl FetchOutcome {
    /// The outcome as a metric label: `2xx`, `304`, `4xx`, `5xx`, or `error` when no HTTP
    /// answer came (timeout, refused, too large).
    pub fn status_class(&self) -> &'static str {
        let class = |status: u16| match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        match self {
            FetchOutcome::Modified { .. } => "2xx",
            FetchOutcome::NotModified => "304",
            FetchOutcome::RateLimited { status, .. }
            | FetchOutcome::Failed(FetchError::Status(status)) => class(*status),
            FetchOutcome::Failed(_) => "error",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("more than {MAX_REDIRECTS} redirects (last to {0})")]
    TooManyRedirects(String),
    #[error("refused to follow a redirect from https to http ({0})")]
    Downgrade(String),
    #[error(
        "refused to follow a redirect from a public address to {url} ({ip}, not a public address); poll.allow_private_redirects = true allows it"
    )]
    PrivateRedirect { url: String, ip: std::net::IpAddr },
    #[error("redirect {status} without a usable Location")]
    BadRedirect { status: u16 },
    #[error("body larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Http(String),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

/// Settings shared by every fetch.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: u64,
    timeout: Duration,
    per_host: usize,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    /// Follow redirects from public addresses to private ones (`poll.allow_private_redirects`).
    allow_private_redirects: bool,
}

/// Requests to one host at a time, unless configured otherwise (`poll.per_host`).
pub const DEFAULT_PER_HOST: usize = 2;

/// A turn at one host: while it is held, fewer than `per_host` other fetches run against that
/// host (see [`Fetcher::host_turn`]). A `file:` URL has no host, and its turn holds nothing.
#[derive(Debug)]
pub struct HostTurn {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Fetcher {
    pub fn new(
        user_agent: &str,
        connect_timeout: Duration,
        timeout: Duration,
        max_body: u64,
    ) -> Result<Fetcher, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(connect_timeout)
            .read_timeout(timeout)
            .timeout(timeout)
            // Redirects are followed by hand, to refuse downgrades and see permanent moves.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Fetcher {
            client,
            max_body,
            timeout,
            per_host: DEFAULT_PER_HOST,
            hosts: Arc::default(),
            allow_private_redirects: false,
        })
    }

    /// The same fetcher, following redirects from public to private addresses when `allow`.
    pub fn with_private_redirects(mut self, allow: bool) -> Fetcher {
        self.allow_private_redirects = allow;
        self
    }

    /// The same fetcher with at most `per_host` requests at a time to one host.
    pub fn with_per_host(mut self, per_host: usize) -> Fetcher {
        self.per_host = per_host.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// The semaphore that limits requests to `url`'s host (`None` for a `file:` URL).
    fn host_slots(&self, url: &Url) -> Option<Arc<Semaphore>> {
        if url.scheme() == "file" {
            return None;
        }
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self
            .hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let slots = hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)));
        Some(slots.clone())
    }

    /// Waits for a turn at `url`'s host; turns are given first come, first served.
    pub async fn host_turn(&self, url: &Url) -> HostTurn {
        let Some(slots) = self.host_slots(url) else {
            return HostTurn { _permit: None };
        };
        let permit = slots
            .acquire_owned()
            .await
            .expect("a host semaphore is never closed");
        HostTurn {
            _permit: Some(permit),
        }
    }

    /// A turn at `url`'s host if one is free now; `None` while the host is busy or others
    /// wait for it (they keep their place).
    pub fn try_host_turn(&self, url: &Url) -> Option<HostTurn> {
        match self.host_slots(url) {
            None => Some(HostTurn { _permit: None }),
            Some(slots) => slots.try_acquire_owned().ok().map(|permit| HostTurn {
                _permit: Some(permit),
            }),
        }
    }

    /// Whether a turn at `url`'s host is free now (nobody waits for one).
    pub fn has_free_turn(&self, url: &Url) -> bool {
        self.host_slots(url)
            .is_none_or(|slots| slots.available_permits() > 0)
    }

    /// Fetches `url`, conditionally when `validators` are known, in a turn at its host.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> FetchOutcome {
        let turn = self.host_turn(url).await;
        self.fetch_with_hints(url, validators, turn).await.0
    }

    /// Fetches `url` like [`Fetcher::fetch`] in `turn`, a turn at its host that ends with the
    /// fetch, with what the server said about freshness and permanent moves.
    pub async fn fetch_with_hints(
        &self,
        url: &Url,
        validators: &Validators,
        turn: HostTurn,
    ) -> (FetchOutcome, ServerHints) {
        let _turn = turn;
        if url.scheme() == "file" {
            return (self.fetch_file(url).await, ServerHints::default());
        }
        // The client's own timeout covers each request; this one bounds redirects and the body.
        match tokio::time::timeout(self.timeout, self.fetch_http(url, validators)).await {
            Ok(outcome) => outcome,
            Err(_) => (
                FetchOutcome::Failed(FetchError::Timeout(self.timeout)),
                ServerHints::default(),
            ),
        }
    }

    /// One GET, following redirects: at most [`MAX_REDIRECTS`], never from https to http.
    async fn send_following(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<(reqwest::Response, Option<Url>), FetchError> {
        let mut current = url.clone();
        let mut all_permanent = true;
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .request(&current, validators)
                .send()
                .await
                .map_err(|e| classify_error(&e, self.timeout))?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                let moved = (all_permanent && &current != url).then_some(current);
                return Ok((response, moved));
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let next = next_hop(&current, status.as_u16(), location)?;
            if !self.allow_private_redirects
                && let Some(ip) = refused_hop(&addresses(&current).await, &addresses(&next).await)
            {
                return Err(FetchError::PrivateRedirect {
                    url: next.to_string(),
                    ip,
                });
            }
            all_permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            current = next;
        }
        Err(FetchError::TooManyRedirects(crate::redact::redact_parsed(
            &current,
        )))
    }

    fn request(&self, url: &Url, validators: &Validators) -> reqwest::RequestBuilder {
        let mut request = self.client.get(url.clone()).header(
            header::ACCEPT,
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        );
        if let Some(etag) = &validators.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &validators.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, modified);
        }
        request
    }

    async fn fetch_http(&self, url: &Url, validators: &Validators) -> (FetchOutcome, ServerHints) {
        let (response, permanent_redirect) = match self.send_following(url, validators).await {
            Ok(sent) => sent,
            Err(e) => return (FetchOutcome::Failed(e), ServerHints::default()),
        };
        let hints = ServerHints {
            fresh_for: fresh_for(response.headers()),
            permanent_redirect,
        };
        (self.classify(response).await, hints)
    }

    /// The final response as an outcome, its body read up to the cap.
    async fn classify(&self, mut response: reqwest::Response) -> FetchOutcome {
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return FetchOutcome::NotModified;
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = crate::retry_after::retry_after(response.headers());
            return FetchOutcome::RateLimited {
                status: status.as_u16(),
                retry_after,
            };
        }
        if !status.is_success() {
            return FetchOutcome::Failed(FetchError::Status(status.as_u16()));
        }
        if response.content_length().is_some_and(|n| n > self.max_body) {
            return FetchOutcome::Failed(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > self.max_body {
                        return FetchOutcome::Failed(FetchError::TooLarge {
                            limit: self.max_body,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return FetchOutcome::Failed(classify_error(&e, self.timeout)),
            }
        }
        FetchOutcome::Modified {
            body,
            content_type: header_string(&headers, header::CONTENT_TYPE),
            validators: Validators {
                etag: header_string(&headers, header::ETAG),
                last_modified: header_string(&headers, header::LAST_MODIFIED),
            },
        }
    }

    async fn fetch_file(&self, url: &Url) -> FetchOutcome {
        let path = match url.to_file_path() {
            Ok(path) => path,
            Err(()) => {
                return FetchOutcome::Failed(FetchError::Http(format!(
                    "{url} is not a local file path"
                )));
            }
        };
        let file_error = |source| FetchError::File {
            path: path.display().to_string(),
            source,
        };
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.len() > self.max_body => {
                return FetchOutcome::Failed(FetchError::TooLarge {
                    limit: self.max_body,
                });
            }
            Ok(_) => {}
            Err(e) => return FetchOutcome::Failed(file_error(e)),
        }
        match tokio::fs::read(&path).await {
            Ok(body) => FetchOutcome::Modified {
                body,
                content_type: None,
                validators: Validators::default(),
            },
            Err(e) => FetchOutcome::Failed(file_error(e)),
        }
    }
}

fn classify_error(e: &reqwest::Error, timeout: Duration) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout(timeout);
    }
    // reqwest names the URL, which may hold a login or a token.
    FetchError::Http(crate::redact::redact_urls_in(&crate::error_chain(e)))
}

/// Where a redirect from `current` leads: `Location` resolved against it; refused when it
/// would leave https for http.
pub fn next_hop(current: &Url, status: u16, location: Option<&str>) -> Result<Url, FetchError> {
    let next = location
        .and_then(|location| current.join(location).ok())
        .ok_or(FetchError::BadRedirect { status })?;
    if current.scheme() == "https" && next.scheme() == "http" {
        return Err(FetchError::Downgrade(crate::redact::redact_parsed(&next)));
    }
    Ok(next)
}

/// How long a response stays fresh: `Cache-Control: max-age` (`no-store`/`no-cache`: not at
/// all), else `Expires` minus `Date`. `None` when the server says nothing.
pub fn fresh_for(headers: &HeaderMap) -> Option<Duration> {
    if let Some(control) = header_string(headers, header::CACHE_CONTROL) {
        for directive in control.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return Some(Duration::ZERO);
            }
            if let Some(seconds) = lower.strip_prefix("max-age=") {
                return seconds
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
    }
    let expires = header_string(headers, header::EXPIRES)?;
    let expires = chrono::DateTime::parse_from_rfc2822(&expires).ok()?;
    let now = header_string(headers, header::DATE)
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(&d).ok())
        .map_or_else(chrono::Utc::now, |d| d.with_timezone(&chrono::Utc));
    Some(
        (expires.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_fetch_outcomes_by_status() {
        let cases: &[(&str, FetchOutcome, &str)] = &[
            (
                "a new body is 2xx",
                FetchOutcome::Modified {
                    body: Vec::new(),
                    content_type: None,
                    validators: Default::default(),
                },
                "2xx",
            ),
            ("not modified is 304", FetchOutcome::NotModified, "304"),
            (
                "rate limited 429 is 4xx",
                FetchOutcome::RateLimited {
                    status: 429,
                    retry_after: None,
                },
                "4xx",
            ),
            (
                "a 503 is 5xx",
                FetchOutcome::RateLimited {
                    status: 503,
                    retry_after: None,
                },
                "5xx",
            ),
            (
                "a 404 is 4xx",
                FetchOutcome::Failed(FetchError::Status(404)),
                "4xx",
            ),
            (
                "a timeout has no status",
                FetchOutcome::Failed(FetchError::Timeout(Duration::from_secs(1))),
                "error",
            ),
        ];
        for (name, outcome, want) in cases {
            assert_eq!(outcome.status_class(), *want, "{name}");
        }
    }

    #[test]
    fn follows_redirects_named_cases() {
        let https = Url::parse("https://outlet.example/feed.xml").expect("a URL");
        let http = Url::parse("http://outlet.example/feed.xml").expect("a URL");
        // (name, from, Location, next URL or error)
        type Case<'a> = (&'a str, &'a Url, Option<&'a str>, Result<&'a str, &'a str>);
        let cases: [Case; 5] = [
            (
                "relative_location",
                &https,
                Some("/rss/ar.xml"),
                Ok("https://outlet.example/rss/ar.xml"),
            ),
            (
                "upgrade_to_https",
                &http,
                Some("https://outlet.example/x"),
                Ok("https://outlet.example/x"),
            ),
            (
                "http_to_http",
                &http,
                Some("http://other.example/x"),
                Ok("http://other.example/x"),
            ),
            (
                "downgrade_refused",
                &https,
                Some("http://outlet.example/x"),
                Err("refused to follow a redirect from https to http (http://outlet.example/x)"),
            ),
            (
                "no_location",
                &https,
                None,
                Err("redirect 301 without a usable Location"),
            ),
        ];
        for (name, from, location, want) in cases {
            let got = next_hop(from, 301, location)
                .map(|u| u.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(got.as_deref().map_err(String::as_str), want, "{name}");
        }
    }

    #[test]
    fn reads_freshness_named_cases() {
        const DATE: &str = "Sun, 29 Nov 2026 10:00:00 GMT";
        type Headers = &'static [(&'static str, &'static str)];
        let cases: [(&str, Headers, Option<u64>); 6] = [
            (
                "max_age",
                &[("cache-control", "public, max-age=900")],
                Some(900),
            ),
            ("no_store", &[("cache-control", "no-store")], Some(0)),
            (
                "max_age_beats_expires",
                &[
                    ("cache-control", "max-age=60"),
                    ("expires", "Sun, 29 Nov 2026 11:00:00 GMT"),
                    ("date", DATE),
                ],
                Some(60),
            ),
            (
                "expires_minus_date",
                &[("expires", "Sun, 29 Nov 2026 11:00:00 GMT"), ("date", DATE)],
                Some(3600),
            ),
            (
                "expires_in_the_past",
                &[("expires", "Sun, 29 Nov 2026 09:00:00 GMT"), ("date", DATE)],
                Some(0),
            ),
            ("nothing_said", &[], None),
        ];
        for (name, headers, want) in cases {
            let mut map = HeaderMap::new();
            for (k, v) in headers {
                map.insert(
                    header::HeaderName::from_static(k),
                    HeaderValue::from_str(v).expect("ascii"),
                );
            }
            assert_eq!(fresh_for(&map), want.map(Duration::from_secs), "{name}");
        }
    }
}
