//! URLs made fit to show: the userinfo (`user:password@`) and every query value replaced by
//! `***`, since feed URLs often carry a login or an API token. Everything that shows a feed URL
//! (logs, `last_error`, `rasad feeds`) goes through here. Pure.

use url::Url;

/// What replaces a secret.
const MASK: &str = "***";

/// `url` with its userinfo and query values masked: `https://u:p@h/rss?key=abc&x` becomes
/// `https://***@h/rss?key=***&x`. Text that is not an absolute URL is returned unchanged.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => redact_parsed(&parsed),
        Err(_) => url.to_owned(),
    }
}

/// A parsed URL, redacted as [`redact_url`] does.
pub fn redact_parsed(url: &Url) -> String {
    let mut shown = url.clone();
    if !url.username().is_empty() || url.password().is_some() {
        // Cannot fail on a URL that already has userinfo (it has a host).
        let _ = shown.set_password(None);
        let _ = shown.set_username(MASK);
    }
    if let Some(query) = url.query() {
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}={MASK}"),
                // A bare token (`?abcdef`) is a value too; a bare flag cannot be told apart.
                None if pair.len() >= 16 => MASK.to_owned(),
                None => pair.to_owned(),
            })
            .collect();
        shown.set_query(Some(&masked.join("&")));
    }
    shown.to_string()
}

/// `text` (an error message, say) with every `http://` or `https://` URL in it redacted. One
/// pass: each URL is found from where the last one ended.
pub fn redact_urls_in(text: &str) -> String {
    // ASCII lower-casing keeps every byte offset, so offsets in `lower` are offsets in `text`.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(start) = find_url_start(&lower[at..]).map(|found| at + found) {
        out.push_str(&text[at..start]);
        let tail = &text[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | '`'))
            .unwrap_or(tail.len());
        out.push_str(&redact_url(&tail[..end]));
        at = start + end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where the first `http://` or `https://` starts in already lower-cased text.
fn find_url_start(lower: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = lower[from..].find("http") {
        let at = from + found;
        let rest = &lower[at + 4..];
        if rest.starts_with("://") || rest.starts_with("s://") {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_query_values() {
        let cases = [
            (
                "plain_url_is_unchanged",
                "https://feeds.example/rss.xml",
                "https://feeds.example/rss.xml",
            ),
            (
                "user_and_password_are_masked",
                "https://reader:s3cret@feeds.example/rss",
                "https://***@feeds.example/rss",
            ),
            (
                "user_alone_is_masked",
                "https://token123@feeds.example/rss",
                "https://***@feeds.example/rss",
            ),
            (
                "query_values_are_masked_keys_kept",
                "https://feeds.example/rss?api_key=abc123&lang=ar",
                "https://feeds.example/rss?api_key=***&lang=***",
            ),
            (
                "a_bare_long_token_is_masked",
                "https://feeds.example/rss?0123456789abcdef0123",
                "https://feeds.example/rss?***",
            ),
            (
                "a_bare_short_flag_is_kept",
                "https://feeds.example/rss?full",
                "https://feeds.example/rss?full",
            ),
            (
                "both_at_once",
                "http://u:p@h.example:8080/a?t=x#frag",
                "http://***@h.example:8080/a?t=***#frag",
            ),
            (
                "not_a_url_is_unchanged",
                "feeds/local.xml",
                "feeds/local.xml",
            ),
        ];
        for (name, url, want) in cases {
            assert_eq!(redact_url(url), want, "{name}");
        }
    }

    #[test]
    fn redacts_every_url_inside_a_message() {
        let cases = [
            (
                "reqwest_error",
                "error sending request for url (https://u:pw@h.example/rss?key=k1): connection refused",
                "error sending request for url (https://***@h.example/rss?key=***): connection refused",
            ),
            (
                "two_urls",
                "moved from http://h.example/?a=1 to HTTPS://h.example/?a=2 now",
                "moved from http://h.example/?a=*** to https://h.example/?a=*** now",
            ),
            ("no_url", "HTTP status 500", "HTTP status 500"),
            (
                "arabic_around",
                "تعذر https://h.example/?t=سر للأسف",
                "تعذر https://h.example/?t=*** للأسف",
            ),
        ];
        for (name, text, want) in cases {
            assert_eq!(redact_urls_in(text), want, "{name}");
        }
    }

    /// A long message of URLs (a receiver's answer, a feed's error) used to be lower-cased
    /// again, and searched to its end for the other scheme, for every URL it held.
    #[test]
    fn a_message_of_many_urls_is_redacted_in_one_pass() {
        let text = "http://h.example/?k=v httpx ".repeat(20_000);
        let started = std::time::Instant::now();
        let shown = redact_urls_in(&text);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(shown.matches("k=***").count(), 20_000);
        assert!(!shown.contains("k=v"));
    }
}
