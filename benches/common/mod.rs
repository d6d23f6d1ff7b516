//! What the benchmarks share: the vocabulary their generated stories are written in, the Arabic
//! news corpus the matching and folding benches run over, and a timer of alternated runs.
//!
//! Each bench includes this module and uses part of it, hence the `allow(dead_code)`s.

use std::hint::black_box;
use std::time::{Duration, Instant};

const DEV: &str = "../shared/samples/dedup/dev.jsonl";

/// The vocabulary: the words of `../shared/samples/dedup/dev.jsonl` (real Arabic titles and
/// summaries) when it is there, else generated words.
#[allow(dead_code)]
pub fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = std::fs::read_to_string(DEV)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|v| {
            format!(
                "{} {}",
                v["title"].as_str().unwrap_or_default(),
                v["summary"].as_str().unwrap_or_default()
            )
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
        })
        .collect();
    words.sort();
    words.dedup();
    if words.len() < 1000 {
        words = (0..5000).map(|i| format!("كلمة{i}")).collect();
    }
    words
}

/// Arabic news text of at least `bytes` bytes: the titles and summaries of
/// `../shared/samples/dedup/dev.jsonl` (real Arabic news items), one per line, when that file is
/// there, else a deterministic text built from a fixed word list; repeated to `bytes`.
#[allow(dead_code)]
pub fn corpus(bytes: usize) -> String {
    let base = std::fs::read_to_string(DEV)
        .ok()
        .map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .flat_map(|item| {
                    ["title", "summary"].map(|k| item[k].as_str().unwrap_or_default().to_owned())
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|t| t.len() > 10_000)
        .unwrap_or_else(|| {
            let words = [
                "أعلنت",
                "الحكومة",
                "العراقية",
                "مقتل",
                "عناصر",
                "لداعش",
                "في",
                "هجوم",
                "على",
                "مدينة",
                "الموصل",
                "وقال",
                "مسؤول",
                "أمني",
                "إن",
                "قوات",
                "التحالف",
                "الدولي",
                "نفذت",
                "غارات",
                "جوية",
                "شمال",
                "سوريا",
            ];
            (0..20_000)
                .map(|i| words[(i * 7 + i / 3) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        });
    repeat_to(&base, bytes)
}

/// `base` repeated, one copy per line, to at least `bytes` bytes.
#[allow(dead_code)]
pub fn repeat_to(base: &str, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + base.len() + 1);
    while text.len() < bytes {
        text.push_str(base);
        text.push('\n');
    }
    text
}

/// The medians of `runs` timed calls of `a` and `b`, called alternately so that a load that comes
/// and goes touches both alike.
#[allow(dead_code)]
pub fn alternated_medians<A, B>(
    runs: usize,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (Duration, Duration) {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        first.push(time(&mut || {
            black_box(a());
        }));
        second.push(time(&mut || {
            black_box(b());
        }));
    }
    first.sort();
    second.sort();
    (first[runs / 2], second[runs / 2])
}
