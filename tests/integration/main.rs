//! End-to-end tests of the `rasad` binary against real servers on 127.0.0.1: a feed server with
//! ETag/304 (and hostile answers: redirects, drips, floods, gzip bombs), an SMTP server that
//! records messages, and a webhook receiver.

mod backtest;
mod clusters;
mod delivery;
mod desk_limits;
mod feeds;
mod fetch;
mod hostile;
mod hosts;
mod instances;
mod live_topics;
mod matching;
mod opml;
mod ops;
mod pg;
mod pipeline;
mod progress;
mod secrets;
mod servers;
mod store;
mod store_views;
mod support;
mod web_api;
mod web_pages;
