//! The near-duplicate fingerprint of a story (the set of its folded, lightly stemmed content
//! words) and the score that decides whether two stories from different feeds are one story.
//! Pure.
//!
//! Why a word set and not a 64-bit SimHash: cross-outlet copies of one event share a third of
//! their content words at best (different headline, different lead, 11 dead vs 14), which is far
//! below what SimHash's Hamming distance can tell from noise. The set is kept exactly (as 64-bit
//! term hashes) so that the store can index it and compute the Jaccard similarity from counts.

use super::entities::ENTITY_BIT;
use crate::text::{fold_str, is_word_char};

/// How stories are grouped into clusters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterPolicy {
    /// Only stories published this close to each other are compared.
    pub window: std::time::Duration,
    /// The Jaccard similarity two stories published at the same moment need.
    pub threshold: f64,
    /// The similarity needed grows by e every `decay`: copies of one story follow each other
    /// within hours, while follow-ups (a revised toll, a claim, an analysis) come later with the
    /// same words.
    pub decay: std::time::Duration,
    /// The fewest content words two stories must share, whatever their similarity: copies of
    /// one story share its place, actors, figures and event; two short flashes about different
    /// events can share a high ratio of a few generic words ("بيان لداعش", "هجوم لداعش").
    pub min_shared: usize,
}

/// How far back a story may join a cluster unless configured otherwise (`daemon.cluster_window`).
pub const DEFAULT_WINDOW: std::time::Duration = std::time::Duration::from_secs(36 * 3600);

impl Default for ClusterPolicy {
    /// A 36 h window; Jaccard 0.12 at no distance in time, decaying with a 6 h time constant
    /// (see README, "Stories and duplicates", for how they were chosen).
    fn default() -> Self {
        ClusterPolicy {
            window: DEFAULT_WINDOW,
            threshold: 0.12,
            decay: std::time::Duration::from_secs(6 * 3600),
            min_shared: 6,
        }
    }
}

/// The most stored stories a new story is scored against.
pub const MAX_CANDIDATES: usize = 32;

impl ClusterPolicy {
    /// The score of two stories that share `shared` terms out of `a` and `b`, published
    /// `apart` from each other: their Jaccard similarity, discounted by time.
    pub fn score(&self, shared: usize, a: usize, b: usize, apart: std::time::Duration) -> f64 {
        let union = a + b - shared.min(a + b);
        if union == 0 || shared < self.min_shared || apart > self.window {
            return 0.0;
        }
        let jaccard = shared as f64 / union as f64;
        jaccard * (-apart.as_secs_f64() / self.decay.as_secs_f64().max(1.0)).exp()
    }

    /// Whether `score` makes two stories one.
    pub fn same_story(&self, score: f64) -> bool {
        score >= self.threshold
    }

    /// The stories worth scoring against a new one, from `shared` (story → terms it shares with
    /// the new story): those that share at least `min_shared`, most shared first (the newest
    /// first among equals), at most [`MAX_CANDIDATES`]. A story outside them shares fewer words
    /// than [`MAX_CANDIDATES`] others, so scoring it could change the choice only among copies
    /// that all qualify; without the bound, a window full of stories on one theme makes every
    /// new story cost as much as the window.
    pub fn candidates(&self, shared: impl IntoIterator<Item = (i64, usize)>) -> Vec<(i64, usize)> {
        let mut found: Vec<(i64, usize)> = shared
            .into_iter()
            .filter(|(_, n)| *n >= self.min_shared)
            .collect();
        found.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        found.truncate(MAX_CANDIDATES);
        found
    }

    /// How far apart in time two stories can be and still be the same story: beyond it, even
    /// identical word sets score below the threshold. Bounds the index lookup.
    pub fn reach(&self) -> std::time::Duration {
        let limit = self.decay.as_secs_f64() * (1.0 / self.threshold.max(1e-9)).ln();
        std::time::Duration::from_secs_f64(limit.max(0.0)).min(self.window)
    }
}

/// Words that carry no event: prepositions, pronouns, reporting verbs. Folded forms.
const STOP_WORDS: &[&str] = &[
    "في",
    "من",
    "علي",
    "الي",
    "عن",
    "مع",
    "بعد",
    "قبل",
    "ان",
    "او",
    "ثم",
    "التي",
    "الذي",
    "هذا",
    "هذه",
    "ذلك",
    "بين",
    "عند",
    "منذ",
    "حول",
    "خلال",
    "ضد",
    "اليوم",
    "وفق",
    "كما",
    "انه",
    "بحسب",
    "لا",
    "ما",
    "قال",
    "اعلن",
    "اعلنت",
];

/// Proclitics stripped from the front of a word (longest first) and suffixes from its end, when
/// at least three letters remain: وبالقوات, بالقوات and القوات meet; جنديا and جندي meet.
const PREFIXES: &[&str] = &[
    "وبال", "وال", "بال", "فال", "كال", "لل", "ال", "و", "ب", "ل", "ف",
];
const SUFFIXES: &[&str] = &["ها", "ات", "ين", "ون", "ان", "ه", "ي"];

/// Words of the lead that count. Copies of one story share the event's words in the headline and
/// first sentences; a feed that puts the whole article in its summary would otherwise get a set
/// so large that no shorter copy could reach the threshold, and index rows by the hundred.
pub const LEAD_WORDS: usize = 40;
/// The most words a fingerprint is made of (the title's first, then the lead's): a headline
/// has tens, and the store indexes each; a title of thousands of words would cost an index row
/// per word and a comparison per shared word in every story of the window.
pub const MAX_FINGERPRINT_WORDS: usize = 128;

