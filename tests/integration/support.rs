//! A test environment: a temporary folder with a config and a state file, the three servers, and
//! a way to run the `rasad` binary against them with a time limit.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use crate::servers::{FeedServer, SmtpServer, WebhookReceiver};

/// The key that signs webhook bodies in these tests.
pub const SECRET: &str = "test-secret-ك";
/// The content type the feed server gives feeds.
pub const RSS: &str = "application/rss+xml; charset=utf-8";
/// An item that matches no topic.
pub const KNOWN: (&str, &str, &str) = ("n1", "خبر", "نص");
/// No `rasad` process in these tests may run longer than this.
/// Delivery settings that retry within a test's patience.
pub const FAST_RETRIES: &str = "retry_initial = \"200ms\"\nretry_max = \"400ms\"\ntimeout = \"2s\"";

pub const PROCESS_LIMIT: Duration = Duration::from_secs(60);

pub struct Env {
    pub dir: tempfile::TempDir,
    pub feeds: FeedServer,
    pub hook: WebhookReceiver,
    pub smtp: SmtpServer,
    /// Extra `[[feed]]` ids served at `/<id>.xml`, besides `news`.
    pub extra_feeds: Vec<String>,
    /// `daemon.listen`: "" (no admin server, so that daemons in parallel tests do not compete
    /// for a port) unless a test sets an address.
    pub listen: String,
    /// `RUST_LOG` of the processes [`Env::spawn`] starts.
    pub log_level: &'static str,
}

impl Env {
    pub async fn start() -> Env {
        Env {
            dir: tempfile::tempdir().expect("a temporary folder"),
            feeds: FeedServer::start().await,
            hook: WebhookReceiver::start().await,
            smtp: SmtpServer::start().await,
            extra_feeds: Vec::new(),
            listen: String::new(),
            log_level: "info",
        }
    }

    /// An environment whose `news` feed is already known: polled once, with [`KNOWN`] as its
    /// only item, so that the next new items alert.
    pub async fn with_known_feed() -> Env {
        let env = Env::start().await;
        env.write_config();
        env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
        let summary = env.once().await;
        assert_eq!(count(&summary, "new_stories"), 1, "{summary}");
        env
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("rasad.toml")
    }

    /// Writes the config: the `news` feed and any extra ones, one topic notifying the email
    /// and webhook channels, and short retry times.
    pub fn write_config(&self) {
        self.write_config_with(
            "retry_initial = \"200ms\"\nretry_max = \"400ms\"\ntimeout = \"5s\"",
            "timeout = \"5s\"",
            "",
        );
    }

    /// Writes the config with `delivery` as the `[delivery]` table, `desk_extra` added to the
    /// email channel and `tail` (more keys of the webhook channel, or more tables) at the end.
    pub fn write_config_with(&self, delivery: &str, desk_extra: &str, tail: &str) {
        let mut text = format!(
            r#"
[daemon]
state = "state/rasad.db"
listen = "{listen}"

[poll]
interval = "1s"
timeout = "5s"

[delivery]
{delivery}

[[topic]]
id = "isis"
name = "داعش"
any = ["داعش", "تنظيم الدولة", "ISIS"]
notify = ["desk", "ops"]

[[channel]]
id = "desk"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {port}
tls = "none"
from = "rasad <rasad@test.example>"
to = ["desk@test.example"]
{desk_extra}

[[channel]]
id = "ops"
kind = "webhook"
url = "{hook}"
secret_env = "RASAD_TEST_WEBHOOK_SECRET"
{tail}
"#,
            port = self.smtp.port(),
            hook = self.hook.url(),
            listen = self.listen,
        );
        for id in std::iter::once("news").chain(self.extra_feeds.iter().map(String::as_str)) {
            text.push_str(&format!(
                "\n[[feed]]\nid = \"{id}\"\nname = \"Outlet {id}\"\nurl = \"{}\"\n",
                self.feeds.url(&format!("/{id}.xml"))
            ));
        }
        std::fs::write(self.config_path(), text).expect("config written");
    }

    /// Runs `rasad ARGS -c CONFIG` to completion (bounded by [`PROCESS_LIMIT`]).
    pub async fn rasad(&self, args: &[&str]) -> Output {
        self.rasad_with(args, &[]).await
    }

