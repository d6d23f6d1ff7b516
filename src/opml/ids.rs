//! The outlines' URLs checked and their ids made: valid for `rasad check` (ASCII letters,
//! digits, `-`, `_`, `.`) and unique, spelled from the name's Latin letters, else from the host.

use std::collections::{HashMap, HashSet};

use url::Url;

use super::read::Outline;
use super::{MAX_ID_BYTES, OpmlFeed};
use crate::config::is_valid_id;

/// Path segments that say nothing about which of a host's feeds a URL is.
const GENERIC_SEGMENTS: &[&str] = &[
    "rss",
    "rss2",
    "feed",
    "feeds",
    "atom",
    "index",
    "xml",
    "rdf",
    "syndication",
    "api",
    "v1",
];

/// The feeds among `outlines`: each URL checked and kept once, each with a unique id (an id
/// an export of ours wrote is kept when valid). What is skipped is said in `notes`.
pub(super) fn assign(outlines: Vec<Outline>, notes: &mut Vec<String>) -> Vec<OpmlFeed> {
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut kept: Vec<(Outline, Url)> = Vec::new();
    for outline in outlines {
        let url = match feed_url(&outline.xml_url) {
            Ok(url) => url,
            Err(why) => {
                notes.push(format!(
                    "line {}: {}: {why}: skipped",
                    outline.line,
                    shown(&outline)
                ));
                continue;
            }
        };
        if let Some(first) = first_line_of.get(url.as_str()) {
            notes.push(format!(
                "line {}: {}: the same URL as line {first} ({url}): skipped",
                outline.line,
                shown(&outline)
            ));
            continue;
        }
        first_line_of.insert(url.to_string(), outline.line);
        kept.push((outline, url));
    }
    // Ids given by the file are reserved first, so that a made one never takes them.
    let mut ids = Ids::default();
    let given: Vec<Option<String>> = kept
        .iter()
        .map(|(outline, _)| {
            let id = outline.id.clone().filter(|id| is_valid_id(id))?;
            ids.taken.insert(id.clone()).then_some(id)
        })
        .collect();
    kept.into_iter()
        .zip(given)
        .map(|((outline, url), given)| {
            let id = given.unwrap_or_else(|| ids.make(outline.name.as_deref(), &url));
            let shown = shown(&outline);
            let interval = outline.interval.filter(|i| {
                let ok = humantime::parse_duration(i).is_ok();
                if !ok {
                    notes.push(format!(
                        "line {}: {shown}: rasad:interval {i:?} is not a duration: left out",
                        outline.line
                    ));
                }
                ok
            });
            OpmlFeed {
                id,
                name: outline.name,
                url: url.to_string(),
                interval,
                folders: outline.folders,
                line: outline.line,
            }
        })
        .collect()
}

/// How a note names an outline.
fn shown(outline: &Outline) -> String {
    match &outline.name {
        Some(name) => format!("outline {name:?}"),
        None => "an outline without text".to_owned(),
    }
}

