//! Story identity: the per-feed key of an item and the canonical form of its link, which tells
//! the same story apart when several feeds carry it. Pure.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

/// The key of an item within its feed, stable across polls: its guid, else its link, else a
/// hash of its title and date.
pub fn story_key(
    guid: Option<&str>,
    link: Option<&str>,
    title: &str,
    published: Option<DateTime<Utc>>,
) -> String {
    if let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) {
        return format!("guid:{guid}");
    }
    if let Some(link) = link.map(str::trim).filter(|l| !l.is_empty()) {
        return format!(
            "link:{}",
            canonical_url(link).unwrap_or_else(|| link.to_owned())
        );
    }
    let mut hash = Sha256::new();
    hash.update(crate::text::fold_str(title).as_bytes());
    hash.update([0]);
    if let Some(published) = published {
        hash.update(published.timestamp().to_be_bytes());
    }
    format!("hash:{}", hex(&hash.finalize()[..16]))
}

/// Query parameters that only track the reader and never change the page.
fn is_tracking_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["utm_", "at_", "mc_", "pk_"]
        .iter()
        .any(|p| name.starts_with(p))
        || [
            "fbclid", "gclid", "dclid", "msclkid", "ocid", "ref_src", "igshid", "yclid", "_ga",
            "cmpid",
        ]
        .contains(&name.as_str())
}

/// The link in a canonical form: http and https alike, lower-case host, no fragment, no default
/// port, no tracking parameters, the other parameters sorted. `None` when it is not a URL.
pub fn canonical_url(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if url.scheme() == "http" {
        url.set_scheme("https").ok()?;
    }
    url.set_fragment(None);
    if url.port() == Some(443) || url.port() == Some(80) {
        url.set_port(None).ok()?;
    }
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking_parameter(name))
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Some(url.to_string())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_links() {
        let cases = [
            (
                "drops_tracking_and_fragment",
                "https://News.Example/a?utm_source=x&id=3&fbclid=y#top",
                "https://news.example/a?id=3",
            ),
            (
                "http_and_https_alike",
                "http://news.example/a",
                "https://news.example/a",
            ),
            (
                "sorts_parameters",
                "https://news.example/a?b=2&a=1",
                "https://news.example/a?a=1&b=2",
            ),
            (
                "drops_default_port",
                "https://news.example:443/a",
                "https://news.example/a",
            ),
        ];
        for (name, link, want) in cases {
            assert_eq!(canonical_url(link).as_deref(), Some(want), "{name}");
        }
        assert_eq!(canonical_url("not a url"), None);
    }

    #[test]
    fn keys_prefer_guid_then_link_then_hash() {
        let when = DateTime::from_timestamp(1_700_000_000, 0);
        assert_eq!(
            story_key(Some("g1"), Some("https://x.example/"), "t", when),
            "guid:g1"
        );
        assert_eq!(
            story_key(None, Some("https://x.example/a?utm_source=z"), "t", when),
            "link:https://x.example/a"
        );
        let hashed = story_key(None, None, "عنوان", when);
        assert!(hashed.starts_with("hash:"));
        assert_eq!(
            hashed,
            story_key(Some("  "), None, "عُنوان", when),
            "folded titles give the same key"
        );
        assert_ne!(hashed, story_key(None, None, "عنوان", None));
    }
}
