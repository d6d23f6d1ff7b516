//! Feed bytes turned into UTF-8 text, the charset chosen from the byte order mark, the HTTP
//! `Content-Type` charset and the XML declaration; invalid bytes become U+FFFD. Pure.
//!
//! Why it sits in front of feed-rs: feed-rs never sees the HTTP header, loses a whole feed on
//! one invalid byte, lets a legacy declaration override a UTF-8 BOM, and panics on UTF-16BE
//! declared as `utf-16`. Here the choice is made once, in this order:
//!
//! 1. a byte order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE) wins over everything;
//! 2. UTF-16/UTF-32 without a BOM is recognised from the bytes of the opening `<`;
//! 3. the HTTP charset, then the XML declaration's `encoding`;
//! 4. a legacy charset named by either, on a body that is valid UTF-8 with non-ASCII bytes, is a
//!    half-migrated CMS: the body is read as UTF-8;
//! 5. nothing named: UTF-8 when valid, else windows-1256 (the legacy code page of Arabic
//!    outlets that never declared it).
//!
//! The XML declaration is dropped from the returned text, so that the parser reads UTF-8.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1256};

/// A feed body as UTF-8 text, with how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The document without its BOM and XML declaration.
    pub text: Cow<'a, str>,
    /// The charset used, by its WHATWG name (`"UTF-8"`, `"windows-1256"`, `"UTF-32LE"`…).
    pub encoding: &'static str,
    /// Some bytes were invalid in that charset and were replaced by U+FFFD.
    pub replaced: bool,
}

/// Decodes `body`; `content_type` is the HTTP header when the body came over HTTP.
pub fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Decoded<'a> {
    if let Some((kind, bom_len)) = sniff_bom(body) {
        return decode_as(&body[bom_len..], kind);
    }
    if let Some(kind) = sniff_wide(body) {
        return decode_as(body, kind);
    }
    let named = content_type
        .and_then(http_charset)
        .or_else(|| xml_declared_encoding(body))
        .and_then(|label| Encoding::for_label(label.trim().as_bytes()));
    let encoding = match named {
        // A declaration of UTF-16 on bytes that are plainly ASCII-compatible is a lie.
        Some(e) if e == UTF_16LE || e == UTF_16BE => UTF_8,
        Some(e) if e != UTF_8 && looks_like_utf8(body) => UTF_8,
        Some(e) => e,
        None if mostly_utf8(body) => UTF_8,
        None => WINDOWS_1256,
    };
    decode_as(body, Kind::Whatwg(encoding))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Whatwg(&'static Encoding),
    Utf32 { big_endian: bool },
}

fn decode_as(body: &[u8], kind: Kind) -> Decoded<'_> {
    let (text, encoding, replaced) = match kind {
        Kind::Whatwg(encoding) => {
            let (text, replaced) = encoding.decode_without_bom_handling(body);
            (text, encoding.name(), replaced)
        }
        Kind::Utf32 { big_endian } => {
            let (text, replaced) = decode_utf32(body, big_endian);
            let name = if big_endian { "UTF-32BE" } else { "UTF-32LE" };
            (Cow::Owned(text), name, replaced)
        }
    };
    Decoded {
        text: without_declaration(without_c1_controls(text)),
        encoding,
        replaced,
    }
}

