//! Which feeds the daemon polls next: its own schedule in memory (one instance on a SQLite
//! file), or leases in the shared store (several instances on PostgreSQL), where each instance
//! claims due feeds that no live instance holds, renews its leases while it polls, and releases
//! a feed when its poll is recorded.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::store::{FeedEntry, Store, StoreError};
use crate::wiring::Wiring;

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
    Local(Local),
    /// Due times and leases live in the store; `registered` is the runtime whose feeds were
    /// last registered there.
    Leased {
        registered: Option<Arc<Wiring>>,
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
            Schedule::Local(Local::default())
        }
    }

    /// Brings the schedule in line with `runtime`'s feeds: new feeds are added (due when the
    /// store says, or now), removed ones dropped; with leases, the feeds are registered in the
    /// store once per config.
    pub(super) async fn sync(
        &mut self,
        runtime: &Arc<Wiring>,
        store: &Store,
    ) -> Result<(), StoreError> {
        match self {
            Schedule::Local(local) => local.sync(runtime, store).await,
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
        runtime: &Wiring,
        store: &Store,
        polling: &HashSet<String>,
        free: usize,
    ) -> Result<Vec<usize>, StoreError> {
        if free == 0 {
            return Ok(Vec::new());
        }
        let feeds = &runtime.config.feeds;
        match self {
            Schedule::Local(local) => Ok(local.take_due(Instant::now(), polling, free)),
            Schedule::Leased { next_look, .. } => {
                if Instant::now() < *next_look {
                    return Ok(Vec::new());
                }
                // Only feeds whose host has a turn free: a claimed feed waiting for its host
                // would hold its lease from instances that could poll it now.
                let ids: Vec<String> = feeds
                    .iter()
                    .filter(|f| runtime.fetcher.has_free_turn(&f.url))
                    .map(|f| f.id.clone())
                    .collect();
                if ids.is_empty() {
                    // Every host busy: a poll ending frees a turn and looks again at once.
                    *next_look = Instant::now() + LEASED_LOOK;
                    return Ok(Vec::new());
                }
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
            Schedule::Local(local) => local.postpone(later),
            Schedule::Leased { next_look, .. } => *next_look = later,
        }
    }

    /// When to look for due feeds next (feeds being polled are not due).
    pub(super) fn next_due(&self, polling: &HashSet<String>, now: Instant) -> Instant {
        match self {
            Schedule::Local(local) => local
                .next_due(polling)
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
            Schedule::Local(local) => local.set(id, Instant::now() + wait),
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
    pub(super) fn renew_every(&self, runtime: &Wiring) -> Option<Duration> {
        match self {
            Schedule::Local(_) => None,
            Schedule::Leased { .. } => Some(runtime.config.daemon.lease / 3),
        }
    }

    /// Extends this instance's leases on the feeds it is polling. A feed another instance
    /// holds now was lost (this instance stalled past its lease): both may poll it once, which
    /// the store's unique constraints make harmless, but it is worth a warning.
    pub(super) async fn renew(&self, runtime: &Wiring, store: &Store, polling: &HashSet<String>) {
        if !matches!(self, Schedule::Leased { .. }) || polling.is_empty() {
            return;
        }
        let ids: Vec<String> = polling.iter().cloned().collect();
        match store
            .renew_feeds(&ids, Utc::now(), runtime.config.daemon.lease)
            .await
        {
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
fn feed_entries(runtime: &Wiring) -> Vec<FeedEntry> {
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

/// The local schedule, ordered by due time so that each turn of the loop costs a few steps,
/// not a pass over every feed (at ten thousand feeds, a pass per finished poll made each cycle
/// cost a hundred million steps).
#[derive(Default)]
pub(super) struct Local {
    /// When each feed is due.
    at: HashMap<String, Instant>,
    /// The same, by time; a feed being polled is out of it until its poll ends.
    queue: BTreeSet<(Instant, String)>,
    /// Each feed's index in the config the schedule was last synced with.
    index_of: HashMap<String, usize>,
    synced: Option<Arc<Wiring>>,
}

impl Local {
    /// Adds feeds new to the schedule (due when the store says, or now) and drops removed ones;
    /// nothing to do while the config is the one last synced.
    async fn sync(&mut self, runtime: &Arc<Wiring>, store: &Store) -> Result<(), StoreError> {
        if self
            .synced
            .as_ref()
            .is_some_and(|r| Arc::ptr_eq(r, runtime))
        {
            return Ok(());
        }
        let feeds = &runtime.config.feeds;
        self.index_of = feeds
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id.clone(), i))
            .collect();
        let index_of = &self.index_of;
        self.at.retain(|id, _| index_of.contains_key(id));
        self.queue.retain(|(_, id)| index_of.contains_key(id));
        for feed in feeds {
            if self.at.contains_key(&feed.id) {
                continue;
            }
            let state = store.feed_state(&feed.id, feed.url.as_str()).await?;
            let wait = state
                .next_poll_at
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or_default();
            // A stored next poll (a Retry-After, a long <ttl>) holds across restarts, up to the cap.
            let cap = feed.interval.max(runtime.config.poll.max_interval);
            self.set(feed.id.clone(), Instant::now() + wait.min(cap));
        }
        self.synced = Some(runtime.clone());
        Ok(())
    }

    /// Feed `id` is due at `at`.
    fn set(&mut self, id: String, at: Instant) {
        if let Some(old) = self.at.insert(id.clone(), at) {
            self.queue.remove(&(old, id.clone()));
        }
        self.queue.insert((at, id));
    }

    /// The indexes of up to `free` feeds due at `now` and not in `polling`, taken out of the
    /// queue until their poll ends ([`Local::set`]).
    fn take_due(&mut self, now: Instant, polling: &HashSet<String>, free: usize) -> Vec<usize> {
        let mut taken = Vec::new();
        let mut skipped = Vec::new();
        while taken.len() < free {
            let Some((at, id)) = self.queue.first().cloned() else {
                break;
            };
            if at > now {
                break;
            }
            self.queue.pop_first();
            match self.index_of.get(&id) {
                Some(index) if !polling.contains(&id) => taken.push(*index),
                Some(_) => skipped.push((at, id)),
                None => {}
            }
        }
        self.queue.extend(skipped);
        taken
    }

    /// When the next feed not being polled is due.
    fn next_due(&self, polling: &HashSet<String>) -> Option<Instant> {
        self.queue
            .iter()
            .find(|(_, id)| !polling.contains(id))
            .map(|(at, _)| *at)
    }

    /// No feed is due before `later`.
    fn postpone(&mut self, later: Instant) {
        let at: Vec<(String, Instant)> = self.at.iter().map(|(id, at)| (id.clone(), *at)).collect();
        for (id, at) in at {
            if at < later && self.queue.contains(&(at, id.clone())) {
                self.set(id, later);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(feeds: &[(&str, u64)], base: Instant) -> Local {
        let mut local = Local::default();
        for (i, (id, secs)) in feeds.iter().enumerate() {
            local.index_of.insert(id.to_string(), i);
            local.set(id.to_string(), base + Duration::from_secs(*secs));
        }
        local
    }

    #[test]
    fn takes_due_feeds_in_time_order_up_to_the_free_slots() {
        let base = Instant::now();
        let none = HashSet::new();
        let cases = [
            ("nothing_due", 0, 5, vec![]),
            ("one_due", 10, 5, vec![1]),
            ("all_due_in_order", 100, 5, vec![1, 0, 2]),
            ("limited_by_free_slots", 100, 2, vec![1, 0]),
        ];
        for (name, at, free, expected) in cases {
            let mut schedule = local(&[("a", 20), ("b", 10), ("c", 30)], base);
            let now = base + Duration::from_secs(at);
            assert_eq!(schedule.take_due(now, &none, free), expected, "{name}");
        }
    }

    #[test]
    fn a_taken_feed_waits_for_its_poll_to_end() {
        let base = Instant::now();
        let none = HashSet::new();
        let mut schedule = local(&[("a", 1), ("b", 2)], base);
        let late = base + Duration::from_secs(10);
        assert_eq!(schedule.take_due(late, &none, 1), vec![0]);
        assert_eq!(
            schedule.next_due(&none),
            Some(base + Duration::from_secs(2))
        );
        assert_eq!(schedule.take_due(late, &none, 5), vec![1]);
        assert_eq!(schedule.next_due(&none), None);
        schedule.set("a".into(), base + Duration::from_secs(60));
        assert_eq!(
            schedule.next_due(&none),
            Some(base + Duration::from_secs(60))
        );
        // A feed still being polled (taken under another schedule) is left for later.
        let polling: HashSet<String> = ["a".to_string()].into();
        assert!(
            schedule
                .take_due(base + Duration::from_secs(99), &polling, 5)
                .is_empty()
        );
        assert_eq!(
            schedule.take_due(base + Duration::from_secs(99), &none, 5),
            vec![0]
        );
    }

    #[test]
    fn postponing_moves_only_feeds_due_before() {
        let base = Instant::now();
        let none = HashSet::new();
        let mut schedule = local(&[("a", 1), ("b", 100)], base);
        schedule.postpone(base + Duration::from_secs(50));
        assert_eq!(
            schedule.next_due(&none),
            Some(base + Duration::from_secs(50))
        );
        assert_eq!(
            schedule.take_due(base + Duration::from_secs(60), &none, 5),
            vec![0]
        );
        assert_eq!(
            schedule.next_due(&none),
            Some(base + Duration::from_secs(100))
        );
    }
}
