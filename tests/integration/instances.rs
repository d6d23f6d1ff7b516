//! Several `rasad run` processes on one PostgreSQL database: 200 feeds on a loopback server that
//! answers each request after 200 ms, 50 stories that match a topic (some carried by several
//! feeds), one webhook receiver counting Idempotency-Keys. Every alert arrives exactly once with
//! all instances alive; with one SIGKILLed mid-run every alert still arrives, repeats are at most
//! what it had in flight, and its feeds are polled again within two lease periods; three
//! instances finish a poll cycle clearly faster than one. Skipped without
//! `RASAD_TEST_POSTGRES_URL`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::pg::TestDatabase;
use crate::servers::{FeedServer, WebhookReceiver};
use crate::support::{RSS, rss};

const FEEDS: usize = 200;
const STORIES: usize = 50;
/// How long the feed server takes to answer each request.
const FEED_DELAY: Duration = Duration::from_millis(200);
/// `daemon.lease` in these runs.
const LEASE: Duration = Duration::from_secs(3);
/// No phase of these tests waits longer than this.
const PHASE_LIMIT: Duration = Duration::from_secs(90);

/// Letters that the fingerprint's stemming leaves alone, to build words no two stories share.
const LETTERS: [char; 17] = [
    'ج', 'ح', 'خ', 'د', 'ذ', 'ر', 'ز', 'س', 'ش', 'ص', 'ض', 'ط', 'ظ', 'ع', 'غ', 'ق', 'م',
];

/// Story `s`'s title: the topic's keyword and eight words of its own.
fn title(s: usize) -> String {
    let words: Vec<String> = (0..8)
        .map(|j| {
            [s % 17, s / 17, j]
                .map(|i| LETTERS[i % LETTERS.len()])
                .iter()
                .chain(['ق', 'ع'].iter())
                .collect()
        })
        .collect();
    format!("داعش {}", words.join(" "))
}

/// The feeds that carry story `s`: one each, and the first 15 stories on two or three feeds.
fn carriers(s: usize) -> Vec<usize> {
    let mut feeds = vec![s * 4];
    if s < 15 {
        feeds.push(s * 4 + 1);
    }
    if s < 5 {
        feeds.push(s * 4 + 2);
    }
    feeds
}

/// A farm: the feed server with every feed set, the webhook receiver, a database.
struct Farm {
    feeds: FeedServer,
    hook: WebhookReceiver,
    db: TestDatabase,
    dir: tempfile::TempDir,
    /// Started instances, by name; killed when the farm is dropped.
    children: Vec<(String, tokio::process::Child)>,
    /// How many feeds it serves, and `poll.interval`.
    feed_count: usize,
    interval: &'static str,
}

impl Farm {
    async fn start(test: &str) -> Option<Farm> {
        Farm::start_with(test, FEEDS, "1h").await
    }

