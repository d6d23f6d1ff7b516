//! Folding + matching + validation throughput against raw Aho-Corasick over the already-folded
//! text, with 10, 1,000 and 10,000 keywords, on Arabic news text.
//!
//! The corpus ([`common::corpus`], shared with the fold bench) is the titles and summaries of
//! `../shared/samples/dedup/dev.jsonl` (real Arabic news items) when that file is there, else a
//! deterministic text built from a fixed word list; it is repeated to about 1 MiB. Each group prints the ratio rasad / raw measured in the same
//! run: above 1 would mean rasad is faster than raw Aho-Corasick over pre-folded text.

mod common;

use std::hint::black_box;
use std::time::Duration;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rasad::matcher::Matcher;
use rasad::model::Field;
use rasad::text::fold_str;

const CORPUS_BYTES: usize = 1 << 20;

/// A watch list of `n` keywords, as people write them: ten names of actors and places that occur
/// often in this corpus (it reports on Syria and Gaza), the rest
/// names and terms that this corpus rarely or never contains (deterministic pseudo-words of five
/// to seven Arabic letters), so that hits are as sparse as in a real watch list.
fn keywords(n: usize) -> Vec<String> {
    let real = [
        "داعش",
        "التحالف الدولي",
        "حزب الله",
        "المرصد السوري",
        "الأمم المتحدة",
        "إسرائيل",
        "غزة",
        "الحوثيين",
        "الانتخابات",
        "النفط",
    ];
    let letters: Vec<char> = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي".chars().collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = real.iter().take(n).map(|k| k.to_string()).collect();
    while out.len() < n {
        let len = 5 + (next() % 3) as usize;
        let word: String = (0..len)
            .map(|_| letters[(next() % letters.len() as u64) as usize])
            .collect();
        if seen.insert(word.clone()) {
            out.push(word);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = common::corpus(CORPUS_BYTES);
    let folded = fold_str(&text);
    let mut group = c.benchmark_group("matcher");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    for n in [10, 1_000, 10_000] {
        let terms = keywords(n);
        let matcher = Matcher::from_terms(terms.clone()).expect("keywords compile");
        let raw: AhoCorasick = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(terms.iter().map(|t| fold_str(t)))
            .expect("raw automaton");
        group.bench_function(format!("fold_match_validate/{n}"), |b| {
            b.iter(|| black_box(matcher.find_relevant(&[(Field::Content, black_box(&text))])).len())
        });
        group.bench_function(format!("raw_aho_corasick_prefolded/{n}"), |b| {
            b.iter(|| raw.find_overlapping_iter(black_box(&folded)).count())
        });
        // The ratio from the medians of alternated runs, so that a load that comes and goes
        // touches both sides alike (criterion's own figures are above).
        let (ours, reference) = common::alternated_medians(
            15,
            || matcher.find_relevant(&[(Field::Content, &text)]).len(),
            || raw.find_overlapping_iter(&folded).count(),
        );
        let mb = text.len() as f64 / 1e6;
        let hits = matcher.find_relevant(&[(Field::Content, &text)]).len();
        println!(
            "matcher/{n} keywords ({hits} hits in {mb:.1} MB): rasad {:.0} MB/s, raw aho-corasick {:.0} MB/s, ratio {:.2}",
            mb / ours.as_secs_f64(),
            mb / reference.as_secs_f64(),
            reference.as_secs_f64() / ours.as_secs_f64()
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
