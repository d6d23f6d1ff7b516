//! A feed farm: N generated Arabic feeds served on 127.0.0.1, polled by `rasad once` twice — a
//! first cycle over every feed, then a cycle where a share of the feeds changed — with the wall
//! time, CPU time, peak memory and throughput of each cycle.
//!
//! ```sh
//! cargo build --release && cargo run --release --example feedfarm -- --feeds 10000
//! cargo run --release --example feedfarm -- --feeds 2000 --daemon 20m   # memory over time
//! ```
//!
//! Feeds are generated deterministically: 30 items of about 2.7 KB each (about 80 KB a feed),
//! every fifth feed Atom, every seventh windows-1256, a story pool shared between outlets, and a
//! few percent of items that mention the watch keywords. The server answers conditional requests
//! with 304. Alerts go to a webhook receiver on 127.0.0.1. Every server and process started here
//! is stopped before the program ends.
//!
//! With `--reference benches/reference_poller.py` the same two cycles are then run by the Python
//! reference (aiohttp + feedparser + pyahocorasick, one process keeping its validators in memory)
//! and the ratios rasad / reference of wall and CPU time are printed for each cycle. The
//! reference runs after rasad, on the same farm states in the same order: the changed feeds are
//! put back to their first version, the reference's first cycle runs, the same feeds change
//! again, then its second cycle runs. Both meet a farm where the same feeds changed once.

#[path = "../tests/integration/servers/mod.rs"]
mod servers;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

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
    reference: Option<PathBuf>,
    /// Run `rasad run` for this long instead of two `rasad once` cycles.
    daemon: Option<Duration>,
    /// rasad's `poll.concurrency` (and `per_host`).
    concurrency: usize,
}

fn args() -> Args {
    let mut args = Args {
        feeds: 1000,
        changed: 0.1,
        rasad: PathBuf::from("target/release/rasad"),
        reference: None,
        daemon: None,
        concurrency: 64,
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
            "--concurrency" => {
                args.concurrency = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage("--concurrency takes a positive number"))
            }
            "--reference" => args.reference = Some(PathBuf::from(value)),
            "--daemon" => {
                args.daemon = Some(
                    humantime::parse_duration(&value)
                        .unwrap_or_else(|_| usage("--daemon takes a duration such as 20m")),
                )
            }
            other => usage(&format!("unknown option {other}")),
        }
    }
    args
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "feedfarm: {problem}\nusage: feedfarm [--feeds N] [--changed FRACTION] [--rasad PATH] \
         [--reference PATH_TO_SCRIPT] [--daemon DURATION] [--concurrency N]"
    );
    std::process::exit(2)
}

/// Words in the generated vocabulary.
const VOCABULARY: u64 = 30_000;

/// Word `k` of the generated vocabulary: four to seven Arabic letters spelt from `k`.
fn vocabulary_word(k: u64) -> String {
    const LETTERS: &[char] = &[
        'ا', 'ب', 'ت', 'ث', 'ج', 'ح', 'خ', 'د', 'ذ', 'ر', 'ز', 'س', 'ش', 'ص', 'ض', 'ط', 'ظ', 'ع',
        'غ', 'ف', 'ق', 'ك', 'ل', 'م', 'ن', 'ه', 'و', 'ي',
    ];
    let mut n = k.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let len = 4 + (k % 4) as usize;
    (0..len)
        .map(|_| {
            let c = LETTERS[(n % LETTERS.len() as u64) as usize];
            n /= LETTERS.len() as u64;
            if n == 0 {
                n = k + 7;
            }
            c
        })
        .collect()
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

    /// A sentence as news text has them: a third common words, the rest drawn from a large
    /// vocabulary where a few words are frequent and most are rare (as in real text, so that
    /// stories of different events share few words).
    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| {
                if self.next().is_multiple_of(3) {
                    self.pick(WORDS).to_owned()
                } else {
                    let u = (self.next() % 1_000_000) as f64 / 1e6;
                    vocabulary_word((u * u * u * VOCABULARY as f64) as u64)
                }
            })
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

