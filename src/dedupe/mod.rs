//! Story identity: the per-feed key of an item, the canonical form of its link, and (in
//! `fingerprint`) the near-duplicate test that groups one story's copies across outlets. Pure.

mod entities;
mod fingerprint;
pub mod index;

pub use fingerprint::{
    ClusterPolicy, DEFAULT_WINDOW, LEAD_WORDS, MAX_CANDIDATES, fingerprint, shared_terms,
};
pub use index::ClusterIndex;

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use url::Url;

use crate::model::Story;

/// Re-keys the items of one poll of the feed at `feed_url`, now that all of them are known: the
/// guid when it is trustworthy, else the canonical link, else a hash of the folded title and
/// summary. A guid is not trusted when it is empty, equals the feed's own URL or link, or is
/// shared by several items of the poll (CMSs that write the site URL into every guid).
pub fn assign_keys(stories: &mut [Story], feed_url: &str) {
    let mut guid_count: HashMap<String, usize> = HashMap::new();
    for story in stories.iter() {
        if let Some(guid) = story.guid.as_deref().map(str::trim) {
            *guid_count.entry(guid.to_owned()).or_default() += 1;
        }
    }
    let feed_canonical = canonical_url(feed_url);
    for story in stories.iter_mut() {
        let guid = story.guid.as_deref().map(str::trim).filter(|g| {
            !g.is_empty()
                && guid_count.get(*g).copied().unwrap_or(0) <= 1
                && (feed_canonical.is_none() || canonical_url(g) != feed_canonical)
        });
        story.key = story_key(guid, story.url.as_deref(), &story.title, &story.summary);
    }
}

/// The key of one item within its feed, stable across polls: `guid:…`, else `link:…`
/// (canonical), else `hash:…` of the folded title and summary. The only key function: a story
/// is keyed by [`assign_keys`], which decides first whether its guid can be trusted.
pub fn story_key(guid: Option<&str>, link: Option<&str>, title: &str, summary: &str) -> String {
    if let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) {
        return format!("guid:{guid}");
    }
    if let Some(link) = link.map(str::trim).filter(|l| !l.is_empty()) {
        return format!(
            "link:{}",
            canonical_url(link).unwrap_or_else(|| link.to_owned())
        );
    }
    format!("hash:{}", content_hash(title, summary))
}

/// A hash of the folded title and summary: tells an item edited in place from a repeat.
pub fn content_hash(title: &str, summary: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(crate::text::fold_str(title).as_bytes());
    hash.update([0]);
    hash.update(crate::text::fold_str(summary).as_bytes());
    hex(&hash.finalize()[..16])
}