/// The fingerprint of a story: the sorted, distinct hashes of its content words (title and
/// the first [`LEAD_WORDS`] words of its lead), folded with `text::fold` and lightly stemmed. Stable across versions and restarts
/// (FNV-1a over the stem's UTF-8), since it is stored.
pub fn fingerprint(title: &str, lead: &str) -> Vec<u64> {
    let lead_end = lead
        .split_whitespace()
        .nth(LEAD_WORDS)
        .map_or(lead.len(), |word| {
            word.as_ptr() as usize - lead.as_ptr() as usize
        });
    let folded = fold_str(&format!("{title} {}", &lead[..lead_end]));
    let mut terms: Vec<u64> = folded
        .split(|c: char| !is_word_char(c))
        .map(stem)
        .filter(|w| {
            // Numbers are evidence at any length ("3 dead"); one-letter words are not.
            (w.chars().count() >= 2 || w.chars().all(|c| c.is_ascii_digit()))
                && !w.is_empty()
                && !STOP_WORDS.contains(w)
        })
        .take(MAX_FINGERPRINT_WORDS)
        .map(|w| fnv1a(w.as_bytes()) & !ENTITY_BIT)
        .collect();
    terms.extend(super::entities::terms(title, &folded));
    terms.sort_unstable();
    terms.dedup();
    terms
}

pub(super) fn stem(word: &str) -> &str {
    let long_enough = |rest: &str| rest.chars().count() >= 3;
    let word = PREFIXES
        .iter()
        .find_map(|p| word.strip_prefix(p).filter(|rest| long_enough(rest)))
        .unwrap_or(word);
    SUFFIXES
        .iter()
        .find_map(|s| word.strip_suffix(s).filter(|rest| long_enough(rest)))
        .unwrap_or(word)
}

/// The number of terms two sorted fingerprints share.
pub fn shared_terms(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_title_of_thousands_of_words_makes_a_bounded_fingerprint() {
        let title: String = (0..5_000).map(|i| format!("كلمة{i} ")).collect();
        assert_eq!(fingerprint(&title, "").len(), MAX_FINGERPRINT_WORDS);
        assert_eq!(
            fingerprint(&title, ""),
            fingerprint(&title, "نص آخر تماما"),
            "the title's words come first"
        );
    }

    #[test]
    fn fingerprints_meet_across_spelling_and_clitics() {
        let cases = [
            (
                "tashkeel_and_hamza",
                "قُتِلَ جنديٌّ في الأنبار",
                "قتل جندي في الانبار",
                true,
            ),
            ("proclitics", "والقوات الأميركية", "القوات الاميركية", true),
            ("stop_words_ignored", "هجوم في حمص", "هجوم على حمص", true),
            ("different_words", "هجوم في حمص", "انفجار في حلب", false),
            ("numbers_count", "بيان رقم 1", "بيان رقم 2", false),
        ];
        for (name, a, b, same) in cases {
            assert_eq!(fingerprint(a, "") == fingerprint(b, ""), same, "{name}");
        }
    }

    #[test]
    fn scores_by_overlap_and_time() {
        let policy = ClusterPolicy::default();
        let hour = Duration::from_secs(3600);
        let cases = [
            ("identical_now", 10, 10, 10, Duration::ZERO, true),
            ("a_third_shared_now", 10, 20, 20, Duration::ZERO, true),
            ("a_third_shared_a_day_later", 10, 20, 20, 24 * hour, false),
            ("identical_beyond_reach", 10, 10, 10, 13 * hour, false),
            ("identical_beyond_window", 10, 10, 10, 40 * hour, false),
            ("little_shared", 2, 20, 20, Duration::ZERO, false),
            (
                "short_flashes_sharing_few_words",
                3,
                4,
                4,
                Duration::ZERO,
                false,
            ),
            ("empty", 0, 0, 0, Duration::ZERO, false),
        ];
        for (name, shared, a, b, apart, same) in cases {
            assert_eq!(
                policy.same_story(policy.score(shared, a, b, apart)),
                same,
                "{name}"
            );
        }
        assert!(policy.reach() < Duration::from_secs(13 * 3600));
    }

    #[test]
    fn candidates_are_the_most_similar_few() {
        let policy = ClusterPolicy::default();
        // 200 stories sharing 6..=9 words, one sharing 12, several sharing too few.
        let mut shared: Vec<(i64, usize)> =
            (0..200).map(|id| (id, 6 + (id as usize % 4))).collect();
        shared.push((500, 12));
        shared.extend((600..610).map(|id| (id, 5)));
        let found = policy.candidates(shared);
        assert_eq!(found.len(), MAX_CANDIDATES);
        assert_eq!(found[0], (500, 12));
        assert!(found[1..].iter().all(|(_, n)| *n == 9), "{found:?}");
        // Among equals the newest (highest id) first.
        assert_eq!(found[1].0, 199);
        assert!(policy.candidates([(1, 5), (2, 0)]).is_empty());
    }

    #[test]
    fn only_the_start_of_a_long_lead_counts() {
        let start: Vec<String> = (0..LEAD_WORDS).map(|i| format!("كلمة{i}")).collect();
        let start = start.join(" ");
        let long = format!("{start} ذيل طويل جدا بكلمات أخرى كثيرة");
        assert_eq!(fingerprint("عنوان", &long), fingerprint("عنوان", &start));
        assert_ne!(fingerprint("عنوان", &start), fingerprint("عنوان", "كلمة0"));
        // A lead shorter than the limit is read whole, as is a title of any length.
        assert_eq!(
            fingerprint("عنوان", "  قصير  "),
            fingerprint("عنوان قصير", "")
        );
    }

    #[test]
    fn counts_shared_terms() {
        assert_eq!(shared_terms(&[1, 3, 5, 7], &[2, 3, 7, 9]), 2);
        assert_eq!(shared_terms(&[], &[1]), 0);
    }
}
