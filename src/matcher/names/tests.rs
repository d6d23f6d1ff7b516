//! Tables of named cases: attested spellings of one name, ordinary words that look like names,
//! and the names kept strict.

use super::spelling::{Name, Shape, ending_distance, vowel_distance};
use super::*;

/// `(case, watched name, text, tokens found)`.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

fn check(cases: &[Case]) {
    for (case, term, text, want) in cases {
        assert_eq!(spelled(text, term), *want, "{case}");
    }
}

#[test]
fn attested_spellings_of_one_name_are_found() {
    check(&[
        (
            "long_vowel_left_out",
            "ماكاري",
            "قال المبعوث مكاري إن",
            &["مكاري"],
        ),
        ("same_spelling", "ماكاري", "قال إيان ماكاري", &["ماكاري"]),
        (
            "long_vowel_written",
            "زيلنسكي",
            "الرئيس زيلينسكي",
            &["زيلينسكي"],
        ),
        (
            "ghain_for_g",
            "جوتيريش",
            "الأمين العام غوتيريش",
            &["غوتيريش"],
        ),
        ("jeem_for_g", "غوتيريش", "قال جوتيريش", &["جوتيريش"]),
        ("seen_for_sheen", "غوتيريش", "قال غوتيريس", &["غوتيريس"]),
        (
            "final_g_as_jeem",
            "ستولتنبرغ",
            "الأمين العام ستولتنبرج",
            &["ستولتنبرج"],
        ),
        (
            "inner_alef_written",
            "نتنياهو",
            "حكومة نتانياهو",
            &["نتانياهو"],
        ),
        (
            "inner_yeh_left_out",
            "زيلينسكي",
            "الرئيس زيلنسكي",
            &["زيلنسكي"],
        ),
        ("veh_for_v", "فيكتور", "قال ڤيكتور", &["ڤيكتور"]),
        ("peh_for_p", "بومبيو", "الوزير پومبيو", &["پومبيو"]),
        ("tah_for_t", "ماكرون", "قال ماكرون", &["ماكرون"]),
        ("emphatic_t", "أنتونيو", "قال أنطونيو", &["أنطونيو"]),
        (
            "doubled_letter",
            "موسوليني",
            "عهد موسّوليني وموسولّيني",
            &["موسّوليني", "وموسولّيني"],
        ),
        (
            "ending_teh_marbuta",
            "ميركيلا",
            "المستشارة ميركيلة",
            &["ميركيلة"],
        ),
        (
            "ending_alef_maksura",
            "غولدا",
            "رئيسة الوزراء غولدى",
            &["غولدى"],
        ),
        ("prefix_joined", "ماك غورك", "المبعوث ماكغورك", &["ماكغورك"]),
        ("prefix_split", "ماكغورك", "المبعوث ماك غورك", &["ماك غورك"]),
        (
            "prefix_split_and_vowel",
            "ماكغورك",
            "المبعوث مك غورك",
            &["مك غورك"],
        ),
        ("proclitic_waw", "ماكاري", "ومكاري قال", &["ومكاري"]),
        ("proclitic_lam", "غوتيريش", "رسالة لجوتيريش", &["لجوتيريش"]),
        (
            "proclitic_kaf_before_g",
            "غوتيريش",
            "كغوتيريس",
            &["كغوتيريس"],
        ),
        (
            "two_words",
            "إيان ماكاري",
            "المبعوث إيان مكاري",
            &["إيان مكاري"],
        ),
        (
            "place_with_article",
            "الفلوجة",
            "معركة الفالوجة",
            &["الفالوجة"],
        ),
        (
            "place_with_fused_lam",
            "الفلوجة",
            "عاد للفالوجة",
            &["للفالوجة"],
        ),
    ]);
}

