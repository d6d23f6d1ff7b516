//! The webhook receiver: records every request and answers with scripted statuses.

use super::*;

pub(super) struct HookState {
    pub(super) queue: VecDeque<(u16, Vec<(String, String)>)>,
    pub(super) default_status: u16,
    pub(super) log: Vec<(RecordedRequest, u16)>,
    pub(super) delay: Option<Duration>,
}

impl HookState {
    pub(super) fn respond(&mut self, request: &RecordedRequest) -> HttpResponse {
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
    pub(super) state: Arc<Mutex<HookState>>,
    pub(super) task: ServerTask,
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
