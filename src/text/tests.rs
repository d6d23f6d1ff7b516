//! Folding tests: named cases, the map back to the original, and properties.

use std::ops::Range;

use icu_normalizer::DecomposingNormalizerBorrowed;
use proptest::prelude::*;

use super::fold::Out;
use super::folded::Map;
use super::tables::{Fold, classify};
use super::*;

#[test]
fn folds_named_cases() {
    let cases = [
        ("alef_forms_meet", "أإآٱ", "اااا"),
        ("harakat_are_deleted", "مُحَمَّد", "محمد"),
        ("superscript_alef_is_deleted", "الرحمٰن", "الرحمن"),
        ("tatweel_is_deleted", "داعـــش", "داعش"),
        ("alef_maqsura_becomes_yeh", "مصطفى", "مصطفي"),
        ("teh_marbuta_becomes_heh", "الدولة", "الدوله"),
        ("hamza_seats_become_hamza", "مسؤول رئيس", "مسءول رءيس"),
        ("decomposed_hamza_composes", "مسو\u{0654}ول", "مسءول"),
        ("persian_letters_fold", "کی ھ", "كي ه"),
        ("arabic_indic_digits_become_ascii", "٢٠٢٦ ۱۲", "2026 12"),
        (
            "fullwidth_digits_and_letters",
            "２０２４ ＮＡＴＯ",
            "2024 nato",
        ),
        (
            "presentation_forms_expand",
            "\u{FEA9}\u{FE8D}\u{FECB}\u{FEB6}",
            "داعش",
        ),
        ("lam_alef_ligature_expands", "ال\u{FEFB}جئين", "اللاجءين"),
        ("allah_ligature_expands", "حزب \u{FDF2}", "حزب الله"),
        (
            "isolated_haraka_is_deleted_without_a_space",
            "الحك\u{FE76}ومة",
            "الحكومه",
        ),
        (
            "latin_is_lowercased_without_accents",
            "ISIS Daésh Erdoğan",
            "isis daesh erdogan",
        ),
        (
            "whitespace_runs_become_one_space",
            "a \t\n\u{00A0} b",
            "a b",
        ),
        (
            "gap_characters_become_one_space",
            "تنظيم «الدولة» (x) #a_b غزة–أريحا",
            "تنظيم الدوله x #a b غزه اريحا",
        ),
        ("clause_punctuation_stays", "أ، ب؛ ج.", "ا، ب؛ ج."),
        (
            "format_characters_are_deleted",
            "دا\u{200C}عش\u{200F} x",
            "داعش x",
        ),
        (
            "format_character_keeps_neighbouring_spaces",
            "a \u{200F} b",
            "a b",
        ),
    ];
    for (name, input, want) in cases {
        assert_eq!(fold_str(input), want, "{name}");
    }
}

#[test]
fn word_characters_are_the_alphanumeric_ones() {
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        assert_eq!(is_word_char(c), c.is_alphanumeric(), "{c:?}");
    }
}

#[test]
fn remembers_which_heh_was_teh_marbuta() {
    let folded = fold("حماسة وجه");
    let first = folded.text.find('ه').expect("a heh");
    let second = folded.text.rfind('ه').expect("a heh");
    assert!(folded.was_teh_marbuta(first));
    assert!(!folded.was_teh_marbuta(second));
}

#[test]
fn maps_folded_spans_back_to_original_letters_with_their_marks() {
    let cases = [
        (
            "diacritics_and_kashida",
            "قال لِداعـــشَ اليوم",
            "داعش",
            "داعـــشَ",
        ),
        ("latin_accents", "The DAÉSH group", "daesh", "DAÉSH"),
        (
            "presentation_forms",
            "في \u{FEA9}\u{FE8D}\u{FECB}\u{FEB6} قرب",
            "داعش",
            "\u{FEA9}\u{FE8D}\u{FECB}\u{FEB6}",
        ),
        (
            "inside_an_expansion",
            "حزب \u{FDF2} قال",
            "حزب الله",
            "حزب \u{FDF2}",
        ),
        ("before_a_gap", "تنظيم «الدولة»", "الدوله", "الدولة"),
    ];
    for (name, original, needle, want) in cases {
        let folded = fold(original);
        let at = folded
            .text
            .find(needle)
            .unwrap_or_else(|| panic!("{name}: {:?}", folded.text));
        assert_eq!(
            &original[folded.original_range(at..at + needle.len())],
            want,
            "{name}"
        );
    }
}