#[test]
fn other_words_with_a_names_consonants_are_refused() {
    check(&[
        ("two_vowels_left_out", "ماكاري", "مكر الأعداء", &[]),
        ("a_suffix_after_the_name", "ماكاري", "ماكاريها", &[]),
        ("another_vowel", "غوتيريش", "غاتاريش", &[]),
        ("initial_alef_dropped", "إيان ماكاري", "ين ماكاري", &[]),
        ("a_letter_more", "ستولتنبرغ", "ستولتنبرغي", &[]),
        ("inside_another_word", "ماكرون", "لماكرونات", &[]),
        ("future_prefix_is_no_proclitic", "ماكاري", "سماكاري", &[]),
        ("comma_between_split_words", "ماكغورك", "ماك، غورك", &[]),
        ("another_consonant", "زيلينسكي", "زيلينسمي", &[]),
        ("another_last_consonant", "بلينكن", "بلينكم", &[]),
        ("emphatic_and_vowel", "بوتين", "البطين الأيسر", &[]),
    ]);
}

#[test]
fn short_or_colliding_names_are_kept_strict() {
    let cases: &[(&str, &str, Option<Strict>)] = &[
        (
            "two_consonants",
            "أوباما",
            Some(Strict::ShortSkeleton("بم".into())),
        ),
        (
            "one_consonant",
            "آية",
            Some(Strict::ShortSkeleton("".into())),
        ),
        ("latin_name", "Guterres", Some(Strict::NotArabic)),
        ("a_long_foreign_name", "ستولتنبرغ", None),
        ("an_envoy", "ماكاري", None),
    ];
    for (case, term, want) in cases {
        assert_eq!(strictness(term), *want, "{case}");
    }
}

#[test]
fn a_name_spelled_like_a_common_word_is_strict_and_names_the_word() {
    // بينيت (Bennett) without its inner yeh is بنيت ("was built"); غروسي (Grossi) with ك for
    // its g and no waw is كرسي ("chair"). ماكاري is two edits from مجرى and مجاري.
    assert_eq!(strictness("بينيت"), Some(Strict::CommonWord("بنيت".into())));
    assert_eq!(
        strictness("غروسي"),
        Some(Strict::CommonWord("الكرسي".into()))
    );
    assert_eq!(strictness("ماكاري"), None);
}

/// Names watched in the tests above and in `tests/integration/matching.rs`: none of their
/// spellings is one of the 10,000 frequent ordinary words.
#[test]
fn test_names_collide_with_no_common_word() {
    let names = [
        "ماكاري",
        "مكاري",
        "زيلنسكي",
        "غوتيريش",
        "جوتيريش",
        "ستولتنبرغ",
        "نتنياهو",
        "زيلينسكي",
        "بومبيو",
        "ماكرون",
        "تيلرسون",
        "موسوليني",
        "ماكغورك",
        "ماك غورك",
        "إيان ماكاري",
        "الفلوجة",
        "لافروف",
        "بلينكن",
        "أردوغان",
        "ميركل",
        "شولتس",
    ];
    for name in names {
        assert_eq!(strictness(name), None, "{name}");
    }
}

#[test]
fn a_reused_shape_buffer_checks_as_a_fresh_one() {
    let rows = include_str!("../../../tests/data/name-variants.tsv");
    let rows = rows.lines().filter(|l| !l.starts_with('#'));
    let rows: Vec<Vec<&str>> = rows.map(|l| l.split('\t').collect()).collect();
    let tokens: Vec<String> = rows
        .iter()
        .flat_map(|row| row[2].split_whitespace())
        .map(fold_str)
        .collect();
    let mut shared = Shape::default();
    let mut accepted = 0;
    for row in &rows {
        let Some(name) = Name::new(row[1]) else {
            continue;
        };
        for token in &tokens {
            let fresh = name.accepts(token, &mut Shape::default());
            assert_eq!(
                name.accepts(token, &mut shared),
                fresh,
                "{} in {token}",
                row[1]
            );
            accepted += usize::from(fresh.is_some());
        }
    }
    assert!(accepted > 0, "some tokens are names");
}

fn letters(s: &str) -> Vec<char> {
    s.chars().collect()
}

