//! Tells the service manager (systemd's `NOTIFY_SOCKET`) when rasad is ready, reloading or
//! stopping, and pings its watchdog only while the main loops keep turning.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::telemetry::Telemetry;

/// How often the main loops turn at the least when no watchdog asks for more: their turns are
/// what `/readyz` and the watchdog read.
const IDLE_BEAT: Duration = Duration::from_secs(30);

/// Sends `states`; without `NOTIFY_SOCKET` this does nothing. A failure is logged, never fatal.
fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

/// The store is open and polling is scheduled.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload begins (`Type=notify-reload` wants the monotonic time with it).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

/// Shutdown begins.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// The watchdog interval systemd set (`WATCHDOG_USEC`), if any.
pub fn watchdog() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
}

/// How often the main loops must turn at the least: a quarter of the watchdog interval, so
/// that two missed turns still leave time for a ping.
pub fn beat_period() -> Duration {
    watchdog().map_or(IDLE_BEAT, |d| {
        (d / 4).clamp(Duration::from_millis(50), IDLE_BEAT)
    })
}

/// Sends `WATCHDOG=1` every half interval while both main loops turned within the interval;
/// when they stall the pings stop and systemd restarts the service.
pub async fn run_watchdog(interval: Duration, telemetry: Telemetry, stop: CancellationToken) {
    let mut tick = tokio::time::interval(interval / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if telemetry.loops_alive(interval) {
            notify(&[NotifyState::Watchdog]);
        } else {
            tracing::warn!("main loops stalled; withholding the watchdog ping");
        }
    }
}
