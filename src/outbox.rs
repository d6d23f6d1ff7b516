//! The outbox worker: claim due deliveries, send each through its channel's sink, record the
//! outcome. A delivery is marked delivered only after the sink confirms it; failures wait a
//! capped, jittered, exponentially growing time, which is stored so that it survives a restart.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use crate::model::SendOutcome;
use crate::sink::Sink;
use crate::store::{Store, StoreError};

/// How long a claimed delivery stays leased to this sender: longer than any send can take, so
/// that only a crashed sender's rows come back.
pub const LEASE: Duration = Duration::from_secs(300);
/// Deliveries claimed at once.
const BATCH: u32 = 32;
/// The longest a receiver's `Retry-After` is honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

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

/// What one drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainCounts {
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
}

/// Sends every delivery that is due now, until none is left (those that fail are rescheduled for
/// later, so the loop ends).
pub async fn drain(
    store: &Store,
    sinks: &HashMap<String, Sink>,
    backoff: Backoff,
) -> Result<DrainCounts, StoreError> {
    let mut counts = DrainCounts::default();
    loop {
        let claimed = store.claim_due(Utc::now(), BATCH, LEASE).await?;
        if claimed.is_empty() {
            return Ok(counts);
        }
        for delivery in claimed {
            let outcome = match sinks.get(&delivery.channel) {
                Some(sink) => sink.send(&delivery).await,
                // The channel left the config: keep the delivery until it comes back.
                None => SendOutcome::Retry {
                    after: Some(backoff.max),
                    reason: format!("channel {:?} is not in the config", delivery.channel),
                },
            };
            let now = Utc::now();
            match outcome {
                SendOutcome::Delivered => {
                    store.mark_delivered(delivery.id, now).await?;
                    tracing::info!(delivery = delivery.id, channel = %delivery.channel, topic = %delivery.payload.topic_id, "alert delivered");
                    counts.delivered += 1;
                }
                SendOutcome::Retry { after, reason } => {
                    let wait = after
                        .map(|a| a.min(MAX_RETRY_AFTER))
                        .unwrap_or_else(|| backoff.delay(delivery.attempts, fastrand::f64()));
                    let next = now
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                    store.mark_retry(delivery.id, next, &reason).await?;
                    tracing::warn!(delivery = delivery.id, channel = %delivery.channel, attempt = delivery.attempts + 1, retry_in = ?wait, %reason, "delivery failed, will retry");
                    counts.retried += 1;
                }
                SendOutcome::Rejected { reason } => {
                    store.mark_dead(delivery.id, &reason).await?;
                    tracing::error!(delivery = delivery.id, channel = %delivery.channel, %reason, "delivery refused for good");
                    counts.dead += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