#[test]
fn distances() {
    let cases: &[(&str, &str, &str, usize)] = &[
        ("equal", "اي", "اي", 0),
        ("one_left_out", "ا", "", 1),
        ("another_vowel", "ا", "و", 1),
        ("two_left_out", "يا", "", 2),
    ];
    for (case, a, b, want) in cases {
        assert_eq!(vowel_distance(&letters(a), &letters(b)), *want, "{case}");
    }
    let endings: &[(&str, &str, &str, usize)] = &[
        ("alef_and_teh", "ا", "ه", 0),
        ("alef_and_yeh", "ا", "ي", 1),
        ("added", "", "ي", usize::MAX),
    ];
    for (case, a, b, want) in endings {
        assert_eq!(ending_distance(&letters(a), &letters(b)), *want, "{case}");
    }
}

/// Finds `term` in `text` with or without the shortcuts of [`Names::find`].
fn spelled_with(fast: bool, text: &str, term: &str) -> Vec<String> {
    FAST_PATH.with(|f| f.set(fast));
    let found = spelled(text, term);
    FAST_PATH.with(|f| f.set(true));
    found
}

#[test]
fn the_shortcuts_of_the_search_find_what_the_plain_search_finds() {
    // (case, watched name, text): the rows of the shared table, then words that continue past
    // a name's consonants, proclitic chains, split prefixes, endings and repeated names.
    let mut cases: Vec<(String, String, String)> =
        include_str!("../../../tests/data/name-variants.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let (_, term, text, what) =
                    (cols.next()?, cols.next()?, cols.next()?, cols.next()?);
                Some((what.to_owned(), term.to_owned(), text.to_owned()))
            })
            .collect();
    let table: &[(&str, &str, &str)] = &[
        ("name_then_a_consonant", "ماكاري", "مكاريس ماكاريب مكارين"),
        ("name_then_its_own_skeleton", "ترامب", "ترامبترامب وترامب"),
        (
            "chain_whose_consonants_begin_the_name",
            "بلينكن",
            "ببلينكن وبلبلينكن لبلينكن",
        ),
        (
            "article_and_fused_lam",
            "الفلوجة",
            "للفلوجة والفلوجة بالفلوجه الفلوجتين",
        ),
        (
            "split_and_joined_prefix",
            "ماكغورك",
            "ماك غورك وماكغورك مك غورك ماك غوركي",
        ),
        (
            "name_with_a_space",
            "دي ميستورا",
            "دي ميستورا وديميستورا دي ميستوراه",
        ),
        ("heh_ending_then_vowel", "هاليفي", "هاليفيه هليفي هاليفيهو"),
        (
            "latin_and_digits_glued",
            "نتنياهو",
            "نتنياهو2 Xنتنياهو نتنياهوX نتانياهو",
        ),
        (
            "names_repeated_in_one_field",
            "زيلينسكي",
            "زيلنسكي، زيلينسكي؛ وزيلينسكي زيلينسكيين",
        ),
        ("doubled_letters", "ستارمر", "ستارّمر ستارمرر ستتارمر"),
        (
            "long_field",
            "غوتيريش",
            "قال الأمين العام للأمم المتحدة أنطونيو غوتيريش إن جوتيريش وغوتيريس والغوتيريشية لا",
        ),
    ];
    cases.extend(
        table
            .iter()
            .map(|(case, term, text)| (case.to_string(), term.to_string(), text.to_string())),
    );
    let mut compared = 0;
    for (case, term, text) in &cases {
        if strictness(term).is_some() {
            continue;
        }
        let fast = spelled_with(true, text, term);
        assert_eq!(
            fast,
            spelled_with(false, text, term),
            "{case}: {term} in {text}"
        );
        compared += 1;
    }
    assert!(compared >= 60, "only {compared} cases compared");
}

