//! Slow and hostile hosts: polls queued behind one slow host hold no poll slot that a feed of
//! another host could use, and a redirect from a public address to a private one is refused
//! (and followed when `poll.allow_private_redirects` says so), each beside a normal feed that
//! still alerts.

use std::time::Duration;

use crate::servers::FeedServer;
use crate::support::{Env, RSS, rss};

/// How long a test waits for an alert that should come within a second or two.
const WAIT: Duration = Duration::from_secs(30);

/// The config's head: one topic, the webhook channel, and `poll` as the `[poll]` table.
fn head(env: &Env, poll: &str) -> String {
    format!(
        r#"
[daemon]
state = "state/rasad.db"

[poll]
interval = "5m"
timeout = "20s"
alert_on_first_poll = true
{poll}

[[topic]]
id = "isis"
any = ["داعش"]
notify = ["ops"]

[[channel]]
id = "ops"
kind = "webhook"
url = "{}"
"#,
        env.hook.url()
    )
}

fn feed_table(id: &str, url: &str) -> String {
    format!("\n[[feed]]\nid = \"{id}\"\nurl = \"{url}\"\n")
}

/// The per-host limit (1) makes eight feeds of a slow host (3 s an answer) poll one after
/// another, 24 s in all; with two poll slots, a feed of another host listed after them must
/// still alert at once. When a poll waiting for its host's turn held a slot, the quick feed
/// waited for the slow host's whole queue.
#[tokio::test]
async fn polls_waiting_for_a_slow_host_leave_the_slots_to_other_hosts() {
    const SLOW_FEEDS: usize = 8;
    let env = Env::start().await;
    // A second server, on a port of its own: the per-host limit counts host and port.
    let slow = FeedServer::start().await;
    slow.set_delay(Some(Duration::from_secs(3)));
    let mut config = head(&env, "concurrency = 2\nper_host = 1");
    // Listed first, so due first: the slow host's feeds are taken before the quick one.
    for i in 0..SLOW_FEEDS {
        let path = format!("/slow-{i}.xml");
        slow.set(&path, rss(&[]), RSS);
        config.push_str(&feed_table(&format!("a-slow-{i}"), &slow.url(&path)));
    }
    env.feeds
        .set("/quick.xml", rss(&[("q1", "هجوم لداعش", "نص")]), RSS);
    config.push_str(&feed_table("z-quick", &env.feeds.url("/quick.xml")));
    std::fs::write(env.config_path(), config).expect("config written");

    let mut daemon = env.spawn(&["run"]);
    let alerts = env.hook.wait_for_accepted(1, WAIT).await;
    // Counted when the alert was seen: requests reach the slow host one every 3 s.
    let slow_requests = slow.requests().len();
    daemon.start_kill().expect("rasad stopped");
    let _ = daemon.wait().await;
    assert_eq!(alerts.len(), 1, "no alert; log:\n{}", env.log());
    assert!(
        slow_requests <= 2,
        "the quick feed alerted only after {slow_requests} of the slow host's polls"
    );
    slow.shutdown().await;
}
