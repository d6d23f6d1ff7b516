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
//! Module map: [`config`] (parse, check by table, build; the defaults in `config::defaults`), [`source`] (schedule, fetch, decode, parse),
//! [`text`] and [`matcher`] (folding and keyword matching, pure), [`dedupe`] (story keys,
//! canonical URLs, cluster fingerprints and the in-memory index of the window, pure), [`pipeline`] (one poll of one feed), [`store`]
//! (all SQL: one `Store` whose operations are written once and run on a SQLite file or on a
//! PostgreSQL database that several instances share through leases), [`sink`] (rendering and sending), [`outbox`] (retries, digests, limits),
//! [`backtest`] (a topic tried on the stories the store kept, page by page, for `rasad backtest`
//! and any other caller), [`runtime`] (what one config builds), [`app`] (the loops; `app::schedule` picks due feeds, by
//! lease on a shared store), [`progress`] (the live line of `rasad once`), [`telemetry`] (every
//! metric), [`server`] (admin HTTP), [`service`] (systemd notifications and watchdog),
//! [`redact`] (feed URLs with their login and query values masked, wherever they are shown),
//! [`opml`] (a feed reader's subscription list read into feeds, the config's feeds written as
//! OPML; pure).
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
pub mod outbox;
pub mod pipeline;
pub mod progress;
pub mod redact;
pub mod retry_after;
pub mod runtime;
pub mod server;
pub mod service;
pub mod sink;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod text;

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

#[cfg(test)]
mod tests {
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
