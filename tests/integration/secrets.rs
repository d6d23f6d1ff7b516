//! No secret reaches a log, an error or a listing: SMTP AUTH at trace level, feed URLs that carry
//! a login or a token.

use std::time::Duration;

use crate::servers::FeedServer;
use crate::support::{Env, FAST_RETRIES, KNOWN, RSS, matching_items, rss};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn smtp_auth_leaves_no_password_in_a_trace_level_log() {
    let user = "desk-user";
    let password = crate::support::SECRET;
    let env = Env::start().await;
    env.smtp.require_auth(user, password);
    env.write_config_with(
        FAST_RETRIES,
        &format!("username = \"{user}\"\npassword_env = \"RASAD_TEST_WEBHOOK_SECRET\""),
        "",
    );
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    env.once().await;
    env.feeds.set("/news.xml", matching_items(1), RSS);
    let run = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"));
        command
            .args(args)
            .arg("-c")
            .arg(env.config_path())
            .env("RASAD_TEST_WEBHOOK_SECRET", password)
            .env("RUST_LOG", "trace")
            .kill_on_drop(true);
        command
    };
    let output = tokio::time::timeout(WAIT, run(&["once", "--json"]).output())
        .await
        .expect("rasad once finished")
        .expect("rasad started");
    assert!(output.status.success(), "{output:?}");
    let mails = env.smtp.messages();
    assert_eq!(mails.len(), 1, "the alert was sent after AUTH");
    assert_eq!(mails[0].auth_user.as_deref(), Some(user));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(log.len() > 1000, "a trace-level log was written: {log}");
    let forms = [
        ("the password", password.to_owned()),
        (
            "base64 of the password (AUTH LOGIN)",
            base64(password.as_bytes()),
        ),
        (
            "base64 of AUTH PLAIN",
            base64(format!("\0{user}\0{password}").as_bytes()),
        ),
        (
            "base64 of AUTH PLAIN with the user as authzid",
            base64(format!("{user}\0{user}\0{password}").as_bytes()),
        ),
    ];
    for (what, form) in forms {
        assert!(!log.contains(&form), "{what} is in the log: {form}");
    }

    // And `rasad check` says that AUTH over tls = "none" crosses the network unencrypted.
    let check = env.rasad(&["check"]).await;
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{check:?}");
    assert!(
        stderr.contains("channel \"desk\"") && stderr.contains("unencrypted"),
        "{stderr}"
    );
}

/// Standard base64 with padding, written here so that the test does not trust rasad's own.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn feed_urls_with_a_login_or_a_token_are_shown_redacted() {
    let feeds = FeedServer::start().await;
    feeds.set_status("/private.xml", 500);
    // A closed port: reqwest's own error names the URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let closed_port = closed.local_addr().expect("an address").port();
    drop(closed);
    let (password, token) = ("pw-4f1c9e", "tok-8a7b6c5d");
    let env = Env::start().await;
    let tail = format!(
        "\n[[feed]]\nid = \"private\"\nurl = \"http://reader:{password}@{addr}/private.xml?token={token}\"\n\
         \n[[feed]]\nid = \"gone\"\nurl = \"http://reader:{password}@127.0.0.1:{closed_port}/rss?token={token}\"\n",
        addr = feeds.addr(),
    );
    env.write_config_with(FAST_RETRIES, "", &tail);
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    let once = env.rasad(&["once", "--json"]).await;
    let listing = env.rasad(&["feeds"]).await;
    let json = env.rasad(&["feeds", "--json"]).await;
    let mut shown = String::new();
    for output in [&once, &listing, &json] {
        shown.push_str(&String::from_utf8_lossy(&output.stdout));
        shown.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!(
        feeds.request_count("/private.xml"),
        1,
        "the feed was polled"
    );
    assert!(shown.contains("token=***"), "{shown}");
    assert!(shown.contains("***@"), "{shown}");
    for secret in [password, token] {
        assert!(!shown.contains(secret), "{secret} is shown: {shown}");
    }
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    let gone = rows.iter().find(|r| r["id"] == "gone").expect("listed");
    assert!(
        gone["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{gone}"
    );
    feeds.shutdown().await;
}
