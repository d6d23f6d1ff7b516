//! The outbox: each channel claims its own due deliveries, sends them through its sink (one alert
//! or a digest per message), and records every attempt. A delivery is marked delivered only
//! after the sink confirms it; failures wait a capped, jittered, exponentially growing time
//! stored with the delivery, and a delivery still failing after `max_age` is dead.
//!
//! Channels run side by side: a slow, failing or rate-limited channel holds only itself.
//! `plan` (when may a channel send, and how many alerts at once) and `decide` (what an outcome
//! does to a delivery) are pure, in `outbox/policy.rs`; `ChannelWorker::drain` is the shell that
//! waits, claims, sends, records. Each claim carries a fencing token: an outcome is recorded only
//! while the lease it was claimed under holds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use crate::model::DrainCounts;
use crate::model::{Delivery, SendOutcome};
use crate::sink::{Pacing, Sink};
use crate::store::{DeliveryUpdate, Store, StoreError};
use crate::telemetry::Telemetry;

mod policy;

use policy::to_chrono;
pub use policy::{Plan, Settings, decide, plan, retry_wait};

/// A claimed delivery stays leased this much longer than its send may take: only a crashed
/// sender's rows come back, and they come back soon.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// A channel worker looks at its queue at least this often, even when nothing woke it.
const IDLE: Duration = Duration::from_secs(30);

/// What the outbox uses of one config version: the channels' sinks, the delivery settings and
/// the telemetry that counts what was sent. The wiring of each config version provides it; the
/// outbox needs nothing else of it.
pub(crate) trait Senders: Send + Sync + 'static {
    /// The sink of each configured channel, by channel id.
    fn sinks(&self) -> &HashMap<String, Sink>;
    /// `[delivery]`, as the outbox applies it.
    fn settings(&self) -> Settings;
    /// Where a channel worker counts what it drained.
    fn telemetry(&self) -> &Telemetry;
}

/// Sends every delivery of every configured channel that may be sent now, the channels side by
/// side, and returns when each channel is idle, waiting or held by a failure.
pub(crate) async fn drain<S: Senders>(
    store: &Store,
    senders: &Arc<S>,
) -> Result<DrainCounts, StoreError> {
    let settings = senders.settings();
    let mut tasks = JoinSet::new();
    for channel in senders.sinks().keys() {
        let (store, senders, channel) = (store.clone(), senders.clone(), channel.clone());
        tasks.spawn(async move {
            let sink = &senders.sinks()[&channel];
            let mut worker = ChannelWorker::new(channel.clone(), settings);
            worker.drain(&store, sink, &CancellationToken::new()).await
        });
    }
    let mut counts = DrainCounts::default();
    while let Some(joined) = tasks.join_next().await {
        let (drained, _) = joined.expect("a channel drain does not panic")?;
        counts += drained;
    }
    Ok(counts)
}

/// One channel's sender: its hold after a failure and the time of its last message live here
/// (in memory; what must survive a restart is in the store).
#[derive(Debug)]
pub(crate) struct ChannelWorker {
    channel: String,
    settings: Settings,
    /// No send before this time: the channel failed, or asked us to slow down.
    hold_until: Option<DateTime<Utc>>,
    last_sent: Option<tokio::time::Instant>,
}

impl ChannelWorker {
    pub fn new(channel: String, settings: Settings) -> ChannelWorker {
        ChannelWorker {
            channel,
            settings,
            hold_until: None,
            last_sent: None,
        }
    }

    /// Sends until the channel is idle or must wait; returns what it did and when to look
    /// again (`None`: when woken).
    pub async fn drain(
        &mut self,
        store: &Store,
        sink: &Sink,
        cancel: &CancellationToken,
    ) -> Result<(DrainCounts, Option<DateTime<Utc>>), StoreError> {
        let mut counts = DrainCounts::default();
        let pacing = sink.pacing();
        loop {
            let now = Utc::now();
            if let Some(hold) = self.hold_until.filter(|h| *h > now) {
                return Ok((counts, Some(hold)));
            }
            if cancel.is_cancelled() {
                return Ok((counts, None));
            }
            let queue = store.channel_queue(&self.channel).await?;
            let sent = store
                .messages_since(&self.channel, now - chrono::Duration::hours(1))
                .await?;
            let max = match plan(now, &pacing, &queue, &sent) {
                Plan::Idle => return Ok((counts, None)),
                Plan::WaitUntil(at) => return Ok((counts, Some(at))),
                Plan::Send(max) => max,
            };
            self.keep_pace(pacing.min_interval).await;
            let lease = pacing.timeout + LEASE_MARGIN;
            let claimed = store
                .claim_due(&self.channel, Utc::now(), max as u32, lease)
                .await?;
            if claimed.is_empty() {
                // Another sender took them: look again shortly.
                return Ok((counts, Some(Utc::now() + chrono::Duration::seconds(1))));
            }
            counts += self.send(store, sink, &pacing, &claimed).await?;
        }
    }

