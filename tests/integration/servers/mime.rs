//! A small MIME decoder for what `lettre` sends: multipart bodies, encoded words, base64 and
//! quoted-printable.

use super::*;

/// A decoded email message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedMail {
    /// The `Subject` with RFC 2047 encoded words decoded.
    pub subject: String,
    /// Top-level header fields in order: names as sent, values unfolded and RFC 2047-decoded.
    pub headers: Vec<(String, String)>,
    /// First `text/plain` part (or body), transfer-decoded, with `\n` line endings.
    pub text: String,
    /// First `text/html` part, transfer-decoded, with `\n` line endings.
    pub html: String,
}

impl DecodedMail {
    /// First value of top-level header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes a raw message as produced by `lettre`: RFC 2047 headers, nested multiparts,
/// `base64` / `quoted-printable` / `7bit` / `8bit` / `binary` transfer encodings and
/// UTF-8 (or Latin-1 / ASCII) charsets. Attachments are skipped.
pub fn decode_mime_message(data: &str) -> DecodedMail {
    let (headers, body) = split_entity(data);
    let mut text = None;
    let mut html = None;
    collect_text_parts(&headers, &body, &mut text, &mut html, 0);
    let headers: Vec<(String, String)> = headers
        .into_iter()
        .map(|(name, value)| (name, decode_encoded_words(&value)))
        .collect();
    let subject = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("subject"))
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    DecodedMail {
        subject,
        headers,
        text: text.unwrap_or_default(),
        html: html.unwrap_or_default(),
    }
}

/// Splits an entity into unfolded header fields and its body (lines re-joined with CRLF).
pub(super) fn split_entity(raw: &str) -> (Vec<(String, String)>, String) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut lines = raw.lines();
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim_start().to_owned()));
        }
    }
    for header in &mut headers {
        header.1 = header.1.trim_end().to_owned();
    }
    let body = lines.collect::<Vec<_>>().join("\r\n");
    (headers, body)
}

pub(super) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Parses `type/subtype; name=value; name="quoted value"` into the lower-cased MIME type and
/// its parameters (names lower-cased).
pub(super) fn parse_content_type(value: &str) -> (String, HashMap<String, String>) {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ';' if !quoted => pieces.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    pieces.push(current);
    let mut pieces = pieces.into_iter();
    let mime = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let params = pieces
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim().to_ascii_lowercase(), value.to_owned()))
        })
        .collect();
    (mime, params)
}

/// Splits a multipart body into its parts (preamble and epilogue dropped).
pub(super) fn split_multipart(body: &str, boundary: &str) -> Vec<String> {
    let delimiter = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.lines() {
        let trimmed = line.trim_end();
        if trimmed == delimiter || trimmed == close {
            if let Some(part) = current.take() {
                parts.push(part.join("\r\n"));
            }
            if trimmed == close {
                return parts;
            }
            current = Some(Vec::new());
        } else if let Some(part) = current.as_mut() {
            part.push(line);
        }
    }
    if let Some(part) = current {
        parts.push(part.join("\r\n"));
    }
    parts
}

