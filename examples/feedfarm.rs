//! A feed farm: N generated Arabic feeds served on 127.0.0.1, polled by `rasad once` twice — a
//! first cycle over every feed, then a cycle where a share of the feeds changed — with the wall
//! time, CPU time, peak memory and throughput of each cycle.
//!
//! ```sh
//! cargo build --release && cargo run --release --example feedfarm -- --feeds 10000
//! ```
//!
//! Feeds are generated deterministically: 30 items of about 2.7 KB each (about 80 KB a feed),
//! every fifth feed Atom, every seventh windows-1256, a story pool shared between outlets, and a
//! few percent of items that mention the watch keywords. The server answers conditional requests
//! with 304. Alerts go to a webhook receiver on 127.0.0.1. Every server and process started here
//! is stopped before the program ends.

#[path = "../tests/integration/servers.rs"]
mod servers;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use servers::{FeedServer, WebhookReceiver};

const ITEMS: usize = 30;
/// No `rasad once` may run longer than this.
const CYCLE_LIMIT: Duration = Duration::from_secs(1800);

const WORDS: &[&str] = &[
    "أعلنت",
    "الحكومة",
    "العراقية",
    "اليوم",
    "عن",
    "خطة",
    "جديدة",
    "لدعم",
    "الاقتصاد",
    "الوطني",
    "وقال",
    "مسؤول",
    "في",
    "وزارة",
    "المالية",
    "إن",
    "الموازنة",
    "ستشمل",
    "مشاريع",
    "للبنية",
    "التحتية",
    "والطاقة",
    "المتجددة",
    "بينما",
    "أكد",
    "البرلمان",
    "ضرورة",
    "مراقبة",
    "الإنفاق",
    "العام",
    "وأشار",
    "تقرير",
    "للأمم",
    "المتحدة",
    "إلى",
    "تحسن",
    "مؤشرات",
    "النمو",
    "خلال",
    "الربع",
    "الأخير",
    "من",
    "السنة",
    "الماضية",
    "وسط",
    "توقعات",
    "بارتفاع",
    "أسعار",
    "النفط",
    "والغاز",
    "الطبيعي",
    "على",
    "المستوى",
    "الإقليمي",
    "والدولي",
];
const MENTIONS: &[&str] = &[
    "هجوم لداعش قرب الحدود",
    "غارات للتحالف الدولي على مواقع التنظيم",
    "اعتقال عناصر من تنظيم الدولة",
];

struct Args {
    feeds: usize,
    changed: f64,
    rasad: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        feeds: 1000,
        changed: 0.1,
        rasad: PathBuf::from("target/release/rasad"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--feeds" => {
                args.feeds = value
                    .parse()
                    .unwrap_or_else(|_| usage("--feeds takes a number"))
            }
            "--changed" => {
                args.changed = value
                    .parse()
                    .unwrap_or_else(|_| usage("--changed takes a fraction"))
            }
            "--rasad" => args.rasad = PathBuf::from(value),
            other => usage(&format!("unknown option {other}")),
        }
    }
    args
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "feedfarm: {problem}\nusage: feedfarm [--feeds N] [--changed FRACTION] [--rasad PATH]"
    );
    std::process::exit(2)
}

/// A small deterministic generator (xorshift), so that every run serves the same farm.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.pick(WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Item `n` of feed `feed` at `version` (items of a changed feed shift by one per version).
fn item(feed: usize, n: usize, version: usize) -> (String, String, String) {
    let serial = n + version;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((feed as u64) << 20) ^ serial as u64);
    // One item in eight carries a story of the shared pool, as agencies' wires do.
    let shared = rng.next().is_multiple_of(8);
    let story = if shared {
        (rng.next() % 500) as usize
    } else {
        feed * 10_000 + serial
    };
    let mut story_rng = Rng(0x5851_f42d_4c95_7f2d ^ story as u64);
    let mut title = story_rng.sentence(9);
    if story_rng.next().is_multiple_of(25) {
        title = format!("{} {}", story_rng.pick(MENTIONS), title);
    }
    let body = (0..10)
        .map(|_| story_rng.sentence(20))
        .collect::<Vec<_>>()
        .join(". ");
    (format!("{feed}-{serial}"), title, body)
}

