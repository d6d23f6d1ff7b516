//! Wiring: polls feeds through the pipeline, drains the outbox, and runs both on schedule until
//! shutdown (`run`) or once (`once`). SIGHUP reloads the config; a config that fails keeps the
//! running one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Feed};
use crate::matcher::Matcher;
use crate::model::{Story, Validators};
use crate::outbox;
use crate::panic_message;
use crate::pipeline::{FeedReport, poll_feed, record_abandoned};
use crate::source::parse::BodyHints;
use crate::source::read::{Read, read};
use crate::store::{Store, StoreError};
use crate::wiring::Wiring;
use crate::{progress, server, service};

mod due_feeds;
mod live_topics;
mod slots;
use due_feeds::Schedule;
use live_topics::LiveTopics;
use slots::{Pass, Slots};

/// How long shutdown waits for in-flight polls and sends before it abandons them (their leases
/// and unsaved validators make them safe to redo).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `rasad once` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OnceSummary {
    pub feeds_ok: usize,
    pub feeds_failed: usize,
    pub new_stories: usize,
    pub alerts: usize,
    /// Deliveries confirmed during this run.
    pub delivered: u64,
    /// Deliveries still waiting for a retry.
    pub pending: u64,
    /// Deliveries refused for good during this run.
    pub dead: u64,
}

impl std::fmt::Display for OnceSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "feeds: {} ok, {} failed; new stories: {}; alerts: {}; delivered: {}; pending: {}; dead: {}",
            self.feeds_ok,
            self.feeds_failed,
            self.new_stories,
            self.alerts,
            self.delivered,
            self.pending,
            self.dead
        )
    }
}

/// Polls every feed once (matching the config's and the managed topics), then sends every
/// delivery that is due until each is delivered, dead or waiting for a later retry. Each finished poll is counted in `progress`.
pub async fn once(
    runtime: Arc<Wiring>,
    store: &Store,
    progress: &Arc<progress::Counts>,
) -> Result<OnceSummary, AppError> {
    // The managed topics apply as in a running daemon.
    let runtime = match LiveTopics::new().refresh(store, &runtime).await {
        Some(with_managed) => Arc::new(with_managed),
        None => runtime,
    };
    let feeds: Vec<usize> = (0..runtime.config.feeds.len()).collect();
    let reports = poll_many(&runtime, store, feeds, progress).await?;
    progress.sending();
    let drained = outbox::drain(store, &runtime).await?;
    let outbox = store.outbox_counts(Utc::now()).await?;
    let mut summary = OnceSummary {
        delivered: drained.delivered,
        dead: drained.dead,
        pending: outbox.due + outbox.waiting,
        ..Default::default()
    };
    for report in reports {
        if report.error.is_some() {
            summary.feeds_failed += 1;
        } else {
            summary.feeds_ok += 1;
        }
        summary.new_stories += report.counts.new_stories;
        summary.alerts += report.counts.alerts;
    }
    Ok(summary)
}

/// A story that `once --dry-run` found relevant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRunMatch {
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub topics: Vec<String>,
    /// The matched words as they stand in the story.
    pub matched: Vec<String>,
}

/// Reads and matches every feed without validators and without touching the state; failures
/// are logged and skipped.
pub async fn dry_run(runtime: &Wiring) -> Vec<DryRunMatch> {
    let mut matches = Vec::new();
    for feed in &runtime.config.feeds {
        // Read exactly as a poll reads it: the HTTP charset and the feed's URL count.
        let feed_id = feed.id.clone();
        let reading = read(
            &runtime.fetcher,
            &feed.url,
            &Validators::default(),
            BodyHints::default(),
            (None, runtime.config.poll.cpu_deadline),
            move |parsed| parsed.stories(&feed_id, Utc::now()),
        )
        .await;
        let stories = match reading.read {
            Read::Parsed { parsed, .. } => parsed,
            Read::ParseFailed(e) => {
                tracing::warn!(feed = %feed.id, error = %e, "dry run: parse failed");
                continue;
            }
            Read::Abandoned(reason) => {
                tracing::warn!(feed = %feed.id, error = %format!("parse {reason}"), "dry run: parse failed");
                continue;
            }
            other => {
                tracing::warn!(feed = %feed.id, outcome = ?other, "dry run: no body");
                continue;
            }
        };
        matches.extend(
            stories
                .into_iter()
                .filter_map(|story| dry_run_match(runtime, feed, story)),
        );
    }
    matches
}

