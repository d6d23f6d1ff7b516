//! Which feeds the daemon polls next: its own schedule in memory (one instance on a SQLite
//! file), or leases in the shared store (several instances on PostgreSQL), where each instance
//! claims due feeds that no live instance holds, renews its leases while it polls, and releases
//! a feed when its poll is recorded.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::runtime::Runtime;
use crate::store::{FeedEntry, Store, StoreError};

/// The longest the leased scheduler sleeps without asking the store: feeds another instance
/// released, or one that died left, are found at least this often.
const LEASED_LOOK: Duration = Duration::from_secs(5);
/// The wait before the schedule is read again after the store failed to answer.
const STORE_RETRY: Duration = Duration::from_secs(2);
/// The shortest sleep between two looks, so that a feed due but not claimable never spins.
const MIN_LOOK: Duration = Duration::from_millis(50);

/// The daemon's feed schedule.
pub(super) enum Schedule {
    /// When each configured feed is due, kept by this process alone.
    Local(HashMap<String, Instant>),
    /// Due times and leases live in the store; `registered` is the runtime whose feeds were
    /// last registered there.
    Leased {
        registered: Option<Arc<Runtime>>,
        next_look: Instant,
    },
}

impl Schedule {
    /// Leases when the store is shared, else the local schedule.
    pub(super) fn for_store(store: &Store) -> Schedule {
        if store.is_shared() {
            Schedule::Leased {
                registered: None,
                next_look: Instant::now(),
            }
        } else {
            Schedule::Local(HashMap::new())
        }
    }

    /// Brings the schedule in line with `runtime`'s feeds: new feeds are added (due when the
    /// store says, or now), removed ones dropped; with leases, the feeds are registered in the
    /// store once per config.
    pub(super) async fn sync(
        &mut self,
        runtime: &Arc<Runtime>,
        store: &Store,
    ) -> Result<(), StoreError> {
        match self {
            Schedule::Local(schedule) => sync_local(schedule, runtime, store).await,
            Schedule::Leased { registered, .. } => {
                if registered.as_ref().is_some_and(|r| Arc::ptr_eq(r, runtime)) {
                    return Ok(());
                }
                store.register_feeds(&feed_entries(runtime)).await?;
                *registered = Some(runtime.clone());
                Ok(())
            }
        }
    }

    /// The indexes (in `runtime.config.feeds`) of up to `free` feeds to poll now, none of them
    /// among `polling`; with leases they are claimed for this instance.
    pub(super) async fn take_due(
        &mut self,
        runtime: &Runtime,
        store: &Store,
        polling: &HashSet<String>,
        free: usize,
    ) -> Result<Vec<usize>, StoreError> {
        if free == 0 {
            return Ok(Vec::new());
        }
        let feeds = &runtime.config.feeds;
        match self {
            Schedule::Local(schedule) => {
                let now = Instant::now();
                Ok(feeds
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| {
                        schedule.get(&f.id).is_some_and(|at| *at <= now) && !polling.contains(&f.id)
                    })
                    .map(|(index, _)| index)
                    .take(free)
                    .collect())
            }
            Schedule::Leased { next_look, .. } => {
                if Instant::now() < *next_look {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = feeds.iter().map(|f| f.id.clone()).collect();
                let claimed = store
                    .claim_feeds(
                        &ids,
                        Utc::now(),
                        u32::try_from(free).unwrap_or(u32::MAX),
                        runtime.config.daemon.lease,
                    )
                    .await?;
                // Fewer than asked: nothing else is due now; look again when the store says.
                *next_look = if claimed.len() < free {
                    let next = store.next_feed_due(&ids).await?;
                    instant_of(next).clamp(Instant::now() + MIN_LOOK, Instant::now() + LEASED_LOOK)
                } else {
                    Instant::now()
                };
                Ok(claimed
                    .iter()
                    .filter(|id| !polling.contains(*id))
                    .filter_map(|id| feeds.iter().position(|f| &f.id == id))
                    .collect())
            }
        }
    }

    /// The store failed to answer: look again after [`STORE_RETRY`], not at once.
    pub(super) fn back_off(&mut self) {
        let later = Instant::now() + STORE_RETRY;
        match self {
            Schedule::Local(schedule) => {
                for at in schedule.values_mut() {
                    *at = (*at).max(later);
                }
            }
            Schedule::Leased { next_look, .. } => *next_look = later,
        }
    }

