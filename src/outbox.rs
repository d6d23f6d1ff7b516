//! The outbox: each channel claims its own due deliveries, sends them through its sink (one alert
//! or a digest per message), and records every attempt. A delivery is marked delivered only
//! after the sink confirms it; failures wait a capped, jittered, exponentially growing time
//! stored with the delivery, and a delivery still failing after `max_age` is dead.
//!
//! Channels run side by side: a slow, failing or rate-limited channel holds only itself.
//! `plan` (when may a channel send, and how many alerts at once) and `decide` (what an outcome
//! does to a delivery) are pure; `drain_channel` is the shell that waits, claims, sends, records.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Delivery as DeliveryConfig;
use crate::model::{Delivery, SendOutcome};
use crate::runtime::Runtime;
use crate::sink::{Pacing, Sink};
use crate::store::{ChannelQueue, DeliveryUpdate, Store, StoreError};

/// A claimed delivery stays leased this much longer than its send may take: only a crashed
/// sender's rows come back, and they come back soon.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// The shortest wait before a retry, whatever a receiver asks: `Retry-After: 0` (or a tiny
/// Discord `retry_after`) must not turn into a tight loop of attempts.
const MIN_RETRY_WAIT: Duration = Duration::from_secs(1);
/// A channel worker looks at its queue at least this often, even when nothing woke it.
const IDLE: Duration = Duration::from_secs(30);

/// Settings for retries.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait after a failed attempt, when `attempts` attempts had failed before it:
    /// `initial · 2^attempts`, capped at `max`, with the upper half jittered so that many
    /// deliveries failing together do not retry together.
    pub fn delay(&self, attempts: u32, jitter: f64) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << attempts.min(20))
            .min(self.max);
        base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// How long to keep trying, and how to space the tries.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub backoff: Backoff,
    /// A delivery still failing this long after it entered the outbox is dead.
    pub max_age: Duration,
}

impl Settings {
    pub fn from_config(config: &DeliveryConfig) -> Settings {
        Settings {
            backoff: Backoff {
                initial: config.retry_initial,
                max: config.retry_max,
            },
            max_age: config.max_age,
        }
    }
}

/// What a drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainCounts {
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
}

impl std::ops::AddAssign for DrainCounts {
    fn add_assign(&mut self, other: DrainCounts) {
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead += other.dead;
    }
}

/// What a channel may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Nothing is pending.
    Idle,
    /// Send one message holding up to this many alerts.
    Send(usize),
    /// Nothing may be sent before this time.
    WaitUntil(DateTime<Utc>),
}

/// When a channel may send and how much: pending deliveries must be due; a digest channel
/// gathers alerts for its period, counted from the oldest waiting one; a channel at its hourly
/// limit waits until its oldest message of the hour ages out, and then sends everything held
/// back as one digest instead of dropping any of it.
pub fn plan(
    now: DateTime<Utc>,
    pacing: &Pacing,
    queue: &ChannelQueue,
    sent_last_hour: &[DateTime<Utc>],
) -> Plan {
    if queue.pending == 0 {
        return Plan::Idle;
    }
    let Some(next_due) = queue.next_due else {
        return Plan::Idle;
    };
    let mut ready = next_due;
    if let Some(max) = pacing.max_per_hour {
        let max = max as usize;
        if sent_last_hour.len() >= max {
            let frees = sent_last_hour[sent_last_hour.len() - max] + chrono::Duration::hours(1);
            ready = ready.max(frees);
        }
    }
    if let (Some(period), Some(oldest)) = (pacing.digest, queue.oldest) {
        ready = ready.max(oldest + to_chrono(period));
    }
    if ready > now {
        return Plan::WaitUntil(ready);
    }
    let last_slot = pacing
        .max_per_hour
        .is_some_and(|max| sent_last_hour.len() + 1 >= max as usize);
    if pacing.digest.is_some() || (last_slot && queue.pending > 1) {
        Plan::Send(pacing.max_alerts.max(1))
    } else {
        Plan::Send(1)
    }
}

/// What one outcome does to a delivery that had failed `attempts` times and entered the outbox
/// at `created_at`: delivered, pending again later (the receiver's wait, or the backoff), or
/// dead (refused for good, or still failing after `max_age`).
pub fn decide(
    outcome: &SendOutcome,
    attempts: u32,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    settings: &Settings,
    jitter: f64,
) -> DeliveryUpdate {
    match outcome {
        SendOutcome::Delivered { .. } => DeliveryUpdate::Delivered,
        SendOutcome::Rejected { .. } => DeliveryUpdate::Dead,
        SendOutcome::Retry { .. } if now - created_at >= to_chrono(settings.max_age) => {
            DeliveryUpdate::Dead
        }
        SendOutcome::Retry { after, .. } => {
            let (wait, _) = retry_wait(*after, settings.backoff.delay(attempts, jitter), settings);
            DeliveryUpdate::RetryAt(now + to_chrono(wait))
        }
    }
}

