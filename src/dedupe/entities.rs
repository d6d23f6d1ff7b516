//! What a headline is about, as fingerprint terms the cluster index can compare: the names in it
//! (its words that are no frequent ordinary word, keyed by their consonant classes so that ترامب
//! and ترمب, غروسي and جروسي meet) and its kind (a live page, a round-up, a market report). Pure.
//!
//! Two stories whose headlines each name someone or somewhere, and share none of those names,
//! are about different actors (the Saudi and the Emirati central bank, Arsenal and Inter the
//! same evening), however many template words they share; a live page or a round-up is never
//! the same story as one of the items it gathers, nor a market report (oil jumps after the
//! tariffs pause) the same as the event that moved the market.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::matcher::name_key;
use crate::text::{fold_str, is_word_char};

/// Set on the terms of a headline's names and kind, so that the index can tell them from the
/// content words by looking at a term alone (the content words' terms have it cleared).
pub const ENTITY_BIT: u64 = 1 << 63;

/// The term of a live page (`لحظة بلحظة`, `آخر تطورات`, `مباشر`).
const LIVE: u64 = ENTITY_BIT | 1;
/// The term of a round-up (`حصاد`, `أبرز`, `ملخص`, `جولة الصحف`).
const ROUNDUP: u64 = ENTITY_BIT | 2;
/// The term of a market report (oil, gold, shares, exchange rates): the price move an event
/// causes is a story of its own, not a copy of the event's.
const MARKET: u64 = ENTITY_BIT | 3;
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

/// The entity terms of a headline: one per name, and one for its kind when it is a live page or
/// a round-up. Sorted, distinct, each with [`ENTITY_BIT`] set.
pub fn headline_terms(title: &str) -> Vec<u64> {
    let folded = fold_str(title);
    let words = || folded.split(|c: char| !is_word_char(c));
    let mut terms: Vec<u64> = words().filter_map(name_term).collect();
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

/// The term of a content word, keyed like a name when it is one: spellings of one name meet.
pub fn content_key(stem: &str) -> Option<String> {
    is_name(stem).then(|| name_key(stem)).flatten()
}

/// Whether two stories with these entity terms are about different things: they differ in kind
/// (live page, round-up, market report), or both headlines name someone or somewhere and neither
/// story mentions a name of the other's headline (`mentions(names, story)`: whether the story
/// holds one of the names among its words).
pub fn conflict(a: &[u64], b: &[u64], a_named_in_b: bool, b_named_in_a: bool) -> bool {
    let kind = |t: &[u64]| KINDS.map(|k| t.contains(&k));
    if kind(a) != kind(b) {
        return true;
    }
    has_names(a) && has_names(b) && !a_named_in_b && !b_named_in_a
}

/// The content-word terms of the names among entity terms (a name is also a content word).
pub fn name_words(entities: &[u64]) -> impl Iterator<Item = u64> + '_ {
    entities
        .iter()
        .filter(|t| !KINDS.contains(t))
        .map(|t| t & !ENTITY_BIT)
}

fn has_names(entities: &[u64]) -> bool {
    name_words(entities).next().is_some()
}

fn name_term(word: &str) -> Option<u64> {
    let stem = super::fingerprint::stem(word);
    let key = content_key(stem)?;
    Some(super::fingerprint::fnv1a(key.as_bytes()) | ENTITY_BIT)
}

/// A word of at least four letters that is no frequent ordinary word (in any of its proclitic
/// and suffix forms): a name, or a rare word that as much tells one story from another.
fn is_name(stem: &str) -> bool {
    let common = common_stems();
    // A verb in the imperfect (يتعثر, تقفز) is ordinary when its stem without the person
    // prefix is: the list holds few of a verb's many forms.
    let verb_stem = ['ي', 'ت', 'ن']
        .iter()
        .find_map(|p| stem.strip_prefix(*p))
        .map(super::fingerprint::stem);
    stem.chars().count() >= 4
        && stem.chars().all(|c| ('\u{0620}'..='\u{064A}').contains(&c))
        && !common.contains(stem)
        && !verb_stem.is_some_and(|v| common.contains(v))
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

    fn names(title: &str) -> usize {
        name_words(&headline_terms(title)).count()
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
            let terms = headline_terms(title);
            assert_eq!(names(title), *want_names, "{case}: {terms:?}");
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
            let (a, b) = (headline_terms(a), headline_terms(b));
            assert!(!a.is_empty() && a == b, "{case}: {a:?} {b:?}");
        }
    }

    #[test]
    fn conflicts() {
        let arsenal = headline_terms("رايس يقود أرسنال لاكتساح ريال مدريد");
        let inter = headline_terms("إنتر ميلان يعود من ميونخ بفوز ثمين على بايرن");
        let live = headline_terms("آخر تطورات المحادثات الإيرانية الأميركية في مسقط.. لحظة بلحظة");
        let talks = headline_terms("انتهاء الجولة الأولى من المحادثات في مسقط");
        let plain = headline_terms("عاصفة ترابية تضرب جنوب العراق");
        /// `(case, a, b, a's names in b, b's names in a, conflict)`.
        type Case<'a> = (&'a str, &'a [u64], &'a [u64], bool, bool, bool);
        let cases: &[Case] = &[
            (
                "names_neither_story_mentions",
                &arsenal,
                &inter,
                false,
                false,
                true,
            ),
            (
                "a_name_the_other_story_mentions",
                &arsenal,
                &inter,
                true,
                false,
                false,
            ),
            ("a_live_page_and_an_item", &live, &talks, false, false, true),
            ("two_items", &talks, &plain, false, false, false),
            (
                "no_names_in_one_headline",
                &arsenal,
                &plain,
                false,
                false,
                false,
            ),
        ];
        for (case, a, b, a_in_b, b_in_a, want) in cases {
            assert_eq!(conflict(a, b, *a_in_b, *b_in_a), *want, "{case}");
        }
    }
}
