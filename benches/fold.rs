//! Folding throughput (`rasad::text::fold`, the map back to the original included) on about
//! 1 MiB of each of three texts, against two references measured in the same run:
//!
//! - `str::to_owned` of the same text: a plain byte copy into a new `String`, the least any
//!   folding that returns a new text must do (allocation and one pass over every byte). The ratio
//!   fold / copy says how close folding comes to that floor.
//! - `str::to_lowercase`: the standard library's own per-character Unicode mapping into a new
//!   `String`, the nearest thing std has to a fold (it lower-cases Latin, and walks every Arabic
//!   character through its case tables without changing it).
//!
//! The texts:
//! - `arabic`: the titles and summaries of `../shared/samples/dedup/dev.jsonl` (real Arabic news
//!   items, with their digits, guillemets and brackets), the corpus the matcher bench uses;
//! - `mixed`: those items line by line alternating with English lines, the ASCII-only lines of
//!   the English reference notes in `../shared/reference/` (plain text, no HTML entities);
//! - `ascii`: those English lines alone.
//!
//! Without the shared folder, generated Arabic words and a fixed English paragraph are used.
//! Each text prints `fold MB/s`, both references' MB/s and the ratios fold / reference (above 1
//! would mean folding is faster than the reference), from the medians of alternated runs.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rasad::text::fold;

const BYTES: usize = 1 << 20;

const ENGLISH_SOURCES: [&str; 4] = [
    "../shared/reference/peers.md",
    "../shared/reference/crates.md",
    "../shared/reference/feed-parsing.md",
    "../shared/DESIGN.md",
];

/// The non-empty ASCII-only lines of the English reference notes, else a fixed paragraph.
fn english_lines() -> Vec<String> {
    let lines: Vec<String> = ENGLISH_SOURCES
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && l.is_ascii())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    if lines.len() >= 100 {
        return lines;
    }
    "The coalition said on Monday that its aircraft had struck targets near the city. \
     Officials in Baghdad did not comment on the report, which could not be verified. \
     Prices of crude oil rose 2.4% in early trading (Brent, $81.20 a barrel)."
        .split(". ")
        .map(str::to_owned)
        .collect()
}

fn texts() -> Vec<(&'static str, String)> {
    let arabic = common::corpus(BYTES);
    let english = english_lines();
    let mut mixed = String::with_capacity(BYTES + 4096);
    let mut lines = arabic.lines().zip(english.iter().cycle());
    while mixed.len() < BYTES {
        let (ar, en) = lines.next().expect("the corpus is repeated to BYTES");
        mixed.push_str(ar);
        mixed.push('\n');
        mixed.push_str(en);
        mixed.push('\n');
    }
    let ascii = common::repeat_to(&english.join("\n"), BYTES);
    vec![("arabic", arabic), ("mixed", mixed), ("ascii", ascii)]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("fold");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for (name, text) in texts() {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("fold/{name}"), |b| {
            b.iter(|| fold(black_box(&text)).text.len())
        });
        group.bench_function(format!("to_owned/{name}"), |b| {
            b.iter(|| black_box(&text).to_owned().len())
        });
        group.bench_function(format!("to_lowercase/{name}"), |b| {
            b.iter(|| black_box(&text).to_lowercase().len())
        });
        let mb = text.len() as f64 / 1e6;
        let (folding, copy) = common::alternated_medians(
            31,
            || fold(black_box(&text)),
            || black_box(&text).to_owned(),
        );
        let (folding_again, lower) = common::alternated_medians(
            31,
            || fold(black_box(&text)),
            || black_box(&text).to_lowercase(),
        );
        let rate = |d: Duration| mb / d.as_secs_f64();
        println!(
            "fold/{name} ({mb:.1} MB): fold {:.0} MB/s; str::to_owned {:.0} MB/s, ratio {:.3}; \
             str::to_lowercase {:.0} MB/s, ratio {:.2}",
            rate(folding),
            rate(copy),
            copy.as_secs_f64() / folding.as_secs_f64(),
            rate(lower),
            lower.as_secs_f64() / folding_again.as_secs_f64(),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