/// The folding rules applied one character at a time, with no byte tables and no runs:
/// what the fast loop of [`fold_with`] must equal, map included.
fn fold_one_by_one(input: &str) -> Folded {
    let mut folded = Folded::new();
    folded.original_len = input.len() as u32;
    let mut map = Map {
        segments: &mut folded.segments,
        teh_marbuta: &mut folded.teh_marbuta,
    };
    let mut out = Out {
        text: &mut folded.text,
        map: &mut map,
        in_gap: false,
    };
    for (at, ch) in input.char_indices() {
        let start = at as u32;
        match classify(ch) {
            Fold::Decompose => {
                let nfkd = DecomposingNormalizerBorrowed::new_nfkd();
                for part in nfkd.normalize_iter(std::iter::once(ch)) {
                    out.apply_part(classify(part), part, start);
                }
            }
            other => out.apply(other, ch, start),
        }
    }
    folded
}

/// Text where the fast loop has work: Arabic letters and marks of the whole block, ASCII
/// letters, digits, spaces and gaps, and characters from the slow path.
fn news_text() -> impl Strategy<Value = String> {
    let arabic = (0x0600u32..=0x06FF).prop_map(|c| char::from_u32(c).expect("a character"));
    let common = prop::sample::select(vec![
        'ا', 'ل', 'ة', 'أ', 'ى', 'ي', 'و', 'ه', 'ـ', '\u{064E}', '\u{0654}', ' ', ' ', ' ', '\n',
        '\t', '-', '_', '(', '"', 'a', 'Z', 'é', '1', '.', '«', '»', '\u{00A0}', '\u{200C}',
        '\u{FEFB}', '\u{FDF2}', '\u{FE76}', '\u{FEA9}', 'Ｎ', '\u{0301}', 'ß', 'İ', '\u{2028}',
    ]);
    let ascii = (0x00u32..0x80).prop_map(|c| char::from_u32(c).expect("a character"));
    let any = any::<char>();
    prop::collection::vec(
        prop_oneof![4 => arabic, 6 => common, 2 => ascii, 1 => any],
        0..80,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

#[test]
fn the_fast_loop_equals_one_character_at_a_time_on_named_cases() {
    for text in [
        "",
        " ",
        "  a",
        "a  ",
        "\n\n",
        "تنظيم «الدولة» (x) #a_b غزة–أريحا",
        "قال لِداعـــشَ اليوم  \t وال\u{FEFB}جئين ومسو\u{0654}ول ٢٠٢٦",
        "The DAÉSH group, ２０２４ ＮＡＴＯ — İstanbul",
    ] {
        assert_eq!(fold(text), fold_one_by_one(text), "{text:?}");
    }
}

/// `original_range` as first written: a binary search for each end.
fn original_range_by_searches(folded: &Folded, range: Range<usize>) -> Range<usize> {
    let start = folded.map(folded.segment_of(range.start), range.start);
    let last = folded.map(folded.segment_of(range.end - 1), range.end - 1);
    let index = folded.segment_of(range.end);
    let mut end = if range.end < folded.text.len() {
        folded.map(index, range.end)
    } else {
        folded.original_len
    };
    let mut next = index + 1;
    while end <= last {
        end = folded
            .segments
            .get(next)
            .map_or(folded.original_len, |s| s.original);
        next += 1;
    }
    start as usize..end as usize
}

proptest! {
    #[test]
    fn ranges_map_back_as_with_a_search_for_each_end(text in news_text()) {
        let folded = fold(&text);
        let starts: Vec<usize> = folded.text.char_indices().map(|(i, _)| i).collect();
        for (n, &start) in starts.iter().enumerate() {
            for &end in starts[n + 1..].iter().take(12).chain([&folded.text.len()]) {
                prop_assert_eq!(
                    folded.original_range(start..end),
                    original_range_by_searches(&folded, start..end)
                );
            }
        }
    }

    #[test]
    fn the_fast_loop_equals_one_character_at_a_time(text in news_text()) {
        let folded = fold(&text);
        prop_assert_eq!(&folded, &fold_one_by_one(&text));
        prop_assert_eq!(fold_str(&text), folded.text);
    }

    #[test]
    fn any_text_folds_as_one_character_at_a_time(text in "\\PC{0,40}") {
        prop_assert_eq!(fold(&text), fold_one_by_one(&text));
    }

    #[test]
    fn refolding_reuses_buffers_without_leftovers(first in news_text(), second in news_text()) {
        let mut folded = fold(&first);
        folded.refold(&second);
        prop_assert_eq!(folded, fold(&second));
    }

    #[test]
    fn fold_is_idempotent(text in "\\PC{0,40}") {
        let once = fold_str(&text);
        prop_assert_eq!(fold_str(&once), once.clone());
    }

    #[test]
    fn source_ranges_are_ordered_on_boundaries_and_inside(text in "\\PC{0,40}") {
        let folded = fold(&text);
        let mut previous = 0;
        for (at, c) in folded.text.char_indices() {
            let range = folded.original_range(at..at + c.len_utf8());
            prop_assert!(range.start <= range.end && range.end <= text.len());
            prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
            prop_assert!(range.start >= previous);
            previous = range.start;
        }
    }
}