/// What the dry run shows of `story`, when it matches a topic.
fn dry_run_match(runtime: &Wiring, feed: &Feed, story: Story) -> Option<DryRunMatch> {
    let hits = runtime.matcher.match_story(&story);
    if hits.is_empty() {
        return None;
    }
    let topics = Matcher::by_topic(&hits)
        .keys()
        .map(|t| t.to_string())
        .collect();
    let mut matched: Vec<String> = Vec::new();
    for hit in &hits {
        let word = story.field_text(hit.field)[hit.token_span.clone()].to_owned();
        if !matched.contains(&word) {
            matched.push(word);
        }
    }
    Some(DryRunMatch {
        feed: feed.id.clone(),
        title: story.title,
        url: story.url,
        topics,
        matched,
    })
}

/// Polls the feeds at `indexes` concurrently, at most `poll.concurrency` at a time (polls
/// waiting for their host's turn not counted), counting each in `progress` as it ends.
async fn poll_many(
    runtime: &Arc<Wiring>,
    store: &Store,
    indexes: Vec<usize>,
    progress: &Arc<progress::Counts>,
) -> Result<Vec<FeedReport>, StoreError> {
    let slots = Slots::new(runtime.config.poll.concurrency);
    let mut tasks = JoinSet::new();
    let mut reports = Vec::with_capacity(indexes.len());
    let mut reap = |joined: Result<Result<FeedReport, StoreError>, tokio::task::JoinError>| {
        let report = joined.expect("a poll task does not panic: `poll_one` records its panics")?;
        progress.feed_done(&report);
        reports.push(report);
        Ok::<(), StoreError>(())
    };
    for index in indexes {
        // A poll starts only when a slot is free (polls waiting for their host hold none),
        // and an ended one is reaped at once: a poll's task is large once it runs (it holds
        // every stage's state), and ten thousand of them spawned at once, or kept until the
        // end, would each hold their size.
        while slots.free(tasks.len()) == 0
            && let Some(joined) = tasks.join_next().await
        {
            reap(joined)?;
        }
        let turn = runtime
            .fetcher
            .try_host_turn(&runtime.config.feeds[index].url);
        let (runtime, store, pass) = (runtime.clone(), store.clone(), slots.pass(turn));
        tasks.spawn(async move { poll_one(&runtime, &store, index, pass).await });
    }
    while let Some(joined) = tasks.join_next().await {
        reap(joined)?;
    }
    Ok(reports)
}

/// Polls one feed once `pass` gave it its host's turn and then a slot, in a task of its own,
/// so that a panic anywhere in the poll costs that poll only: it is recorded as the feed's
/// failure, with its backoff, and the feed's slot and lease are released like after any
/// failure. Until the poll starts, this task is small.
async fn poll_one(
    runtime: &Arc<Wiring>,
    store: &Store,
    index: usize,
    pass: Pass,
) -> Result<FeedReport, StoreError> {
    let (turn, _slot) = pass
        .enter(&runtime.fetcher, &runtime.config.feeds[index].url)
        .await;
    let poll = {
        let (runtime, store) = (runtime.clone(), store.clone());
        tokio::spawn(async move { poll_feed(&runtime, index, &store, turn).await })
    };
    match poll.await {
        Ok(result) => result,
        Err(e) => {
            let reason = match e.try_into_panic() {
                Ok(panic) => format!("the poll crashed: {}", panic_message(&panic)),
                Err(e) => format!("the poll was cancelled: {e}"),
            };
            record_abandoned(runtime, index, store, &reason).await
        }
    }
}

