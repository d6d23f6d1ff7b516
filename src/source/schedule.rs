//! When to poll a feed next, from its interval, its recent failures and the server's hints. Pure.

use std::time::Duration;

/// The longest a failing feed waits between two tries: it is retried at least four times a day.
pub const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// The wait before the next poll of a feed.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_named_cases() {
        let m = |n: u64| Duration::from_secs(60 * n);
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
}