    /// Waits until `min_interval` has passed since this channel's last message.
    async fn keep_pace(&self, min_interval: Duration) {
        if let Some(last) = self.last_sent {
            tokio::time::sleep_until(last + min_interval).await;
        }
    }

    /// Sends `claimed` as one message, or as several in a row when the platform's limits split
    /// a digest; after a part that was not delivered, the rest are given back unsent.
    async fn send(
        &mut self,
        store: &Store,
        sink: &Sink,
        pacing: &Pacing,
        claimed: &[Delivery],
    ) -> Result<DrainCounts, StoreError> {
        let (claimed, resent) = resent_digest_first(claimed);
        let claimed = &claimed[..];
        let refs: Vec<&Delivery> = claimed.iter().collect();
        let mut sizes = Vec::new();
        if resent > 0 {
            sizes.push(resent);
        }
        sizes.extend(sink.split(&refs[resent..]));
        let mut counts = DrainCounts::default();
        let mut start = 0;
        for size in sizes {
            if start > 0 {
                self.keep_pace(pacing.min_interval).await;
            }
            let message = &claimed[start..start + size];
            let part = self
                .send_message(store, sink, pacing, message, &claimed[start..])
                .await?;
            counts += part;
            start += size;
            if part.delivered < size as u64 && start < claimed.len() {
                let rest: Vec<i64> = claimed[start..].iter().map(|d| d.id).collect();
                store
                    .release_deliveries(&rest, claimed[start].lease_token)
                    .await?;
                break;
            }
        }
        Ok(counts)
    }

    /// Sends `message` (one alert or a digest) and records the outcome for each of its
    /// deliveries, keeping the leases on all of `held` (the message and what follows it).
    async fn send_message(
        &mut self,
        store: &Store,
        sink: &Sink,
        pacing: &Pacing,
        claimed: &[Delivery],
        held: &[Delivery],
    ) -> Result<DrainCounts, StoreError> {
        let refs: Vec<&Delivery> = claimed.iter().collect();
        if let [first, _, ..] = claimed {
            // Recorded before the send: a crash during it resends the digest with this key.
            let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
            let key = crate::sink::message_key(&refs);
            store.set_message_key(&ids, first.lease_token, &key).await?;
        }
        let sending = tokio::time::timeout(pacing.timeout, sink.send(&refs));
        let outcome = renewing_leases(store, held, pacing.timeout + LEASE_MARGIN, sending)
            .await
            .unwrap_or_else(|_| SendOutcome::Retry {
                after: None,
                reason: format!("no answer within {:?}", pacing.timeout),
            });
        self.last_sent = Some(tokio::time::Instant::now());
        let now = Utc::now();
        let mut counts = DrainCounts::default();
        // The channel failed: it waits until the earliest retry of what it just tried.
        let mut hold: Option<DateTime<Utc>> = None;
        let channel = &self.channel;
        let reason = outcome.reason();
        for delivery in claimed {
            let update = decide(
                &outcome,
                delivery.attempts,
                delivery.created_at,
                now,
                &self.settings,
                fastrand::f64(),
            );
            let id = delivery.id;
            if !store.record_outcome(delivery, now, &update, reason).await? {
                // Another sender claimed it after this one's lease ran out: its outcome stands.
                tracing::warn!(delivery = id, %channel, outcome = update.as_str(), "lease lost while sending; the outcome is left to the newer holder");
                continue;
            }
            match update {
                DeliveryUpdate::Delivered => {
                    tracing::info!(delivery = id, %channel, topic = %delivery.payload.topic_id, "alert delivered");
                    counts.delivered += 1;
                }
                DeliveryUpdate::RetryAt(at) => {
                    tracing::warn!(delivery = id, %channel, attempt = delivery.attempts + 1, retry_at = %at, %reason, "delivery failed, will retry");
                    hold = Some(hold.map_or(at, |h| h.min(at)));
                    counts.retried += 1;
                }
                DeliveryUpdate::Dead => {
                    tracing::error!(delivery = id, %channel, %reason, "delivery given up");
                    counts.dead += 1;
                }
            }
        }
        self.hold_until = hold;
        self.after_message(store, &outcome, now, claimed.len())
            .await?;
        Ok(counts)
    }