/// Runs the daemon until `shutdown` is cancelled: every feed on its schedule, the outbox
/// whenever deliveries are due, the admin HTTP server on `admin`. SIGHUP reloads `config_path`;
/// the service manager hears READY, RELOADING and STOPPING, and watchdog pings while the loops turn.
///
/// A little over a screen on purpose: the loop's `select!` is the daemon's one place where
/// shutdown, ended polls, due feeds, lease renewal and reloads meet, and it reads top to bottom.
pub async fn run(
    config_path: PathBuf,
    runtime: Wiring,
    store: Store,
    admin: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), AppError> {
    let telemetry = runtime.telemetry.clone();
    let (runtime_tx, runtime_rx) = watch::channel(Arc::new(runtime));
    let services = CancellationToken::new();
    let wake_outbox = Arc::new(Notify::new());
    let outbox_task = spawn_beside_polls(
        &store,
        admin,
        (&runtime_tx, runtime_rx),
        &wake_outbox,
        &services,
        &shutdown,
    );
    let beat = service::beat_period();
    let mut notified_ready = false;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut schedule = Schedule::for_store(&store);
    let mut polls = Polls::default();
    let mut live_topics = LiveTopics::new();
    let mut slots = Slots::new(runtime_tx.borrow().config.poll.concurrency);
    let renew_every = schedule.renew_every(&runtime_tx.borrow());
    let mut renew = tokio::time::interval(renew_every.unwrap_or(Duration::from_secs(3600)));
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(
        feeds = runtime_tx.borrow().config.feeds.len(),
        instance = store.instance(),
        shared = store.is_shared(),
        "rasad running"
    );
    loop {
        apply_topic_changes(&mut live_topics, &store, &runtime_tx).await;
        let runtime = runtime_tx.borrow().clone();
        slots.resize(runtime.config.poll.concurrency);
        let free = slots.free(polls.polling.len());
        let due = take_due(&mut schedule, &runtime, &store, &polls.polling, free).await;
        // An instance sharing the feeds with others may find none due for a while: having
        // looked is its sign of life.
        telemetry.scheduler_beat(store.is_shared() && due.is_empty() && polls.polling.is_empty());
        if !notified_ready {
            service::ready(&runtime.config.summary());
            notified_ready = true;
            // Watchdog pings begin after READY, which the service manager waits for first.
            if let Some(interval) = service::watchdog() {
                let watch = service::run_watchdog(interval, telemetry.clone(), services.clone());
                tokio::spawn(watch);
            }
        }
        for index in due {
            polls.start(&runtime, &store, index, &slots);
        }
        let now = Instant::now();
        // With every slot taken, the next thing to wait for is a poll ending.
        let next_due = if slots.free(polls.polling.len()) == 0 {
            now + beat
        } else {
            schedule.next_due(&polls.polling, now).min(now + beat)
        }
        .min(live_topics.next_check());
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(joined) = polls.in_flight.join_next_with_id() => {
                let Some((id, wait, recorded)) = polls.ended(joined, &runtime, &wake_outbox) else {
                    continue;
                };
                telemetry.scheduler_beat(true);
                schedule.polled(&store, id, wait, recorded).await;
            }
            () = tokio::time::sleep_until(next_due) => {}
            _ = renew.tick(), if renew_every.is_some() => {
                schedule.renew(&runtime, &store, &polls.polling).await;
            }
            Some(()) = recv_hangup(&mut hangup) => {
                service::reloading();
                let reloaded = reload(&config_path, &runtime)
                    .map(|new| live_topics.apply(&new).unwrap_or(new));
                telemetry.reloaded(reloaded.is_some());
                if let Some(new) = reloaded {
                    runtime_tx.send_replace(Arc::new(new));
                    wake_outbox.notify_one();
                }
                service::ready(&runtime_tx.borrow().config.summary());
            }
        }
    }
    tracing::info!(in_flight = polls.polling.len(), "shutting down");
    service::stopping();
    services.cancel();
    stop_within_grace(polls.in_flight, outbox_task).await;
    store.close().await;
    Ok(())
}

