//! What a story is about, as fingerprint terms the cluster index can compare: the names in it
//! (its words that are no ordinary Arabic word, keyed by their consonant classes so that ترامب
//! and ترمب, ستولتنبرغ and ستولتنبرج meet), which of them its headline holds, and its kind (a
//! live page, a round-up, a market report). Pure. These terms are compared, not counted: the
//! similarity score counts content words only.
//!
//! Two stories whose headlines each name someone or somewhere, and neither of which mentions a
//! name of the other's headline, are about different actors (Arsenal and Inter the same
//! evening, in one match-report template), however many template words they share; a live page
//! or a round-up is never the same story as one of the items it gathers, nor a market report
//! (oil jumps after the tariffs pause) the same as the event that moved the market.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::matcher::with_name_key;
use crate::text::{fold_str, is_word_char};

/// Set on the terms of names and kinds, so that the index can tell them from the content words
/// by looking at a term alone (the content words' terms have it cleared), and so that they sort
/// after them.
pub const ENTITY_BIT: u64 = 1 << 63;
/// Set, besides [`ENTITY_BIT`], on the names a headline holds and on the kinds.
const HEADLINE_BIT: u64 = 1 << 62;

/// The term of a live page (`لحظة بلحظة`, `آخر تطورات`, `مباشر`).
const LIVE: u64 = ENTITY_BIT | HEADLINE_BIT | 1;
/// The term of a round-up (`حصاد`, `ملخص`, `جولة الصحف`).
const ROUNDUP: u64 = ENTITY_BIT | HEADLINE_BIT | 2;
/// The term of a market report (oil, gold, shares, exchange rates): the price move an event
/// causes is a story of its own, not a copy of the event's.
const MARKET: u64 = ENTITY_BIT | HEADLINE_BIT | 3;
const KINDS: [u64; 3] = [LIVE, ROUNDUP, MARKET];

/// Folded words and phrases that mark a headline as a live page.
const LIVE_MARKERS: &[&str] = &[
    "لحظه بلحظه",
    "اخر تطورات",
    "مباشر:",
    "تغطيه مباشره",
    "تغطيه مستمره",
];
/// Folded words that mark a headline as a round-up of other items.
const ROUNDUP_MARKERS: &[&str] = &["حصاد", "ملخص", "ابرز احداث", "جوله الصحف", "نشره"];
/// Folded words (after one proclitic) that make a headline a market report: a commodity or
/// market with the article (النفط, الأسهم), or a construct that names one (سعر الذهب, أسواق
/// الخليج). «والأسواق الأميركية تقفز» in a headline about tariffs is the markets' reaction,
/// not a market report: the article form of أسواق is left out.
const MARKET_WORDS: &[&str] = &[
    "النفط",
    "برنت",
    "الذهب",
    "الاوقيه",
    "الاسهم",
    "البورصه",
    "سعر",
    "اسواق",
];

/// The entity terms of a story with this title and folded lead: one per name in either, one per
/// name in the headline, and one for the headline's kind. Sorted, distinct, each with
/// [`ENTITY_BIT`] set.
pub fn terms(title: &str, folded_lead: &str) -> Vec<u64> {
    let folded = fold_str(title);
    let words = || folded.split(|c: char| !is_word_char(c));
    // The headline's names count twice, as headline names and as names of the story: looked
    // up once.
    let headline: Vec<u64> = words().filter_map(name_term).collect();
    let mut terms: Vec<u64> = headline.iter().map(|t| t | HEADLINE_BIT).collect();
    terms.extend(headline);
    terms.extend(
        folded_lead
            .split(|c: char| !is_word_char(c))
            .filter_map(name_term),
    );
    let market = |word: &str| {
        MARKET_WORDS.contains(&word)
            || ["و", "ف", "ب", "ل"].iter().any(|p| {
                word.strip_prefix(p)
                    .is_some_and(|w| MARKET_WORDS.contains(&w))
            })
    };
    if words().any(market) {
        terms.push(MARKET);
    }
    let spaced = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    if LIVE_MARKERS.iter().any(|m| spaced.contains(m)) {
        terms.push(LIVE);
    }
    if ROUNDUP_MARKERS.iter().any(|m| spaced.contains(m)) {
        terms.push(ROUNDUP);
    }
    terms.sort_unstable();
    terms.dedup();
    terms
}

