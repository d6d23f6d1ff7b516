//! HTTP/1.1 for the feed server and the webhook receiver: reading requests (also chunked),
//! writing responses, serving one connection, and HTTP dates.

use super::*;

/// One HTTP request as received by [`FeedServer`] or [`WebhookReceiver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Request target as sent (origin form, query string included).
    pub path: String,
    /// Header fields in arrival order; names are lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// Request body (de-chunked when sent with `Transfer-Encoding: chunked`).
    pub body: Vec<u8>,
    /// When the whole request had been read.
    pub received_at: std::time::Instant,
}

impl RecordedRequest {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON, if it is valid JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// True when the request path (ignoring any query string) equals `path`.
    pub(super) fn is_for(&self, path: &str) -> bool {
        self.path == path || strip_query(&self.path) == path
    }
}

pub(super) fn strip_query(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

/// A parsed request plus whether the connection must be closed after answering it.
pub(super) struct IncomingRequest {
    pub(super) request: RecordedRequest,
    pub(super) close: bool,
}

/// A response produced by a server's request handler.
pub(super) struct HttpResponse {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) delay: Option<Duration>,
    /// Write the body `chunk` bytes at a time, waiting `every` between chunks.
    pub(super) drip: Option<(usize, Duration)>,
}

impl HttpResponse {
    pub(super) fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![(
                "Content-Type".to_owned(),
                "text/plain; charset=utf-8".to_owned(),
            )],
            body: body.as_bytes().to_vec(),
            delay: None,
            drip: None,
        }
    }
}

pub(super) fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Statuses whose responses never carry a body (nor `Content-Length`).
pub(super) fn status_has_no_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Reads one request (head and body). `Ok(None)` means the client closed the connection
/// cleanly between requests; `InvalidData` errors deserve a 400.
pub(super) async fn read_http_request(
    conn: &mut BufReader<TcpStream>,
) -> io::Result<Option<IncomingRequest>> {
    let mut line = Vec::new();
    let request_line = loop {
        if read_line(conn, &mut line).await? == 0 {
            return Ok(None);
        }
        let trimmed = trim_eol(&line);
        if !trimmed.is_empty() {
            break String::from_utf8_lossy(trimmed).into_owned();
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(invalid("unsupported HTTP version")),
    };
    let path = origin_form(target);

    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        if read_line(conn, &mut line).await? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        let raw = trim_eol(&line);
        if raw.is_empty() {
            break;
        }
        if headers.len() > 256 {
            return Err(invalid("too many header fields"));
        }
        let text = String::from_utf8_lossy(raw);
        if text.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous field value.
            let Some(last) = headers.last_mut() else {
                return Err(invalid("folded line before first header"));
            };
            last.1.push(' ');
            last.1.push_str(text.trim());
            continue;
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(invalid("header line without colon"));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }

    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let connection = find("connection").unwrap_or_default();
    let has_token = |token: &str| connection.split(',').any(|t| t.trim() == token);
    let close = has_token("close") || (http10 && !has_token("keep-alive"));
    let chunked = find("transfer-encoding").is_some_and(|te| {
        te.split(',')
            .next_back()
            .is_some_and(|t| t.trim() == "chunked")
    });
    let content_length = match find("content-length") {
        Some(value) => Some(
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| invalid("bad Content-Length"))?,
        ),
        None => None,
    };

    let expects_body = chunked || content_length.is_some_and(|len| len > 0);
    if expects_body && find("expect").is_some_and(|e| e.trim() == "100-continue") {
        write_all(conn, b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }

    let mut body = Vec::new();
    if chunked {
        read_chunked_body(conn, &mut body).await?;
    } else if let Some(len) = content_length {
        if len > MAX_BODY {
            return Err(invalid("body too large"));
        }
        read_exact_into(conn, &mut body, len).await?;
    }

    Ok(Some(IncomingRequest {
        request: RecordedRequest {
            method: method.to_owned(),
            path,
            headers,
            body,
            received_at: std::time::Instant::now(),
        },
        close,
    }))
}