fn rss(feed: usize, version: usize) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>منفذ {feed}</title><link>https://outlet{feed}.test/</link>\n"
    );
    for n in 0..ITEMS {
        let (id, title, body) = item(feed, n, version);
        out.push_str(&format!(
            "<item><guid>{id}</guid><title>{title}</title><link>https://outlet{feed}.test/{id}</link><description><![CDATA[<p>{body}</p>]]></description><pubDate>Sun, 29 Nov 2026 08:00:00 GMT</pubDate></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

fn atom(feed: usize, version: usize) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>منفذ {feed}</title><id>urn:outlet:{feed}</id><updated>2026-11-29T08:00:00Z</updated>\n"
    );
    for n in 0..ITEMS {
        let (id, title, body) = item(feed, n, version);
        out.push_str(&format!(
            "<entry><id>urn:{id}</id><title>{title}</title><link href=\"https://outlet{feed}.test/{id}\"/><updated>2026-11-29T08:00:00Z</updated><summary type=\"html\">&lt;p&gt;{body}&lt;/p&gt;</summary></entry>\n"
        ));
    }
    out.push_str("</feed>\n");
    out
}

/// The feed's body and content type.
fn feed_body(feed: usize, version: usize) -> (Vec<u8>, &'static str) {
    if feed.is_multiple_of(5) {
        (
            atom(feed, version).into_bytes(),
            "application/atom+xml; charset=utf-8",
        )
    } else if feed.is_multiple_of(7) {
        let text = rss(feed, version).replace("encoding=\"UTF-8\"", "encoding=\"windows-1256\"");
        let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode(&text);
        (
            bytes.into_owned(),
            "application/rss+xml; charset=windows-1256",
        )
    } else {
        (
            rss(feed, version).into_bytes(),
            "application/rss+xml; charset=utf-8",
        )
    }
}

fn write_config(dir: &Path, server: &FeedServer, hook: &WebhookReceiver, feeds: usize) -> PathBuf {
    let mut text = format!(
        "[daemon]\nstate = \"state.db\"\n\n[poll]\nconcurrency = 64\ntimeout = \"60s\"\n\n\
         [[topic]]\nid = \"isis\"\nany = [\"داعش\", \"تنظيم الدولة\"]\nnotify = [\"hook\"]\n\n\
         [[topic]]\nid = \"coalition\"\nany = [\"التحالف الدولي\"]\nnotify = [\"hook\"]\n\n\
         [[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        hook.url()
    );
    for feed in 0..feeds {
        text.push_str(&format!(
            "\n[[feed]]\nid = \"f{feed}\"\nurl = \"{}\"\n",
            server.url(&format!("/f{feed}.xml"))
        ));
    }
    let path = dir.join("farm.toml");
    std::fs::write(&path, text).expect("the config is written");
    path
}

/// CPU time and peak resident memory of the finished children of this process so far.
fn children_usage() -> (Duration, u64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_CHILDREN is a valid target.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        time(usage.ru_utime) + time(usage.ru_stime),
        usage.ru_maxrss as u64 * 1024,
    )
}

async fn cycle(name: &str, rasad: &Path, config: &Path, feeds: usize, bytes: u64) {
    let (cpu_before, _) = children_usage();
    let started = Instant::now();
    let child = tokio::process::Command::new(rasad)
        .args(["once", "--json", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(CYCLE_LIMIT, child)
        .await
        .expect("the cycle ends in time")
        .expect("rasad runs");
    let wall = started.elapsed();
    let (cpu_after, peak) = children_usage();
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        panic!("rasad once failed in the {name} cycle");
    }
    let summary = String::from_utf8_lossy(&output.stdout);
    println!(
        "{name}: wall {:.2} s, CPU {:.2} s, peak RSS {:.1} MB, {:.0} feeds/s, {:.1} MB/s; {}",
        wall.as_secs_f64(),
        (cpu_after - cpu_before).as_secs_f64(),
        peak as f64 / 1e6,
        feeds as f64 / wall.as_secs_f64(),
        bytes as f64 / 1e6 / wall.as_secs_f64(),
        summary.trim()
    );
}

#[tokio::main]
async fn main() {
    let args = args();
    if !args.rasad.exists() {
        usage(&format!(
            "{} not found: build it first (cargo build --release)",
            args.rasad.display()
        ));
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = FeedServer::start().await;
    let hook = WebhookReceiver::start().await;
    let mut total = 0u64;
    for feed in 0..args.feeds {
        let (body, content_type) = feed_body(feed, 0);
        total += body.len() as u64;
        server.set(&format!("/f{feed}.xml"), body, content_type);
    }
    println!(
        "{} feeds, {:.1} MB, {:.0} KB a feed",
        args.feeds,
        total as f64 / 1e6,
        total as f64 / 1e3 / args.feeds as f64
    );
    let config = write_config(dir.path(), &server, &hook, args.feeds);
    cycle("first cycle", &args.rasad, &config, args.feeds, total).await;

    let changed = ((args.feeds as f64 * args.changed).round() as usize).max(1);
    let mut changed_bytes = 0u64;
    for feed in (0..args.feeds)
        .step_by((args.feeds / changed).max(1))
        .take(changed)
    {
        let (body, content_type) = feed_body(feed, 1);
        changed_bytes += body.len() as u64;
        server.set(&format!("/f{feed}.xml"), body, content_type);
    }
    println!(
        "{changed} feeds changed ({:.1} MB)",
        changed_bytes as f64 / 1e6
    );
    cycle(
        "second cycle",
        &args.rasad,
        &config,
        args.feeds,
        changed_bytes,
    )
    .await;
    println!("webhook calls received: {}", hook.requests().len());
    server.shutdown().await;
    hook.shutdown().await;
}
