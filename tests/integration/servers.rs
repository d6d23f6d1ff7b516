//! Real loopback servers for the integration tests: an HTTP feed server with ETag /
//! Last-Modified support, an HTTP webhook receiver with scripted statuses, a plain-text SMTP
//! server that records messages, and a small MIME decoder for what `lettre` sends.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Upper bound for every single read from (or write to) a client; a connection that stays
/// silent longer than this is closed by the server.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest accepted protocol line (HTTP request/header line, SMTP command or DATA line).
const MAX_LINE: u64 = 64 * 1024;

/// Largest accepted HTTP body or SMTP message.
const MAX_BODY: usize = 32 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Shared plumbing
// ---------------------------------------------------------------------------------------------

/// Locks a mutex, ignoring poisoning (a panicking test must not cascade into the servers).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Binds a listener on 127.0.0.1:`port` with `SO_REUSEADDR`, so a port can be reused right
/// after a previous server on it was shut down.
fn bind_loopback(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(1024)
}

/// Like [`bind_loopback`], retrying for a short while when the port is still in use.
async fn bind_loopback_retrying(port: u16) -> io::Result<TcpListener> {
    let mut attempts = 0;
    loop {
        match bind_loopback(port) {
            Err(err) if err.kind() == io::ErrorKind::AddrInUse && port != 0 && attempts < 60 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// The accept loop of one server plus the tasks of its open connections.
struct ServerTask {
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl ServerTask {
    /// Spawns the accept loop; every accepted connection is handled by `handler` in its own task.
    fn spawn<F, Fut>(listener: TcpListener, handler: F) -> io::Result<Self>
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let tracked = Arc::clone(&connections);
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        let mut set = lock(&tracked);
                        while set.try_join_next().is_some() {}
                        set.spawn(handler(stream));
                    }
                    // Transient errors (e.g. too many open files): back off briefly.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
        Ok(Self {
            addr,
            accept: Some(accept),
            connections,
        })
    }

    /// Stops accepting, closes the listening socket and every open connection, and waits until
    /// all of them are gone.
    async fn shutdown(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        let mut set = std::mem::take(&mut *lock(&self.connections));
        set.shutdown().await;
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        lock(&self.connections).abort_all();
    }
}

/// Polls `done` every 10 ms until it returns true or `timeout` elapses.
async fn poll_until(timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "client i/o timed out")
}

/// Reads one line (terminator included) into `buf`, bounded in time and length.
/// Returns 0 at end of stream.
async fn read_line(conn: &mut BufReader<TcpStream>, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    let mut limited = (&mut *conn).take(MAX_LINE);
    let n = tokio::time::timeout(IO_TIMEOUT, limited.read_until(b'\n', buf))
        .await
        .map_err(|_| timed_out())??;
    if n as u64 == MAX_LINE && buf.last() != Some(&b'\n') {
        return Err(invalid("line too long"));
    }
    Ok(n)
}

/// Reads exactly `len` more bytes and appends them to `out`, bounded in time.
async fn read_exact_into(
    conn: &mut BufReader<TcpStream>,
    out: &mut Vec<u8>,
    len: usize,
) -> io::Result<()> {
    let start = out.len();
    out.resize(start + len, 0);
    tokio::time::timeout(IO_TIMEOUT, conn.read_exact(&mut out[start..]))
        .await
        .map_err(|_| timed_out())??;
    Ok(())
}

/// Writes all of `bytes` and flushes, bounded in time.
async fn write_all(conn: &mut BufReader<TcpStream>, bytes: &[u8]) -> io::Result<()> {
    let stream = conn.get_mut();
    let write = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    tokio::time::timeout(IO_TIMEOUT, write)
        .await
        .map_err(|_| timed_out())?
}

/// Strips a trailing `\n` or `\r\n`.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1
// ---------------------------------------------------------------------------------------------

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
    fn is_for(&self, path: &str) -> bool {
        self.path == path || strip_query(&self.path) == path
    }
}

fn strip_query(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

/// A parsed request plus whether the connection must be closed after answering it.
struct IncomingRequest {
    request: RecordedRequest,
    close: bool,
}

/// A response produced by a server's request handler.
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Option<Duration>,
    /// Write the body `chunk` bytes at a time, waiting `every` between chunks.
    drip: Option<(usize, Duration)>,
}

