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
//! Module map: [`config`] (parse, check, build), [`source`] (schedule, fetch, parse), [`text`]
//! and [`matcher`] (folding and keyword matching, pure), [`dedupe`] (story identity, pure),
//! [`pipeline`] (one poll of one feed), [`store`] (all SQL), [`sink`] (rendering and sending),
//! [`outbox`] (retries), [`runtime`] (what one config builds), [`app`] (the loops), [`telemetry`] (every metric),
//! [`server`] (admin HTTP), [`service`] (systemd notifications and watchdog).
//!
//! Forbidden edges: `source` never uses `sink`; `sink` never uses `source` fetching, `matcher`
//! or `store`; SQL stays in `store`; `text`, `matcher` and `dedupe` never use tokio; config
//! checks do no network I/O.

pub mod app;
pub mod config;
pub mod dedupe;
pub mod matcher;
pub mod model;
pub mod outbox;
pub mod pipeline;
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
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}
