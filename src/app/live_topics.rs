//! Managed topics applied while the daemon runs: the store's topics revision is read every
//! [`TOPICS_CHECK_EVERY`]; when it changed (a save or delete, on any instance sharing the
//! database), the managed topics are read, checked against the running config, and the
//! automaton is rebuilt with them. Polls started after that match them; polls in flight finish
//! with the wiring they started with.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::store::{ManagedTopic, Store, StoreError};
use crate::wiring::{Wiring, checked_managed};

/// How often the running daemon reads the topics revision (one indexed row): a topic saved on
/// the desk applies to the polls that start at most this much later.
pub(crate) const TOPICS_CHECK_EVERY: Duration = Duration::from_secs(2);

/// The managed topics the running wiring was built with, and when to look for a change.
pub(crate) struct LiveTopics {
    /// The revision applied; `None` before the first read.
    revision: Option<i64>,
    /// The stored rules read at that revision, checked again against a reloaded config.
    rules: Vec<ManagedTopic>,
    next_check: Instant,
    /// The last read failed: an outage is warned about once, not every check.
    failing: bool,
}

impl LiveTopics {
    /// Nothing read yet: the first check is due at once.
    pub(crate) fn new() -> LiveTopics {
        LiveTopics {
            revision: None,
            rules: Vec::new(),
            next_check: Instant::now(),
            failing: false,
        }
    }

    /// When the next check is due.
    pub(crate) fn next_check(&self) -> Instant {
        self.next_check
    }

    /// When a check is due and the revision changed: `running` with the stored managed topics.
    /// `None` when no check is due, nothing changed, or the store failed (logged: polling goes
    /// on with the topics in force, and the next check tries again).
    ///
    /// The automaton is rebuilt on the blocking pool: at the bounds of managed topics it takes
    /// a noticeable part of a second, which on a runtime worker would hold up the polls and the
    /// admin server sharing that thread.
    pub(crate) async fn refresh(&mut self, store: &Store, running: &Arc<Wiring>) -> Option<Wiring> {
        let now = Instant::now();
        if now < self.next_check {
            return None;
        }
        self.next_check = now + TOPICS_CHECK_EVERY;
        let read = self.read_change(store).await;
        if let Err(e) = &read {
            if !self.failing {
                tracing::warn!(error = %e, "cannot read the managed topics; keeping those in force");
            }
            self.failing = true;
            return None;
        }
        if std::mem::take(&mut self.failing) {
            tracing::info!("the managed topics can be read again");
        }
        let (revision, rules) = read.ok().flatten()?;
        let first = self.revision.is_none();
        self.revision = Some(revision);
        self.rules = rules;
        if first && self.rules.is_empty() {
            return None;
        }
        let (revision, rules, running) = (self.revision, self.rules.clone(), Arc::clone(running));
        tokio::task::spawn_blocking(move || apply_rules(revision, &rules, &running))
            .await
            .unwrap_or_else(|e| {
                let error = match e.try_into_panic() {
                    Ok(payload) => crate::panic_text(payload.as_ref()),
                    Err(e) => e.to_string(),
                };
                tracing::error!(%error, "managed topics not applied; keeping those in force");
                None
            })
    }

    /// The revision and the managed topics, when the revision is not the one applied.
    async fn read_change(
        &self,
        store: &Store,
    ) -> Result<Option<(i64, Vec<ManagedTopic>)>, StoreError> {
        let revision = store.topics_revision().await?;
        if Some(revision) == self.revision {
            return Ok(None);
        }
        // Read after the revision: a change in between is read now, and again next time.
        Ok(Some((revision, store.managed_topics().await?)))
    }

    /// `wiring` with the managed topics last read, checked against its config (a reload keeps
    /// them). `None`, logged, when the automaton cannot be built with them.
    pub(crate) fn apply(&self, wiring: &Wiring) -> Option<Wiring> {
        apply_rules(self.revision, &self.rules, wiring)
    }
}

/// `wiring` with the managed topics among `rules` that check against its config, read at
/// `revision`; `None`, logged, when the automaton cannot be built with them.
fn apply_rules(revision: Option<i64>, rules: &[ManagedTopic], wiring: &Wiring) -> Option<Wiring> {
    let managed = checked_managed(rules, &wiring.config);
    let ids: Vec<&str> = managed.iter().map(|t| t.id.as_str()).collect();
    let ids = ids.join(", ");
    match wiring.with_managed(managed) {
        Ok(new) => {
            tracing::info!(?revision, topics = %ids, "managed topics applied");
            Some(new)
        }
        Err(e) => {
            tracing::error!(error = %e, "managed topics not applied; keeping those in force");
            None
        }
    }
}