    /// What a message's outcome means for its whole channel: a delivered message counts
    /// against the hourly limit, and a receiver's request to wait pauses every pending delivery.
    async fn after_message(
        &mut self,
        store: &Store,
        outcome: &SendOutcome,
        now: DateTime<Utc>,
        sent: usize,
    ) -> Result<(), StoreError> {
        let channel = &self.channel;
        match outcome {
            SendOutcome::Delivered { .. } => {
                store.record_message(channel, now, sent).await?;
            }
            // The receiver asked the whole channel to wait: hold every pending delivery.
            SendOutcome::Retry {
                after: Some(hint), ..
            } => {
                let (wait, capped) = retry_wait(Some(*hint), Duration::ZERO, &self.settings);
                if capped {
                    tracing::warn!(%channel, asked_secs = hint.as_secs(), waits_secs = wait.as_secs(), "the receiver asked for a wait longer than delivery.retry_max; waiting retry_max");
                }
                let until = now + to_chrono(wait);
                store.postpone_channel(channel, until).await?;
                self.hold_until = Some(until);
                tracing::warn!(%channel, until = %until, "channel paused at the receiver's request");
            }
            _ => {}
        }
        Ok(())
    }
}

/// `claimed` with the deliveries of the digest the first of them was last sent in moved to the
/// front, and how many they are (0 when it was not sent in a digest): that digest goes out
/// again as it was, with its Idempotency-Key, before anything that joined the queue since.
fn resent_digest_first(claimed: &[Delivery]) -> (Vec<Delivery>, usize) {
    let key = claimed.iter().find_map(|d| d.message_key.clone());
    let Some(key) = key else {
        return (claimed.to_vec(), 0);
    };
    let (mut group, rest): (Vec<Delivery>, Vec<Delivery>) = claimed
        .iter()
        .cloned()
        .partition(|d| d.message_key.as_deref() == Some(key.as_str()));
    let n = group.len();
    group.extend(rest);
    (group, n)
}

/// Awaits `send`, extending the lease on `claimed` every half `lease` meanwhile, so that a long
/// send (a slow receiver, a large digest) keeps its deliveries from being claimed by another
/// instance. A failed renewal is logged: the worst it allows is a repeat the receiver can drop
/// by its Idempotency-Key.
async fn renewing_leases<T>(
    store: &Store,
    claimed: &[Delivery],
    lease: Duration,
    send: impl std::future::Future<Output = T>,
) -> T {
    let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
    // One claim, one token: every delivery of a message carries the same.
    let token = claimed.first().map_or(0, |d| d.lease_token);
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + lease / 2, lease / 2);
    tokio::pin!(send);
    loop {
        tokio::select! {
            done = &mut send => return done,
            _ = renew.tick() => {
                if let Err(e) = store.renew_deliveries(&ids, token, Utc::now(), lease).await {
                    tracing::warn!(error = %e, "cannot renew the lease of deliveries being sent");
                }
            }
        }
    }
}

/// Runs one channel's worker until `cancel`: drains whenever woken (a poll added deliveries, the
/// config was reloaded) and when the next delivery falls due. It ends when its channel leaves
/// the config.
pub(crate) async fn run_channel<S: Senders>(
    store: Store,
    mut senders: watch::Receiver<Arc<S>>,
    channel: String,
    mut wake: watch::Receiver<()>,
    cancel: CancellationToken,
) {
    let mut worker = ChannelWorker::new(channel.clone(), senders.borrow().settings());
    while !cancel.is_cancelled() {
        let current = senders.borrow_and_update().clone();
        let Some(sink) = current.sinks().get(&channel) else {
            return;
        };
        worker.settings = current.settings();
        let next = match worker.drain(&store, sink, &cancel).await {
            Ok((counts, next)) => {
                current.telemetry().drained(&channel, &counts);
                next
            }
            Err(e) => {
                tracing::error!(%channel, error = %e, "outbox: cannot read or record deliveries");
                None
            }
        };
        let wait = next
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or(if next.is_some() { Duration::ZERO } else { IDLE })
            .clamp(Duration::from_millis(20), IDLE);
        tokio::select! {
            () = cancel.cancelled() => break,
            Ok(()) = wake.changed() => {}
            Ok(()) = senders.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