/// The identities that make two items of different feeds one story without comparing their
/// text: the canonical link, and the guid (canonical when it is a URL, else qualified by the
/// feed's host, since a CMS numbers only its own site).
pub fn identities(story: &Story, feed_url: &str) -> Vec<String> {
    let mut ids = Vec::new();
    if let Some(link) = story.url.as_deref().and_then(canonical_url) {
        ids.push(format!("url:{link}"));
    }
    if let Some(guid) = story.key.strip_prefix("guid:") {
        match canonical_url(guid) {
            Some(url) => ids.push(format!("url:{url}")),
            None => {
                let host = Url::parse(feed_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_default();
                ids.push(format!("guid:{host}:{guid}"));
            }
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Query parameters that only track the reader and never change the page.
fn is_tracking_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["utm_", "at_", "mc_", "pk_", "hsa_", "oly_", "vero_"]
        .iter()
        .any(|p| name.starts_with(p))
        || [
            "fbclid",
            "gclid",
            "dclid",
            "msclkid",
            "ocid",
            "ref_src",
            "igshid",
            "yclid",
            "_ga",
            "cmpid",
            "ref",
            "spm",
            "smid",
            "cmp",
            "ito",
            "wt_mc",
            "sref",
            "share",
            "ns_mchannel",
            "ns_source",
            "ns_campaign",
        ]
        .contains(&name.as_str())
}

/// The link in a canonical form: http and https alike, lower-case host, no fragment, no default
/// port, no tracking parameters, the other parameters sorted, no trailing slash, and the AMP
/// forms (`amp.` host, `/amp` path segment, `?amp`) folded into the page they copy. `None` when
/// it is not an http(s) URL.
pub fn canonical_url(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if url.scheme() == "http" {
        url.set_scheme("https").ok()?;
    }
    if url.scheme() != "https" {
        return None;
    }
    url.set_fragment(None);
    if url.port() == Some(443) || url.port() == Some(80) {
        url.set_port(None).ok()?;
    }
    if let Some(host) = url
        .host_str()
        .and_then(|h| h.strip_prefix("amp."))
        .map(str::to_owned)
    {
        url.set_host(Some(&host)).ok()?;
    }
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| {
            s.filter(|seg| !seg.is_empty() && !seg.eq_ignore_ascii_case("amp"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    url.set_path(&format!("/{}", segments.join("/")));
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking_parameter(name) && !name.eq_ignore_ascii_case("amp"))
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

    /// A table of named cases, one row per case: it is as long as its table, and reads top to bottom.
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
            (
                "lower_case_scheme_and_host",
                "HTTPS://WWW.News.Example/A",
                "https://www.news.example/A",
            ),
            (
                "drops_default_http_port",
                "http://news.example:80/a",
                "https://news.example/a",
            ),
            (
                "keeps_other_ports",
                "https://news.example:8443/a",
                "https://news.example:8443/a",
            ),
            (
                "drops_trailing_slash",
                "https://news.example/a/b/",
                "https://news.example/a/b",
            ),
            (
                "amp_path_segment",
                "https://news.example/amp/news/1",
                "https://news.example/news/1",
            ),
            (
                "amp_path_suffix",
                "https://news.example/news/1/amp",
                "https://news.example/news/1",
            ),
            (
                "amp_query_key",
                "https://news.example/news/1?amp",
                "https://news.example/news/1",
            ),
            (
                "amp_query_value",
                "https://news.example/news/1?amp=1&id=2",
                "https://news.example/news/1?id=2",
            ),
            (
                "amp_host",
                "https://amp.news.example/n/1",
                "https://news.example/n/1",
            ),
            (
                "every_tracking_family",
                "https://news.example/a?at_medium=x&mc_cid=1&mc_eid=2&gclid=3&ocid=4&utm_campaign=5&x=1",
                "https://news.example/a?x=1",
            ),
            (
                "percent_encoded_arabic_path_kept",
                "https://news.example/%D8%AF%D9%81%D8%B9%D8%A9/?fbclid=IwAR",
                "https://news.example/%D8%AF%D9%81%D8%B9%D8%A9",
            ),
            (
                "root_stays",
                "https://news.example/",
                "https://news.example/",
            ),
        ];
        for (name, link, want) in cases {
            assert_eq!(canonical_url(link).as_deref(), Some(want), "{name}");
        }
        assert_eq!(canonical_url("not a url"), None);
        assert_eq!(canonical_url("mailto:desk@news.example"), None);
    }

    #[test]
    fn keys_prefer_guid_then_link_then_hash() {
        assert_eq!(
            story_key(Some("g1"), Some("https://x.example/"), "t", "s"),
            "guid:g1"
        );
        assert_eq!(
            story_key(None, Some("https://x.example/a?utm_source=z"), "t", "s"),
            "link:https://x.example/a"
        );
        let hashed = story_key(None, None, "عنوان", "نص");
        assert!(hashed.starts_with("hash:"));
        assert_eq!(
            hashed,
            story_key(Some("  "), None, "عُنوان", "نص"),
            "folded titles give the same key"
        );
        assert_ne!(hashed, story_key(None, None, "عنوان", "نص آخر"));
    }

    fn item(guid: Option<&str>, link: Option<&str>, title: &str) -> Story {
        Story {
            feed: "f".into(),
            key: String::new(),
            title: title.into(),
            summary_html: String::new(),
            summary: "ملخص".into(),
            content_html: String::new(),
            content: String::new(),
            url: link.map(str::to_owned),
            guid: guid.map(str::to_owned),
            published: None,
            fetched: chrono::DateTime::default(),
        }
    }

    #[test]
    fn trusts_only_guids_that_tell_items_apart() {
        let feed = "https://news.example/rss";
        let cases: [(&str, Vec<Story>, Vec<&str>); 4] = [
            (
                "distinct_guids_are_kept",
                vec![item(Some("a1"), None, "x"), item(Some("a2"), None, "y")],
                vec!["guid:a1", "guid:a2"],
            ),
            (
                "shared_guid_falls_back_to_links",
                vec![
                    item(
                        Some("https://news.example/"),
                        Some("https://news.example/1?utm_source=r"),
                        "x",
                    ),
                    item(
                        Some("https://news.example/"),
                        Some("https://news.example/2"),
                        "y",
                    ),
                ],
                vec!["link:https://news.example/1", "link:https://news.example/2"],
            ),
            (
                "guid_equal_to_feed_url_is_ignored",
                vec![item(
                    Some("http://news.example/rss"),
                    Some("https://news.example/3"),
                    "x",
                )],
                vec!["link:https://news.example/3"],
            ),
            (
                "no_guid_no_link_hashes_title_and_summary",
                vec![item(None, None, "عُنوان")],
                vec!["hash:"],
            ),
        ];
        for (name, mut stories, want) in cases {
            assign_keys(&mut stories, feed);
            let keys: Vec<&str> = stories.iter().map(|s| s.key.as_str()).collect();
            for (key, want) in keys.iter().zip(&want) {
                assert!(
                    key.starts_with(want) && (want.ends_with(':') || key == want),
                    "{name}: {key}"
                );
            }
        }
        let mut a = vec![item(None, None, "عُنوان")];
        let mut b = vec![item(None, None, "عنوان")];
        assign_keys(&mut a, feed);
        assign_keys(&mut b, feed);
        assert_eq!(a[0].key, b[0].key, "the same item keys alike on every poll");
    }

    #[test]
    fn identities_join_feeds_of_one_outlet() {
        let mut one = item(
            Some("https://news.example/?p=7"),
            Some("https://news.example/7/x/"),
            "t",
        );
        let mut two = item(
            Some("https://news.example/?p=7"),
            Some("http://news.example/7/x"),
            "t",
        );
        one.key = "guid:https://news.example/?p=7".into();
        two.key = one.key.clone();
        assert_eq!(
            identities(&one, "https://news.example/rss"),
            identities(&two, "https://news.example/rss/a")
        );
        let mut drupal = item(Some("12 at https://ia.example"), None, "t");
        drupal.key = "guid:12 at https://ia.example".into();
        assert_eq!(
            identities(&drupal, "https://ia.example/rss"),
            vec!["guid:ia.example:12 at https://ia.example"]
        );
    }
}
