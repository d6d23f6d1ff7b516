//! The defaults that the README and `config/rasad.example.toml` quote, in one place: the checks
//! apply them to keys left out, and the commands that run without a config use them too.
//!
//! Two are owned by the module that needs them without a config (the clustering window by
//! `dedupe`, the per-host limit by the fetcher) and only named here, so each value is written
//! once.

use std::time::Duration;

/// `daemon.cluster_window`: how far back a story may join a cluster (36 h).
pub const CLUSTER_WINDOW: Duration = crate::dedupe::DEFAULT_WINDOW;
/// `poll.interval`: how often a feed is polled unless it says otherwise (300 s).
pub const POLL_INTERVAL: Duration = Duration::from_secs(300);
/// `poll.per_host`: requests to one host at the same time (2).
pub const PER_HOST: usize = crate::source::fetch::DEFAULT_PER_HOST;
/// `poll.max_body`: the largest feed body accepted, counted after decompression (10 MiB).
pub const MAX_BODY: u64 = 10 << 20;
/// `poll.cpu_deadline`: how long the CPU work of one poll (decode, repair, parse, fold, match,
/// fingerprint) may take before the poll is abandoned and recorded as failed (60 s). Every
/// stage is linear in input that `source::bounds` limits, so a body at the bounds takes well
/// under a second in a release build; the margin is for a slow or busy machine. The abandoned
/// work's thread cannot be stopped and runs on to its (bounded) end.
pub const CPU_DEADLINE: Duration = Duration::from_secs(60);
