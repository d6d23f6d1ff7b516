//! The cost of hostile input as it grows: for each pathological shape, the time for an input
//! ten times larger, divided by the time for the base input, measured in the same run. Linear
//! work gives about 10; the target is at most 12 (quadratic work gives about 100).
//!
//! `cargo bench --bench hostile` (release build; about a minute).
//!
//! Times are the thread's CPU time, so that another process taking the core mid-run is not
//! counted; they still include what sharing the caches with other processes costs. Past a matched field's bound the
//! matching shapes once showed 16x: a text of megabytes outgrows the buffers the matcher keeps
//! per thread (4 MiB) and the caches, so each run of the large input takes fresh memory from the
//! system while the small one reuses warm buffers. Their instructions grew 10.0x and 9.9x all
//! the same. Instruction counts show the work alone, and repeat exactly: `--once SHAPE SCALE`
//! runs one shape once at SCALE times its base size, for
//! `valgrind --tool=callgrind target/release/deps/hostile-* --once SHAPE SCALE` at two scales
//! (then `callgrind_annotate --inclusive=yes` for the work's own function).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use rasad::dedupe::fingerprint;
use rasad::matcher::Matcher;
use rasad::model::Field;
use rasad::source::lenient::repair;
use rasad::source::parse::{html_to_text, parse_feed};

/// The most the ratio may be for the shape to count as linear.
const TARGET: f64 = 12.0;

/// One shape: its name, the input for a size, and the work on it.
struct Shape {
    name: &'static str,
    base: usize,
    input: fn(usize) -> String,
    work: fn(&str, &Matcher),
}

fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "dtd_entity_references",
            base: 2_000,
            input: |n| {
                format!(
                    "<!DOCTYPE rss [<!ENTITY e \"{}\">]><rss version=\"2.0\"><channel><title>{}</title></channel></rss>",
                    "x".repeat(1_000),
                    "&e;".repeat(n)
                )
            },
            work: |text, _| {
                black_box(repair(text));
            },
        },
        Shape {
            name: "entity_declarations_never_closed",
            base: 5_000,
            input: |n| {
                format!(
                    "<!DOCTYPE feed [{}]><feed>&a;</feed>",
                    "<!ENTITY a \"".repeat(n)
                )
            },
            work: |text, _| {
                black_box(repair(text));
            },
        },
        Shape {
            name: "atom_links_never_closed",
            base: 5_000,
            input: |n| format!("<feed>{}</feed>", "<link rel=\"alternate\">x".repeat(n)),
            work: |text, _| {
                black_box(repair(text));
            },
        },
        Shape {
            name: "atom03_titles_never_closed",
            base: 5_000,
            input: |n| {
                format!(
                    "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\">{}</feed>",
                    "<title>a<b>".repeat(n)
                )
            },
            work: |text, _| {
                black_box(repair(text));
            },
        },
        // The matching shapes go up to a matched field's bound (`bounds::MAX_TEXT`, 256 KiB):
        // a poll matches no longer field (see the module doc for longer ones).
        Shape {
            name: "one_long_word_of_the_keyword",
            base: 3_000,
            input: |n| "داعش".repeat(n),
            work: |text, matcher| {
                black_box(matcher.find_relevant(&[(Field::Content, text)]));
            },
        },
        Shape {
            name: "keyword_and_comma_repeated",
            base: 5_000,
            input: |n| "ISIS,".repeat(n),
            work: |text, matcher| {
                black_box(matcher.find_relevant(&[(Field::Content, text)]));
            },
        },
        Shape {
            name: "deeply_nested_markup",
            base: 10_000,
            input: |n| format!("{}داعش{}", "<div>".repeat(n), "</div>".repeat(n)),
            work: |text, _| {
                black_box(html_to_text(text));
            },
        },
        Shape {
            name: "items_per_feed",
            base: 200,
            input: |n| {
                let items: String = (0..n)
                    .map(|i| {
                        format!("<item><guid>g{i}</guid><title>خبر رقم {i} عن داعش</title></item>")
                    })
                    .collect();
                format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
            },
            work: |text, _| {
                let feed = parse_feed(text.as_bytes()).expect("the feed parses");
                black_box(feed.stories("f", Utc::now()));
            },
        },
        Shape {
            name: "fingerprint_of_a_long_title",
            base: 2_000,
            input: |n| (0..n).map(|i| format!("كلمة{i} ")).collect(),
            work: |text, _| {
                black_box(fingerprint(text, ""));
            },
        },
    ]
}

/// The CPU time this thread has used: a run preempted by other processes is not charged their
/// time, which wall time would charge to a long run more often than to a short one.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill in.
    let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(done, 0, "the thread's CPU clock is readable");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// The fastest run of `work` on `small` and on `large` in this thread's CPU time, the two timed
/// in turn (at least 7 rounds, for at least 1 s) so that a busy machine slows both alike.
fn times(
    work: fn(&str, &Matcher),
    small: &str,
    large: &str,
    matcher: &Matcher,
) -> (Duration, Duration) {
    let started = Instant::now();
    let (mut best_small, mut best_large) = (Duration::MAX, Duration::MAX);
    let mut rounds = 0;
    while rounds < 7 || (started.elapsed() < Duration::from_secs(1) && rounds < 200) {
        for _ in 0..10 {
            let one = thread_cpu();
            work(small, matcher);
            best_small = best_small.min(thread_cpu() - one);
        }
        let one = thread_cpu();
        work(large, matcher);
        best_large = best_large.min(thread_cpu() - one);
        rounds += 1;
    }
    (best_small, best_large)
}

fn main() {
    let matcher =
        Matcher::from_terms(["داعش".to_owned(), "ISIS".to_owned()]).expect("the keywords compile");
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--once") {
        let (name, scale) = match (
            args.get(at + 1),
            args.get(at + 2).map(|s| s.parse::<usize>()),
        ) {
            (Some(name), Some(Ok(scale))) => (name.as_str(), scale),
            _ => panic!("--once takes a shape's name and a scale (a whole number)"),
        };
        let shape = shapes()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no shape named {name}"));
        let input = (shape.input)(shape.base * scale);
        (shape.work)(&input, &matcher);
        return;
    }
    println!(
        "{:<36} {:>10} {:>12} {:>12} {:>7}",
        "shape", "base", "time(n)", "time(10n)", "ratio"
    );
    let mut over = Vec::new();
    for shape in shapes() {
        let small = (shape.input)(shape.base);
        let large = (shape.input)(shape.base * 10);
        let (t_small, t_large) = times(shape.work, &small, &large, &matcher);
        let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-9);
        println!(
            "{:<36} {:>10} {:>12.3?} {:>12.3?} {:>7.1}",
            shape.name,
            small.len(),
            t_small,
            t_large,
            ratio
        );
        if ratio > TARGET {
            over.push(shape.name);
        }
    }
    if over.is_empty() {
        println!("every shape within {TARGET}x for 10x input");
    } else {
        println!("over {TARGET}x: {}", over.join(", "));
    }
}