    /// A farm of `feed_count` feeds polled every `interval`.
    async fn start_with(test: &str, feed_count: usize, interval: &'static str) -> Option<Farm> {
        let db = TestDatabase::create(test).await?;
        let feeds = FeedServer::start().await;
        let mut items: HashMap<usize, Vec<(String, String, String)>> = HashMap::new();
        for s in 0..STORIES {
            for feed in carriers(s) {
                items.entry(feed).or_default().push((
                    format!("story-{s}"),
                    title(s),
                    "تفاصيل الخبر".to_owned(),
                ));
            }
        }
        for feed in 0..feed_count {
            let mut list = items.remove(&feed).unwrap_or_default();
            list.push((format!("quiet-{feed}"), "خبر عادي".into(), "لا شيء".into()));
            let refs: Vec<(&str, &str, &str)> = list
                .iter()
                .map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str()))
                .collect();
            feeds.set(&format!("/f{feed}.xml"), rss(&refs), RSS);
        }
        feeds.set_delay(Some(FEED_DELAY));
        Some(Farm {
            feeds,
            hook: WebhookReceiver::start().await,
            db,
            dir: tempfile::tempdir().expect("a folder"),
            children: Vec::new(),
            feed_count,
            interval,
        })
    }

    /// Writes instance `name`'s config and starts `rasad run` with it.
    fn spawn(&mut self, name: &str) {
        let config = self.write_config(name);
        let log = std::fs::File::create(self.log_path(name)).expect("a log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"))
            .args(["run", "-c"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("rasad started");
        self.children.push((name.to_owned(), child));
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn write_config(&self, name: &str) -> PathBuf {
        let mut text = format!(
            r#"
[daemon]
state = "{url}"
instance = "{name}"
lease = "{lease}s"
listen = ""

[poll]
interval = "{interval}"
concurrency = 8
per_host = 2
alert_on_first_poll = true
timeout = "10s"

[delivery]
timeout = "5s"
retry_initial = "200ms"
retry_max = "1s"

[[topic]]
id = "isis"
name = "داعش"
any = ["داعش"]
notify = ["ops"]

[[channel]]
id = "ops"
kind = "webhook"
url = "{hook}"
"#,
            url = self.db.url,
            lease = LEASE.as_secs(),
            hook = self.hook.url(),
            interval = self.interval,
        );
        for feed in 0..self.feed_count {
            text.push_str(&format!(
                "\n[[feed]]\nid = \"f{feed}\"\nname = \"Outlet {feed}\"\nurl = \"{}\"\n",
                self.feeds.url(&format!("/f{feed}.xml"))
            ));
        }
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("config written");
        path
    }

    /// The distinct feed paths requested so far.
    fn feeds_requested(&self) -> usize {
        self.feeds
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<HashSet<_>>()
            .len()
    }

    /// Accepted webhook posts: `(total, distinct Idempotency-Keys)`.
    fn deliveries(&self) -> (usize, usize) {
        let accepted = self.hook.accepted();
        let keys: HashSet<String> = accepted
            .iter()
            .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
            .collect();
        (accepted.len(), keys.len())
    }

    /// Waits until `done` or the phase limit; false when the limit was reached.
    async fn wait(&self, mut done: impl FnMut(&Farm) -> bool) -> bool {
        crate::support::eventually(PHASE_LIMIT, || done(self)).await
    }

    /// Every instance's log, for a failure message.
    fn logs(&self) -> String {
        let mut all = String::new();
        for (name, _) in &self.children {
            let log = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            all.push_str(&format!("--- {name} (last lines) ---\n"));
            for line in tail.into_iter().rev() {
                all.push_str(line);
                all.push('\n');
            }
        }
        all
    }

    /// Runs `rasad ARGS -c i1.toml` and returns its JSON lines.
    async fn cli(&self, args: [&'static str; 2]) -> Vec<serde_json::Value> {
        let output = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"))
                .args(args)
                .arg("-c")
                .arg(self.dir.path().join("i1.toml"))
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("rasad answered in time")
        .expect("rasad started");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    /// How many lines with `text` each instance logged, by name.
    fn logged(&self, text: &str) -> Vec<(String, usize)> {
        self.children
            .iter()
            .map(|(name, _)| {
                let log = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
                (name.clone(), log.matches(text).count())
            })
            .collect()
    }

    /// Starts `names` together and returns how long the poll cycle took: from the first feed
    /// request to the moment every feed had been requested (start-up, the same for any number
    /// of instances, is left out).
    async fn cycle(&mut self, names: &[&str]) -> Duration {
        for name in names {
            self.spawn(name);
        }
        let done = self.wait(|farm| farm.feeds_requested() == FEEDS).await;
        assert!(done, "a poll cycle did not finish\n{}", self.logs());
        let requests = self.feeds.requests();
        let first = requests.first().expect("requests").received_at;
        let mut seen = HashSet::new();
        let last = requests
            .iter()
            .find(|r| seen.insert(r.path.clone()) && seen.len() == FEEDS)
            .expect("every feed requested")
            .received_at;
        last - first
    }

    async fn stop_all(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        }
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
    }
}

/// The tests here run one at a time: each starts several daemons, and their timings mean more
/// when they do not compete with each other for the CPU.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn skip_note() {
    eprintln!(
        "note: several-instance tests skipped ({} is not set)",
        crate::pg::URL_VAR
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_feeds_and_deliver_every_alert_once() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let Some(mut one) = Farm::start("instances_one").await else {
        return skip_note();
    };
    let Some(mut three) = Farm::start("instances_three").await else {
        return skip_note();
    };
    let single = one.cycle(&["solo"]).await;
    let all_sent = one.wait(|f| f.deliveries().1 >= STORIES).await;
    assert!(
        all_sent,
        "one instance: {:?}\n{}",
        one.deliveries(),
        one.logs()
    );
    one.stop_all().await;

    let shared = three.cycle(&["i1", "i2", "i3"]).await;
    let all_sent = three.wait(|f| f.deliveries().1 >= STORIES).await;
    assert!(
        all_sent,
        "three instances: {:?}\n{}",
        three.deliveries(),
        three.logs()
    );
    // Late repeats would show up now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (total, distinct) = three.deliveries();
    eprintln!("polls by instance: {:?}", three.logged("feed polled"));
    for farm in [&one, &three] {
        let lost = farm.logged("leases ran out");
        if lost.iter().any(|(_, n)| *n > 0) {
            eprintln!("{}", farm.logs());
        }
        assert!(
            lost.iter().all(|(_, n)| *n == 0),
            "no lease runs out while every instance renews: {lost:?}"
        );
    }
    eprintln!(
        "poll cycle of {FEEDS} feeds ({} ms per request): one instance {:.2} s, three instances {:.2} s ({:.1}x); alerts {distinct}, webhook posts {total}",
        FEED_DELAY.as_millis(),
        single.as_secs_f64(),
        shared.as_secs_f64(),
        single.as_secs_f64() / shared.as_secs_f64(),
    );
    assert_eq!(
        (total, distinct),
        (STORIES, STORIES),
        "every alert exactly once\n{}",
        three.logs()
    );
    assert_eq!(
        one.deliveries(),
        (STORIES, STORIES),
        "one instance, exactly once"
    );
    // Each instance polled a share of the feeds.
    let mut conn = three.db.connect().await;
    let polled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feeds WHERE last_status = '200'")
        .fetch_one(&mut conn)
        .await
        .expect("feeds readable");
    assert_eq!(polled, FEEDS as i64);
    // Ideally a third (the feed server's delay bounds each instance): 3.0x measured on two
    // cores, about 2x while other processes compete for them.
    assert!(
        shared.as_secs_f64() < single.as_secs_f64() * 0.7,
        "three instances ({shared:?}) are not clearly faster than one ({single:?})"
    );
    three.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_run_loses_no_alert_and_its_feeds_are_polled_again() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let Some(mut farm) = Farm::start("instances_kill").await else {
        return skip_note();
    };
    // Slow sends, so that the victim has deliveries in flight when it dies.
    farm.hook.set_delay(Some(Duration::from_millis(150)));
    for name in ["i1", "i2", "i3"] {
        farm.spawn(name);
    }
    // Mid-run: a third of the feeds requested, and the victim sending a delivery.
    let mut conn = farm.db.connect().await;
    let deadline = Instant::now() + PHASE_LIMIT;
    loop {
        let sending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE lease_owner = 'i2' AND status = 'pending'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0); // before the first instance has migrated the database
        if sending > 0 && farm.feeds.requests().len() >= FEEDS / 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not get going\n{}",
            farm.logs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, victim) = farm
        .children
        .iter_mut()
        .find(|(name, _)| name == "i2")
        .expect("i2 started");
    victim.start_kill().expect("SIGKILL sent");
    let killed_at = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), victim.wait())
        .await
        .expect("the victim died")
        .expect("its status");
    // What it held when it died: its leases are still in the database.
    let held_feeds: Vec<String> =
        sqlx::query_scalar("SELECT id FROM feeds WHERE lease_owner = 'i2' ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .expect("feeds readable");
    let in_flight: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE lease_owner = 'i2' AND status = 'pending'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("deliveries readable");
    // `rasad feeds` and `rasad outbox` show the same, from a survivor's config.
    let (feeds, outbox) = tokio::join!(
        farm.cli(["feeds", "--json"]),
        farm.cli(["outbox", "--json"])
    );
    let held_by =
        |rows: &[serde_json::Value], key: &str| rows.iter().filter(|r| r[key] == "i2").count();
    assert_eq!(
        held_by(&feeds, "lease_owner"),
        held_feeds.len(),
        "rasad feeds: {feeds:?}"
    );
    assert_eq!(
        held_by(&outbox, "held_by") as i64,
        in_flight,
        "rasad outbox: {outbox:?}"
    );

    assert!(
        !held_feeds.is_empty(),
        "the victim held no feed when it died: the kill came too late\n{}",
        farm.logs()
    );
    let all_sent = farm.wait(|f| f.deliveries().1 >= STORIES).await;
    assert!(
        all_sent,
        "after the kill: {:?}\n{}",
        farm.deliveries(),
        farm.logs()
    );
    let repolled = farm
        .wait(|f| {
            let after: HashSet<String> = f
                .feeds
                .requests()
                .iter()
                .filter(|r| r.received_at > killed_at)
                .map(|r| {
                    r.path
                        .trim_start_matches('/')
                        .trim_end_matches(".xml")
                        .to_owned()
                })
                .collect();
            held_feeds.iter().all(|id| after.contains(id))
        })
        .await;
    assert!(
        repolled,
        "the victim's feeds {held_feeds:?} were not polled again\n{}",
        farm.logs()
    );
    // How long after the kill each of its feeds was requested again.
    let requests = farm.feeds.requests();
    let delays: Vec<Duration> = held_feeds
        .iter()
        .filter_map(|id| {
            let path = format!("/{id}.xml");
            requests
                .iter()
                .filter(|r| r.path == path && r.received_at > killed_at)
                .map(|r| r.received_at - killed_at)
                .min()
        })
        .collect();
    let slowest = delays.iter().max().copied().unwrap_or_default();
    // The victim's in-flight deliveries come back when their leases run out: wait until the
    // outbox holds nothing undelivered, so that every repeat is counted.
    let deadline = Instant::now() + PHASE_LIMIT;
    loop {
        let (all, done): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'delivered') FROM deliveries",
        )
        .fetch_one(&mut conn)
        .await
        .expect("deliveries readable");
        if all == STORIES as i64 && done == all {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox never drained ({done} of {all})\n{}",
            farm.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (total, distinct) = farm.deliveries();
    eprintln!(
        "SIGKILL mid-run: victim held {} feeds and {in_flight} deliveries in flight; its feeds were polled again within {:.2} s (lease {} s); alerts {distinct}, webhook posts {total}, repeats {}",
        held_feeds.len(),
        slowest.as_secs_f64(),
        LEASE.as_secs(),
        total - distinct,
    );
    assert_eq!(distinct, STORIES, "every alert arrives");
    assert!(
        (total - distinct) as i64 <= in_flight,
        "repeats ({}) beyond what the victim had in flight ({in_flight})",
        total - distinct
    );
    assert!(
        slowest <= 2 * LEASE,
        "the victim's feeds were polled again only after {slowest:?}"
    );
    farm.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_outlives_its_database_connections() {
    // Four feeds polled every second; story 0 is on feeds 0 to 2.
    let Some(mut farm) = Farm::start_with("instances_outage", 4, "1s").await else {
        return skip_note();
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    farm.feeds.set_delay(None);
    farm.spawn("solo");
    let first = farm.wait(|f| f.deliveries().1 >= 1).await;
    assert!(first, "the first alert did not arrive\n{}", farm.logs());
    // The database goes away for two seconds (a restart, a failover): every connection of the
    // pool and the listener is dropped, and new ones are refused meanwhile.
    let mut conn = farm.db.connect_admin().await;
    let refuse = |allow: bool| {
        sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {allow}",
            farm.db.name()
        ))
    };
    sqlx::query(refuse(false))
        .execute(&mut conn)
        .await
        .expect("connections refused");
    let dropped: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
    )
    .bind(farm.db.name())
    .fetch_all(&mut conn)
    .await
    .expect("connections terminated");
    assert!(!dropped.is_empty(), "rasad had connections");
    tokio::time::sleep(Duration::from_secs(2)).await;
    sqlx::query(refuse(true))
        .execute(&mut conn)
        .await
        .expect("connections allowed again");
    // A story published after the outage is still polled, recorded and delivered.
    farm.feeds.set(
        "/f3.xml",
        rss(&[("after-outage", &title(60), "تفاصيل")]),
        RSS,
    );
    let second = farm.wait(|f| f.deliveries().1 >= 2).await;
    let (_, child) = &mut farm.children[0];
    let status = child.try_wait().expect("status readable");
    assert!(
        status.is_none(),
        "rasad exited ({status:?})\n{}",
        farm.logs()
    );
    assert!(
        second,
        "no alert after the outage: {:?}\n{}",
        farm.deliveries(),
        farm.logs()
    );
    assert_eq!(farm.deliveries(), (2, 2));
    farm.stop_all().await;
}
