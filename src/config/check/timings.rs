//! Checks of the `[poll]` and `[delivery]` tables: the timings, sizes and limits of fetching
//! feeds and of sending alerts, each with its default.

use super::*;

impl Checker<'_> {
    /// The `[poll]` table.
    pub(super) fn poll(&mut self, raw: &super::raw::RawPoll) -> Poll {
        let poll = Poll {
            interval: self.duration("poll.interval", &raw.interval, defaults::POLL_INTERVAL),
            timeout: self.duration("poll.timeout", &raw.timeout, Duration::from_secs(30)),
            connect_timeout: self.duration(
                "poll.connect_timeout",
                &raw.connect_timeout,
                Duration::from_secs(10),
            ),
            max_body: self.size("poll.max_body", &raw.max_body, defaults::MAX_BODY),
            concurrency: self.positive("poll.concurrency", &raw.concurrency, 16),
            alert_on_first_poll: raw.alert_on_first_poll.unwrap_or(false),
            user_agent: raw
                .user_agent
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_else(|| format!("rasad/{} (feed monitor)", env!("CARGO_PKG_VERSION"))),
            min_interval: self.duration(
                "poll.min_interval",
                &raw.min_interval,
                Duration::from_secs(60),
            ),
            max_interval: self.duration(
                "poll.max_interval",
                &raw.max_interval,
                Duration::from_secs(6 * 3600),
            ),
            per_host: self.positive("poll.per_host", &raw.per_host, defaults::PER_HOST),
            adaptive: raw.adaptive.unwrap_or(false),
            jitter: self.fraction("poll.jitter", &raw.jitter, 0.1),
            allow_private_redirects: raw.allow_private_redirects.unwrap_or(false),
            cpu_deadline: self.duration(
                "poll.cpu_deadline",
                &raw.cpu_deadline,
                defaults::CPU_DEADLINE,
            ),
        };
        if poll.min_interval > poll.max_interval
            && let Some(min) = &raw.min_interval
        {
            self.problem(
                "poll.min_interval",
                min.span(),
                format!(
                    "{} is longer than poll.max_interval ({})",
                    humantime::format_duration(poll.min_interval),
                    humantime::format_duration(poll.max_interval)
                ),
            );
        }
        poll
    }

    /// The `[delivery]` table.
    pub(super) fn delivery(&mut self, raw: &super::raw::RawDelivery) -> Delivery {
        Delivery {
            retry_initial: self.duration(
                "delivery.retry_initial",
                &raw.retry_initial,
                Duration::from_secs(30),
            ),
            retry_max: self.duration(
                "delivery.retry_max",
                &raw.retry_max,
                Duration::from_secs(3600),
            ),
            timeout: self.duration("delivery.timeout", &raw.timeout, Duration::from_secs(30)),
            max_age: self.duration(
                "delivery.max_age",
                &raw.max_age,
                Duration::from_secs(48 * 3600),
            ),
        }
    }
}
