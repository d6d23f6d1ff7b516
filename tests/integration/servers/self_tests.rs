//! Self tests of the servers: real TCP, hand-written clients.

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
        decode_encoded_words("=?utf-8?b?2Lk=?= =?UTF-8?B?2Kc=?=\t=?utf-8?q?=D8=AC=D9=84?= news"),
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