    /// [`Env::rasad`] with more environment variables (`vars`).
    pub async fn rasad_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"));
        command
            .envs(vars.iter().copied())
            .args(args)
            .arg("-c")
            .arg(self.config_path())
            .env("RASAD_TEST_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", self.log_level)
            .kill_on_drop(true);
        tokio::time::timeout(PROCESS_LIMIT, command.output())
            .await
            .expect("rasad finished within the limit")
            .expect("rasad started")
    }

    /// Starts `rasad ARGS -c CONFIG` in the background (killed when dropped); its log is
    /// appended to `rasad.log` in the environment's folder (see [`Env::log`]).
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("rasad.log"))
            .expect("log file opened");
        tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"))
            .args(args)
            .arg("-c")
            .arg(self.config_path())
            .env("RASAD_TEST_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", self.log_level)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("rasad started")
    }

    /// What the processes started by [`Env::spawn`] logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rasad.log")).unwrap_or_default()
    }

    /// Runs `rasad once --json` and returns its summary; panics (with stderr) when it fails.
    pub async fn once(&self) -> serde_json::Value {
        let output = self.rasad(&["once", "--json"]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "rasad once failed: {stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("summary {last:?} is not JSON ({e}); stderr: {stderr}"))
    }
}

/// An RSS 2.0 feed with the given `(guid, title, description)` items.
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>أخبار</title><link>https://outlet.test/</link>\n",
    );
    for (guid, title, description) in items {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://outlet.test/{guid}?utm_source=rss</link>\
             <description><![CDATA[<p>{description}</p>]]></description><pubDate>Sun, 29 Nov 2026 08:00:00 GMT</pubDate></item>\n"
        ));
    }
    body.push_str("</channel></rss>\n");
    body
}

/// Several summary counts, in the order of `keys`.
pub fn counts<const N: usize>(summary: &serde_json::Value, keys: [&str; N]) -> [u64; N] {
    keys.map(|key| count(summary, key))
}

/// A summary count as a number.
pub fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("summary has no {key}: {summary}"))
}

/// The hex HMAC-SHA256 of `"<timestamp>.<body>"`, computed here independently of rasad.
pub fn expected_signature(timestamp: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the tests run under CI (`CI` set, and not to "", "0" or "false"). There, what a test
/// needs from outside (the PostgreSQL server, the shared sample files) must be present: a test
/// that skipped would pass without having run.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Says that `what` (a server, a file) is missing: a printed note and a skip on a developer's
/// machine, a failure under CI (see [`under_ci`]).
pub fn missing(test: &str, what: &str) {
    assert!(
        !under_ci(),
        "{test}: {what}; under CI a test does not skip for want of it"
    );
    eprintln!("note: {test}: skipped, {what}");
}

/// How often [`eventually`] looks again.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Waits until `check` holds, looking every 50 ms; false when `limit` passed first.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < end {
        if check() {
            return true;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    check()
}

/// [`eventually`] for a check that has to wait itself (a request, a query).
pub async fn eventually_async<F>(limit: Duration, mut check: impl FnMut() -> F) -> bool
where
    F: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < end {
        if check().await {
            return true;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    check().await
}

/// Waits for `child` (bounded by [`PROCESS_LIMIT`]) while reading its peak resident memory
/// (`VmHWM`, in KiB) every 20 ms: its exit status and the highest peak seen.
pub async fn wait_with_peak_memory(
    child: &mut tokio::process::Child,
) -> (std::process::ExitStatus, u64) {
    let pid = child.id().expect("a running child");
    let mut peak_kib = 0;
    let status = tokio::time::timeout(PROCESS_LIMIT, async {
        loop {
            if let Some(kib) = peak_memory_kib(pid) {
                peak_kib = peak_kib.max(kib);
            }
            if let Some(status) = child.try_wait().expect("child status") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the process finished within the limit");
    (status, peak_kib)
}

/// The peak resident memory (VmHWM, KiB) of a running process, if it is still there.
fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `n` items that each mention داعش, plus the known one.
pub fn matching_items(n: usize) -> String {
    let items: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            (
                format!("m{i}"),
                format!("بيان لداعش رقم {i}"),
                format!("نص الخبر {i}"),
            )
        })
        .collect();
    let mut refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str()))
        .collect();
    refs.push(KNOWN);
    rss(&refs)
}