/// The farm's config. Every feed is on 127.0.0.1, so `per_host` is raised to the concurrency: the
/// farm stands for thousands of outlets, each its own host.
fn write_config(
    dir: &Path,
    server: &FeedServer,
    hook: &WebhookReceiver,
    feeds: usize,
    concurrency: usize,
) -> PathBuf {
    let mut text = format!(
        "[daemon]\nstate = \"state.db\"\nlisten = \"\"\n\n[poll]\nconcurrency = {concurrency}\nper_host = {concurrency}\n\
         interval = \"1m\"\nmin_interval = \"1m\"\ntimeout = \"60s\"\n\n\
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

/// What one `rasad once` printed and used.
struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    cpu: Duration,
    peak: u64,
}

/// `feedfarm --measure OUT PROGRAM ARGS…`: runs PROGRAM as the only child of this small process
/// and writes its CPU seconds and peak RSS bytes to OUT. The farm measures each cycle through
/// it because a process forked from the farm itself counts the farm's pages (over 150 MB at
/// 2,000 feeds) in its peak RSS, which even `exec` does not reset.
fn measure(out: &Path, program: &str, args: &[String]) -> ! {
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program} cannot start: {e}"));
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_CHILDREN is a valid target.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    std::fs::write(
        out,
        format!(
            "{} {}\n",
            time(usage.ru_utime) + time(usage.ru_stime),
            usage.ru_maxrss as u64 * 1024
        ),
    )
    .expect("the measure is written");
    std::process::exit(status.code().unwrap_or(1))
}

/// Runs `rasad once --json -c CONFIG` to its end (killed after [`CYCLE_LIMIT`]), measured by
/// [`measure`].
fn run_once(rasad: &Path, config: &Path) -> Run {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let figures = config.with_extension("measure");
    let _ = std::fs::remove_file(&figures);
    let mut child = std::process::Command::new(std::env::current_exe().expect("the farm's path"))
        .arg("--measure")
        .arg(&figures)
        .arg(rasad)
        .args(["once", "--json", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("rasad runs");
    let group = child.id() as libc::pid_t;
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if finished.recv_timeout(CYCLE_LIMIT).is_err() {
            eprintln!("rasad once ran past {CYCLE_LIMIT:?}; stopping it");
            // SAFETY: signals the process group this program started, not yet reaped.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
    });
    let mut stdout = String::new();
    let _ = child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut stdout);
    let status = child.wait().expect("the measured run is waited for");
    let _ = done.send(());
    let measured = std::fs::read_to_string(&figures).unwrap_or_default();
    let mut numbers = measured
        .split_whitespace()
        .map(|n| n.parse::<f64>().unwrap_or(0.0));
    Run {
        status,
        stdout,
        stderr: stderr.join().unwrap_or_default(),
        cpu: Duration::from_secs_f64(numbers.next().unwrap_or(0.0)),
        peak: numbers.next().unwrap_or(0.0) as u64,
    }
}

/// The wall and CPU time of one cycle.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
    /// False when the cycle failed: its times are those until it gave up.
    completed: bool,
}

async fn cycle(name: &str, rasad: &Path, config: &Path, feeds: usize, bytes: u64) -> Cost {
    let started = Instant::now();
    let (rasad, config) = (rasad.to_owned(), config.to_owned());
    let run = tokio::task::spawn_blocking(move || run_once(&rasad, &config))
        .await
        .expect("the cycle's thread ends");
    let wall = started.elapsed();
    if !run.status.success() {
        // Reported, not fatal: the reference still runs, and the failure is part of the result.
        let reason = run
            .stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        println!(
            "{name}: rasad once FAILED ({}) after wall {:.2} s, CPU {:.2} s ({} lines on stderr): {reason}",
            run.status,
            wall.as_secs_f64(),
            run.cpu.as_secs_f64(),
            run.stderr.lines().count()
        );
        return Cost {
            wall,
            cpu: run.cpu,
            completed: false,
        };
    }
    println!(
        "{name}: wall {:.2} s, CPU {:.2} s, peak RSS {:.1} MB, {:.0} feeds/s, {:.1} MB/s; {}",
        wall.as_secs_f64(),
        run.cpu.as_secs_f64(),
        run.peak as f64 / 1e6,
        feeds as f64 / wall.as_secs_f64(),
        bytes as f64 / 1e6 / wall.as_secs_f64(),
        run.stdout.trim()
    );
    Cost {
        wall,
        cpu: run.cpu,
        completed: true,
    }
}