/// Whether two stories with these (sorted) entity terms are about different things: they differ
/// in kind (live page, round-up, market report), or both headlines name someone or somewhere and
/// neither story mentions a name of the other's headline.
pub fn conflict(a: &[u64], b: &[u64]) -> bool {
    let kind = |t: &[u64]| KINDS.map(|k| t.contains(&k));
    if kind(a) != kind(b) {
        return true;
    }
    let mentions = |headline: &[u64], story: &[u64]| {
        headline_names(headline).any(|name| story.binary_search(&(name & !HEADLINE_BIT)).is_ok())
    };
    headline_names(a).next().is_some()
        && headline_names(b).next().is_some()
        && !mentions(a, b)
        && !mentions(b, a)
}

/// The names a headline holds, among a story's entity terms: read in place, since a lookup
/// checks up to `MAX_CANDIDATES` stories for a conflict.
fn headline_names(entities: &[u64]) -> impl Iterator<Item = u64> + '_ {
    entities
        .iter()
        .copied()
        .filter(|t| t & HEADLINE_BIT != 0 && !KINDS.contains(t))
}

/// The term of a word that is a name, keyed so that its spellings meet.
fn name_term(word: &str) -> Option<u64> {
    let stem = super::fingerprint::stem(word);
    if !is_name(stem) {
        return None;
    }
    let key = with_name_key(stem, fnv1a_of_chars)?;
    Some(key & !HEADLINE_BIT | ENTITY_BIT)
}

