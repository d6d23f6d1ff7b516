//! rasad watches Arabic news feeds and sends one durable alert per matching story.
//!
//! The pipeline, stage by stage (each stage passes plain data from [`model`]):
//!
//! ```text
//! Feed ──fetch──► FetchOutcome ──parse──► Vec<Story> ──store: new?──► Story
//!      ──matcher──► hits ──pipeline::plan──► Alert per story × topic, Delivery per alert × channel
//!      (story, alerts and deliveries written in ONE store transaction)
//! Delivery ──outbox → sink.send──► Delivered | Retry{after} | Rejected
//! ```
//!
//! Module map (one line each):
//!
//! ```text
//! model        plain data that crosses stages: Story, Hit, AlertPayload, Delivery, Validators…
//! config       raw serde tables → checks by table (check/) → Config; every default in defaults
//! source       where stories come from: read (fetch, then parse: the one way a feed is read),
//!              fetch, decode, lenient (repairs), parse, dates, bounds, address, poll_policy
//! text         Arabic/Latin folding with a map back to the original offsets; pure
//! matcher      topics → one automaton, each hit's edges validated; pure
//! dedupe       story keys (story_key via assign_keys), canonical URLs, fingerprints; pure
//! pipeline     one poll of one feed as a recipe: read, keep the new, match, plan, record
//! store        all SQL: one Store over SQLite or PostgreSQL, each operation written once
//! sink         rendering and sending: enum Sink { Email, Webhook, Stdout } → SendOutcome
//! outbox       claim due deliveries, send, record; retries, digests, hourly limits
//! backtest     a rule tried on the stories the store kept, page by page (`rasad backtest`)
//! opml         a reader's subscription list read into feeds; the config's feeds as OPML; pure
//! wiring       what one config version builds (matcher, fetcher, sinks); reload swaps it
//! app          the daemon's loops, `rasad once` and its dry run; app::due_feeds picks due feeds,
//!              app::slots gives a poll its slot after its host's turn
//! server       admin HTTP: /healthz, /readyz, /metrics, and the desk when [web] is set
//! web          the analyst's desk: token and sessions, the JSON API (/api/v1), the pages
//! service      systemd notifications and watchdog
//! telemetry    every metric and its labels
//! progress     the live line of `rasad once`
//! redact       feed URLs with their login and query values masked, wherever they are shown
//! retry_after  the Retry-After header, for the fetcher and the webhook sink alike
//! ```
//!
//! The `rasad` binary: `main.rs` (arguments, dispatch, exit codes, logging) and `cli/` (one
//! module per command).
//!
//! Forbidden edges: `source` never uses `sink`; `sink` never uses `source` fetching, `matcher`
//! or `store`; SQL stays in `store`; `text`, `matcher` and `dedupe` never use tokio; config
//! checks do no network I/O.

pub mod app;
pub mod backtest;
pub mod config;
pub mod dedupe;
pub mod matcher;
pub mod model;
pub mod opml;
pub(crate) mod outbox;
pub mod pipeline;
pub mod progress;
pub(crate) mod redact;
pub(crate) mod retry_after;
pub mod server;
pub(crate) mod service;
pub mod sink;
pub mod source;
pub mod store;
pub(crate) mod telemetry;
pub mod text;
pub(crate) mod web;
pub mod wiring;

/// An error with its chain of sources, as one line: HTTP and SMTP clients put the useful part
/// ("connection refused", "certificate expired") in the innermost source.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        // Some errors already print their source (lettre does): say it once.
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    message
}

/// The most bytes of a panic's message kept for a log line or a feed's health.
pub const MAX_PANIC_MESSAGE: usize = 512;

/// The message a panic was raised with, as [`panic_text`] gives it.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic_text(panic.as_ref())
}

/// The message of a panic's payload, cut to [`MAX_PANIC_MESSAGE`] bytes with its control
/// characters escaped: a parser's message may quote the feed it choked on (feed-rs quotes the
/// field it sliced), and that text must not reach a log line or a terminal as it came.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let raw = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    let mut text = String::with_capacity(raw.len().min(MAX_PANIC_MESSAGE) + 4);
    for c in raw.chars() {
        if text.len() + c.len_utf8() > MAX_PANIC_MESSAGE {
            text.push('…');
            break;
        }
        if c.is_control() && c != ' ' {
            text.extend(c.escape_default());
        } else {
            text.push(c);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    /// A parser's panic quoting the feed: the message kept is bounded and its control
    /// characters (a terminal escape, a newline forging a log line) are escaped.
    #[test]
    fn a_panic_quoting_a_feed_is_kept_bounded_and_escaped() {
        let quoted = format!("slice of `\u{1b}[31m{}\nforged line`", "x".repeat(5_000));
        let text = super::panic_text(&quoted);
        assert!(
            text.len() <= super::MAX_PANIC_MESSAGE + '…'.len_utf8(),
            "{}",
            text.len()
        );
        assert!(!text.contains(['\u{1b}', '\n']), "{text}");
        assert!(text.starts_with("slice of `\\u{1b}[31m"), "{text}");
        assert_eq!(super::panic_text(&"short"), "short");
    }

    use std::fmt;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn error_chain_names_each_cause_once() {
        let refused = || Some(Box::new(Layer("Connection refused (os error 111)", None)));
        let cases = [
            (
                "plain_chain",
                Layer("request failed", Some(Box::new(Layer("dns error", None)))),
                "request failed: dns error",
            ),
            (
                "source_already_in_the_message",
                Layer(
                    "network error: Connection refused (os error 111)",
                    refused(),
                ),
                "network error: Connection refused (os error 111)",
            ),
            ("no_source", Layer("timed out", None), "timed out"),
        ];
        for (name, error, want) in cases {
            assert_eq!(super::error_chain(&error), want, "{name}");
        }
    }
}
