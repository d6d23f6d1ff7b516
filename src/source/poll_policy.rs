//! When to poll a feed next, from its interval, the server's hints, its recent items and its
//! recent failures. Pure: randomness comes in as a number.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest a failing feed waits between two tries by default: it is retried at least four
/// times a day.
pub const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// How one feed is scheduled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// The feed's own interval (`[[feed]] interval`, else `poll.interval`).
    pub interval: Duration,
    /// Server hints and adaptive schedules are clamped to `[min, max]`; `max` also caps the
    /// failure backoff and `Retry-After`.
    pub min: Duration,
    pub max: Duration,
    /// Each wait is spread by ± this fraction so that feeds added together drift apart.
    pub jitter: f64,
}

impl Policy {
    /// The wait after a poll that worked (a 304 included).
    ///
    /// - `adaptive` (from the feed's recent items), clamped, replaces the interval when given;
    /// - a freshness hint (`Cache-Control`, `Expires`, `<ttl>`), clamped, lengthens it: the
    ///   server asked us not to come back before.
    pub fn after_success(
        &self,
        hint: Option<Duration>,
        adaptive: Option<Duration>,
        unit: f64,
    ) -> Duration {
        let base = adaptive.map_or(self.interval, |a| self.clamp(a));
        let wait = match hint {
            Some(hint) => base.max(self.clamp(hint)),
            None => base,
        };
        jittered(wait, self.jitter, unit)
    }

    /// The wait after `failures` consecutive failures (this one included): the interval
    /// doubled for each failure after the first, capped at `max` (but never below the
    /// interval); at least the server's `Retry-After`, itself capped at `max`.
    pub fn after_failure(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Duration {
        let cap = self.max.max(self.interval);
        let backoff = next_poll_in(self.interval, failures, None).min(cap);
        let wait = match retry_after {
            Some(hint) => backoff.max(hint.min(cap)),
            None => backoff,
        };
        jittered(wait, self.jitter, unit)
    }

    fn clamp(&self, d: Duration) -> Duration {
        d.clamp(self.min, self.max.max(self.min))
    }
}

/// The wait before the next poll of a feed, before limits and jitter.
///
/// - after a success: the feed's interval;
/// - after `failures` consecutive failures: the interval doubled for each failure after the
///   first, capped at [`MAX_FAILURE_BACKOFF`] (but never below the interval);
/// - when the server asked us to wait (`Retry-After`): at least that long.
pub fn next_poll_in(interval: Duration, failures: u32, retry_after: Option<Duration>) -> Duration {
    let backoff = if failures <= 1 {
        interval
    } else {
        let factor = 1u32 << (failures - 1).min(16);
        interval
            .saturating_mul(factor)
            .min(MAX_FAILURE_BACKOFF.max(interval))
    };
    match retry_after {
        Some(hint) => backoff.max(hint),
        None => backoff,
    }
}

/// `wait` spread by ± `fraction`, `unit` being a random number in [0, 1).
pub fn jittered(wait: Duration, fraction: f64, unit: f64) -> Duration {
    let fraction = fraction.clamp(0.0, 0.5);
    wait.mul_f64(1.0 - fraction + 2.0 * fraction * unit.clamp(0.0, 1.0))
}

/// An interval that follows how often the feed publishes: half the mean gap between its
/// recent items (newest first), so that a new item waits on average a quarter of a gap.
/// `None` with fewer than three items.
pub fn adaptive_interval(recent_items: &[DateTime<Utc>]) -> Option<Duration> {
    if recent_items.len() < 3 {
        return None;
    }
    let newest = recent_items.iter().max()?;
    let oldest = recent_items.iter().min()?;
    let span = (*newest - *oldest).to_std().ok()?;
    Some(span / (recent_items.len() as u32 - 1) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(n: u64) -> Duration {
        Duration::from_secs(60 * n)
    }

    #[test]
    fn schedules_named_cases() {
        let cases = [
            ("success_waits_the_interval", m(5), 0, None, m(5)),
            ("first_failure_waits_the_interval", m(5), 1, None, m(5)),
            ("third_failure_waits_four_intervals", m(5), 3, None, m(20)),
            (
                "many_failures_are_capped",
                m(5),
                40,
                None,
                MAX_FAILURE_BACKOFF,
            ),
            (
                "retry_after_longer_than_interval_wins",
                m(5),
                1,
                Some(m(30)),
                m(30),
            ),
            (
                "retry_after_shorter_than_interval_is_ignored",
                m(5),
                1,
                Some(m(1)),
                m(5),
            ),
            (
                "interval_longer_than_cap_is_kept",
                m(24 * 60),
                5,
                None,
                m(24 * 60),
            ),
        ];
        for (name, interval, failures, hint, want) in cases {
            assert_eq!(next_poll_in(interval, failures, hint), want, "{name}");
        }
    }

    #[test]
    fn successes_follow_hints_within_limits() {
        let policy = Policy {
            interval: m(5),
            min: m(2),
            max: m(60),
            jitter: 0.0,
        };
        let cases = [
            ("no_hint_waits_the_interval", None, None, m(5)),
            ("ttl_longer_than_interval_wins", Some(m(30)), None, m(30)),
            (
                "huge_max_age_is_clamped_to_max",
                Some(m(24 * 60)),
                None,
                m(60),
            ),
            (
                "max_age_zero_keeps_the_interval",
                Some(Duration::ZERO),
                None,
                m(5),
            ),
            ("adaptive_replaces_the_interval", None, Some(m(20)), m(20)),
            (
                "fast_adaptive_is_clamped_to_min",
                None,
                Some(Duration::from_secs(5)),
                m(2),
            ),
            (
                "hint_beats_a_faster_adaptive",
                Some(m(30)),
                Some(m(10)),
                m(30),
            ),
        ];
        for (name, hint, adaptive, want) in cases {
            assert_eq!(policy.after_success(hint, adaptive, 0.5), want, "{name}");
        }
    }

    #[test]
    fn failures_back_off_within_limits() {
        let policy = Policy {
            interval: m(5),
            min: m(1),
            max: m(60),
            jitter: 0.0,
        };
        let cases = [
            ("first_failure", 1, None, m(5)),
            ("fourth_failure_doubles_thrice", 4, None, m(40)),
            ("backoff_is_capped_at_max", 10, None, m(60)),
            ("retry_after_is_honoured", 1, Some(m(30)), m(30)),
            ("retry_after_is_capped_at_max", 1, Some(m(24 * 60)), m(60)),
        ];
        for (name, failures, retry_after, want) in cases {
            assert_eq!(
                policy.after_failure(failures, retry_after, 0.5),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn jitter_spreads_within_its_fraction() {
        let cases = [
            ("lowest", 0.0, m(9)),
            ("middle", 0.5, m(10)),
            ("near_highest", 0.999_999, m(11)),
        ];
        for (name, unit, want) in cases {
            let got = jittered(m(10), 0.1, unit);
            assert!(
                got.abs_diff(want) < Duration::from_millis(10),
                "{name}: {got:?}"
            );
        }
    }

    #[test]
    fn adapts_to_how_often_a_feed_publishes() {
        let at = |minutes: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(minutes);
        let cases = [
            ("too_few_items", vec![at(0), at(10)], None),
            (
                "every_ten_minutes",
                vec![at(30), at(20), at(10), at(0)],
                Some(m(5)),
            ),
            (
                "every_two_hours",
                vec![at(240), at(120), at(0)],
                Some(m(60)),
            ),
        ];
        for (name, items, want) in cases {
            assert_eq!(adaptive_interval(&items), want, "{name}");
        }
    }
}