/// Starts what runs beside the polls: the admin server (until `services` is cancelled), the outbox, retention and the listener for new deliveries (until `shutdown`).
/// Returns the outbox's task, which shutdown waits for.
fn spawn_beside_polls(
    store: &Store,
    admin: Option<tokio::net::TcpListener>,
    (runtime_tx, runtime_rx): (&watch::Sender<Arc<Wiring>>, watch::Receiver<Arc<Wiring>>),
    wake_outbox: &Arc<Notify>,
    services: &CancellationToken,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    if let Some(listener) = admin {
        let serve = server::serve(
            listener,
            store.clone(),
            runtime_rx.clone(),
            services.clone(),
        );
        tokio::spawn(serve);
    }
    let outbox_task = tokio::spawn(run_outbox(
        store.clone(),
        runtime_rx,
        wake_outbox.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(run_retention(
        store.clone(),
        runtime_tx.subscribe(),
        shutdown.clone(),
    ));
    let (store, wake, stop) = (store.clone(), wake_outbox.clone(), shutdown.clone());
    tokio::spawn(async move { store.listen_for_deliveries(wake, stop).await });
    outbox_task
}

/// The feeds due now, at most as many as free poll slots. A store that does not answer (a
/// shared database restarting) costs polls, not the daemon: the schedule is read again shortly.
async fn take_due(
    schedule: &mut Schedule,
    runtime: &Arc<Wiring>,
    store: &Store,
    polling: &std::collections::HashSet<String>,
    free: usize,
) -> Vec<usize> {
    let due = match schedule.sync(runtime, store).await {
        Ok(()) => schedule.take_due(runtime, store, polling, free).await,
        Err(e) => Err(e),
    };
    due.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the feed schedule from the store; trying again shortly");
        schedule.back_off();
        Vec::new()
    })
}

/// The polls under way in the daemon.
#[derive(Default)]
struct Polls {
    in_flight: JoinSet<Result<FeedReport, StoreError>>,
    /// The ids of the feeds being polled.
    polling: std::collections::HashSet<String>,
    /// The feed of each poll task, so that a task that ends without a report (it panicked, past
    /// the guard in `poll_one`) still gives its feed back to the schedule.
    task_feeds: HashMap<tokio::task::Id, String>,
}

impl Polls {
    /// Starts a poll of feed `index`, unless one is under way: it takes its host's turn now if
    /// one is free, else waits for one holding no slot (`slots`).
    fn start(&mut self, runtime: &Arc<Wiring>, store: &Store, index: usize, slots: &Slots) {
        let feed = &runtime.config.feeds[index];
        if self.polling.insert(feed.id.clone()) {
            let turn = runtime.fetcher.try_host_turn(&feed.url);
            let (runtime, store, pass) = (runtime.clone(), store.clone(), slots.pass(turn));
            let task = self
                .in_flight
                .spawn(async move { poll_one(&runtime, &store, index, pass).await });
            self.task_feeds.insert(task.id(), feed.id.clone());
        }
    }

    /// Forgets a poll that ended and says what the schedule should do with its feed: the
    /// feed's id, the wait before its next poll, and whether its poll was recorded. Wakes the
    /// outbox when the poll queued deliveries. `None` for a task this set does not know.
    fn ended(
        &mut self,
        joined: Result<(tokio::task::Id, Result<FeedReport, StoreError>), tokio::task::JoinError>,
        runtime: &Wiring,
        wake_outbox: &Notify,
    ) -> Option<(String, Duration, bool)> {
        let (task, result) = match joined {
            Ok((task, result)) => (task, Some(result)),
            Err(e) => (e.id(), None),
        };
        let id = self.task_feeds.remove(&task)?;
        self.polling.remove(&id);
        let interval = || {
            runtime
                .config
                .feeds
                .iter()
                .find(|f| f.id == id)
                .map_or(Duration::from_secs(60), |f| f.interval)
        };
        let (wait, recorded) = match result {
            Some(Ok(report)) => {
                if report.counts.deliveries > 0 {
                    wake_outbox.notify_one();
                }
                let wait = (report.next_poll_at - Utc::now()).to_std();
                (wait.unwrap_or_default(), true)
            }
            Some(Err(e)) => {
                tracing::error!(feed = %id, error = %e, "cannot record the poll; retrying after the feed's interval");
                (interval(), false)
            }
            None => {
                tracing::error!(feed = %id, "the poll task ended without a report; retrying after the feed's interval");
                (interval(), false)
            }
        };
        Some((id, wait, recorded))
    }
}

