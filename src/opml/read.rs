//! The walk over an OPML document: its `head` title and every outline of its `body`, with the
//! folders it sits in and its line; outlines that cannot be feeds become notes.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};

use super::{MAX_DEPTH, MAX_NAME_CHARS, OpmlError, clean_text};

/// An outline with an `xmlUrl`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outline {
    /// `text`, else `title`, cleaned; `None` when both are empty.
    pub name: Option<String>,
    pub xml_url: String,
    /// `rasad:id` and `rasad:interval`, as an export of ours writes them.
    pub id: Option<String>,
    pub interval: Option<String>,
    pub folders: Vec<String>,
    pub line: usize,
}

/// What the walk found.
#[derive(Debug, Default)]
pub(super) struct Document {
    pub title: Option<String>,
    pub outlines: Vec<Outline>,
    pub notes: Vec<String>,
}

/// An outline whose end is still to come.
struct Open {
    /// For a folder: its name (empty when it has none).
    folder: Option<String>,
    has_children: bool,
    line: usize,
}

/// Line numbers of byte positions that only move forward: each byte is counted once.
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl Lines<'_> {
    fn of(&mut self, position: u64) -> usize {
        let position =
            usize::try_from(position).map_or(self.text.len(), |p| p.min(self.text.len()));
        if position < self.at {
            // An error may point back into the last event: counted again from the start.
            return 1 + memchr::memchr_iter(b'\n', &self.text[..position]).count();
        }
        self.line += memchr::memchr_iter(b'\n', &self.text[self.at..position]).count();
        self.at = position;
        self.line
    }
}

/// Walks `text`, an OPML document.
pub(super) fn outlines(text: &str) -> Result<Document, OpmlError> {
    let mut reader = Reader::from_str(text);
    let mut lines = Lines {
        text: text.as_bytes(),
        at: 0,
        line: 1,
    };
    let mut document = Document::default();
    // The names of the open elements, lower-cased; bounded by MAX_DEPTH.
    let mut elements: Vec<String> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let (mut root_seen, mut body_seen) = (false, false);
    let mut title = String::new();
    loop {
        let before = reader.buffer_position();
        let event = reader.read_event().map_err(|e| OpmlError::NotXml {
            line: lines.of(reader.error_position()),
            message: e.to_string(),
        })?;
        let line = lines.of(before);
        match event {
            Event::Start(e) => {
                let name = element_name(&e);
                if !root_seen {
                    root_seen = true;
                    is_opml(&name)?;
                } else if elements.len() >= MAX_DEPTH {
                    return Err(OpmlError::TooDeep {
                        line,
                        max: MAX_DEPTH,
                    });
                } else if in_body(&elements) && name == "outline" {
                    start_outline(&e, line, false, &mut open, &mut document);
                }
                body_seen |= elements.len() == 1 && name == "body";
                elements.push(name);
            }
            Event::Empty(e) => {
                let name = element_name(&e);
                if !root_seen {
                    // `<opml/>`: a root with nothing in it.
                    root_seen = true;
                    is_opml(&name)?;
                } else if in_body(&elements) && name == "outline" {
                    start_outline(&e, line, true, &mut open, &mut document);
                }
                body_seen |= elements.len() == 1 && name == "body";
            }
            Event::End(_) => {
                let name = elements.pop().unwrap_or_default();
                if name == "outline" && in_body(&elements) {
                    end_outline(&mut open, &mut document);
                }
            }
            Event::Text(t) if in_head_title(&elements) => title.push_str(&t.xml10_content()),
            Event::CData(t) if in_head_title(&elements) => {
                title.push_str(&t);
            }
            Event::GeneralRef(r) if in_head_title(&elements) => title.push_str(&reference(&r)),
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(inside) = elements.last() {
        return Err(OpmlError::NotXml {
            line: lines.of(text.len() as u64),
            message: format!("the document ends inside <{inside}>"),
        });
    }
    if !root_seen {
        return Err(OpmlError::Empty);
    }
    if !body_seen {
        return Err(OpmlError::NoBody);
    }
    let title = clean_text(&title, MAX_NAME_CHARS);
    document.title = (!title.is_empty()).then_some(title);
    Ok(document)
}

/// An element's local name, lower-cased (readers are not all strict about case).
fn element_name(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_ascii_lowercase()
}

fn is_opml(root: &str) -> Result<(), OpmlError> {
    if root == "opml" {
        Ok(())
    } else {
        Err(OpmlError::NotOpml {
            root: root.to_owned(),
        })
    }
}

/// Whether the open elements are `opml` > `body` (> outlines).
fn in_body(elements: &[String]) -> bool {
    elements.len() >= 2 && elements[1] == "body"
}

fn in_head_title(elements: &[String]) -> bool {
    elements.len() == 3 && elements[1] == "head" && elements[2] == "title"
}

/// A reference in text: a character reference or one of XML's five entities; others as written.
fn reference(r: &BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    let name = r.xml10_content();
    quick_xml::escape::resolve_predefined_entity(&name)
        .map_or_else(|| format!("&{name};"), str::to_owned)
}

/// The attributes of an outline that matter here.
#[derive(Default)]
struct Attributes {
    text: Option<String>,
    title: Option<String>,
    xml_url: Option<String>,
    id: Option<String>,
    interval: Option<String>,
}

fn attributes(e: &BytesStart<'_>) -> Result<Attributes, String> {
    let mut found = Attributes::default();
    for attribute in e.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let key = attribute.key.as_ref().to_ascii_lowercase();
        let slot = match key.as_str() {
            "text" => &mut found.text,
            "title" => &mut found.title,
            // Some exporters write `xmlurl`.
            "xmlurl" => &mut found.xml_url,
            "rasad:id" => &mut found.id,
            "rasad:interval" => &mut found.interval,
            _ => continue,
        };
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("attribute {key}: {e}"))?;
        *slot = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    }
    Ok(found)
}

