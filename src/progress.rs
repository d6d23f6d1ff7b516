//! The live line `rasad once` shows on a terminal: feeds done of total, new stories, alerts,
//! redrawn a few times a second and erased when the run ends. Off the terminal (piped, under
//! systemd, in CI) it writes nothing.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::pipeline::FeedReport;

/// Whether a live line is on the terminal now: a log line written meanwhile erases it first, and
/// the next redraw brings it back under the log line.
static SHOWN: AtomicBool = AtomicBool::new(false);

/// How often the line is redrawn: often enough to look live, rarely enough to cost nothing.
const REDRAW_EVERY: Duration = Duration::from_millis(150);

/// What the live line counts. Cheap to update from many tasks.
#[derive(Debug, Default)]
pub struct Counts {
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    new_stories: AtomicUsize,
    alerts: AtomicUsize,
    /// Set once every feed is done: the outbox is being drained.
    sending: AtomicBool,
}

impl Counts {
    pub fn new(total: usize) -> Counts {
        Counts {
            total,
            ..Default::default()
        }
    }

    /// Counts one finished poll.
    pub fn feed_done(&self, report: &FeedReport) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if report.error.is_some() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.new_stories
            .fetch_add(report.counts.new_stories, Ordering::Relaxed);
        self.alerts
            .fetch_add(report.counts.alerts, Ordering::Relaxed);
    }

    /// Every feed is done; what remains is sending.
    pub fn sending(&self) {
        self.sending.store(true, Ordering::Relaxed);
    }

    /// The line as it stands, without control characters, cut to `width` columns.
    pub fn line(&self, width: usize) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let mut line = format!(
            "feeds {done}/{} · new stories {} · alerts {}",
            self.total,
            self.new_stories.load(Ordering::Relaxed),
            self.alerts.load(Ordering::Relaxed),
        );
        if failed > 0 {
            line.push_str(&format!(" · failed {failed}"));
        }
        if self.sending.load(Ordering::Relaxed) {
            line.push_str(" · sending alerts…");
        }
        match line.char_indices().nth(width) {
            Some((cut, _)) => line[..cut].to_owned(),
            None => line,
        }
    }
}

/// The live line, drawn on standard error by a background task while it lives.
pub struct Progress {
    counts: Arc<Counts>,
    drawer: Option<(
        tokio::task::JoinHandle<()>,
        tokio_util::sync::CancellationToken,
    )>,
}

impl Progress {
    /// A live line on standard error when it is a terminal that can redraw a line; otherwise
    /// counts only.
    pub fn on_terminal(total: usize) -> Progress {
        let counts = Arc::new(Counts::new(total));
        let drawer = live_terminal().then(|| {
            let stop = tokio_util::sync::CancellationToken::new();
            let task = tokio::spawn(draw(counts.clone(), stop.clone()));
            (task, stop)
        });
        Progress { counts, drawer }
    }

    pub fn counts(&self) -> &Arc<Counts> {
        &self.counts
    }

    /// Stops drawing and erases the line.
    pub async fn finish(self) {
        if let Some((task, stop)) = self.drawer {
            stop.cancel();
            let _ = task.await;
        }
    }
}

/// Whether standard error is a terminal that understands carriage return and "erase line".
fn live_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
        && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb")
}

/// The terminal's width in columns (`COLUMNS` when set), so that the line never wraps: a wrapped
/// line cannot be redrawn in place.
fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|c| *c > 10)
        .unwrap_or(80)
        - 1
}

async fn draw(counts: Arc<Counts>, stop: tokio_util::sync::CancellationToken) {
    let width = width();
    loop {
        redraw(&counts.line(width));
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(REDRAW_EVERY) => {}
        }
    }
    redraw("");
}

/// Replaces the current terminal line with `line`. A failed write loses a frame, nothing more.
fn redraw(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{line}");
    let _ = err.flush();
    SHOWN.store(!line.is_empty(), Ordering::Relaxed);
}

/// Standard error for log lines: erases the live line, when one is shown, before the log line.
pub fn log_writer() -> LogWriter {
    LogWriter { erased: false }
}

/// See [`log_writer`]: one per log event.
pub struct LogWriter {
    erased: bool,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if !self.erased && SHOWN.swap(false, Ordering::Relaxed) {
            err.write_all(b"\r\x1b[2K")?;
        }
        self.erased = true;
        err.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PollCounts;

    fn report(error: bool, new_stories: usize, alerts: usize) -> FeedReport {
        FeedReport {
            feed: "f".into(),
            error: error.then(|| "timed out".into()),
            counts: PollCounts {
                new_stories,
                alerts,
                ..Default::default()
            },
            next_poll_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_line_counts_feeds_stories_and_alerts() {
        let counts = Counts::new(3);
        let cases = [
            (
                "before_any_feed",
                None,
                "feeds 0/3 · new stories 0 · alerts 0",
            ),
            (
                "one_feed_with_news",
                Some(report(false, 30, 2)),
                "feeds 1/3 · new stories 30 · alerts 2",
            ),
            (
                "a_failed_feed_shows",
                Some(report(true, 0, 0)),
                "feeds 2/3 · new stories 30 · alerts 2 · failed 1",
            ),
        ];
        for (name, done, expected) in cases {
            if let Some(done) = done {
                counts.feed_done(&done);
            }
            assert_eq!(counts.line(200), expected, "{name}");
        }
        counts.sending();
        assert!(counts.line(200).ends_with("sending alerts…"));
    }

    #[test]
    fn the_line_never_wraps() {
        let counts = Counts::new(10_000);
        assert_eq!(counts.line(12).chars().count(), 12);
        assert_eq!(counts.line(12), "feeds 0/1000");
    }
}
