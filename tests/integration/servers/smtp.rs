//! The plain-text SMTP server: records messages, speaks AUTH PLAIN and LOGIN, can require
//! auth, and can be shut down and started again on its port.

use super::*;

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
pub(super) struct SmtpState {
    pub(super) messages: Vec<RecordedMail>,
    pub(super) rejected: Vec<RecordedMail>,
    pub(super) reject_data: VecDeque<String>,
    pub(super) credentials: Option<(String, String)>,
    pub(super) commands: Vec<String>,
    pub(super) connections: usize,
}

pub(super) const EHLO_REPLY: &str =
    "250-localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n";

/// Plain-text ESMTP server (no TLS, no PIPELINING) recording every accepted message.
pub struct SmtpServer {
    pub(super) state: Arc<Mutex<SmtpState>>,
    pub(super) task: ServerTask,
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
pub(super) async fn smtp_reply(conn: &mut BufReader<TcpStream>, line: &str) -> io::Result<()> {
    write_all(conn, format!("{line}\r\n").as_bytes()).await
}

/// Reads one line from the client; `None` at end of stream.
pub(super) async fn smtp_read_line(
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
pub(super) fn smtp_path(arg: &str, keyword: &str) -> Option<String> {
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
pub(super) enum AuthOutcome {
    Reply(&'static str),
    Authenticated(String),
    Disconnected,
}

/// Reads a SASL response line after sending challenge `prompt`; `Err(reply)` on cancel or
/// undecodable input, `Ok(None)` when the client disconnected.
pub(super) async fn sasl_response(
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

pub(super) fn decode_sasl(text: &str) -> Result<Vec<u8>, &'static str> {
    match text.trim() {
        "*" => Err("501 5.7.0 Authentication cancelled"),
        "=" => Ok(Vec::new()),
        other => decode_base64(other).ok_or("501 5.5.2 Cannot decode response"),
    }
}

pub(super) async fn smtp_auth(
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
pub(super) async fn smtp_data(conn: &mut BufReader<TcpStream>) -> io::Result<Option<Vec<u8>>> {
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
pub(super) async fn smtp_session(stream: TcpStream, state: &Mutex<SmtpState>) -> io::Result<()> {
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