/// The Python reference, one process for both cycles: it reads the URLs from a file, prints
/// one JSON line a cycle, and starts its second cycle on a line read from stdin.
struct Reference {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Reference {
    fn start(script: &Path, urls: &Path) -> Reference {
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .arg(urls)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("python3 {} cannot start: {e}", script.display()));
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        Reference {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next cycle's figures, as the script prints them.
    async fn cycle(&mut self, name: &str) -> (Cost, serde_json::Value) {
        let line = tokio::time::timeout(CYCLE_LIMIT, self.lines.next_line())
            .await
            .expect("the reference's cycle ends in time")
            .expect("the reference's output is readable")
            .unwrap_or_else(|| panic!("the reference ended before its {name}"));
        let figures: serde_json::Value =
            serde_json::from_str(&line).expect("the reference prints JSON");
        let seconds = |key: &str| {
            Duration::from_secs_f64(figures[key].as_f64().expect("the figures hold times"))
        };
        let cost = Cost {
            wall: seconds("wall_s"),
            cpu: seconds("cpu_s"),
            completed: true,
        };
        println!("reference {name}: {line}");
        (cost, figures)
    }

    async fn next_cycle(&mut self) {
        self.stdin
            .write_all(b"next\n")
            .await
            .expect("the reference reads its stdin");
        self.stdin
            .flush()
            .await
            .expect("the reference reads its stdin");
    }

    async fn finish(mut self) {
        drop(self.stdin);
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                let status = status.expect("the reference is waited for");
                assert!(status.success(), "the reference failed: {status}");
            }
            Err(_) => {
                eprintln!("the reference did not end; stopping it");
                self.child.kill().await.expect("the reference is stopped");
            }
        }
    }
}

fn print_ratio(name: &str, rasad: Cost, reference: Cost) {
    if !rasad.completed {
        println!("{name}: no ratio, rasad's cycle failed");
        return;
    }
    println!(
        "{name}: rasad / reference: wall {:.3} ({:.2} s / {:.2} s), CPU {:.3} ({:.2} s / {:.2} s)",
        rasad.wall.as_secs_f64() / reference.wall.as_secs_f64(),
        rasad.wall.as_secs_f64(),
        reference.wall.as_secs_f64(),
        rasad.cpu.as_secs_f64() / reference.cpu.as_secs_f64(),
        rasad.cpu.as_secs_f64(),
        reference.cpu.as_secs_f64(),
    );
}

/// Runs the reference over the same farm states as rasad met: the `changed` feeds at their
/// first version for the first cycle, at their second for the second.
async fn run_reference(
    script: &Path,
    dir: &Path,
    server: &FeedServer,
    feeds: usize,
    changed: &[usize],
    rasad: (Cost, Cost),
) {
    for &feed in changed {
        let (body, content_type) = feed_body(feed, 0);
        server.set(&format!("/f{feed}.xml"), body, content_type);
    }
    let urls = dir.join("urls.txt");
    let list: String = (0..feeds)
        .map(|feed| server.url(&format!("/f{feed}.xml")) + "\n")
        .collect();
    std::fs::write(&urls, list).expect("the URL list is written");
    let mut reference = Reference::start(script, &urls);
    let (first, _) = reference.cycle("first cycle").await;
    for &feed in changed {
        let (body, content_type) = feed_body(feed, 1);
        server.set(&format!("/f{feed}.xml"), body, content_type);
    }
    reference.next_cycle().await;
    let (second, _) = reference.cycle("second cycle").await;
    reference.finish().await;
    print_ratio("first cycle", rasad.0, first);
    print_ratio("second cycle", rasad.1, second);
}

/// Resident memory now and at its peak, and CPU time so far, of process `pid` (Linux `/proc`).
fn process_usage(pid: u32) -> Option<(u64, u64, Duration)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|v| v * 1024)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = (fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / ticks;
    Some((kb("VmRSS:")?, kb("VmHWM:")?, Duration::from_secs_f64(cpu)))
}

