//! Name keywords against plain ones: the same 20 foreign names watched as plain keywords and as
//! names (`name = true`), folded, matched and validated over the same Arabic news text. Prints
//! the ratio name / plain measured in the same run; the README promises at most 1.5.
//!
//! The corpus is [`common::corpus`] (the titles and summaries of the shared dedup set, repeated
//! to about 1 MiB), matched one item at a time as the daemon matches stories' fields.

mod common;

use std::hint::black_box;

use rasad::matcher::{KeywordOptions, KeywordSpec, Matcher};
use rasad::model::Field;

const CORPUS_BYTES: usize = 1 << 20;

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

fn matcher(name: bool) -> Matcher {
    let keywords = NAMES
        .iter()
        .map(|term| KeywordSpec {
            term: (*term).to_owned(),
            options: KeywordOptions {
                name,
                ..KeywordOptions::default()
            },
        })
        .collect();
    Matcher::from_keywords(keywords).expect("names compile")
}

fn main() {
    let text = common::corpus(CORPUS_BYTES);
    // One field per line, as stories come.
    let fields: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let (plain, names) = (matcher(false), matcher(true));
    let run = |m: &Matcher| {
        fields
            .iter()
            .map(|f| black_box(m.find_relevant(&[(Field::Summary, black_box(f))])).len())
            .sum::<usize>()
    };
    let (plain_hits, name_hits) = (run(&plain), run(&names));
    let (names_time, plain_time) = common::alternated_medians(15, || run(&names), || run(&plain));
    let mb = text.len() as f64 / 1e6;
    println!(
        "names/20 keywords over {mb:.1} MB in {} fields: plain {:.0} MB/s ({plain_hits} hits), \
         names {:.0} MB/s ({name_hits} hits), ratio names/plain {:.2}",
        fields.len(),
        mb / plain_time.as_secs_f64(),
        mb / names_time.as_secs_f64(),
        names_time.as_secs_f64() / plain_time.as_secs_f64()
    );
}
