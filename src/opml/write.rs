//! The config's feeds written as an OPML 2.0 subscription list that any reader imports.

use chrono::{DateTime, Utc};

use super::RASAD_NAMESPACE;

/// One feed to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFeed {
    pub id: String,
    /// The outlet's name (`text` and `title`).
    pub name: String,
    pub url: String,
    /// The feed's own interval, when it differs from the config's default (`rasad:interval`).
    pub interval: Option<String>,
}

/// An OPML 2.0 document: `title` and `created` in its head, one `type="rss"` outline per feed
/// with `text`, `title` and `xmlUrl`, and our `rasad:id` (and `rasad:interval`) so that reading
/// it back gives the same feeds. Every value is escaped for an XML attribute.
pub fn write_opml(feeds: &[ExportFeed], title: &str, created: DateTime<Utc>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<opml version=\"2.0\" xmlns:rasad=\"{RASAD_NAMESPACE}\">\n  <head>\n    <title>{}</title>\n    <dateCreated>{}</dateCreated>\n  </head>\n  <body>\n",
        escaped(title),
        created.to_rfc2822()
    ));
    for feed in feeds {
        let name = escaped(&feed.name);
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\" rasad:id=\"{}\"",
            escaped(&feed.url),
            escaped(&feed.id),
        ));
        if let Some(interval) = &feed.interval {
            out.push_str(&format!(" rasad:interval=\"{}\"", escaped(interval)));
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// `value` as the text of an XML attribute or element: markup characters and quotes escaped,
/// white space controls as references (an attribute value would otherwise read them as
/// spaces), and the characters XML 1.0 does not allow dropped.
fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => {}
            _ => out.push(c),
        }
    }
    out
}