/// `xmlUrl` as an http or https URL. A `feed:` URL (an old way to say "open in a reader")
/// names the http one behind it.
fn feed_url(raw: &str) -> Result<Url, String> {
    let behind = raw
        .get(..5)
        .filter(|scheme| scheme.eq_ignore_ascii_case("feed:"))
        .map(|_| &raw[5..]);
    let text = match behind {
        Some(rest) if rest.starts_with("//") => format!("http:{rest}"),
        Some(rest) => rest.to_owned(),
        None => raw.to_owned(),
    };
    let url = Url::parse(&text).map_err(|e| format!("xmlUrl {raw:?} is not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        _ => Err(format!("xmlUrl {raw:?} is not an http or https URL")),
    }
}

/// The ids taken so far, and for each base the next number to try after it.
#[derive(Default)]
struct Ids {
    taken: HashSet<String>,
    next_number: HashMap<String, usize>,
}

impl Ids {
    /// A new id for a feed named `name` at `url`: the name's Latin words, else the host; if
    /// taken, with the path's telling segment, else with the first free number from 2.
    fn make(&mut self, name: Option<&str>, url: &Url) -> String {
        let from_name = name
            .map(|n| slug(n, false))
            .filter(|s| s.chars().filter(char::is_ascii_alphabetic).count() >= 2);
        let base = from_name
            .or_else(|| {
                let host = url.host_str()?;
                Some(slug(host.strip_prefix("www.").unwrap_or(host), true))
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "feed".to_owned());
        if self.taken.insert(base.clone()) {
            return base;
        }
        if let Some(hint) = path_hint(url) {
            let id = joined(&base, &hint);
            if self.taken.insert(id.clone()) {
                return id;
            }
        }
        // Kept per base, so that n feeds of one base cost n tries, not n².
        let number = self.next_number.entry(base.clone()).or_insert(2);
        loop {
            let id = joined(&base, &number.to_string());
            *number += 1;
            if self.taken.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// `base-suffix`, the base cut so that the whole stays within [`MAX_ID_BYTES`].
fn joined(base: &str, suffix: &str) -> String {
    let room = MAX_ID_BYTES.saturating_sub(suffix.len() + 1);
    let base = base[..base.len().min(room)].trim_end_matches(['-', '.']);
    format!("{base}-{suffix}")
}

/// The last segment of the URL's path that tells one of a host's feeds from another
/// (`/arabic/middleeast/rss.xml` → `middleeast`).
fn path_hint(url: &Url) -> Option<String> {
    url.path_segments()?
        .rev()
        .filter(|segment| !segment.contains('%'))
        .map(|segment| slug(segment.split('.').next().unwrap_or_default(), false))
        .find(|s| {
            s.chars().any(|c| c.is_ascii_alphabetic()) && !GENERIC_SEGMENTS.contains(&s.as_str())
        })
}

/// The ASCII letters and digits of `text` once folded (Latin lower-cased, accents and Arabic
/// digits made plain), each run of anything else one `-` (dots kept when `keep_dots`), within
/// [`MAX_ID_BYTES`].
fn slug(text: &str, keep_dots: bool) -> String {
    let folded = crate::text::fold_str(text);
    let mut out = String::new();
    let mut gap = false;
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() || (keep_dots && c == '.') {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
        if out.len() >= MAX_ID_BYTES {
            break;
        }
    }
    out.truncate(MAX_ID_BYTES);
    out.trim_matches(['-', '.']).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_latin_words_and_drop_the_rest() {
        let cases = [
            ("latin_words", "Al Jazeera Net", false, "al-jazeera-net"),
            ("arabic_and_latin", "BBC عربي", false, "bbc"),
            (
                "accents_folded",
                "Le Monde Afrique – Économie",
                false,
                "le-monde-afrique-economie",
            ),
            ("arabic_only", "الجزيرة نت", false, ""),
            ("arabic_digits_folded", "قناة ٢٤", false, "24"),
            (
                "host_keeps_dots",
                "feeds.bbci.co.uk",
                true,
                "feeds.bbci.co.uk",
            ),
            ("no_edge_separators", "  -- CNN! --", false, "cnn"),
        ];
        for (name, text, dots, want) in cases {
            assert_eq!(slug(text, dots), want, "{name}");
        }
    }

    #[test]
    fn long_names_make_ids_within_the_bound() {
        let id = slug(&"word ".repeat(100), false);
        assert!(id.len() <= MAX_ID_BYTES && is_valid_id(&id), "{id}");
        let joined = joined(&id, "1234");
        assert!(
            joined.len() <= MAX_ID_BYTES && joined.ends_with("-1234"),
            "{joined}"
        );
    }

    #[test]
    fn feed_urls_are_http_or_https() {
        let cases = [
            ("https", "https://a.test/rss", Ok("https://a.test/rss")),
            ("feed_scheme", "feed://a.test/rss", Ok("http://a.test/rss")),
            (
                "feed_prefix",
                "feed:https://a.test/rss",
                Ok("https://a.test/rss"),
            ),
            ("ftp", "ftp://a.test/rss", Err(())),
            ("relative", "/rss.xml", Err(())),
            ("mailto", "mailto:a@a.test", Err(())),
        ];
        for (name, raw, want) in cases {
            let got = feed_url(raw).map(|u| u.to_string()).map_err(|_| ());
            assert_eq!(got, want.map(str::to_owned), "{name}");
        }
    }

    #[test]
    fn ids_taken_get_the_path_then_a_number() {
        let mut ids = Ids::default();
        let url = |u: &str| Url::parse(u).unwrap();
        let made: Vec<String> = [
            (
                Some("الشرق الأوسط"),
                "https://feeds.bbci.co.uk/arabic/middleeast/rss.xml",
            ),
            (
                Some("اقتصاد"),
                "https://feeds.bbci.co.uk/arabic/business/rss.xml",
            ),
            (Some("رياضة"), "https://feeds.bbci.co.uk/arabic/rss.xml"),
            (Some("فن"), "https://feeds.bbci.co.uk/arabic/rss.xml?x=1"),
            (None, "https://www.aljazeera.net/rss"),
            (Some("BBC Arabic"), "https://a.test/1"),
            (Some("BBC Arabic"), "https://a.test/2"),
            (Some("BBC Arabic"), "https://a.test/3"),
        ]
        .iter()
        .map(|(name, u)| ids.make(*name, &url(u)))
        .collect();
        assert_eq!(
            made,
            [
                "feeds.bbci.co.uk",
                "feeds.bbci.co.uk-business",
                "feeds.bbci.co.uk-arabic",
                "feeds.bbci.co.uk-2",
                "aljazeera.net",
                "bbc-arabic",
                "bbc-arabic-2",
                "bbc-arabic-3",
            ]
        );
    }
}
