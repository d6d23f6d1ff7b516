//! Poll slots: at most `poll.concurrency` polls at a time, each taking its slot only once its
//! host's turn came (`poll.per_host`), so that polls queued behind one slow host hold no slot
//! that a feed of another host could use.
//!
//! A poll takes its host's turn first and its slot second, never the other way round, and a
//! poll holding a slot waits for nothing but its own work: no two polls can wait for each
//! other. Both queues are first come, first served (tokio's semaphores are fair). The loop that
//! starts polls tries each host's turn as it starts the poll, so it knows at once which polls
//! wait for their host; it counts every other started poll as holding a slot, and starts as
//! many as there are slots for. The polls waiting for a host are at most the feeds of that
//! host, each a small task until its turn comes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::source::fetch::{Fetcher, HostTurn};

/// The daemon's poll slots.
pub(super) struct Slots {
    permits: Arc<Semaphore>,
    size: usize,
    /// Started polls waiting for their host's turn.
    waiting: Arc<AtomicUsize>,
}

impl Slots {
    /// `size` slots (`poll.concurrency`).
    pub(super) fn new(size: usize) -> Slots {
        let size = size.clamp(1, Semaphore::MAX_PERMITS);
        Slots {
            permits: Arc::new(Semaphore::new(size)),
            size,
            waiting: Arc::default(),
        }
    }

    /// How many more polls may start while `started` polls run or wait.
    pub(super) fn free(&self, started: usize) -> usize {
        let waiting = self.waiting.load(Ordering::Acquire);
        self.size.saturating_sub(started.saturating_sub(waiting))
    }

    /// Makes `size` slots (a reload changed `poll.concurrency`). Fewer slots take effect as the
    /// polls holding the ones given up end.
    pub(super) fn resize(&mut self, size: usize) {
        let size = size.clamp(1, Semaphore::MAX_PERMITS);
        if size > self.size {
            self.permits.add_permits(size - self.size);
        } else if size < self.size {
            let (permits, fewer) = (self.permits.clone(), self.size - size);
            tokio::spawn(async move {
                let fewer = u32::try_from(fewer).unwrap_or(u32::MAX);
                if let Ok(taken) = permits.acquire_many_owned(fewer).await {
                    taken.forget();
                }
            });
        }
        self.size = size;
    }

    /// The way in for one poll about to start, with its host's turn when the caller got one
    /// ([`Fetcher::try_host_turn`]); without, the poll is counted as waiting for its host.
    pub(super) fn pass(&self, turn: Option<HostTurn>) -> Pass {
        let turn = match turn {
            Some(turn) => Ok(turn),
            None => Err(Waiting::begin(&self.waiting)),
        };
        Pass {
            permits: self.permits.clone(),
            turn,
        }
    }
}

/// One poll's way to its host's turn and its slot.
pub(super) struct Pass {
    permits: Arc<Semaphore>,
    /// The host's turn, or the poll's place among those waiting for one.
    turn: Result<HostTurn, Waiting>,
}

impl Pass {
    /// Waits for a turn at `url`'s host unless it came with the pass, holding no slot
    /// meanwhile, then for a slot. The turn is for the fetch; the slot is held until dropped.
    pub(super) async fn enter(self, fetcher: &Fetcher, url: &Url) -> (HostTurn, Slot) {
        let turn = match self.turn {
            Ok(turn) => turn,
            Err(waiting) => {
                let turn = fetcher.host_turn(url).await;
                drop(waiting);
                turn
            }
        };
        let permit = self
            .permits
            .acquire_owned()
            .await
            .expect("the poll slots are never closed");
        (turn, Slot { _permit: permit })
    }
}

/// A poll's slot, held until the poll ends.
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// Counts a poll among those waiting for their host while it lives.
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn begin(waiting: &Arc<AtomicUsize>) -> Waiting {
        waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(waiting.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn fetcher(per_host: usize) -> Fetcher {
        Fetcher::new("t", Duration::from_secs(1), Duration::from_secs(1), 1024)
            .expect("a client")
            .with_per_host(per_host)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).expect("a URL")
    }

    /// A poll that finds its host busy is counted as waiting at once and holds no slot; the
    /// next poll of another host takes one, and the waiting poll takes its own in turn.
    #[tokio::test]
    async fn a_poll_waiting_for_its_host_holds_no_slot() {
        let fetcher = fetcher(1);
        let slots = Slots::new(2);
        let busy = url("http://busy.test/a");
        let first = slots.pass(fetcher.try_host_turn(&busy));
        let (turn, slot) = first.enter(&fetcher, &busy).await;
        assert_eq!(slots.free(1), 1);
        let queued = slots.pass(fetcher.try_host_turn(&busy));
        assert_eq!(slots.free(2), 1, "the waiting poll holds no slot");
        let queued = {
            let (fetcher, busy) = (fetcher.clone(), busy.clone());
            tokio::spawn(async move { queued.enter(&fetcher, &busy).await })
        };
        let other = url("http://other.test/b");
        let other = tokio::time::timeout(
            Duration::from_secs(5),
            slots
                .pass(fetcher.try_host_turn(&other))
                .enter(&fetcher, &other),
        )
        .await
        .expect("another host's poll gets a slot at once");
        assert_eq!(slots.free(3), 0);
        drop((turn, slot));
        let (_turn, _slot) = tokio::time::timeout(Duration::from_secs(5), queued)
            .await
            .expect("the queued poll gets its turn")
            .expect("it ran");
        assert_eq!(slots.free(3), 0);
        assert_eq!(slots.permits.available_permits(), 0);
        drop(other);
        assert_eq!(slots.permits.available_permits(), 1);
    }

    /// Shrinking takes effect as slots are given back; growing at once.
    #[tokio::test]
    async fn resizing_changes_how_many_polls_hold_slots() {
        let fetcher = fetcher(8);
        let mut slots = Slots::new(2);
        let host = url("http://host.test/");
        let first = slots.pass(None).enter(&fetcher, &host).await;
        let second = slots.pass(None).enter(&fetcher, &host).await;
        slots.resize(1);
        assert_eq!(slots.free(2), 0);
        drop((first, second));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(slots.permits.available_permits(), 1);
        slots.resize(3);
        assert_eq!(slots.permits.available_permits(), 3);
        assert_eq!(slots.free(0), 3);
    }
}
