//! One conditional GET of one feed, classified into a `FetchOutcome`.
//!
//! Limits, and why: a connect timeout and a total timeout so that one dead server cannot hold a
//! poll slot; a body cap counted on decompressed bytes so that a gzip bomb or an endless stream
//! cannot exhaust memory; at most 5 redirects.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

/// The cache validators of a feed's last successful fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

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

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP status {0}")]
    Status(u16),
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
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        Ok(Fetcher {
            client,
            max_body,
            timeout,
        })
    }

    /// Fetches `url`, conditionally when `validators` are known.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> FetchOutcome {
        if url.scheme() == "file" {
            return self.fetch_file(url).await;
        }
        // The client's own timeout covers the request; this one also bounds the body loop.
        match tokio::time::timeout(self.timeout, self.fetch_http(url, validators)).await {
            Ok(outcome) => outcome,
            Err(_) => FetchOutcome::Failed(FetchError::Timeout(self.timeout)),
        }
    }

    async fn fetch_http(&self, url: &Url, validators: &Validators) -> FetchOutcome {
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
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return FetchOutcome::Failed(classify_error(&e, self.timeout)),
        };
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
    FetchError::Http(crate::error_chain(e))
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::to_owned)
}