/// Turns an absolute-form target (`http://host/path`) into origin form (`/path`).
pub(super) fn origin_form(target: &str) -> String {
    let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    else {
        return target.to_owned();
    };
    match rest.find('/') {
        Some(slash) => rest[slash..].to_owned(),
        None => "/".to_owned(),
    }
}

/// Decodes a `Transfer-Encoding: chunked` body (chunk extensions and trailers are skipped).
pub(super) async fn read_chunked_body(
    conn: &mut BufReader<TcpStream>,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    let mut line = Vec::new();
    loop {
        if read_line(conn, &mut line).await? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        let size_line = String::from_utf8_lossy(trim_eol(&line)).into_owned();
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailer section, terminated by an empty line.
            loop {
                if read_line(conn, &mut line).await? == 0 || trim_eol(&line).is_empty() {
                    return Ok(());
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(invalid("body too large"));
        }
        read_exact_into(conn, body, size).await?;
        if read_line(conn, &mut line).await? == 0 || !trim_eol(&line).is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

pub(super) async fn write_http_response(
    conn: &mut BufReader<TcpStream>,
    response: &HttpResponse,
    close: bool,
    head_only: bool,
) -> io::Result<()> {
    let status = response.status;
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    head.push_str(&format!("Date: {}\r\n", http_date(SystemTime::now())));
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let no_body = status_has_no_body(status);
    if !no_body {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if let (Some((chunk, every)), false) = (response.drip, no_body || head_only) {
        write_all(conn, &bytes).await?;
        for piece in response.body.chunks(chunk.max(1)) {
            tokio::time::sleep(every).await;
            write_all(conn, piece).await?;
        }
        return Ok(());
    }
    if !no_body && !head_only {
        bytes.extend_from_slice(&response.body);
    }
    write_all(conn, &bytes).await
}

/// Serves HTTP/1.1 requests on one connection (keep-alive) until the client closes it, asks
/// for `Connection: close`, misbehaves, or stays idle longer than [`IO_TIMEOUT`].
pub(super) async fn serve_http_connection<F>(stream: TcpStream, mut respond: F)
where
    F: FnMut(&RecordedRequest) -> HttpResponse,
{
    let mut conn = BufReader::new(stream);
    loop {
        let incoming = match read_http_request(&mut conn).await {
            Ok(Some(incoming)) => incoming,
            Ok(None) => return,
            Err(err) => {
                if err.kind() == io::ErrorKind::InvalidData {
                    let response = HttpResponse::text(400, "bad request");
                    let _ = write_http_response(&mut conn, &response, true, false).await;
                }
                return;
            }
        };
        let response = respond(&incoming.request);
        if let Some(delay) = response.delay {
            tokio::time::sleep(delay).await;
        }
        let head_only = incoming.request.method == "HEAD";
        if write_http_response(&mut conn, &response, incoming.close, head_only)
            .await
            .is_err()
        {
            return;
        }
        if incoming.close {
            let _ = conn.get_mut().shutdown().await;
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP dates
// ---------------------------------------------------------------------------------------------

pub(super) const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
pub(super) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats `time` as an RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_http_date(secs)
}

/// Formats seconds since the Unix epoch as an IMF-fixdate.
pub(super) fn format_http_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let weekday = WEEKDAYS[((days + 4) % 7) as usize];
    format!(
        "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses an IMF-fixdate into seconds since the Unix epoch.
pub(super) fn parse_http_date(text: &str) -> Option<u64> {
    let (_weekday, rest) = text.trim().split_once(", ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, clock, "GMT"] = fields.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let year: i64 = year.parse().ok()?;
    let mut hms = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (Some(Some(h)), Some(Some(m)), Some(Some(s)), None) =
        (hms.next(), hms.next(), hms.next(), hms.next())
    else {
        return None;
    };
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    u64::try_from(secs).ok()
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01 in the proleptic Gregorian calendar.
pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
