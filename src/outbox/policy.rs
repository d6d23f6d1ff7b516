//! The outbox's pure rules: when a channel may send and how much (`plan`), what one outcome
//! does to a delivery (`decide`), and how long a retry waits (`Backoff`, `retry_wait`).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Delivery as DeliveryConfig;
use crate::model::SendOutcome;
use crate::sink::Pacing;
use crate::store::{ChannelQueue, DeliveryUpdate};

/// The shortest wait before a retry, whatever a receiver asks: `Retry-After: 0` (or a tiny
/// Discord `retry_after`) must not turn into a tight loop of attempts.
const MIN_RETRY_WAIT: Duration = Duration::from_secs(1);

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
/// longer (a hint is a floor, never a shortcut), at least one second (`MIN_RETRY_WAIT`). A hint beyond
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

pub(crate) fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365))
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

    /// A table of named cases, one row per case: it is as long as its table, and reads top to bottom.
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

    /// A table of named cases, one row per case: it is as long as its table, and reads top to bottom.
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