/// Runs `rasad run` on the farm for `length`, changing a tenth of the feeds every minute, and
/// prints its memory and CPU time each minute: a daemon that leaks shows a rising RSS.
async fn run_daemon(args: &Args, dir: &Path, server: &FeedServer, config: &Path, length: Duration) {
    let log = std::fs::File::create(dir.join("daemon.log")).expect("the log file is created");
    let mut child = tokio::process::Command::new(&args.rasad)
        .args(["run", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("rasad starts");
    let pid = child.id().expect("the daemon has a pid");
    let started = Instant::now();
    let mut versions = vec![0usize; args.feeds];
    let mut minute = 0usize;
    let mut first: Option<u64> = None;
    let mut last = 0u64;
    println!(
        "rasad run, pid {pid}, for {}",
        humantime::format_duration(length)
    );
    while started.elapsed() < length {
        tokio::time::sleep_until((started + Duration::from_secs(60 * (minute as u64 + 1))).into())
            .await;
        minute += 1;
        if let Ok(Some(status)) = child.try_wait() {
            println!(
                "the daemon ended early: {status}; see {}",
                dir.join("daemon.log").display()
            );
            return;
        }
        let Some((rss, peak, cpu)) = process_usage(pid) else {
            println!("cannot read /proc/{pid}");
            break;
        };
        first.get_or_insert(rss);
        last = rss;
        println!(
            "minute {minute:>3}: RSS {:.1} MB, peak {:.1} MB, CPU {:.1} s",
            rss as f64 / 1e6,
            peak as f64 / 1e6,
            cpu.as_secs_f64()
        );
        // A tenth of the feeds gets a new item, a different tenth each minute.
        for feed in (0..args.feeds).filter(|f| (f + minute).is_multiple_of(10)) {
            versions[feed] += 1;
            let (body, content_type) = feed_body(feed, versions[feed]);
            server.set(&format!("/f{feed}.xml"), body, content_type);
        }
    }
    // SAFETY: kill sends a signal to a child this program started and has not yet reaped.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
        Ok(status) => println!(
            "the daemon stopped: {}",
            status.expect("the daemon is waited for")
        ),
        Err(_) => {
            println!("the daemon did not stop within 30 s of SIGTERM; killing it");
            let _ = child.kill().await;
        }
    }
    if let Some(first) = first {
        println!(
            "RSS after the first minute {:.1} MB, at the end {:.1} MB ({:+.1}%)",
            first as f64 / 1e6,
            last as f64 / 1e6,
            (last as f64 / first as f64 - 1.0) * 100.0
        );
    }
}

#[tokio::main]
async fn main() {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).is_some_and(|a| a == "--measure") && raw.len() >= 4 {
        measure(Path::new(&raw[2]), &raw[3], &raw[4..]);
    }
    let args = args();
    if !args.rasad.exists() {
        usage(&format!(
            "{} not found: build it first (cargo build --release)",
            args.rasad.display()
        ));
    }
    if let Some(script) = args.reference.as_ref().filter(|s| !s.exists()) {
        usage(&format!("{} not found", script.display()));
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
    let config = write_config(dir.path(), &server, &hook, args.feeds, args.concurrency);
    if let Some(length) = args.daemon {
        run_daemon(&args, dir.path(), &server, &config, length).await;
        println!("webhook calls received: {}", hook.requests().len());
        server.shutdown().await;
        hook.shutdown().await;
        return;
    }
    let first = cycle("first cycle", &args.rasad, &config, args.feeds, total).await;

    let changed = ((args.feeds as f64 * args.changed).round() as usize).max(1);
    let mut changed_bytes = 0u64;
    let changed_feeds: Vec<usize> = (0..args.feeds)
        .step_by((args.feeds / changed).max(1))
        .take(changed)
        .collect();
    for &feed in &changed_feeds {
        let (body, content_type) = feed_body(feed, 1);
        changed_bytes += body.len() as u64;
        server.set(&format!("/f{feed}.xml"), body, content_type);
    }
    println!(
        "{changed} feeds changed ({:.1} MB)",
        changed_bytes as f64 / 1e6
    );
    let second = cycle(
        "second cycle",
        &args.rasad,
        &config,
        args.feeds,
        changed_bytes,
    )
    .await;
    println!("webhook calls received: {}", hook.requests().len());
    if let Some(script) = &args.reference {
        run_reference(
            script,
            dir.path(),
            &server,
            args.feeds,
            &changed_feeds,
            (first, second),
        )
        .await;
    }
    server.shutdown().await;
    hook.shutdown().await;
}