    /// When to look for due feeds next (feeds being polled are not due).
    pub(super) fn next_due(&self, polling: &HashSet<String>, now: Instant) -> Instant {
        match self {
            Schedule::Local(schedule) => schedule
                .iter()
                .filter(|(id, _)| !polling.contains(*id))
                .map(|(_, at)| *at)
                .min()
                .unwrap_or(now + Duration::from_secs(60)),
            Schedule::Leased { next_look, .. } => *next_look,
        }
    }

    /// A poll of `id` ended: it is due after `wait`. With leases the store already knows (the
    /// recorded poll set the next poll and released the lease) unless `recorded` is false, in
    /// which case the lease is given up with that due time.
    pub(super) async fn polled(
        &mut self,
        store: &Store,
        id: String,
        wait: Duration,
        recorded: bool,
    ) {
        match self {
            Schedule::Local(schedule) => {
                schedule.insert(id, Instant::now() + wait);
            }
            Schedule::Leased { next_look, .. } => {
                if !recorded {
                    let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    if let Err(e) = store.release_feed(&id, at).await {
                        tracing::warn!(feed = %id, error = %e, "cannot release the feed's lease; it expires on its own");
                    }
                }
                // A slot is free: look for due feeds at once.
                *next_look = Instant::now();
            }
        }
    }

    /// How often leases are renewed (`None`: no leases).
    pub(super) fn renew_every(&self, runtime: &Runtime) -> Option<Duration> {
        match self {
            Schedule::Local(_) => None,
            Schedule::Leased { .. } => Some(runtime.config.daemon.lease / 3),
        }
    }

    /// Extends this instance's leases on the feeds it is polling. A feed another instance
    /// holds now was lost (this instance stalled past its lease): both may poll it once, which
    /// the store's unique constraints make harmless, but it is worth a warning.
    pub(super) async fn renew(&self, runtime: &Runtime, store: &Store, polling: &HashSet<String>) {
        if !matches!(self, Schedule::Leased { .. }) || polling.is_empty() {
            return;
        }
        let ids: Vec<String> = polling.iter().cloned().collect();
        let until = Utc::now()
            + chrono::Duration::from_std(runtime.config.daemon.lease).unwrap_or_default();
        match store.renew_feeds(&ids, until).await {
            Ok(lost) if !lost.is_empty() => tracing::warn!(
                feeds = %lost.join(","),
                "feed leases ran out before they were renewed; another instance polls them too"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot renew feed leases"),
        }
    }
}

/// The configured feeds as the store registers them, each due by its cap from now.
fn feed_entries(runtime: &Runtime) -> Vec<FeedEntry> {
    let now = Utc::now();
    runtime
        .config
        .feeds
        .iter()
        .map(|feed| {
            let cap = feed.interval.max(runtime.config.poll.max_interval);
            FeedEntry {
                id: feed.id.clone(),
                url: feed.url.to_string(),
                due_by: now + chrono::Duration::from_std(cap).unwrap_or(chrono::Duration::days(1)),
            }
        })
        .collect()
}

/// The instant of a wall-clock time (now for a past time or none).
fn instant_of(at: Option<chrono::DateTime<Utc>>) -> Instant {
    let wait = at
        .and_then(|at| (at - Utc::now()).to_std().ok())
        .unwrap_or_default();
    Instant::now() + wait
}

/// Adds feeds new to the schedule (due when the store says, or now) and drops removed ones.
async fn sync_local(
    schedule: &mut HashMap<String, Instant>,
    runtime: &Runtime,
    store: &Store,
) -> Result<(), StoreError> {
    schedule.retain(|id, _| runtime.config.feeds.iter().any(|f| &f.id == id));
    for feed in &runtime.config.feeds {
        if schedule.contains_key(&feed.id) {
            continue;
        }
        let state = store.feed_state(&feed.id, feed.url.as_str()).await?;
        let wait = state
            .next_poll_at
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or_default();
        // A stored next poll (a Retry-After, a long <ttl>) holds across restarts, up to the cap.
        let cap = feed.interval.max(runtime.config.poll.max_interval);
        schedule.insert(feed.id.clone(), Instant::now() + wait.min(cap));
    }
    Ok(())
}
