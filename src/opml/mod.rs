//! OPML subscription lists, both ways: an export of a feed reader (Feedly, Inoreader, Miniflux,
//! NetNewsWire…) read into `[[feed]]` tables that `rasad check` accepts, and the config's feeds
//! written as OPML 2.0. Pure: bytes in, text out.
//!
//! Reading keeps every outline with an `xmlUrl`, at any depth of folders, named by its `text`
//! (else `title`); its id comes from the name's Latin letters, else from the feed's host (an
//! Arabic-only name has none to spell an id with), made unique. What cannot become a feed (an
//! outline without `xmlUrl`, a URL that is not http or https, the same URL twice) is skipped
//! with a note naming its line, so that nothing is dropped silently.
//!
//! Two attributes of our own, `rasad:id` and `rasad:interval`, carry what OPML has no word for:
//! an export read back gives the same feeds.

mod ids;
mod read;
mod write;

pub use write::{ExportFeed, write_opml};

/// The largest OPML file read: the bound on a feed body's default `poll.max_body`. A reader's
/// export of thousands of feeds is a few hundred KiB.
pub const MAX_OPML_BYTES: usize = 10 * 1024 * 1024;
/// The deepest nesting of elements read (`opml` > `body` > folders > outline): readers nest
/// folders two or three deep; a document deeper than this is not a subscription list.
pub const MAX_DEPTH: usize = 64;
/// The longest feed name kept, in characters (a name is shown in every alert).
pub const MAX_NAME_CHARS: usize = 200;
/// The longest id made, in bytes.
pub const MAX_ID_BYTES: usize = 64;

/// The namespace of the attributes rasad adds to the outlines it writes.
pub const RASAD_NAMESPACE: &str = "urn:rasad:opml";

/// One feed read from an OPML file, with an id valid and unique among those read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    pub id: String,
    /// The outline's `text` or `title`; `None` when it had neither (the id is then shown).
    pub name: Option<String>,
    /// An http or https URL.
    pub url: String,
    /// `rasad:interval`, when the outline was written by rasad for a feed with its own.
    pub interval: Option<String>,
    /// The folders the outline sits in, outermost first.
    pub folders: Vec<String>,
    /// The line of the outline in the file.
    pub line: usize,
}

/// What an OPML file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// The `head` `title`, if any.
    pub title: Option<String>,
    pub feeds: Vec<OpmlFeed>,
    /// One line per outline skipped and why, naming its line.
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpmlError {
    #[error("{size} bytes is over the bound of {max} bytes for an OPML file")]
    TooLarge { size: usize, max: usize },
    #[error("line {line}: not well-formed XML: {message}")]
    NotXml { line: usize, message: String },
    #[error("line {line}: elements nested deeper than {max}: not a subscription list")]
    TooDeep { line: usize, max: usize },
    #[error("the document is <{root}>, not <opml>")]
    NotOpml { root: String },
    #[error("the document holds no element: not OPML")]
    Empty,
    #[error("the <opml> document has no <body>, where the feeds are listed")]
    NoBody,
}

/// Reads an OPML file's bytes (UTF-8, or the charset its XML declaration names) into feeds.
///
/// ```
/// let opml = r#"<opml version="2.0"><body><outline text="News">
///   <outline text="BBC عربي" xmlUrl="https://feeds.bbci.co.uk/arabic/rss.xml"/>
/// </outline></body></opml>"#;
/// let imported = rasad::opml::read_opml(opml.as_bytes()).unwrap();
/// assert_eq!(imported.feeds[0].id, "bbc");
/// assert_eq!(imported.feeds[0].folders, ["News"]);
/// ```
pub fn read_opml(bytes: &[u8]) -> Result<Imported, OpmlError> {
    if bytes.len() > MAX_OPML_BYTES {
        return Err(OpmlError::TooLarge {
            size: bytes.len(),
            max: MAX_OPML_BYTES,
        });
    }
    // UTF-8 is read as it is, so that lines count as in the file; anything else is decoded as
    // feeds are (its declaration dropped).
    let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => crate::source::decode::decode(bytes, None).text,
    };
    let document = read::outlines(&text)?;
    let mut notes = document.notes;
    let feeds = ids::assign(document.outlines, &mut notes);
    Ok(Imported {
        title: document.title,
        feeds,
        notes,
    })
}

/// The feeds as `[[feed]]` tables to paste into a config, after a comment naming `source`
/// (the file they came from); each feed's folders go in a comment above it.
pub fn feeds_toml(imported: &Imported, source: &str) -> String {
    let mut out = format!(
        "# {} feed(s) from {}",
        imported.feeds.len(),
        one_line(source)
    );
    if let Some(title) = &imported.title {
        out.push_str(&format!(" ({})", one_line(title)));
    }
    out.push_str("; paste them into the config and run `rasad check`.\n");
    for feed in &imported.feeds {
        out.push('\n');
        if !feed.folders.is_empty() {
            out.push_str(&format!(
                "# folder: {}\n",
                one_line(&feed.folders.join(" / "))
            ));
        }
        out.push_str("[[feed]]\n");
        out.push_str(&format!("id = {}\n", toml_string(&feed.id)));
        if let Some(name) = &feed.name {
            out.push_str(&format!("name = {}\n", toml_string(name)));
        }
        out.push_str(&format!("url = {}\n", toml_string(&feed.url)));
        if let Some(interval) = &feed.interval {
            out.push_str(&format!("interval = {}\n", toml_string(interval)));
        }
    }
    out
}

/// A TOML basic string, quoted and escaped.
fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

/// `text` on one line, for a TOML comment: line breaks and other controls become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` with its runs of white space made one space and its control characters dropped,
/// trimmed, and cut to `max` characters.
fn clean_text(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace().take(max) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().filter(|c| !c.is_control()));
    }
    match out.char_indices().nth(max) {
        Some((cut, _)) => out[..cut].trim_end().to_owned(),
        None => out,
    }
}

#[cfg(test)]
mod tests;