fn start_outline(
    e: &BytesStart<'_>,
    line: usize,
    empty: bool,
    open: &mut Vec<Open>,
    document: &mut Document,
) {
    if let Some(parent) = open.last_mut() {
        parent.has_children = true;
    }
    let attributes = attributes(e).unwrap_or_else(|why| {
        document.notes.push(format!(
            "line {line}: an outline's attributes cannot be read ({why}): skipped"
        ));
        Attributes::default()
    });
    let cleaned = |v: &Option<String>| {
        v.as_deref()
            .map(|v| clean_text(v, MAX_NAME_CHARS))
            .filter(|v| !v.is_empty())
    };
    let name = cleaned(&attributes.text).or_else(|| cleaned(&attributes.title));
    let is_feed = attributes.xml_url.is_some();
    if let Some(xml_url) = attributes.xml_url {
        let folders = open
            .iter()
            .filter_map(|o| o.folder.clone())
            .filter(|f| !f.is_empty())
            .collect();
        document.outlines.push(Outline {
            name: name.clone(),
            xml_url,
            id: attributes.id,
            interval: attributes.interval,
            folders,
            line,
        });
    }
    if empty {
        if !is_feed {
            document.notes.push(no_feed_note(line, name.as_deref()));
        }
        return;
    }
    open.push(Open {
        folder: (!is_feed).then(|| name.unwrap_or_default()),
        has_children: false,
        line,
    });
}

fn end_outline(open: &mut Vec<Open>, document: &mut Document) {
    let Some(outline) = open.pop() else { return };
    if let Some(folder) = outline.folder
        && !outline.has_children
    {
        let name = (!folder.is_empty()).then_some(folder);
        document
            .notes
            .push(no_feed_note(outline.line, name.as_deref()));
    }
}

fn no_feed_note(line: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("line {line}: outline {name:?} has no xmlUrl: skipped"),
        None => format!("line {line}: an outline without text has no xmlUrl: skipped"),
    }
}