/// C1 control characters (U+0080–U+009F) are never text: they are bytes of a windows-125x
/// code page decoded as Latin-1 or copied into UTF-8. Where windows-1252 and windows-1256 agree
/// (quotes, dashes, the ellipsis, the euro sign…) they become that character; the rest stay.
fn without_c1_controls(text: Cow<'_, str>) -> Cow<'_, str> {
    // In UTF-8, U+0080–U+009F are 0xC2 0x80–0x9F.
    let bytes = text.as_bytes();
    let has_c1 = memchr::memchr_iter(0xC2, bytes)
        .any(|i| bytes.get(i + 1).is_some_and(|b| (0x80..=0x9F).contains(b)));
    if !has_c1 {
        return text;
    }
    let repaired = text
        .chars()
        .map(|c| c1_replacement(c).unwrap_or(c))
        .collect();
    Cow::Owned(repaired)
}

/// The character a C1 control stands for, when windows-1252 and windows-1256 agree on it.
pub fn c1_replacement(c: char) -> Option<char> {
    let byte = [u8::try_from(u32::from(c))
        .ok()
        .filter(|b| (0x80..=0x9F).contains(b))?];
    let latin = encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(&byte)
        .0;
    let arabic = WINDOWS_1256.decode_without_bom_handling(&byte).0;
    (latin == arabic).then(|| latin.chars().next()).flatten()
}

/// The encoding a byte order mark announces, and the length of the mark.
fn sniff_bom(body: &[u8]) -> Option<(Kind, usize)> {
    match body {
        [0x00, 0x00, 0xFE, 0xFF, ..] => Some((Kind::Utf32 { big_endian: true }, 4)),
        [0xFF, 0xFE, 0x00, 0x00, ..] => Some((Kind::Utf32 { big_endian: false }, 4)),
        [0xEF, 0xBB, 0xBF, ..] => Some((Kind::Whatwg(UTF_8), 3)),
        [0xFE, 0xFF, ..] => Some((Kind::Whatwg(UTF_16BE), 2)),
        [0xFF, 0xFE, ..] => Some((Kind::Whatwg(UTF_16LE), 2)),
        _ => None,
    }
}

/// UTF-16 or UTF-32 without a BOM, recognised from a leading `<` (XML 1.0, appendix F).
fn sniff_wide(body: &[u8]) -> Option<Kind> {
    match body {
        [0x00, 0x00, 0x00, b'<', ..] => Some(Kind::Utf32 { big_endian: true }),
        [b'<', 0x00, 0x00, 0x00, ..] => Some(Kind::Utf32 { big_endian: false }),
        [0x00, b'<', 0x00, _, ..] => Some(Kind::Whatwg(UTF_16BE)),
        [b'<', 0x00, _, 0x00, ..] => Some(Kind::Whatwg(UTF_16LE)),
        _ => None,
    }
}

/// UTF-32 (which encoding_rs does not offer): invalid code points become U+FFFD.
fn decode_utf32(body: &[u8], big_endian: bool) -> (String, bool) {
    let mut replaced = !body.len().is_multiple_of(4);
    let text = body
        .chunks_exact(4)
        .map(|b| {
            let unit = [b[0], b[1], b[2], b[3]];
            let n = if big_endian {
                u32::from_be_bytes(unit)
            } else {
                u32::from_le_bytes(unit)
            };
            char::from_u32(n).unwrap_or_else(|| {
                replaced = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    (text, replaced)
}

/// The `charset` parameter of a `Content-Type` value, unquoted.
pub fn http_charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
            .filter(|v| !v.is_empty())
    })
}

/// The `encoding` of the XML declaration at the start of an ASCII-compatible body.
fn xml_declared_encoding(body: &[u8]) -> Option<&str> {
    let head = &body[..body.len().min(1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = head[start..].strip_prefix(b"<?xml")?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let after = &decl[decl.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

/// Valid UTF-8 with at least one multi-byte sequence: a body no legacy charset would produce
/// by accident.
fn looks_like_utf8(body: &[u8]) -> bool {
    !body.is_ascii() && std::str::from_utf8(body).is_ok()
}

/// Valid UTF-8, or UTF-8 with fewer invalid sequences than valid multi-byte characters (a
/// UTF-8 feed with a stray byte, not a legacy one).
fn mostly_utf8(body: &[u8]) -> bool {
    if std::str::from_utf8(body).is_ok() {
        return true;
    }
    let (mut valid_wide, mut invalid) = (0usize, 0usize);
    for chunk in body.utf8_chunks() {
        valid_wide += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    valid_wide > invalid
}

/// The text without a leading XML declaration (its `encoding` no longer holds).
fn without_declaration(text: Cow<'_, str>) -> Cow<'_, str> {
    let trimmed = text.trim_start();
    if !trimmed.starts_with("<?xml") {
        return text;
    }
    let Some(end) = trimmed.find("?>") else {
        return text;
    };
    let skip = text.len() - trimmed.len() + end + 2;
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[skip..]),
        Cow::Owned(s) => Cow::Owned(s[skip..].to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend(if big_endian {
                [0xFE, 0xFF]
            } else {
                [0xFF, 0xFE]
            });
        }
        for unit in text.encode_utf16() {
            out.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    }

    fn utf32(text: &str, big_endian: bool) -> Vec<u8> {
        text.chars()
            .flat_map(|c| {
                if big_endian {
                    (c as u32).to_be_bytes()
                } else {
                    (c as u32).to_le_bytes()
                }
            })
            .collect()
    }

    /// A table of named cases, one row per case: it is as long as its table, and reads top to bottom.
    #[test]
    fn decodes_named_cases() {
        let arabic_1256 = WINDOWS_1256
            .encode("<rss><title>عربي</title></rss>")
            .0
            .to_vec();
        let arabic_8859_6 = encoding_rs::ISO_8859_6
            .encode("<rss><title>عربي</title></rss>")
            .0;
        let declared_1256 = [
            b"<?xml version=\"1.0\" encoding=\"windows-1256\"?>".as_slice(),
            &arabic_1256,
        ]
        .concat();
        let declared_8859_6 = [
            b"<?xml version='1.0' encoding='iso-8859-6'?>".as_slice(),
            &arabic_8859_6,
        ]
        .concat();
        let utf8_claiming_1256 = [
            b"<?xml version=\"1.0\" encoding=\"windows-1256\"?>".as_slice(),
            "<rss><title>عربي</title></rss>".as_bytes(),
        ]
        .concat();
        let bom_over_declaration = [
            b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"windows-1256\"?>".as_slice(),
            "<rss><title>عربي</title></rss>".as_bytes(),
        ]
        .concat();
        let utf16_declared =
            "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss><title>عربي</title></rss>";
        let invalid_utf8 = b"<rss><title>\xD8\xB9\xFF</title></rss>".to_vec();
        let want = "<rss><title>عربي</title></rss>";
        // (name, body, Content-Type, text, encoding, replaced)
        type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, &'a str, &'a str, bool);
        let cases: Vec<Case> = vec![
            (
                "plain_utf8",
                want.as_bytes().to_vec(),
                None,
                want,
                "UTF-8",
                false,
            ),
            (
                "declared_windows_1256",
                declared_1256,
                None,
                want,
                "windows-1256",
                false,
            ),
            (
                "declared_iso_8859_6",
                declared_8859_6,
                None,
                want,
                "ISO-8859-6",
                false,
            ),
            (
                "windows_1256_only_in_http_header",
                arabic_1256.clone(),
                Some("application/rss+xml; charset=windows-1256"),
                want,
                "windows-1256",
                false,
            ),
            (
                "quoted_http_charset",
                arabic_1256.clone(),
                Some("text/xml;charset='windows-1256'"),
                want,
                "windows-1256",
                false,
            ),
            (
                "undeclared_legacy_falls_back_to_windows_1256",
                arabic_1256,
                None,
                want,
                "windows-1256",
                false,
            ),
            (
                "utf8_that_claims_windows_1256",
                utf8_claiming_1256,
                None,
                want,
                "UTF-8",
                false,
            ),
            (
                "utf8_bom_beats_declaration",
                bom_over_declaration,
                None,
                want,
                "UTF-8",
                false,
            ),
            (
                "utf16le_with_bom",
                utf16(utf16_declared, false, true),
                None,
                want,
                "UTF-16LE",
                false,
            ),
            (
                "utf16be_with_bom_declared_utf16",
                utf16(utf16_declared, true, true),
                None,
                want,
                "UTF-16BE",
                false,
            ),
            (
                "utf16be_without_bom",
                utf16(utf16_declared, true, false),
                None,
                want,
                "UTF-16BE",
                false,
            ),
            (
                "utf16le_without_bom",
                utf16(utf16_declared, false, false),
                None,
                want,
                "UTF-16LE",
                false,
            ),
            (
                "utf32be_without_bom",
                utf32(want, true),
                None,
                want,
                "UTF-32BE",
                false,
            ),
            (
                "utf32le_with_bom",
                [vec![0xFF, 0xFE, 0, 0], utf32(want, false)].concat(),
                None,
                want,
                "UTF-32LE",
                false,
            ),
            (
                "invalid_byte_is_replaced",
                invalid_utf8,
                Some("text/xml; charset=utf-8"),
                "<rss><title>ع\u{FFFD}</title></rss>",
                "UTF-8",
                true,
            ),
            (
                "undeclared_utf8_with_a_stray_byte_stays_utf8",
                [want.as_bytes(), &[0xFF]].concat(),
                None,
                "<rss><title>عربي</title></rss>\u{FFFD}",
                "UTF-8",
                true,
            ),
            (
                "c1_quote_becomes_a_quote",
                "<t>don\u{92}t</t>".as_bytes().to_vec(),
                None,
                "<t>don\u{2019}t</t>",
                "UTF-8",
                false,
            ),
            (
                "ascii_declared_utf16_is_read_as_utf8",
                utf16_declared.as_bytes().to_vec(),
                None,
                want,
                "UTF-8",
                false,
            ),
        ];
        for (name, body, content_type, text, encoding, replaced) in cases {
            let got = decode(&body, content_type);
            assert_eq!(got.text, text, "{name}");
            assert_eq!(got.encoding, encoding, "{name}");
            assert_eq!(got.replaced, replaced, "{name}");
        }
    }

    #[test]
    fn reads_http_charsets() {
        for (name, header, want) in [
            ("plain", "text/xml; charset=utf-8", Some("utf-8")),
            (
                "spaced",
                "application/xml;charset = us-ascii",
                Some("us-ascii"),
            ),
            (
                "quoted",
                "application/atom+xml;charset='gb2312'",
                Some("gb2312"),
            ),
            ("absent", "text/xml", None),
            ("empty", "text/xml;", None),
        ] {
            assert_eq!(http_charset(header), want, "{name}");
        }
    }
}
