//! Hostile fields: shapes of text that once cost time or memory in the square of their length,
//! each bounded now in time and in hits.

use super::*;

/// Hostile fields: each shape once cost time or memory in the square of its length.
#[test]
fn hostile_fields_cost_linear_time_and_bounded_hits() {
    let isis = Matcher::from_terms(["داعش".to_owned(), "ISIS".to_owned()]).expect("compiles");
    let cases: [(&str, String, usize); 4] = [
        // Every occurrence is a candidate whose word runs to both ends of the field.
        ("one_long_word_of_the_keyword", "داعش".repeat(40_000), 0),
        (
            "one_long_word_then_a_hit",
            format!("{} داعش", "داعش".repeat(40_000)),
            1,
        ),
        // A hit per occurrence, each with the whole field as its snippet (no space in it).
        (
            "keyword_and_comma_repeated",
            "ISIS,".repeat(60_000),
            MAX_HITS_PER_KEYWORD,
        ),
        (
            "arabic_keyword_and_comma_repeated",
            "داعش،".repeat(40_000),
            MAX_HITS_PER_KEYWORD,
        ),
    ];
    for (name, text, want_hits) in cases {
        let started = std::time::Instant::now();
        let hits = isis.find_relevant(&[(Field::Content, &text)]);
        let took = started.elapsed();
        assert_eq!(hits.len(), want_hits, "{name}");
        assert!(took < std::time::Duration::from_secs(3), "{name}: {took:?}");
        for hit in &hits {
            assert!(
                hit.snippet.len() <= 2 * SNIPPET_REACH + 16,
                "{name}: snippet of {} bytes",
                hit.snippet.len()
            );
        }
    }
}

#[test]
fn word_edges_are_looked_up_as_they_were_scanned() {
    let text = "أ بب  ججج د";
    let mut words = Words::default();
    words.index(text);
    let scan_start = |at: usize| {
        text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_word_char(*c))
            .last()
            .map_or(at, |(i, _)| i)
    };
    let scan_end = |at: usize| {
        at + text[at..]
            .chars()
            .take_while(|c| is_word_char(*c))
            .map(char::len_utf8)
            .sum::<usize>()
    };
    for (at, _) in text.char_indices().chain([(text.len(), ' ')]) {
        assert_eq!(words.start_before(at), scan_start(at), "start at {at}");
        assert_eq!(words.end_after(at), scan_end(at), "end at {at}");
    }
}

/// A name keyword on a field that is one long word of the name's letters: each skeleton
/// candidate used to scan its word to both ends, and to check the whole word as a spelling.
#[test]
fn a_field_of_one_long_word_of_a_name_costs_linear_time() {
    let name = KeywordSpec {
        term: "ماكاري".to_owned(),
        options: KeywordOptions {
            name: true,
            ..KeywordOptions::default()
        },
    };
    let matcher = Matcher::from_keywords(vec![name]).expect("compiles");
    let cases: [(&str, String, usize); 3] = [
        ("one_long_word_of_the_name", "ماكاري".repeat(40_000), 0),
        (
            "one_long_word_then_the_name",
            format!("{} مكاري", "مكاري".repeat(40_000)),
            1,
        ),
        (
            "name_and_comma_repeated",
            "مكاري،".repeat(40_000),
            MAX_HITS_PER_KEYWORD,
        ),
    ];
    for (case, text, want_hits) in cases {
        let started = std::time::Instant::now();
        let hits = matcher.find_relevant(&[(Field::Content, &text)]);
        let took = started.elapsed();
        assert_eq!(hits.len(), want_hits, "{case}");
        // Quadratic work takes minutes here; the bound leaves room for a debug build on a
        // machine busy with other builds (3 s was once passed there at 3.4 s).
        assert!(
            took < std::time::Duration::from_secs(30),
            "{case}: {took:?}"
        );
    }
}