/// The wait before the next attempt: the backoff, or the receiver's hint when it asks for
/// longer (a hint is a floor, never a shortcut), at least [`MIN_RETRY_WAIT`]. A hint beyond
/// `retry_max` is cut to it; the flag says so, for the log.
pub fn retry_wait(
    hint: Option<Duration>,
    backoff: Duration,
    settings: &Settings,
) -> (Duration, bool) {
    let cap = settings.backoff.max.max(MIN_RETRY_WAIT);
    match hint {
        None => (backoff, false),
        Some(hint) => (backoff.max(hint.min(cap)).max(MIN_RETRY_WAIT), hint > cap),
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365))
}

/// Sends every delivery of every configured channel that may be sent now, the channels side by
/// side, and returns when each channel is idle, waiting or held by a failure.
pub async fn drain(store: &Store, runtime: &Arc<Runtime>) -> Result<DrainCounts, StoreError> {
    let settings = Settings::from_config(&runtime.config.delivery);
    let mut tasks = JoinSet::new();
    for channel in runtime.sinks.keys() {
        let (store, runtime, channel) = (store.clone(), runtime.clone(), channel.clone());
        tasks.spawn(async move {
            let sink = &runtime.sinks[&channel];
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
pub struct ChannelWorker {
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
        match &outcome {
            SendOutcome::Delivered { .. } => {
                store.record_message(channel, now, claimed.len()).await?;
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
        Ok(counts)
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
pub async fn run_channel(
    store: Store,
    mut runtime: watch::Receiver<Arc<Runtime>>,
    channel: String,
    mut wake: watch::Receiver<()>,
    cancel: CancellationToken,
) {
    let mut worker = ChannelWorker::new(
        channel.clone(),
        Settings::from_config(&runtime.borrow().config.delivery),
    );
    while !cancel.is_cancelled() {
        let current = runtime.borrow_and_update().clone();
        let Some(sink) = current.sinks.get(&channel) else {
            return;
        };
        worker.settings = Settings::from_config(&current.config.delivery);
        let next = match worker.drain(&store, sink, &cancel).await {
            Ok((counts, next)) => {
                current.telemetry.drained(&channel, &counts);
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
            Ok(()) = runtime.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("valid")
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let b = Backoff {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        };
        let cases = [
            ("first_retry_without_jitter_is_half", 0, 0.0, 15),
            ("first_retry_full_jitter", 0, 1.0, 30),
            ("third_retry", 2, 1.0, 120),
            ("capped", 10, 1.0, 3600),
            ("huge_attempt_count_does_not_overflow", 5000, 1.0, 3600),
        ];
        for (name, attempts, jitter, secs) in cases {
            assert_eq!(
                b.delay(attempts, jitter),
                Duration::from_secs(secs),
                "{name}"
            );
        }
    }

    #[test]
    fn decides_what_an_outcome_does() {
        let settings = Settings {
            backoff: Backoff {
                initial: Duration::from_secs(10),
                max: Duration::from_secs(100),
            },
            max_age: Duration::from_secs(48 * 3600),
        };
        let retry = |after: Option<u64>| SendOutcome::Retry {
            after: after.map(Duration::from_secs),
            reason: "r".into(),
        };
        let delivered = SendOutcome::Delivered {
            answer: "250".into(),
        };
        let rejected = SendOutcome::Rejected {
            reason: "550".into(),
        };
        let young = t(-60);
        let old = t(-48 * 3600);
        let cases = [
            (
                "delivered_is_delivered",
                &delivered,
                0,
                young,
                DeliveryUpdate::Delivered,
            ),
            (
                "rejected_is_dead",
                &rejected,
                0,
                young,
                DeliveryUpdate::Dead,
            ),
            (
                "first_failure_waits_the_initial_delay",
                &retry(None),
                0,
                young,
                DeliveryUpdate::RetryAt(t(10)),
            ),
            (
                "third_failure_waits_four_times_longer",
                &retry(None),
                2,
                young,
                DeliveryUpdate::RetryAt(t(40)),
            ),
            (
                "backoff_is_capped",
                &retry(None),
                9,
                young,
                DeliveryUpdate::RetryAt(t(100)),
            ),
            (
                "retry_after_longer_than_the_backoff_is_honoured",
                &retry(Some(50)),
                1,
                young,
                DeliveryUpdate::RetryAt(t(50)),
            ),
            (
                "retry_after_shorter_than_the_backoff_waits_the_backoff",
                &retry(Some(2)),
                5,
                young,
                DeliveryUpdate::RetryAt(t(100)),
            ),
            (
                "retry_after_zero_waits_the_backoff",
                &retry(Some(0)),
                0,
                young,
                DeliveryUpdate::RetryAt(t(10)),
            ),
            (
                "retry_after_beyond_retry_max_is_capped_there",
                &retry(Some(999_999)),
                0,
                young,
                DeliveryUpdate::RetryAt(t(100)),
            ),
            (
                "too_old_to_retry_is_dead",
                &retry(None),
                40,
                old,
                DeliveryUpdate::Dead,
            ),
            (
                "too_old_but_delivered_is_delivered",
                &delivered,
                40,
                old,
                DeliveryUpdate::Delivered,
            ),
        ];
        for (name, outcome, attempts, created, want) in cases {
            assert_eq!(
                decide(outcome, attempts, created, t(0), &settings, 1.0),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn a_wait_hint_is_a_floor_of_at_least_a_second() {
        let settings = |max: u64| Settings {
            backoff: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_millis(max),
            },
            max_age: Duration::from_secs(3600),
        };
        let ms = Duration::from_millis;
        let cases = [
            (
                "no_hint_is_the_backoff",
                None,
                ms(200),
                60_000,
                ms(200),
                false,
            ),
            (
                "zero_hint_waits_a_second",
                Some(ms(0)),
                ms(200),
                60_000,
                ms(1000),
                false,
            ),
            (
                "tiny_discord_hint_waits_a_second",
                Some(ms(3)),
                ms(200),
                60_000,
                ms(1000),
                false,
            ),
            (
                "hint_above_backoff_wins",
                Some(ms(5000)),
                ms(200),
                60_000,
                ms(5000),
                false,
            ),
            (
                "backoff_above_hint_wins",
                Some(ms(1500)),
                ms(8000),
                60_000,
                ms(8000),
                false,
            ),
            (
                "hint_beyond_retry_max_is_capped",
                Some(ms(90_000)),
                ms(200),
                60_000,
                ms(60_000),
                true,
            ),
            (
                "retry_max_below_a_second_still_waits_a_second",
                Some(ms(5000)),
                ms(200),
                400,
                ms(1000),
                true,
            ),
        ];
        for (name, hint, backoff, max, want, capped) in cases {
            assert_eq!(
                retry_wait(hint, backoff, &settings(max)),
                (want, capped),
                "{name}"
            );
        }
    }

    #[test]
    fn plans_when_and_how_much_a_channel_sends() {
        let pacing = |digest: Option<u64>, max_per_hour: Option<u32>| Pacing {
            digest: digest.map(Duration::from_secs),
            max_per_hour,
            min_interval: Duration::ZERO,
            max_alerts: 10,
            timeout: Duration::from_secs(5),
        };
        let queue = |pending: u64, next_due: i64, oldest: i64| ChannelQueue {
            pending,
            next_due: Some(t(next_due)),
            oldest: Some(t(oldest)),
        };
        let hour: Vec<DateTime<Utc>> = (0..3).map(|i| t(-3000 + i * 60)).collect();
        type Case<'a> = (&'a str, Pacing, ChannelQueue, &'a [DateTime<Utc>], Plan);
        let cases: Vec<Case> = vec![
            (
                "nothing_pending_is_idle",
                pacing(None, None),
                ChannelQueue::default(),
                &[],
                Plan::Idle,
            ),
            (
                "one_due_is_sent_alone",
                pacing(None, None),
                queue(5, -1, -1),
                &[],
                Plan::Send(1),
            ),
            (
                "not_due_waits",
                pacing(None, None),
                queue(1, 30, -1),
                &[],
                Plan::WaitUntil(t(30)),
            ),
            (
                "digest_gathers_for_its_period",
                pacing(Some(900), None),
                queue(3, -100, -100),
                &[],
                Plan::WaitUntil(t(800)),
            ),
            (
                "digest_sends_all_when_the_period_is_over",
                pacing(Some(900), None),
                queue(3, -1000, -1000),
                &[],
                Plan::Send(10),
            ),
            (
                "under_the_hourly_limit_sends_alone",
                pacing(None, Some(5)),
                queue(4, -1, -1),
                &hour,
                Plan::Send(1),
            ),
            (
                "at_the_hourly_limit_waits_for_the_oldest_to_age_out",
                pacing(None, Some(3)),
                queue(4, -1, -1),
                &hour,
                Plan::WaitUntil(t(600)),
            ),
            (
                "last_slot_of_the_hour_sends_the_overflow_as_one_digest",
                pacing(None, Some(4)),
                queue(4, -1, -1),
                &hour,
                Plan::Send(10),
            ),
            (
                "last_slot_with_one_alert_sends_it_alone",
                pacing(None, Some(4)),
                queue(1, -1, -1),
                &hour,
                Plan::Send(1),
            ),
        ];
        for (name, pacing, queue, sent, want) in cases {
            assert_eq!(plan(t(0), &pacing, &queue, sent), want, "{name}");
        }
    }
}