/// FNV-1a of the UTF-8 of `chars`: what `fnv1a` gives for the string they spell, without the
/// string (the terms are stored, so the hash must not change).
fn fnv1a_of_chars(chars: &[char]) -> u64 {
    let mut utf8 = [0; 4];
    chars.iter().fold(0xcbf2_9ce4_8422_2325, |h, c| {
        c.encode_utf8(&mut utf8).bytes().fold(h, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    })
}

/// A word of at least four letters that is no frequent ordinary word (in any of its proclitic
/// and suffix forms): a name, or a rare word that as much tells one story from another.
fn is_name(stem: &str) -> bool {
    // The shape first, the word lists only for a word that could be a name.
    if stem.chars().count() < 4 || !stem.chars().all(|c| ('\u{0620}'..='\u{064A}').contains(&c)) {
        return false;
    }
    let common = common_stems();
    // A verb in the imperfect (يتعثر, تقفز) is ordinary when its stem without the person
    // prefix is: the list holds few of a verb's many forms.
    let verb_stem = ['ي', 'ت', 'ن']
        .iter()
        .find_map(|p| stem.strip_prefix(*p))
        .map(super::fingerprint::stem);
    !common.contains(stem) && !verb_stem.is_some_and(|v| common.contains(v))
}

/// The stems (as [`super::fingerprint`] stems words) of four letters or more of 84,742 ordinary
/// Arabic words: the 100,000 most frequent Arabic words of the `wordfreq` 3.1 list (Robyn Speer;
/// data CC BY-SA 4.0) that the Ayaspell Arabic Hunspell dictionary (Debian `hunspell-ar` 3.2;
/// GPL-2 / LGPL-2.1 / MPL-1.1) accepts, which leaves most names out (ترامب, دورتموند).
const ORDINARY_STEMS: &str = include_str!("ordinary_stems.txt");

fn common_stems() -> &'static HashSet<&'static str> {
    static STEMS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    STEMS.get_or_init(|| ORDINARY_STEMS.lines().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn story(title: &str) -> Vec<u64> {
        terms(title, "")
    }

    proptest::proptest! {
        /// A name's term is the hash of its key as it was when the key was built as a string:
        /// terms are stored, and must not change.
        #[test]
        fn a_name_term_is_the_hash_of_its_key_string(word in "[\u{0621}-\u{064A}]{1,12}") {
            let stem = crate::dedupe::fingerprint::stem(&word);
            let expected = crate::matcher::name_key(stem)
                .map(|key| crate::dedupe::fingerprint::fnv1a(key.as_bytes()));
            proptest::prop_assert_eq!(with_name_key(stem, fnv1a_of_chars), expected);
        }
    }

    #[test]
    fn headline_names_and_kinds() {
        let cases: &[(&str, &str, usize, &[u64])] = &[
            (
                "a_foreign_name",
                "ترامب يعلن محادثات مباشرة مع إيران",
                1,
                &[],
            ),
            (
                "ordinary_words_only",
                "ارتفاع تدريجي في درجات الحرارة",
                0,
                &[],
            ),
            ("two_names", "بوتين يستقبل ويتكوف في سان بطرسبورغ", 2, &[]),
            (
                "a_live_page",
                "آخر تطورات المحادثات في مسقط.. لحظة بلحظة",
                0,
                &[LIVE],
            ),
            ("a_round_up", "حصاد الجولة 27 من الدوري", 0, &[ROUNDUP]),
            (
                "a_market_report",
                "أسعار النفط تقفز بعد القرار",
                0,
                &[MARKET],
            ),
            (
                "markets_reacting_in_a_headline",
                "القرار يهز والأسواق تقفز",
                0,
                &[],
            ),
        ];
        for (case, title, want_names, want_kinds) in cases {
            let terms = story(title);
            assert_eq!(
                headline_names(&terms).count(),
                *want_names,
                "{case}: {terms:?}"
            );
            let kinds: Vec<u64> = terms.into_iter().filter(|t| KINDS.contains(t)).collect();
            assert_eq!(kinds, *want_kinds, "{case}");
        }
    }

    #[test]
    fn spellings_of_one_name_are_one_term() {
        let cases = [
            ("alef_left_out", "ترامب يعلق الرسوم", "ترمب يعلق الرسوم"),
            ("jeem_for_ghain", "ستولتنبرغ يحذر", "ستولتنبرج يحذر"),
            ("seen_for_sheen", "غوتيريش يدعو", "غوتيريس يدعو"),
            ("proclitic", "ويتكوف في مسقط", "لقاء وويتكوف"),
        ];
        for (case, a, b) in cases {
            let (a, b) = (story(a), story(b));
            assert!(!a.is_empty() && a == b, "{case}: {a:?} {b:?}");
        }
    }

    #[test]
    fn conflicts() {
        let arsenal = story("رايس يقود أرسنال لاكتساح ريال مدريد");
        let inter = story("إنتر ميلان يعود من ميونخ بفوز ثمين على بايرن");
        let inter_naming_arsenal = terms(
            "إنتر ميلان يعود من ميونخ بفوز ثمين على بايرن",
            "في ليلة فاز فيها ارسنال ايضا",
        );
        let live = story("آخر تطورات المحادثات الإيرانية الأميركية في مسقط.. لحظة بلحظة");
        let talks = story("انتهاء الجولة الأولى من المحادثات في مسقط");
        let plain = story("عاصفة ترابية تضرب جنوب العراق");
        let cases: &[(&str, &[u64], &[u64], bool)] = &[
            ("names_neither_story_mentions", &arsenal, &inter, true),
            (
                "a_name_the_other_story_mentions",
                &arsenal,
                &inter_naming_arsenal,
                false,
            ),
            ("a_live_page_and_an_item", &live, &talks, true),
            ("two_items", &talks, &plain, false),
            ("no_names_in_one_headline", &arsenal, &plain, false),
        ];
        for (case, a, b, want) in cases {
            assert_eq!(conflict(a, b), *want, "{case}");
        }
    }
}
