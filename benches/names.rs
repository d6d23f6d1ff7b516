//! Name keywords against plain ones: the same watch list (20 foreign names; then 200, the 20 and
//! invented names of six or seven letters) as plain keywords and as names (`name = true`),
//! folded, matched and validated over the same Arabic news text. Prints the ratio name / plain
//! measured in the same run.
//!
//! Two corpora, matched one field at a time as the daemon matches stories' fields: the news of
//! [`common::corpus`] (the titles and summaries of the shared dedup set, repeated to about 1 MiB),
//! which names none of the watched people, so that every field takes the path of a miss; and the
//! same with one field in four followed by a sentence that names one in another spelling (the
//! `hit` rows of `tests/data/name-variants.tsv`), so that the names' verification is timed too.
//!
//! `NAMES_BENCH_ONLY="news with names/20"` measures nothing and matches that corpus once with
//! each watch list, plain first, each in a call of `run`: under `valgrind --tool=callgrind
//! --dump-before='names::run' --dump-after='names::run'` dumps 2 and 4 hold the instructions of
//! the plain run and of the names run, a ratio that the load of a shared machine does not move.
//! (`run_plain` and `run_names` have one body, so the linker may fold them into one symbol:
//! their inclusive counts are not the two runs'.)

mod common;

use std::hint::black_box;

use rasad::matcher::{KeywordOptions, KeywordSpec, Matcher};
use rasad::model::Field;

const CORPUS_BYTES: usize = 1 << 20;

/// Timed runs of each watch list: a run over the corpus takes about 10 ms, too short for a
/// median of fewer to hold still on a shared machine.
const RUNS: usize = 101;

/// Foreign names as the press writes them, none kept strict.
const NAMES: [&str; 20] = [
    "ماكاري",
    "غوتيريش",
    "ستولتنبرغ",
    "نتنياهو",
    "زيلينسكي",
    "ترامب",
    "أردوغان",
    "ميركل",
    "بلينكن",
    "غانتس",
    "ليبرمان",
    "هاليفي",
    "ستارمر",
    "ميلوني",
    "بيدرسون",
    "ماكغورك",
    "هوكشتاين",
    "زاخاروفا",
    "ويتكوف",
    "لازاريني",
];

/// `n` names: the real ones, then invented ones (deterministic) that no text here contains.
fn names(n: usize) -> Vec<String> {
    let letters: Vec<char> = "بتجدرزسفكلمنقطغاوي".chars().collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out: Vec<String> = NAMES.iter().take(n).map(|k| k.to_string()).collect();
    while out.len() < n {
        let len = 6 + (next() % 2) as usize;
        let word: String = (0..len)
            .map(|_| letters[(next() % letters.len() as u64) as usize])
            .collect();
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

fn matcher(terms: &[String], name: bool) -> Matcher {
    let keywords = terms
        .iter()
        .map(|term| KeywordSpec {
            term: term.clone(),
            options: KeywordOptions {
                name,
                ..KeywordOptions::default()
            },
        })
        .collect();
    Matcher::from_keywords(keywords).expect("names compile")
}

/// Sentences that name the watched people in the spellings outlets use.
fn spellings() -> Vec<String> {
    include_str!("../tests/data/name-variants.tsv")
        .lines()
        .filter_map(|line| {
            let mut cols = line.split('\t');
            (cols.next()? == "hit").then(|| cols.nth(1).map(str::to_owned))?
        })
        .collect()
}

fn main() {
    let text = common::corpus(CORPUS_BYTES);
    // One field per line, as stories come.
    let news: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let spellings = spellings();
    let with_names: Vec<String> = news
        .iter()
        .enumerate()
        .map(|(i, field)| match i % 4 {
            0 => format!("{field} {}", spellings[i / 4 % spellings.len()]),
            _ => field.to_string(),
        })
        .collect();
    let with_names: Vec<&str> = with_names.iter().map(String::as_str).collect();
    let only = std::env::var("NAMES_BENCH_ONLY").ok();
    for (corpus, fields) in [("news", &news), ("news with names", &with_names)] {
        match only.as_deref().and_then(|only| only.strip_prefix(corpus)) {
            Some(n) => match n.strip_prefix('/').and_then(|n| n.parse().ok()) {
                Some(n) => once(fields, n),
                None => continue,
            },
            None if only.is_some() => continue,
            None => measure(corpus, fields),
        }
    }
}

/// Matches `fields` once, plain and as names: what callgrind counts.
fn once(fields: &[&str], n: usize) {
    let terms = names(n);
    let (plain, names) = (matcher(&terms, false), matcher(&terms, true));
    println!(
        "hits: plain {}, names {}",
        run_plain(&plain, fields),
        run_names(&names, fields)
    );
}

#[inline(never)]
fn run_plain(m: &Matcher, fields: &[&str]) -> usize {
    run(m, fields)
}

#[inline(never)]
fn run_names(m: &Matcher, fields: &[&str]) -> usize {
    run(m, fields)
}

fn run(m: &Matcher, fields: &[&str]) -> usize {
    fields
        .iter()
        .map(|f| black_box(m.find_relevant(&[(Field::Summary, black_box(f))])).len())
        .sum()
}

fn measure(corpus: &str, fields: &[&str]) {
    let mb = fields.iter().map(|f| f.len()).sum::<usize>() as f64 / 1e6;
    for n in [20, 200] {
        let terms = names(n);
        let (plain, names) = (matcher(&terms, false), matcher(&terms, true));
        let run = |m: &Matcher| run(m, fields);
        let (plain_hits, name_hits) = (run(&plain), run(&names));
        let (names_time, plain_time) =
            common::alternated_medians(RUNS, || run(&names), || run(&plain));
        println!(
            "names/{corpus}/{n} keywords over {mb:.1} MB in {} fields: plain {:.0} MB/s \
             ({plain_hits} hits), names {:.0} MB/s ({name_hits} hits), ratio names/plain {:.2}",
            fields.len(),
            mb / plain_time.as_secs_f64(),
            mb / names_time.as_secs_f64(),
            names_time.as_secs_f64() / plain_time.as_secs_f64()
        );
    }
}
