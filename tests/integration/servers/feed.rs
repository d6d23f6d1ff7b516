//! The feed server: documents served at paths, with ETag / Last-Modified and 304 answers,
//! forced statuses, and the hostile answers (redirects, drips, floods, gzip bombs).

use super::*;

pub(super) struct FeedDocument {
    pub(super) body: Vec<u8>,
    pub(super) content_type: String,
    pub(super) etag: String,
    pub(super) last_modified: u64,
}

/// A response served as given, for the hostile cases: any status and headers, and a body
/// that may drip.
#[derive(Clone)]
pub(super) struct RawDocument {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) drip: Option<(usize, Duration)>,
}

#[derive(Default)]
pub(super) struct FeedState {
    pub(super) documents: HashMap<String, FeedDocument>,
    /// Paths answered exactly as set by [`FeedServer::set_raw`] or [`FeedServer::set_drip`].
    pub(super) raw: HashMap<String, RawDocument>,
    /// Paths forced to answer with an error status (set by [`FeedServer::set_status`]).
    pub(super) forced_status: HashMap<String, u16>,
    /// Every request with the status it was answered with.
    pub(super) log: Vec<(RecordedRequest, u16)>,
    pub(super) version: u64,
    pub(super) delay: Option<Duration>,
}

impl FeedState {
    pub(super) fn respond(&mut self, request: &RecordedRequest) -> HttpResponse {
        let mut response = self.answer(request);
        response.delay = self.delay;
        self.log.push((request.clone(), response.status));
        response
    }

    pub(super) fn answer(&self, request: &RecordedRequest) -> HttpResponse {
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
pub(super) fn etag_matches(candidates: &str, etag: &str) -> bool {
    let strip_weak = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let etag = strip_weak(etag);
    candidates
        .split(',')
        .any(|candidate| candidate.trim() == "*" || strip_weak(candidate) == etag)
}

/// HTTP/1.1 server serving feed documents with strong ETags and Last-Modified dates,
/// answering conditional GETs with `304 Not Modified`.
pub struct FeedServer {
    pub(super) state: Arc<Mutex<FeedState>>,
    pub(super) task: ServerTask,
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