pub(super) fn collect_text_parts(
    headers: &[(String, String)],
    body: &str,
    text: &mut Option<String>,
    html: &mut Option<String>,
    depth: usize,
) {
    let (mime, params) = parse_content_type(find_header(headers, "content-type").unwrap_or(""));
    if mime.starts_with("multipart/") {
        let Some(boundary) = params.get("boundary") else {
            return;
        };
        if depth >= 8 {
            return;
        }
        for part in split_multipart(body, boundary) {
            let (part_headers, part_body) = split_entity(&part);
            collect_text_parts(&part_headers, &part_body, text, html, depth + 1);
        }
        return;
    }
    let is_attachment = find_header(headers, "content-disposition").is_some_and(|d| {
        d.trim_start()
            .to_ascii_lowercase()
            .starts_with("attachment")
    });
    let slot = match mime.as_str() {
        "" | "text/plain" => text,
        "text/html" => html,
        _ => return,
    };
    if is_attachment || slot.is_some() {
        return;
    }
    let encoding = find_header(headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => decode_base64(body).unwrap_or_else(|| body.as_bytes().to_vec()),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let charset = params.get("charset").map(String::as_str).unwrap_or("utf-8");
    *slot = Some(decode_charset(&bytes, charset).replace("\r\n", "\n"));
}

pub(super) fn decode_charset(bytes: &[u8], charset: &str) -> String {
    match charset.trim().to_ascii_lowercase().as_str() {
        "iso-8859-1" | "latin1" | "latin-1" => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`) in a header value. Whitespace
/// between adjacent encoded words is dropped, and their bytes are joined before charset
/// decoding, so characters split across words survive.
pub fn decode_encoded_words(value: &str) -> String {
    enum Segment<'a> {
        Text(&'a str),
        Word(String, Vec<u8>),
    }
    let mut segments = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        match parse_encoded_word(&rest[start..]) {
            Some((charset, bytes, len)) => {
                if start > 0 {
                    segments.push(Segment::Text(&rest[..start]));
                }
                segments.push(Segment::Word(charset, bytes));
                rest = &rest[start + len..];
            }
            None => {
                segments.push(Segment::Text(&rest[..start + 2]));
                rest = &rest[start + 2..];
            }
        }
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest));
    }

    let is_word = |i: usize| matches!(segments.get(i), Some(Segment::Word(..)));
    let mut out = String::new();
    let mut pending: Option<(String, Vec<u8>)> = None;
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Word(charset, bytes) => match pending.as_mut() {
                Some((pending_charset, buf)) if pending_charset.eq_ignore_ascii_case(charset) => {
                    buf.extend_from_slice(bytes);
                }
                _ => {
                    if let Some((cs, buf)) = pending.take() {
                        out.push_str(&decode_charset(&buf, &cs));
                    }
                    pending = Some((charset.clone(), bytes.clone()));
                }
            },
            Segment::Text(text) => {
                let between_words = text.chars().all(char::is_whitespace)
                    && i > 0
                    && is_word(i - 1)
                    && is_word(i + 1);
                if between_words {
                    continue;
                }
                if let Some((cs, buf)) = pending.take() {
                    out.push_str(&decode_charset(&buf, &cs));
                }
                out.push_str(text);
            }
        }
    }
    if let Some((cs, buf)) = pending {
        out.push_str(&decode_charset(&buf, &cs));
    }
    out
}

/// Parses one encoded word at the start of `s`: (charset, decoded bytes, length consumed).
pub(super) fn parse_encoded_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, rest) = inner.split_once('?')?;
    let (encoding, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = &rest[..end];
    if charset.is_empty() || charset.contains(char::is_whitespace) || encoding.len() != 1 {
        return None;
    }
    if text.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => decode_base64(text)?,
        "Q" | "q" => decode_q(text),
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    // Drop an RFC 2231 language suffix (`utf-8*ar`).
    let charset = charset.split('*').next().unwrap_or(charset).to_owned();
    Some((charset, bytes, len))
}

/// Standard (or URL-safe) base64 decoding; whitespace is ignored and decoding stops at `=`
/// padding. `None` on any other invalid character.
pub fn decode_base64(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in input.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Standard base64 encoding with padding.
pub fn encode_base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(super) fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes `=XX` escapes (and `_` as space when `underscore_is_space`); malformed escapes are
/// kept literally.
pub(super) fn decode_escapes(input: &[u8], underscore_is_space: bool, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'=' if i + 2 < input.len() => {
                match (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                    }
                    _ => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b'_' if underscore_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
}

/// RFC 2047 "Q" decoding.
pub(super) fn decode_q(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    decode_escapes(text.as_bytes(), true, &mut out);
    out
}

/// Quoted-printable body decoding (RFC 2045): soft line breaks removed, `=XX` decoded,
/// transport padding (trailing whitespace) dropped; hard line breaks become CRLF.
pub fn decode_quoted_printable(input: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let lines: Vec<&str> = input.split('\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = line.trim_end_matches([' ', '\t']);
        let (line, soft_break) = match line.strip_suffix('=') {
            Some(line) => (line, true),
            None => (line, false),
        };
        decode_escapes(line.as_bytes(), false, &mut out);
        if !soft_break && i + 1 < lines.len() {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}
