//! The `Retry-After` HTTP header, in seconds or as an HTTP date: how long a server asks us to
//! wait. Read by the feed fetcher and the webhook sink alike.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The wait a `Retry-After` header asks for; `None` when absent, unreadable or in the past.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_retry_after_in_both_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(600)).to_rfc2822();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).expect("ascii"));
        let wait = retry_after(&headers).expect("a date in the future");
        assert!(
            wait > Duration::from_secs(590) && wait <= Duration::from_secs(600),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