/// Waits for the polls under way and the outbox to end, for at most [`SHUTDOWN_GRACE`] in all;
/// what still runs then is abandoned (leases and unsaved validators make it safe to redo).
async fn stop_within_grace(
    mut in_flight: JoinSet<Result<FeedReport, StoreError>>,
    outbox_task: tokio::task::JoinHandle<()>,
) {
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    if tokio::time::timeout_at(deadline, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!("polls still running after {SHUTDOWN_GRACE:?}; abandoning them");
        in_flight.shutdown().await;
    }
    if tokio::time::timeout_at(deadline, outbox_task)
        .await
        .is_err()
    {
        tracing::warn!(
            "deliveries still running after {SHUTDOWN_GRACE:?}; their leases will expire"
        );
    }
}

async fn recv_hangup(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

/// Rebuilds the running wiring with the managed topics when they changed in the store; polls
/// started from now on match them.
async fn apply_topic_changes(
    live: &mut LiveTopics,
    store: &Store,
    runtime: &watch::Sender<Arc<Wiring>>,
) {
    let running = runtime.borrow().clone();
    if let Some(new) = live.refresh(store, &running).await {
        runtime.send_replace(Arc::new(new));
    }
}

/// Reads, checks and builds the config at `path`; on any failure logs every error and returns
/// `None`, so that the running runtime stays. The new runtime keeps the running telemetry.
fn reload(path: &Path, running: &Wiring) -> Option<Wiring> {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "reload failed; keeping the running config");
            return None;
        }
    };
    if config.daemon.listen != running.config.daemon.listen {
        tracing::warn!("daemon.listen changed; the admin HTTP server moves on the next restart");
    }
    match Wiring::build(config) {
        Ok(mut runtime) => {
            runtime.telemetry = running.telemetry.clone();
            tracing::info!(summary = %runtime.config.summary(), "config reloaded");
            Some(runtime)
        }
        Err(e) => {
            tracing::error!(error = %e, "reload failed; keeping the running config");
            None
        }
    }
}

/// Runs one outbox worker per channel (so that a slow or paused channel holds only itself),
/// starts workers for channels added by a reload, and wakes them all when a poll added
/// deliveries.
/// How often old stories are pruned: often enough that the fingerprint index stays about the
/// size of one clustering window.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prunes stories past `daemon.retention` and index rows past the clustering window, at start
/// and then every [`PRUNE_EVERY`], until `shutdown`.
async fn run_retention(
    store: Store,
    runtime: watch::Receiver<Arc<Wiring>>,
    shutdown: CancellationToken,
) {
    loop {
        let daemon = runtime.borrow().config.daemon.clone();
        match store
            .prune(Utc::now(), daemon.retention, daemon.cluster_window)
            .await
        {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "old stories pruned"),
            Err(e) => tracing::warn!(error = %e, "cannot prune old stories"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

async fn run_outbox(
    store: Store,
    mut runtime: watch::Receiver<Arc<Wiring>>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let (tick, _) = watch::channel(());
    let mut workers: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let beat = service::beat_period();
    loop {
        let current = runtime.borrow_and_update().clone();
        current.telemetry.outbox_beat();
        workers.retain(|_, task| !task.is_finished());
        for channel in current.sinks.keys() {
            if !workers.contains_key(channel) {
                let task = tokio::spawn(outbox::run_channel(
                    store.clone(),
                    runtime.clone(),
                    channel.clone(),
                    tick.subscribe(),
                    shutdown.clone(),
                ));
                workers.insert(channel.clone(), task);
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = wake.notified() => { tick.send_replace(()); }
            Ok(()) = runtime.changed() => {}
            () = tokio::time::sleep(beat) => {}
        }
    }
    for (_, task) in workers {
        let _ = task.await;
    }
}