impl HttpResponse {
    fn text(status: u16, body: &str) -> Self {
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

fn reason_phrase(status: u16) -> &'static str {
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
fn status_has_no_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Reads one request (head and body). `Ok(None)` means the client closed the connection
/// cleanly between requests; `InvalidData` errors deserve a 400.
async fn read_http_request(conn: &mut BufReader<TcpStream>) -> io::Result<Option<IncomingRequest>> {
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
fn origin_form(target: &str) -> String {
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
async fn read_chunked_body(conn: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> io::Result<()> {
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

async fn write_http_response(
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
async fn serve_http_connection<F>(stream: TcpStream, mut respond: F)
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

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
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
fn format_http_date(secs: u64) -> String {
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
fn parse_http_date(text: &str) -> Option<u64> {
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
fn civil_from_days(days: i64) -> (i64, i64, i64) {
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
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------
// FeedServer
// ---------------------------------------------------------------------------------------------

struct FeedDocument {
    body: Vec<u8>,
    content_type: String,
    etag: String,
    last_modified: u64,
}

/// A response served as given, for the hostile cases: any status and headers, and a body
/// that may drip.
#[derive(Clone)]
struct RawDocument {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    drip: Option<(usize, Duration)>,
}

#[derive(Default)]
struct FeedState {
    documents: HashMap<String, FeedDocument>,
    /// Paths answered exactly as set by [`FeedServer::set_raw`] or [`FeedServer::set_drip`].
    raw: HashMap<String, RawDocument>,
    /// Paths forced to answer with an error status (set by [`FeedServer::set_status`]).
    forced_status: HashMap<String, u16>,
    /// Every request with the status it was answered with.
    log: Vec<(RecordedRequest, u16)>,
    version: u64,
    delay: Option<Duration>,
}

impl FeedState {
    fn respond(&mut self, request: &RecordedRequest) -> HttpResponse {
        let mut response = self.answer(request);
        response.delay = self.delay;
        self.log.push((request.clone(), response.status));
        response
    }

    fn answer(&self, request: &RecordedRequest) -> HttpResponse {
        if request.method != "GET" && request.method != "HEAD" {
            let mut response = HttpResponse::text(405, "method not allowed");
            response
                .headers
                .push(("Allow".to_owned(), "GET, HEAD".to_owned()));
            return response;
        }
        let key = if self.documents.contains_key(&request.path)
            || self.forced_status.contains_key(&request.path)
        {
            request.path.as_str()
        } else {
            strip_query(&request.path)
        };
        if let Some(&status) = self.forced_status.get(key) {
            return HttpResponse::text(status, reason_phrase(status));
        }
        if let Some(raw) = self.raw.get(key) {
            return HttpResponse {
                status: raw.status,
                headers: raw.headers.clone(),
                body: raw.body.clone(),
                delay: None,
                drip: raw.drip,
            };
        }
        let Some(doc) = self.documents.get(key) else {
            return HttpResponse::text(404, "not found");
        };
        let last_modified = format_http_date(doc.last_modified);
        let not_modified = match request.header("if-none-match") {
            Some(candidates) => etag_matches(candidates, &doc.etag),
            None => request.header("if-modified-since").is_some_and(|since| {
                since.trim() == last_modified
                    || parse_http_date(since).is_some_and(|since| doc.last_modified <= since)
            }),
        };
        let validators = vec![
            ("ETag".to_owned(), doc.etag.clone()),
            ("Last-Modified".to_owned(), last_modified),
        ];
        if not_modified {
            return HttpResponse {
                status: 304,
                headers: validators,
                body: Vec::new(),
                delay: None,
                drip: None,
            };
        }
        let mut headers = vec![("Content-Type".to_owned(), doc.content_type.clone())];
        headers.extend(validators);
        HttpResponse {
            status: 200,
            headers,
            body: doc.body.clone(),
            delay: None,
            drip: None,
        }
    }
}

/// `If-None-Match` evaluation (weak comparison, as RFC 9110 prescribes for it).
fn etag_matches(candidates: &str, etag: &str) -> bool {
    let strip_weak = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let etag = strip_weak(etag);
    candidates
        .split(',')
        .any(|candidate| candidate.trim() == "*" || strip_weak(candidate) == etag)
}

/// HTTP/1.1 server serving feed documents with strong ETags and Last-Modified dates,
/// answering conditional GETs with `304 Not Modified`.
pub struct FeedServer {
    state: Arc<Mutex<FeedState>>,
    task: ServerTask,
}

impl FeedServer {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start() -> FeedServer {
        let listener = bind_loopback(0).expect("FeedServer: bind 127.0.0.1:0");
        let state = Arc::new(Mutex::new(FeedState::default()));
        let shared = Arc::clone(&state);
        let task = ServerTask::spawn(listener, move |stream| {
            let state = Arc::clone(&shared);
            serve_http_connection(stream, move |request| lock(&state).respond(request))
        })
        .expect("FeedServer: local_addr");
        FeedServer { state, task }
    }

    /// Full URL of `path` on this server, e.g. `http://127.0.0.1:PORT/feed.xml`.
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://{}{slash}{path}", self.task.addr)
    }

    /// Socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.task.addr
    }

    /// Sets (or replaces) the document served at `path`, with a fresh strong ETag and a
    /// Last-Modified date. Last-Modified is strictly increasing per path (at least one second
    /// after the previous version) so that `If-Modified-Since` can tell versions apart even when
    /// `set` is called twice within the same second. Clears any [`FeedServer::set_status`].
    pub fn set(&self, path: &str, body: impl Into<Vec<u8>>, content_type: &str) {
        let body = body.into();
        let mut state = lock(&self.state);
        state.version += 1;
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        let etag = format!("\"v{}-{:016x}\"", state.version, hasher.finish());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last_modified = match state.documents.get(path) {
            Some(previous) => now.max(previous.last_modified + 1),
            None => now,
        };
        state.forced_status.remove(path);
        state.raw.remove(path);
        state.documents.insert(
            path.to_owned(),
            FeedDocument {
                body,
                content_type: content_type.to_owned(),
                etag,
                last_modified,
            },
        );
    }

    /// Makes `path` answer every request with `status` (e.g. 500, 503, 410) and a short text
    /// body, until the next [`FeedServer::set`] on that path.
    pub fn set_status(&self, path: &str, status: u16) {
        lock(&self.state)
            .forced_status
            .insert(path.to_owned(), status);
    }

    /// Removes the document at `path` (it answers 404 afterwards).
    pub fn remove(&self, path: &str) {
        let mut state = lock(&self.state);
        state.documents.remove(path);
        state.forced_status.remove(path);
        state.raw.remove(path);
    }

    /// Makes `path` answer with exactly `status`, `headers` and `body` (no validators): for
    /// redirects, `Retry-After`, `Content-Encoding: gzip`, HTML pages and the like.
    pub fn set_raw(
        &self,
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        lock(&self.state).raw.insert(
            path.to_owned(),
            RawDocument {
                status,
                headers,
                body: body.into(),
                drip: None,
            },
        );
    }

    /// Makes `path` answer 200 with `body`, written `chunk` bytes at a time every `every`.
    pub fn set_drip(
        &self,
        path: &str,
        body: impl Into<Vec<u8>>,
        content_type: &str,
        chunk: usize,
        every: Duration,
    ) {
        lock(&self.state).raw.insert(
            path.to_owned(),
            RawDocument {
                status: 200,
                headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
                body: body.into(),
                drip: Some((chunk, every)),
            },
        );
    }

    /// Delays every response by `delay` (`None` to answer immediately).
    pub fn set_delay(&self, delay: Option<Duration>) {
        lock(&self.state).delay = delay;
    }

    /// Current ETag of the document at `path`.
    pub fn etag(&self, path: &str) -> Option<String> {
        lock(&self.state)
            .documents
            .get(path)
            .map(|doc| doc.etag.clone())
    }

    /// Current Last-Modified value (IMF-fixdate) of the document at `path`.
    pub fn last_modified(&self, path: &str) -> Option<String> {
        lock(&self.state)
            .documents
            .get(path)
            .map(|doc| format_http_date(doc.last_modified))
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state)
            .log
            .iter()
            .map(|(request, _)| request.clone())
            .collect()
    }

    /// Every request received so far together with the status it was answered with.
    pub fn requests_with_status(&self) -> Vec<(RecordedRequest, u16)> {
        lock(&self.state).log.clone()
    }

    /// Number of requests received for `path` (query string ignored).
    pub fn request_count(&self, path: &str) -> usize {
        lock(&self.state)
            .log
            .iter()
            .filter(|(request, _)| request.is_for(path))
            .count()
    }

    /// Number of GETs on `path` carrying `If-None-Match` or `If-Modified-Since`.
    pub fn conditional_requests(&self, path: &str) -> usize {
        lock(&self.state)
            .log
            .iter()
            .filter(|(request, _)| {
                request.method == "GET"
                    && request.is_for(path)
                    && (request.header("if-none-match").is_some()
                        || request.header("if-modified-since").is_some())
            })
            .count()
    }

    /// Number of `304 Not Modified` answers given for `path`.
    pub fn not_modified_count(&self, path: &str) -> usize {
        lock(&self.state)
            .log
            .iter()
            .filter(|(request, status)| *status == 304 && request.is_for(path))
            .count()
    }

    /// Waits until at least `count` requests for `path` arrived or `timeout` elapsed; returns
    /// the number of requests for `path` received by then.
    pub async fn wait_for_requests(&self, path: &str, count: usize, timeout: Duration) -> usize {
        poll_until(timeout, || self.request_count(path) >= count).await;
        self.request_count(path)
    }

    /// Stops the server: closes the listening socket and all open connections.
    pub async fn shutdown(mut self) {
        self.task.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------------
// WebhookReceiver
// ---------------------------------------------------------------------------------------------

struct HookState {
    queue: VecDeque<(u16, Vec<(String, String)>)>,
    default_status: u16,
    log: Vec<(RecordedRequest, u16)>,
    delay: Option<Duration>,
}

impl HookState {
    fn respond(&mut self, request: &RecordedRequest) -> HttpResponse {
        let mut response = if request.method == "POST" {
            let (status, headers) = self
                .queue
                .pop_front()
                .unwrap_or((self.default_status, Vec::new()));
            let body = if (200..300).contains(&status) {
                "ok".to_owned()
            } else {
                format!("status {status}")
            };
            let mut response = HttpResponse::text(status, &body);
            response.headers.extend(headers);
            response
        } else {
            let mut response = HttpResponse::text(405, "method not allowed");
            response
                .headers
                .push(("Allow".to_owned(), "POST".to_owned()));
            response
        };
        response.delay = self.delay;
        self.log.push((request.clone(), response.status));
        response
    }
}

/// HTTP/1.1 server accepting webhook POSTs, answering with scripted statuses.
pub struct WebhookReceiver {
    state: Arc<Mutex<HookState>>,
    task: ServerTask,
}

impl WebhookReceiver {
    /// Starts the receiver on an ephemeral loopback port; it answers `200 ok` by default.
    pub async fn start() -> WebhookReceiver {
        let listener = bind_loopback(0).expect("WebhookReceiver: bind 127.0.0.1:0");
        let state = Arc::new(Mutex::new(HookState {
            queue: VecDeque::new(),
            default_status: 200,
            log: Vec::new(),
            delay: None,
        }));
        let shared = Arc::clone(&state);
        let task = ServerTask::spawn(listener, move |stream| {
            let state = Arc::clone(&shared);
            serve_http_connection(stream, move |request| lock(&state).respond(request))
        })
        .expect("WebhookReceiver: local_addr");
        WebhookReceiver { state, task }
    }

    /// The webhook URL, `http://127.0.0.1:PORT/hook` (POSTs to any path are accepted).
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.task.addr)
    }

    /// Socket address the receiver listens on.
    pub fn addr(&self) -> SocketAddr {
        self.task.addr
    }

    /// Queues statuses for the next POSTs, in order; once the queue is drained the default
    /// status (200 unless changed) is used. 2xx answers carry the body `ok`.
    pub fn push_statuses(&self, statuses: &[u16]) {
        let mut state = lock(&self.state);
        state
            .queue
            .extend(statuses.iter().map(|&status| (status, Vec::new())));
    }

    /// Queues one status with extra response headers (e.g. `Retry-After`).
    pub fn push_status_with_headers(&self, status: u16, headers: &[(&str, &str)]) {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        lock(&self.state).queue.push_back((status, headers));
    }

    /// Status used when the queue is empty.
    pub fn set_default_status(&self, status: u16) {
        lock(&self.state).default_status = status;
    }

    /// Delays every response by `delay` (`None` to answer immediately).
    pub fn set_delay(&self, delay: Option<Duration>) {
        lock(&self.state).delay = delay;
    }

    /// Every request received so far with the status it was answered with.
    pub fn requests(&self) -> Vec<(RecordedRequest, u16)> {
        lock(&self.state).log.clone()
    }

    /// The requests that were answered with a 2xx status.
    pub fn accepted(&self) -> Vec<RecordedRequest> {
        lock(&self.state)
            .log
            .iter()
            .filter(|(_, status)| (200..300).contains(status))
            .map(|(request, _)| request.clone())
            .collect()
    }

    /// Waits until at least `count` requests arrived (any status) or `timeout` elapsed.
    pub async fn wait_for_requests(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<(RecordedRequest, u16)> {
        poll_until(timeout, || lock(&self.state).log.len() >= count).await;
        self.requests()
    }

    /// Waits until at least `count` requests were accepted (2xx) or `timeout` elapsed.
    pub async fn wait_for_accepted(&self, count: usize, timeout: Duration) -> Vec<RecordedRequest> {
        poll_until(timeout, || self.accepted().len() >= count).await;
        self.accepted()
    }

    /// Stops the receiver: closes the listening socket and all open connections.
    pub async fn shutdown(mut self) {
        self.task.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------------
// SmtpServer
// ---------------------------------------------------------------------------------------------

/// One message accepted by [`SmtpServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedMail {
    /// Envelope sender (`MAIL FROM`), without angle brackets; empty for the null path.
    pub from: String,
    /// Envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// The message as received after DATA, dot-stuffing undone, CRLF line endings kept.
    pub data: String,
    /// Username authenticated on the session (AUTH PLAIN / LOGIN), if any.
    pub auth_user: Option<String>,
}

impl RecordedMail {
    /// Decodes the message (see [`decode_mime_message`]).
    pub fn decode(&self) -> DecodedMail {
        decode_mime_message(&self.data)
    }
}

#[derive(Default)]
struct SmtpState {
    messages: Vec<RecordedMail>,
    rejected: Vec<RecordedMail>,
    reject_data: VecDeque<String>,
    credentials: Option<(String, String)>,
    commands: Vec<String>,
    connections: usize,
}

const EHLO_REPLY: &str =
    "250-localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n";

/// Plain-text ESMTP server (no TLS, no PIPELINING) recording every accepted message.
pub struct SmtpServer {
    state: Arc<Mutex<SmtpState>>,
    task: ServerTask,
}

impl SmtpServer {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start() -> SmtpServer {
        Self::start_on(0).await
    }

    /// Starts the server on `port` (e.g. the port of a server that was shut down, to simulate
    /// a server coming back). Retries for a few seconds while the port is still in use and
    /// panics if it cannot be bound.
    pub async fn start_on(port: u16) -> SmtpServer {
        match Self::try_start_on(port).await {
            Ok(server) => server,
            Err(err) => panic!("SmtpServer: cannot bind 127.0.0.1:{port}: {err}"),
        }
    }

    /// Fallible variant of [`SmtpServer::start_on`].
    pub async fn try_start_on(port: u16) -> io::Result<SmtpServer> {
        let listener = bind_loopback_retrying(port).await?;
        let state = Arc::new(Mutex::new(SmtpState::default()));
        let shared = Arc::clone(&state);
        let task = ServerTask::spawn(listener, move |stream| {
            let state = Arc::clone(&shared);
            async move {
                lock(&state).connections += 1;
                let _ = smtp_session(stream, &state).await;
            }
        })?;
        Ok(SmtpServer { state, task })
    }

    /// Port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.task.addr.port()
    }

    /// Socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.task.addr
    }

    /// Messages accepted so far (answered `250 OK queued`), in order.
    pub fn messages(&self) -> Vec<RecordedMail> {
        lock(&self.state).messages.clone()
    }

    /// Messages whose DATA was answered with a [`SmtpServer::reject_next_data_with`] line.
    pub fn rejected(&self) -> Vec<RecordedMail> {
        lock(&self.state).rejected.clone()
    }

    /// Every command line received, in order (AUTH continuation lines included).
    pub fn commands(&self) -> Vec<String> {
        lock(&self.state).commands.clone()
    }

    /// Number of connections accepted so far.
    pub fn connection_count(&self) -> usize {
        lock(&self.state).connections
    }

    /// Makes the next completed DATA be answered with `code_line` (e.g. `451 try later`)
    /// instead of `250 OK queued`; the message then goes to [`SmtpServer::rejected`]. Calls
    /// queue up, one line per message.
    pub fn reject_next_data_with(&self, code_line: &str) {
        lock(&self.state)
            .reject_data
            .push_back(code_line.trim_end().to_owned());
    }

    /// Requires AUTH with exactly these credentials: wrong ones get `535`, and `MAIL` before
    /// successful AUTH gets `530`. Without this call any credentials (or none) are accepted.
    pub fn require_auth(&self, user: &str, password: &str) {
        lock(&self.state).credentials = Some((user.to_owned(), password.to_owned()));
    }

    /// Waits until at least `count` messages were accepted or `timeout` elapsed.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<RecordedMail> {
        poll_until(timeout, || lock(&self.state).messages.len() >= count).await;
        self.messages()
    }

    /// Stops the server: closes the listening socket (new connections are refused) and drops
    /// every open connection.
    pub async fn shutdown(mut self) {
        self.task.shutdown().await;
    }
}

/// Sends one reply line (CRLF appended).
async fn smtp_reply(conn: &mut BufReader<TcpStream>, line: &str) -> io::Result<()> {
    write_all(conn, format!("{line}\r\n").as_bytes()).await
}

/// Reads one line from the client; `None` at end of stream.
async fn smtp_read_line(
    conn: &mut BufReader<TcpStream>,
    state: &Mutex<SmtpState>,
) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    if read_line(conn, &mut line).await? == 0 {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(trim_eol(&line)).into_owned();
    lock(state).commands.push(text.clone());
    Ok(Some(text))
}

/// Extracts the address from `FROM:<addr> params` / `TO:<addr> params`.
fn smtp_path(arg: &str, keyword: &str) -> Option<String> {
    let arg = arg.trim_start();
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        Some(inner[..end].to_owned())
    } else {
        let addr = rest.split_whitespace().next()?;
        Some(addr.to_owned())
    }
}

/// Outcome of an AUTH exchange.
enum AuthOutcome {
    Reply(&'static str),
    Authenticated(String),
    Disconnected,
}

/// Reads a SASL response line after sending challenge `prompt`; `Err(reply)` on cancel or
/// undecodable input, `Ok(None)` when the client disconnected.
async fn sasl_response(
    conn: &mut BufReader<TcpStream>,
    state: &Mutex<SmtpState>,
    prompt: &str,
) -> io::Result<Option<Result<Vec<u8>, &'static str>>> {
    smtp_reply(conn, prompt).await?;
    let Some(line) = smtp_read_line(conn, state).await? else {
        return Ok(None);
    };
    Ok(Some(decode_sasl(&line)))
}

fn decode_sasl(text: &str) -> Result<Vec<u8>, &'static str> {
    match text.trim() {
        "*" => Err("501 5.7.0 Authentication cancelled"),
        "=" => Ok(Vec::new()),
        other => decode_base64(other).ok_or("501 5.5.2 Cannot decode response"),
    }
}

async fn smtp_auth(
    conn: &mut BufReader<TcpStream>,
    state: &Mutex<SmtpState>,
    arg: &str,
) -> io::Result<AuthOutcome> {
    let mut words = arg.split_whitespace();
    let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
    let initial = words.next();
    let (user, password) = match mechanism.as_str() {
        "PLAIN" => {
            let decoded = match initial {
                Some(initial) => decode_sasl(initial),
                None => match sasl_response(conn, state, "334 ").await? {
                    Some(decoded) => decoded,
                    None => return Ok(AuthOutcome::Disconnected),
                },
            };
            let decoded = match decoded {
                Ok(decoded) => decoded,
                Err(reply) => return Ok(AuthOutcome::Reply(reply)),
            };
            let fields: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
            let [_authzid, user, password] = fields.as_slice() else {
                return Ok(AuthOutcome::Reply("501 5.5.2 Malformed PLAIN response"));
            };
            (
                String::from_utf8_lossy(user).into_owned(),
                String::from_utf8_lossy(password).into_owned(),
            )
        }
        "LOGIN" => {
            let user = match initial {
                Some(initial) => decode_sasl(initial),
                None => match sasl_response(conn, state, "334 VXNlcm5hbWU6").await? {
                    Some(decoded) => decoded,
                    None => return Ok(AuthOutcome::Disconnected),
                },
            };
            let user = match user {
                Ok(user) => user,
                Err(reply) => return Ok(AuthOutcome::Reply(reply)),
            };
            let password = match sasl_response(conn, state, "334 UGFzc3dvcmQ6").await? {
                Some(Ok(password)) => password,
                Some(Err(reply)) => return Ok(AuthOutcome::Reply(reply)),
                None => return Ok(AuthOutcome::Disconnected),
            };
            (
                String::from_utf8_lossy(&user).into_owned(),
                String::from_utf8_lossy(&password).into_owned(),
            )
        }
        _ => {
            return Ok(AuthOutcome::Reply(
                "504 5.5.4 Unrecognized authentication type",
            ));
        }
    };
    let accepted = match &lock(state).credentials {
        Some((want_user, want_password)) => *want_user == user && *want_password == password,
        None => true,
    };
    Ok(if accepted {
        AuthOutcome::Authenticated(user)
    } else {
        AuthOutcome::Reply("535 5.7.8 Authentication credentials invalid")
    })
}

/// Reads DATA content up to the lone `.` line, undoing dot-stuffing. `None` if the client
/// disconnected mid-message.
async fn smtp_data(conn: &mut BufReader<TcpStream>) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        if read_line(conn, &mut line).await? == 0 {
            return Ok(None);
        }
        if trim_eol(&line) == b"." {
            return Ok(Some(data));
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(content);
        if data.len() > MAX_BODY {
            return Err(invalid("message too large"));
        }
    }
}

/// Runs one SMTP session until QUIT, disconnect, timeout or protocol error.
async fn smtp_session(stream: TcpStream, state: &Mutex<SmtpState>) -> io::Result<()> {
    let mut conn = BufReader::new(stream);
    smtp_reply(&mut conn, "220 localhost ESMTP test").await?;
    let mut auth_user: Option<String> = None;
    let mut from: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    loop {
        let Some(line) = smtp_read_line(&mut conn, state).await? else {
            return Ok(());
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
            None => (line.trim().to_ascii_uppercase(), ""),
        };
        let reply: &str = match verb.as_str() {
            "EHLO" => {
                from = None;
                recipients.clear();
                write_all(&mut conn, EHLO_REPLY.as_bytes()).await?;
                continue;
            }
            "HELO" => {
                from = None;
                recipients.clear();
                "250 localhost"
            }
            "AUTH" if auth_user.is_some() => "503 5.5.1 Already authenticated",
            "AUTH" if from.is_some() => "503 5.5.1 AUTH not allowed during a mail transaction",
            "AUTH" => match smtp_auth(&mut conn, state, arg).await? {
                AuthOutcome::Reply(reply) => reply,
                AuthOutcome::Authenticated(user) => {
                    auth_user = Some(user);
                    "235 2.7.0 Authentication successful"
                }
                AuthOutcome::Disconnected => return Ok(()),
            },
            "MAIL" => {
                let needs_auth = lock(state).credentials.is_some();
                if needs_auth && auth_user.is_none() {
                    "530 5.7.0 Authentication required"
                } else if from.is_some() {
                    "503 5.5.1 Nested MAIL command"
                } else if let Some(address) = smtp_path(arg, "FROM:") {
                    from = Some(address);
                    "250 2.1.0 OK"
                } else {
                    "501 5.5.4 Syntax: MAIL FROM:<address>"
                }
            }
            "RCPT" => {
                if from.is_none() {
                    "503 5.5.1 Need MAIL command"
                } else if let Some(address) = smtp_path(arg, "TO:") {
                    recipients.push(address);
                    "250 2.1.5 OK"
                } else {
                    "501 5.5.4 Syntax: RCPT TO:<address>"
                }
            }
            "DATA" => {
                if from.is_none() {
                    "503 5.5.1 Need MAIL command"
                } else if recipients.is_empty() {
                    "503 5.5.1 Need RCPT command"
                } else {
                    smtp_reply(&mut conn, "354 Start mail input; end with <CRLF>.<CRLF>").await?;
                    let Some(data) = smtp_data(&mut conn).await? else {
                        return Ok(());
                    };
                    let mail = RecordedMail {
                        from: from.take().unwrap_or_default(),
                        to: std::mem::take(&mut recipients),
                        data: String::from_utf8_lossy(&data).into_owned(),
                        auth_user: auth_user.clone(),
                    };
                    let rejection = {
                        let mut state = lock(state);
                        match state.reject_data.pop_front() {
                            Some(rejection) => {
                                state.rejected.push(mail);
                                Some(rejection)
                            }
                            None => {
                                state.messages.push(mail);
                                None
                            }
                        }
                    };
                    match rejection {
                        Some(rejection) => smtp_reply(&mut conn, &rejection).await?,
                        None => smtp_reply(&mut conn, "250 OK queued").await?,
                    }
                    continue;
                }
            }
            "RSET" => {
                from = None;
                recipients.clear();
                "250 2.0.0 OK"
            }
            "NOOP" => "250 2.0.0 OK",
            "QUIT" => {
                smtp_reply(&mut conn, "221 2.0.0 localhost closing connection").await?;
                let _ = conn.get_mut().shutdown().await;
                return Ok(());
            }
            "" => "500 5.5.2 Empty command",
            _ => "502 5.5.2 Command not implemented",
        };
        smtp_reply(&mut conn, reply).await?;
    }
}

// ---------------------------------------------------------------------------------------------
// MIME decoding
// ---------------------------------------------------------------------------------------------

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
fn split_entity(raw: &str) -> (Vec<(String, String)>, String) {
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

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Parses `type/subtype; name=value; name="quoted value"` into the lower-cased MIME type and
/// its parameters (names lower-cased).
fn parse_content_type(value: &str) -> (String, HashMap<String, String>) {
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
fn split_multipart(body: &str, boundary: &str) -> Vec<String> {
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

fn collect_text_parts(
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

fn decode_charset(bytes: &[u8], charset: &str) -> String {
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
fn parse_encoded_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
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

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes `=XX` escapes (and `_` as space when `underscore_is_space`); malformed escapes are
/// kept literally.
fn decode_escapes(input: &[u8], underscore_is_space: bool, out: &mut Vec<u8>) {
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
fn decode_q(text: &str) -> Vec<u8> {
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

// ---------------------------------------------------------------------------------------------
// Self tests (real TCP, hand-written clients)
// ---------------------------------------------------------------------------------------------

mod self_tests {
    use super::*;

    /// A parsed HTTP response as seen by the test client.
    struct Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Response {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    async fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
        BufReader::new(TcpStream::connect(addr).await.expect("connect"))
    }

    async fn client_line(conn: &mut BufReader<TcpStream>) -> String {
        let mut line = String::new();
        tokio::time::timeout(IO_TIMEOUT, conn.read_line(&mut line))
            .await
            .expect("client read timed out")
            .expect("client read");
        line
    }

    async fn read_response(conn: &mut BufReader<TcpStream>) -> Response {
        read_response_to(conn, false).await
    }

    /// Reads a response; `head_request` responses have no body despite `Content-Length`.
    async fn read_response_to(conn: &mut BufReader<TcpStream>, head_request: bool) -> Response {
        let status_line = client_line(conn).await;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .expect("status code")
            .parse()
            .expect("numeric status");
        let mut headers = Vec::new();
        loop {
            let line = client_line(conn).await;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header colon");
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = response.header("content-length").filter(|_| !head_request) {
            let len: usize = len.parse().expect("content-length");
            response.body = vec![0; len];
            conn.read_exact(&mut response.body).await.expect("body");
        }
        response
    }

    async fn roundtrip(conn: &mut BufReader<TcpStream>, request: &str) -> Response {
        conn.get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write request");
        read_response_to(conn, request.starts_with("HEAD ")).await
    }

    async fn assert_closed(conn: &mut BufReader<TcpStream>) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(IO_TIMEOUT, conn.read_to_end(&mut rest)).await;
        match read {
            Ok(Ok(_)) => assert!(rest.is_empty(), "unexpected bytes: {rest:?}"),
            Ok(Err(_)) => {} // reset by peer also means closed
            Err(_) => panic!("connection was not closed"),
        }
    }

    #[test]
    fn http_dates_roundtrip() {
        assert_eq!(
            format_http_date(784_111_777),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(951_782_400),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        for secs in [0, 784_111_777, 951_782_400, 1_709_210_096, 4_102_444_800] {
            assert_eq!(parse_http_date(&format_http_date(secs)), Some(secs));
        }
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
    }

    #[test]
    fn base64_and_quoted_printable() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode_base64(plain.as_bytes()), encoded);
            assert_eq!(decode_base64(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(
            decode_base64("Zm9v\r\nYmFy").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(decode_base64("Zm9v!"), None);
        let qp = "caf=C3=A9 =\r\nau lait=3D  \r\nline two\r\nbad =ZZ end=";
        assert_eq!(
            String::from_utf8(decode_quoted_printable(qp)).expect("utf-8"),
            "café au lait=\r\nline two\r\nbad =ZZ end"
        );
        assert_eq!(
            decode_encoded_words("=?utf-8?q?caf=C3=A9_au_lait?= ok"),
            "café au lait ok"
        );
    }

    #[tokio::test]
    async fn feed_server_answers_200_then_304_on_one_connection() {
        let server = FeedServer::start().await;
        server.set(
            "/feed.xml",
            "<rss>one</rss>",
            "application/rss+xml; charset=utf-8",
        );
        assert!(server.url("/feed.xml").starts_with("http://127.0.0.1:"));
        let mut conn = connect(server.addr()).await;

        let first = roundtrip(
            &mut conn,
            "GET /feed.xml HTTP/1.1\r\nHost: test\r\nUser-Agent: t\r\n\r\n",
        )
        .await;
        assert_eq!(first.status, 200);
        assert_eq!(first.body, b"<rss>one</rss>");
        assert_eq!(
            first.header("content-type"),
            Some("application/rss+xml; charset=utf-8")
        );
        let etag = first.header("etag").expect("etag").to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        let last_modified = first
            .header("last-modified")
            .expect("last-modified")
            .to_owned();
        assert!(parse_http_date(&last_modified).is_some());

        let second = roundtrip(
            &mut conn,
            &format!("GET /feed.xml HTTP/1.1\r\nHost: test\r\nIf-None-Match: {etag}\r\n\r\n"),
        )
        .await;
        assert_eq!(second.status, 304);
        assert!(second.body.is_empty());
        assert_eq!(second.header("etag"), Some(etag.as_str()));

        let third = roundtrip(
            &mut conn,
            &format!(
                "GET /feed.xml HTTP/1.1\r\nHost: test\r\nIf-Modified-Since: {last_modified}\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(third.status, 304);

        server.set("/feed.xml", "<rss>two</rss>", "application/rss+xml");
        let fourth = roundtrip(
            &mut conn,
            &format!(
                "GET /feed.xml HTTP/1.1\r\nHost: test\r\nIf-None-Match: {etag}\r\nIf-Modified-Since: {last_modified}\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(fourth.status, 200);
        assert_eq!(fourth.body, b"<rss>two</rss>");
        assert_ne!(fourth.header("etag"), Some(etag.as_str()));
        assert_ne!(fourth.header("last-modified"), Some(last_modified.as_str()));

        let missing = roundtrip(&mut conn, "GET /nope HTTP/1.1\r\nHost: test\r\n\r\n").await;
        assert_eq!(missing.status, 404);

        let head = roundtrip(
            &mut conn,
            "HEAD /feed.xml?x=1 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(head.status, 200);
        assert_eq!(head.header("connection"), Some("close"));
        assert_closed(&mut conn).await;

        assert_eq!(server.requests().len(), 6);
        assert_eq!(server.requests()[0].header("User-Agent"), Some("t"));
        assert_eq!(server.request_count("/feed.xml"), 5);
        assert_eq!(server.conditional_requests("/feed.xml"), 3);
        assert_eq!(server.not_modified_count("/feed.xml"), 2);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn feed_server_handles_concurrent_connections_and_forced_status() {
        let server = FeedServer::start().await;
        server.set("/a", "A", "text/plain");
        server.set("/b", "B", "text/plain");
        let mut first = connect(server.addr()).await;
        let mut second = connect(server.addr()).await;
        // Send on both before reading either.
        first
            .get_mut()
            .write_all(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .expect("write");
        second
            .get_mut()
            .write_all(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .expect("write");
        assert_eq!(read_response(&mut second).await.body, b"B");
        assert_eq!(read_response(&mut first).await.body, b"A");

        server.set_status("/a", 503);
        let failed = roundtrip(&mut first, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(failed.status, 503);
        server.set("/a", "A2", "text/plain");
        let again = roundtrip(&mut first, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!((again.status, again.body.as_slice()), (200, &b"A2"[..]));

        let bad = roundtrip(&mut second, "NONSENSE\r\n\r\n").await;
        assert_eq!(bad.status, 400);
        assert_closed(&mut second).await;

        let port = server.addr().port();
        server.shutdown().await;
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn webhook_receiver_scripted_statuses_and_chunked_bodies() {
        let hook = WebhookReceiver::start().await;
        assert!(hook.url().ends_with("/hook"));
        hook.push_statuses(&[500]);
        let mut conn = connect(hook.addr()).await;
        let payload = r#"{"title":"عاجل","n":1}"#;
        let request = format!(
            "POST /hook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
            payload.len()
        );
        let failed = roundtrip(&mut conn, &request).await;
        assert_eq!(failed.status, 500);
        let ok = roundtrip(&mut conn, &request).await;
        assert_eq!((ok.status, ok.body.as_slice()), (200, &b"ok"[..]));

        let chunked = roundtrip(
            &mut conn,
            "POST /hook HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
             5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        )
        .await;
        assert_eq!(chunked.status, 200);

        hook.set_default_status(503);
        hook.push_status_with_headers(429, &[("Retry-After", "7")]);
        let limited = roundtrip(&mut conn, &request).await;
        assert_eq!(limited.status, 429);
        assert_eq!(limited.header("retry-after"), Some("7"));
        let unavailable = roundtrip(&mut conn, &request).await;
        assert_eq!(unavailable.status, 503);

        let get = roundtrip(&mut conn, "GET /hook HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(get.status, 405);

        let statuses: Vec<u16> = hook.requests().iter().map(|(_, s)| *s).collect();
        assert_eq!(statuses, [500, 200, 200, 429, 503, 405]);
        let accepted = hook.accepted();
        assert_eq!(accepted.len(), 2);
        assert_eq!(accepted[0].body_text(), payload);
        assert_eq!(
            accepted[0].json().expect("json")["title"],
            serde_json::json!("عاجل")
        );
        assert_eq!(accepted[0].header("content-type"), Some("application/json"));
        assert_eq!(accepted[1].body, b"hello, world");
        assert_eq!(
            hook.wait_for_accepted(2, Duration::from_secs(1))
                .await
                .len(),
            2
        );
        hook.shutdown().await;
    }

    /// Minimal SMTP client for the self tests.
    struct SmtpClient {
        conn: BufReader<TcpStream>,
    }

    impl SmtpClient {
        async fn connect(port: u16) -> (SmtpClient, String) {
            let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .expect("connect smtp");
            let mut client = SmtpClient {
                conn: BufReader::new(stream),
            };
            let greeting = client.reply().await;
            (client, greeting)
        }

        /// Reads a complete (possibly multi-line) reply.
        async fn reply(&mut self) -> String {
            let mut all = String::new();
            loop {
                let line = client_line(&mut self.conn).await;
                assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
                all.push_str(&line);
                if line.as_bytes().get(3) != Some(&b'-') {
                    return all;
                }
            }
        }

        async fn send(&mut self, raw: &str) {
            self.conn
                .get_mut()
                .write_all(raw.as_bytes())
                .await
                .expect("smtp write");
        }

        async fn cmd(&mut self, line: &str) -> String {
            self.send(&format!("{line}\r\n")).await;
            self.reply().await
        }
    }

    #[tokio::test]
    async fn smtp_full_session_with_auth_plain_and_dot_stuffing() {
        let server = SmtpServer::start().await;
        let (mut client, greeting) = SmtpClient::connect(server.port()).await;
        assert_eq!(greeting, "220 localhost ESMTP test\r\n");
        let ehlo = client.cmd("EHLO client.example").await;
        assert!(ehlo.starts_with("250-localhost\r\n"));
        assert!(ehlo.contains("250-8BITMIME\r\n"));
        assert!(ehlo.ends_with("250 AUTH PLAIN LOGIN\r\n"));
        assert!(!ehlo.contains("PIPELINING"));
        let token = encode_base64(b"\0alice\0s3cret");
        assert!(
            client
                .cmd(&format!("AUTH PLAIN {token}"))
                .await
                .starts_with("235")
        );
        assert!(client.cmd("AUTH PLAIN").await.starts_with("503"));
        assert!(client.cmd("NOOP").await.starts_with("250"));
        let mail = client
            .cmd("MAIL FROM:<rasad@example.com> BODY=8BITMIME")
            .await;
        assert!(mail.starts_with("250"));
        assert!(
            client
                .cmd("MAIL FROM:<x@example.com>")
                .await
                .starts_with("503")
        );
        assert!(
            client
                .cmd("RCPT TO:<ops@example.com>")
                .await
                .starts_with("250")
        );
        assert!(
            client
                .cmd("rcpt to:<oncall@example.com>")
                .await
                .starts_with("250")
        );
        assert!(client.cmd("DATA").await.starts_with("354"));
        client
            .send("Subject: hi\r\n\r\nline one\r\n..starts with a dot\r\n...\r\n.\r\n")
            .await;
        assert_eq!(client.reply().await, "250 OK queued\r\n");
        assert!(client.cmd("VRFY someone").await.starts_with("502"));
        assert!(client.cmd("QUIT").await.starts_with("221"));
        assert_closed(&mut client.conn).await;

        let messages = server.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0],
            RecordedMail {
                from: "rasad@example.com".to_owned(),
                to: vec![
                    "ops@example.com".to_owned(),
                    "oncall@example.com".to_owned()
                ],
                data: "Subject: hi\r\n\r\nline one\r\n.starts with a dot\r\n..\r\n".to_owned(),
                auth_user: Some("alice".to_owned()),
            }
        );
        assert_eq!(messages[0].decode().subject, "hi");
        assert_eq!(server.connection_count(), 1);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn smtp_auth_login_continuations_rejections_and_required_auth() {
        let server = SmtpServer::start().await;
        server.require_auth("bob", "pw");
        server.reject_next_data_with("451 4.3.0 try later");

        let (mut client, _) = SmtpClient::connect(server.port()).await;
        client.cmd("EHLO c").await;
        assert!(client.cmd("MAIL FROM:<a@b.c>").await.starts_with("530"));
        // AUTH PLAIN via an empty "334 " continuation, wrong password.
        assert_eq!(client.cmd("AUTH PLAIN").await, "334 \r\n");
        let wrong = encode_base64(b"\0bob\0nope");
        assert!(client.cmd(&wrong).await.starts_with("535"));
        // AUTH LOGIN, cancelled.
        assert_eq!(client.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6\r\n");
        assert!(client.cmd("*").await.starts_with("501"));
        // AUTH LOGIN, both steps.
        assert_eq!(client.cmd("auth login").await, "334 VXNlcm5hbWU6\r\n");
        assert_eq!(
            client.cmd(&encode_base64(b"bob")).await,
            "334 UGFzc3dvcmQ6\r\n"
        );
        assert!(client.cmd(&encode_base64(b"pw")).await.starts_with("235"));

        assert!(client.cmd("DATA").await.starts_with("503"));
        client.cmd("MAIL FROM:<>").await;
        assert!(client.cmd("RSET").await.starts_with("250"));
        assert!(client.cmd("RCPT TO:<x@y.z>").await.starts_with("503"));
        for expected in ["451 4.3.0 try later\r\n", "250 OK queued\r\n"] {
            assert!(client.cmd("MAIL FROM:<a@b.c>").await.starts_with("250"));
            assert!(client.cmd("RCPT TO:<x@y.z>").await.starts_with("250"));
            assert!(client.cmd("DATA").await.starts_with("354"));
            client.send("Subject: s\r\n\r\nbody\r\n.\r\n").await;
            assert_eq!(client.reply().await, expected);
        }
        assert_eq!(server.rejected().len(), 1);
        let messages = server.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].auth_user.as_deref(), Some("bob"));
        assert_eq!(messages[0].data, "Subject: s\r\n\r\nbody\r\n");
        assert!(server.commands().iter().any(|c| c == "auth login"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn smtp_shutdown_drops_connections_and_port_can_be_reused() {
        let server = SmtpServer::start().await;
        let port = server.port();
        let (mut idle, greeting) = SmtpClient::connect(port).await;
        assert!(greeting.starts_with("220"));
        server.shutdown().await;
        assert_closed(&mut idle.conn).await;
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_err(),
            "port still open after shutdown"
        );

        let revived = SmtpServer::start_on(port).await;
        assert_eq!(revived.port(), port);
        let (mut client, greeting) = SmtpClient::connect(port).await;
        assert!(greeting.starts_with("220"));
        assert!(client.cmd("HELO c").await.starts_with("250"));
        assert!(client.cmd("QUIT").await.starts_with("221"));
        revived.shutdown().await;
    }

    #[test]
    fn decodes_lettre_style_multipart_with_arabic_subject() {
        let raw = concat!(
            "From: =?utf-8?b?2LHYtdiv?= <rasad@example.com>\r\n",
            "To: ops@example.com\r\n",
            "Subject: =?utf-8?b?2LnYp9is2YQ6INin2YbZgdis2KfYsQ==?=\r\n",
            " =?utf-8?b?INmB2Yog2KfZhNi52KfYtdmF2Kk=?=\r\n",
            "MIME-Version: 1.0\r\n",
            "Date: Tue, 05 Mar 2024 10:00:00 +0000\r\n",
            "Content-Type: multipart/alternative;\r\n",
            " boundary=\"0oVZ2r6AoLAhLlb0gPNSKy6BEqdS2IfwxrcbUuo1\"\r\n",
            "\r\n",
            "--0oVZ2r6AoLAhLlb0gPNSKy6BEqdS2IfwxrcbUuo1\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "\r\n",
            "2KrZgdin2LXZitmEINin2YTYrtio2LE6INmI2YLYuSDYp9mG2YHYrNin2LEg2YLYsdioINin2YTZ\r\n",
            "iNiy2KfYsdipLgrYp9mE2YXYtdiv2LE6INmI2YPYp9mE2Kk=\r\n",
            "--0oVZ2r6AoLAhLlb0gPNSKy6BEqdS2IfwxrcbUuo1\r\n",
            "Content-Type: text/html; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n",
            "\r\n",
            "<p dir=3D\"rtl\">=D8=B9=D8=A7=D8=AC=D9=84</p>=\r\n",
            "<a href=3D\"https://example.com/a?b=3Dc\">link</a>\r\n",
            "--0oVZ2r6AoLAhLlb0gPNSKy6BEqdS2IfwxrcbUuo1--\r\n",
        );
        let mail = decode_mime_message(raw);
        assert_eq!(mail.subject, "عاجل: انفجار في العاصمة");
        assert_eq!(mail.header("from"), Some("رصد <rasad@example.com>"));
        assert_eq!(
            mail.header("content-type"),
            Some("multipart/alternative; boundary=\"0oVZ2r6AoLAhLlb0gPNSKy6BEqdS2IfwxrcbUuo1\"")
        );
        assert_eq!(
            mail.text,
            "تفاصيل الخبر: وقع انفجار قرب الوزارة.\nالمصدر: وكالة"
        );
        assert_eq!(
            mail.html,
            "<p dir=\"rtl\">عاجل</p><a href=\"https://example.com/a?b=c\">link</a>"
        );

        // Encoded words split inside a multi-byte character, Q encoding, mixed plain text.
        assert_eq!(
            decode_encoded_words(
                "=?utf-8?b?2Lk=?= =?UTF-8?B?2Kc=?=\t=?utf-8?q?=D8=AC=D9=84?= news"
            ),
            "عاجل news"
        );
        assert_eq!(
            decode_encoded_words("=?utf-8?b?2A==?= =?utf-8?b?uQ==?="),
            "ع"
        );
        assert_eq!(
            decode_encoded_words("Test with utf-8 =?utf-8?b?w6s=?="),
            "Test with utf-8 ë"
        );
        assert_eq!(
            decode_encoded_words("=?utf-8?b?0KLQtdC80LAg0YHQvtC+0LHRidC10L3QuNGP?="),
            "Тема сообщения"
        );
        assert_eq!(decode_encoded_words("not =?encoded"), "not =?encoded");

        // Single-part 8bit message.
        let single = decode_mime_message(
            "Subject: plain\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\nمرحبا\r\nثانٍ\r\n",
        );
        assert_eq!(single.subject, "plain");
        assert_eq!(single.text, "مرحبا\nثانٍ");
        assert!(single.html.is_empty());
    }
}