/// The keyword and original token of every name of `terms` found in `text`, with or without
/// the shortcuts of [`Names::find`]: the names that are strict are left out.
fn found_with(fast: bool, text: &str, terms: &[String]) -> Vec<(usize, String)> {
    let mut names = Names::default();
    for (keyword, term) in terms.iter().enumerate() {
        names.add(keyword, term);
    }
    names.build().expect("builds");
    let folded = crate::text::fold(text);
    let mut words = super::super::Words::default();
    let mut out = Vec::new();
    FAST_PATH.with(|f| f.set(fast));
    names.find(&folded, &mut words, false, &mut out);
    FAST_PATH.with(|f| f.set(true));
    out.iter()
        .map(|f| {
            let token = text[folded.original_range(f.token_span.clone())].to_owned();
            (f.keyword, token)
        })
        .collect()
}

/// Letters that names and the words around them are made of: every consonant class with more
/// than one letter, the vowel letters, ه and ة, a Latin letter and a digit.
const LETTERS: &[char] = &[
    'م', 'ك', 'غ', 'ج', 'ق', 'ر', 'ت', 'ط', 'س', 'ش', 'ز', 'ص', 'ن', 'ل', 'ب', 'پ', 'ف', 'ڤ', 'د',
    'ض', 'ا', 'و', 'ي', 'ى', 'ء', 'أ', 'ه', 'ة', 'x', '7',
];

/// What may stand between two words: spaces, punctuation, a mark, a tatweel.
const GAPS: &[&str] = &[
    " ",
    " ",
    " ",
    "، ",
    ".",
    "  ",
    " «",
    "» ",
    "\u{064E} ",
    "ـ ",
];

/// A word of `letters` drawn from `LETTERS` by the indices `picks`, with the proclitic and
/// prefixes names are found after.
fn word(picks: &[usize], prefix: usize) -> String {
    const PREFIXES: &[&str] = &["", "", "", "و", "ل", "ال", "لل", "وب", "ماك", "ماك ", "دي "];
    let letters: String = picks.iter().map(|i| LETTERS[i % LETTERS.len()]).collect();
    format!("{}{letters}", PREFIXES[prefix % PREFIXES.len()])
}

/// A name's spelling changed as the press changes it: a vowel letter dropped or added, a
/// letter of the class written for another, a letter doubled, an ending.
fn respell(name: &str, edits: &[(usize, usize)]) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    for &(at, what) in edits {
        if chars.is_empty() {
            break;
        }
        let at = at % chars.len();
        match what % 6 {
            0 => {
                chars.remove(at);
            }
            1 => chars.insert(at, ['ا', 'و', 'ي'][what / 6 % 3]),
            2 => chars[at] = LETTERS[what / 6 % LETTERS.len()],
            3 => chars.insert(at, chars[at]),
            4 => chars.push(['ه', 'ة', 'ا', 'ى', 'ي'][what / 6 % 5]),
            _ => chars.insert(0, ['و', 'ل', 'ب', 'ف'][what / 6 % 4]),
        }
    }
    chars.into_iter().collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// The automaton over the folded text finds what the search of the whole skeleton finds
    /// without its shortcuts: the same names, tokens and order, for random names and texts
    /// that spell them in random ways among random words.
    #[test]
    fn the_automaton_finds_what_the_plain_skeleton_search_finds(
        names in proptest::collection::vec(
            (proptest::collection::vec(0usize..64, 3..8), 0usize..16), 1..4),
        words in proptest::collection::vec(
            (0usize..4, proptest::collection::vec(0usize..64, 1..8), 0usize..16,
             proptest::collection::vec((0usize..16, 0usize..200), 0..3), 0usize..16),
            0..24),
    ) {
        let terms: Vec<String> = names.iter().map(|(picks, prefix)| word(picks, *prefix)).collect();
        let mut text = String::new();
        for (kind, picks, prefix, edits, gap) in &words {
            let w = match kind {
                0 => word(picks, *prefix),
                _ => respell(&terms[picks[0] % terms.len()], edits),
            };
            text.push_str(&w);
            text.push_str(GAPS[gap % GAPS.len()]);
        }
        proptest::prop_assert_eq!(
            found_with(true, &text, &terms),
            found_with(false, &text, &terms),
            "{:?} in {}", terms, text
        );
    }
}
