//! Reading one feed: one conditional GET, then the parse of the body with what HTTP said about
//! it (its charset, its URL). A poll, `rasad once --dry-run` and `rasad parse` all read a feed
//! through [`read`], so that a body reads the same wherever it is read.
//!
//! The parse runs on the blocking pool by a deadline: decoding, repairing and parsing are CPU
//! work, linear in a body that `bounds` limits, and must not hold the timers, the outbox or the
//! admin server while they run.

use std::time::{Duration, Instant};

use url::Url;

use crate::source::fetch::{FetchError, FetchOutcome, Fetcher, HostTurn, ServerHints, Validators};
use crate::source::parse::{BodyHints, ParseError, ParsedFeed, parse_feed_with};

/// How long the CPU work of one read and what its caller does with it (decode, repair, parse,
/// and for a poll fold, match, fingerprint) may take before it is abandoned: `poll.cpu_deadline`
/// (`config::defaults::CPU_DEADLINE`) from the end of the fetch. Every stage is linear in input
/// that `bounds` limits: only a pathological body comes near.
#[derive(Debug, Clone, Copy)]
pub struct CpuBudget {
    /// When it runs out.
    pub until: tokio::time::Instant,
    /// How long it was, for the message of a read abandoned.
    pub length: Duration,
}

impl CpuBudget {
    /// A budget of `length` from now.
    pub fn from_now(length: Duration) -> CpuBudget {
        CpuBudget {
            until: tokio::time::Instant::now() + length,
            length,
        }
    }
}

/// A feed body and what is known about it besides its bytes.
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Vec<u8>,
    /// The `Content-Type` it was served with (or given as), for its charset.
    pub content_type: Option<String>,
    /// The document's URL, against which relative links are resolved.
    pub url: Option<Url>,
}

/// What one read of a feed gave: `T` is what the caller derived from the parsed feed.
#[derive(Debug)]
pub enum Read<T> {
    /// A new body, parsed, with the validators to send next time.
    Parsed { parsed: T, validators: Validators },
    /// 304: nothing changed since the validators sent.
    NotModified,
    /// 429 or 503: the server asks us to wait.
    RateLimited {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The fetch brought no body.
    FetchFailed(FetchError),
    /// The body is no feed rasad can read.
    ParseFailed(ParseError),
    /// The parse crashed, or outran its deadline: the reason, as "crashed on this body: …".
    Abandoned(String),
}

/// One read, with what the fetch said besides its outcome.
#[derive(Debug)]
pub struct Reading<T> {
    pub read: Read<T>,
    /// Freshness and permanent moves, as the server gave them.
    pub server: ServerHints,
    /// The fetch's HTTP status class (`FetchOutcome::status_class`), for counting.
    pub status_class: &'static str,
    /// How long the fetch took (the parse not included).
    pub fetch_took: Duration,
    /// The CPU budget that the parse began after the fetch: the caller's later CPU work on the
    /// same body shares it.
    pub cpu_budget: CpuBudget,
}

/// Fetches `url` (conditionally when `validators` are known) in `turn` at its host (or in one
/// waited for here), then parses a new body with the HTTP hints, on the blocking pool, giving up
/// after `cpu` (see [`CpuBudget`]); `then` derives what the caller
/// keeps from the parsed feed in the same job (the stories, say), so that CPU work stays off the
/// async workers. `given` hints win over the server's (`rasad parse --content-type --url`).
pub async fn read<T: Send + 'static>(
    fetcher: &Fetcher,
    url: &Url,
    validators: &Validators,
    given: BodyHints<'_>,
    (turn, cpu): (Option<HostTurn>, Duration),
    then: impl FnOnce(ParsedFeed) -> T + Send + 'static,
) -> Reading<T> {
    let turn = match turn {
        Some(turn) => turn,
        None => fetcher.host_turn(url).await,
    };
    let started = Instant::now();
    let (outcome, server) = fetcher.fetch_with_hints(url, validators, turn).await;
    let (fetch_took, status_class) = (started.elapsed(), outcome.status_class());
    let cpu_budget = CpuBudget::from_now(cpu);
    let read = match outcome {
        FetchOutcome::Modified {
            body,
            content_type,
            validators,
        } => {
            let body = Body {
                bytes: body,
                content_type: given.content_type.map(str::to_owned).or(content_type),
                url: Some(given.url.unwrap_or(url).clone()),
            };
            match body.parse(cpu_budget, then).await {
                Ok(Ok(parsed)) => Read::Parsed { parsed, validators },
                Ok(Err(e)) => Read::ParseFailed(e),
                Err(abandoned) => Read::Abandoned(abandoned),
            }
        }
        FetchOutcome::NotModified => Read::NotModified,
        FetchOutcome::RateLimited {
            status,
            retry_after,
        } => Read::RateLimited {
            status,
            retry_after,
        },
        FetchOutcome::Failed(e) => Read::FetchFailed(e),
    };
    Reading {
        read,
        server,
        status_class,
        fetch_took,
        cpu_budget,
    }
}

impl Body {
    /// Parses the body with its hints on the blocking pool, giving up when `budget` runs out, and runs
    /// `then` on the parsed feed in the same job. The outer error says why the job was
    /// abandoned (a panic, the deadline).
    pub async fn parse<T: Send + 'static>(
        self,
        budget: CpuBudget,
        then: impl FnOnce(ParsedFeed) -> T + Send + 'static,
    ) -> Result<Result<T, ParseError>, String> {
        off_the_workers(budget, move || {
            let hints = BodyHints {
                content_type: self.content_type.as_deref(),
                url: self.url.as_ref(),
            };
            parse_feed_with(&self.bytes, hints).map(then)
        })
        .await
    }
}

/// Runs `work` on the blocking pool, giving up on it when `budget` runs out: its error says whether it
/// panicked or ran out of time. A thread given up on cannot be stopped and runs on to the end.
pub async fn off_the_workers<T: Send + 'static>(
    budget: CpuBudget,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    match tokio::time::timeout_at(budget.until, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) if e.is_panic() => Err(format!(
            "crashed on this body: {}",
            crate::panic_message(&e.into_panic())
        )),
        Ok(Err(e)) => Err(format!("was cancelled: {e}")),
        Err(_) => Err(format!(
            "took longer than poll.cpu_deadline ({}) and was abandoned",
            humantime::format_duration(budget.length)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU stage's three endings: its result, its panic, its deadline.
    #[tokio::test]
    async fn work_off_the_workers_ends_in_its_result_a_panic_or_the_deadline() {
        let after = |ms| CpuBudget::from_now(Duration::from_millis(ms));
        assert_eq!(off_the_workers(after(10_000), || 42).await, Ok(42));
        let crashed = off_the_workers(after(10_000), || -> u32 { panic!("a hostile item") }).await;
        assert!(
            crashed
                .as_ref()
                .is_err_and(|e| e.contains("crashed on this body: a hostile item")),
            "{crashed:?}"
        );
        let started = std::time::Instant::now();
        let slow = off_the_workers(after(300), || std::thread::sleep(Duration::from_secs(2))).await;
        assert!(
            slow.as_ref().is_err_and(
                |e| e.contains("took longer than poll.cpu_deadline (300ms) and was abandoned")
            ),
            "{slow:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the poll waited"
        );
    }
}
