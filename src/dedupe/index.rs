//! The fingerprint index of the clustering window, in memory: which recent stories share words
//! with a new one. Pure; the SQLite store keeps one, loaded from the stories' stored fingerprints
//! when it opens and fed as it records stories.
//!
//! Why in memory: an inverted index in a B-tree gets one random insert per word of every story,
//! so that each poll rewrote hundreds of index pages (most of a first cycle's time went to
//! writing them), and every lookup read dozens of postings lists through the database. Here an
//! insert is a few dozen pushes and a lookup a few dozen short scans, and the database only
//! appends each story's fingerprint to its row.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::{ClusterPolicy, entities};

/// How many stories the index holds by default: the newest, which is the clustering window for
/// up to about 100,000 stories in 12 hours (some 10,000 busy feeds). Older stories drop out;
/// a copy of one of them is then not recognised, and alerts on its own.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Postings kept per word: its newest. A word that more stories share says little about which
/// story this is, and scanning all of its postings would make every lookup grow with the window.
/// Capping can only miss a merge with an older copy, never make a false one.
pub const POSTINGS_PER_TERM: usize = 64;

/// One stored story, as clustering needs it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    id: i64,
    /// When it is compared (published, else first seen), in milliseconds since the epoch.
    at: i64,
    terms: u32,
    cluster: i64,
    /// Its headline's names and kind ([`super::entities`]): a conflict vetoes a merge.
    entities: Box<[u64]>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct ClusterIndex {
    capacity: usize,
    /// The stories held, oldest first; `stories[i]` has slot `first_slot + i`.
    stories: VecDeque<Entry>,
    first_slot: u32,
    /// Word → the slots of the stories that hold it, oldest first, at most
    /// [`POSTINGS_PER_TERM`]; slots below `first_slot` are stale and skipped.
    /// Slots are 32-bit to halve the postings' memory; after four billion stories the index
    /// starts over empty (see [`ClusterIndex::insert`]).
    postings: HashMap<u64, VecDeque<u32>, BuildHasherDefault<TermHasher>>,
    /// Stories evicted since the last sweep of stale postings.
    evicted: usize,
    /// The counters a lookup uses, kept so that a lookup allocates nothing per posting.
    scratch: RefCell<Scratch>,
}

impl Default for ClusterIndex {
    fn default() -> Self {
        ClusterIndex::with_capacity(DEFAULT_CAPACITY)
    }
}

impl ClusterIndex {
    pub fn with_capacity(capacity: usize) -> ClusterIndex {
        ClusterIndex {
            capacity: capacity.max(1),
            stories: VecDeque::new(),
            first_slot: 0,
            postings: HashMap::default(),
            evicted: 0,
            scratch: RefCell::default(),
        }
    }

    /// Stories held.
    pub fn len(&self) -> usize {
        self.stories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stories.is_empty()
    }

    /// Adds story `id` in `cluster`, compared at `at` (ms), with its sorted `fingerprint`.
    /// Stories are added in the order they were recorded; the oldest drop out beyond capacity.
    pub fn insert(&mut self, id: i64, at: i64, fingerprint: &[u64], cluster: i64) {
        let (fingerprint, entities) = split(fingerprint);
        let held = u32::try_from(self.stories.len()).expect("capacity fits in 32 bits");
        let slot = match self.first_slot.checked_add(held) {
            Some(slot) => slot,
            None => {
                // Four billion stories in one process: forget the window once and go on.
                *self = ClusterIndex::with_capacity(self.capacity);
                0
            }
        };
        self.stories.push_back(Entry {
            id,
            at,
            terms: u32::try_from(fingerprint.len()).unwrap_or(u32::MAX),
            cluster,
            entities: entities.into(),
        });
        for term in fingerprint {
            let list = self.postings.entry(*term).or_default();
            list.push_back(slot);
            if list.len() > POSTINGS_PER_TERM {
                list.pop_front();
            }
        }
        while self.stories.len() > self.capacity {
            self.stories.pop_front();
            self.first_slot += 1;
            self.evicted += 1;
        }
        // Lists of words no new story used keep stale slots until swept: sweep once a quarter
        // of the capacity has left, so that memory stays within a quarter of the live postings.
        if self.evicted >= self.capacity.div_ceil(4) {
            let first = self.first_slot;
            self.postings.retain(|_, list| {
                while list.front().is_some_and(|s| *s < first) {
                    list.pop_front();
                }
                !list.is_empty()
            });
            self.evicted = 0;
        }
    }

    /// The cluster a new story `id` joins, and adds it to the index: `known` (the cluster of a
    /// story with one of its identities) when there is one, else that of the best match, else
    /// its own id.
    pub fn assign(
        &mut self,
        id: i64,
        at: i64,
        fingerprint: &[u64],
        known: Option<i64>,
        policy: &ClusterPolicy,
    ) -> i64 {
        let cluster = known
            .or_else(|| self.best_match(fingerprint, at, policy))
            .unwrap_or(id);
        self.insert(id, at, fingerprint, cluster);
        cluster
    }

    /// The cluster of the held story most similar to a new story with `fingerprint`, compared
    /// at `at` (ms), if it scores high enough under `policy`; ties go to the older story.
    pub fn best_match(&self, fingerprint: &[u64], at: i64, policy: &ClusterPolicy) -> Option<i64> {
        let (fingerprint, entities) = split(fingerprint);
        if fingerprint.is_empty() {
            return None;
        }
        let reach = i64::try_from(policy.reach().as_millis()).unwrap_or(i64::MAX);
        let shared = self.shared_terms(fingerprint, at, reach.unsigned_abs(), policy.min_shared);
        let candidates = policy.candidates(shared);
        let mut best: Option<(f64, i64, i64)> = None;
        for (slot, n) in candidates {
            let entry = &self.stories[(slot as u32 - self.first_slot) as usize];
            if entities::conflict(entities, &entry.entities) {
                continue;
            }
            let apart = std::time::Duration::from_millis(entry.at.abs_diff(at));
            let score = policy.score(n, fingerprint.len(), entry.terms as usize, apart);
            let better = best.is_none_or(|(b, _, id)| score > b || (score == b && entry.id < id));
            if policy.same_story(score) && better {
                best = Some((score, entry.cluster, entry.id));
            }
        }
        best.map(|(_, cluster, _)| cluster)
    }
}

impl ClusterIndex {
    /// The stories in `reach` (ms) of `at` that share at least `min_shared` of `fingerprint`'s
    /// terms, by slot, with how many they share.
    ///
    /// Each posting adds one to its story's counter in a table of one counter per story held
    /// (kept between lookups and cleared after each), so a lookup is one pass over the postings
    /// with no sort and no allocation per posting. Whether a story is in reach is a property
    /// of the story, not of the posting: it is checked once per story that shares enough, not
    /// for each of its postings.
    fn shared_terms(
        &self,
        fingerprint: &[u64],
        at: i64,
        reach: u64,
        min_shared: usize,
    ) -> Vec<(i64, usize)> {
        let mut scratch = self.scratch.borrow_mut();
        let Scratch { counts, touched } = &mut *scratch;
        if counts.len() < self.stories.len() {
            counts.resize(self.stories.len(), 0);
        }
        for list in fingerprint
            .iter()
            .filter_map(|term| self.postings.get(term))
        {
            for &slot in list.iter().rev().take_while(|s| **s >= self.first_slot) {
                let held = (slot - self.first_slot) as usize;
                if counts[held] == 0 {
                    touched.push(held as u32);
                }
                counts[held] = counts[held].saturating_add(1);
            }
        }
        let mut shared = Vec::new();
        for held in touched.drain(..) {
            let n = usize::from(std::mem::take(&mut counts[held as usize]));
            if n >= min_shared && self.stories[held as usize].at.abs_diff(at) <= reach {
                shared.push((i64::from(self.first_slot + held), n));
            }
        }
        shared
    }
}

/// The counters of one lookup ([`ClusterIndex::shared_terms`]): one per story held, all zero
/// between lookups, and the stories whose counter was raised.
#[derive(Debug, Default)]
struct Scratch {
    counts: Vec<u16>,
    touched: Vec<u32>,
}

/// A sorted fingerprint's content words and its entity terms ([`super::entities`]), which sort
/// last. Only content words are counted and indexed: a name in a headline is a content word
/// already, and counting it twice would let two short flashes (بيان لداعش رقم 1, رقم 2) reach
/// the fewest shared words.
fn split(fingerprint: &[u64]) -> (&[u64], &[u64]) {
    fingerprint.split_at(fingerprint.partition_point(|t| t & entities::ENTITY_BIT == 0))
}

/// Hashes a term by itself: terms are already FNV-1a hashes of words, evenly spread.
#[derive(Debug, Default)]
pub struct TermHasher(u64);

impl Hasher for TermHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A fingerprint as stored: its terms as little-endian bytes, 8 each.
pub fn encode(fingerprint: &[u64]) -> Vec<u8> {
    fingerprint.iter().flat_map(|t| t.to_le_bytes()).collect()
}

/// The fingerprint stored by [`encode`]; trailing bytes short of a term are ignored.
pub fn decode(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn words(range: std::ops::Range<u64>) -> Vec<u64> {
        range.collect()
    }

    #[test]
    fn finds_the_story_that_shares_enough_words_in_time() {
        let policy = ClusterPolicy::default();
        let mut index = ClusterIndex::default();
        index.insert(1, 0, &words(0..20), 1);
        index.insert(2, 0, &words(100..120), 2);
        index.insert(3, 0, &words(200..210), 7);
        let cases = [
            ("same_words_now", words(0..20), 0, Some(1)),
            ("half_the_words", words(10..30), HOUR, Some(1)),
            ("other_story", words(100..115), 0, Some(2)),
            (
                "joins_the_cluster_not_the_story",
                words(200..210),
                0,
                Some(7),
            ),
            ("nothing_shared", words(500..520), 0, None),
            ("too_few_shared", words(0..5), 0, None),
            ("beyond_reach", words(0..20), 20 * HOUR, None),
            ("empty", vec![], 0, None),
        ];
        for (name, fingerprint, at, expected) in cases {
            assert_eq!(
                index.best_match(&fingerprint, at, &policy),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn assigns_the_known_cluster_else_the_best_match_else_its_own() {
        let policy = ClusterPolicy::default();
        let mut index = ClusterIndex::default();
        assert_eq!(index.assign(1, 0, &words(0..20), None, &policy), 1, "alone");
        assert_eq!(
            index.assign(2, 0, &words(0..20), None, &policy),
            1,
            "a copy"
        );
        assert_eq!(
            index.assign(3, 0, &words(0..20), Some(9), &policy),
            9,
            "an identity wins"
        );
        // Each assigned story joined the index with its cluster.
        assert_eq!(index.len(), 3);
        assert_eq!(index.best_match(&words(0..20), 0, &policy), Some(1));
    }

    #[test]
    fn prefers_the_better_score_then_the_older_story() {
        let policy = ClusterPolicy::default();
        let mut index = ClusterIndex::default();
        index.insert(1, 0, &words(0..40), 1);
        index.insert(2, 0, &words(0..20), 2);
        index.insert(3, 0, &words(0..20), 3);
        // 20 shared of 20 and 20 beats 20 shared of 40 and 20; between 2 and 3, the older.
        assert_eq!(index.best_match(&words(0..20), 0, &policy), Some(2));
    }

    #[test]
    fn drops_the_oldest_beyond_capacity() {
        let policy = ClusterPolicy::default();
        let mut index = ClusterIndex::with_capacity(3);
        for id in 0..100 {
            index.insert(id, 0, &words(id as u64 * 100..id as u64 * 100 + 10), id);
        }
        assert_eq!(index.len(), 3);
        assert_eq!(index.best_match(&words(0..10), 0, &policy), None);
        assert_eq!(index.best_match(&words(9900..9910), 0, &policy), Some(99));
        // Swept as it goes: the words of at most twice the capacity are held.
        assert!(
            index.postings.len() <= 2 * 3 * 10,
            "{}",
            index.postings.len()
        );
    }

    #[test]
    fn a_common_word_keeps_only_its_newest_postings() {
        let policy = ClusterPolicy::default();
        let mut index = ClusterIndex::default();
        // Story 0 shares six words with the probe, five of them common to 100 later stories.
        index.insert(0, 0, &[1, 2, 3, 4, 5, 99], 0);
        for id in 1..=100 {
            index.insert(id, 0, &[1, 2, 3, 4, 5, 1000 + id as u64], id);
        }
        assert!(index.postings[&1].len() <= POSTINGS_PER_TERM);
        // Story 0's postings of the common words are gone: it can no longer be found.
        assert_eq!(index.best_match(&[1, 2, 3, 4, 5, 99], 0, &policy), None);
    }

    #[test]
    fn a_conflicting_headline_vetoes_a_merge() {
        let policy = ClusterPolicy::default();
        // One match-report template, the same evening: only the clubs differ.
        let lead = "حقق الفريق فوزا ثمينا مساء الثلاثاء في ذهاب الدور ربع النهائي من دوري أبطال \
                    أوروبا لكرة القدم وسط حضور جماهيري كبير وقدم لاعبوه عرضا قويا";
        let story = |title: &str| crate::dedupe::fingerprint(title, lead);
        let arsenal = story("أرسنال يفوز على ريال مدريد في دوري الأبطال");
        let cases = [
            (
                "other_clubs",
                story("إنتر يفوز على بايرن ميونخ في دوري الأبطال"),
                None,
            ),
            (
                "same_clubs",
                story("آرسنال يهزم ريال مدريد في دوري الأبطال"),
                Some(1),
            ),
            (
                "a_live_page",
                story("آخر تطورات مباراة أرسنال وريال مدريد لحظة بلحظة"),
                None,
            ),
        ];
        for (name, fingerprint, expected) in cases {
            let mut index = ClusterIndex::default();
            index.insert(1, 0, &arsenal, 1);
            assert_eq!(
                index.best_match(&fingerprint, 0, &policy),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn a_name_in_two_short_flashes_is_counted_once() {
        // Five content words shared, one of them a name (داعش): below the fewest shared words,
        // however the headline's name terms are counted.
        let policy = ClusterPolicy::default();
        let mut index = ClusterIndex::default();
        index.insert(
            1,
            0,
            &crate::dedupe::fingerprint("بيان لداعش رقم 1", "نص الخبر 1"),
            1,
        );
        let second = crate::dedupe::fingerprint("بيان لداعش رقم 2", "نص الخبر 2");
        assert_eq!(index.best_match(&second, 0, &policy), None);
    }

    /// Every posting in reach gathered and counted, as the lookup did before it counted in
    /// place: what `shared_terms` must agree with wherever a story shares `min_shared` terms.
    fn shared_terms_gathering_every_list(
        index: &ClusterIndex,
        fingerprint: &[u64],
        at: i64,
        reach: u64,
    ) -> Vec<(i64, usize)> {
        let mut counts: std::collections::BTreeMap<i64, usize> = Default::default();
        for list in fingerprint.iter().filter_map(|t| index.postings.get(t)) {
            for &slot in list.iter().filter(|s| **s >= index.first_slot) {
                let entry = &index.stories[(slot - index.first_slot) as usize];
                if entry.at.abs_diff(at) <= reach {
                    *counts.entry(i64::from(slot)).or_default() += 1;
                }
            }
        }
        counts.into_iter().collect()
    }

    proptest::proptest! {
        /// Counting in the index's counters finds the same candidates as gathering and sorting
        /// every posting, over indexes where common words fill their lists and old slots went
        /// stale, lookup after lookup (the counters are cleared after each).
        #[test]
        fn candidates_counted_in_place_are_those_of_every_posting(
            stories in proptest::collection::vec(
                (proptest::collection::vec(0u64..400, 1..40), 0i64..10),
                1..300,
            ),
            probe in proptest::collection::vec(0u64..400, 1..40),
            capacity in 50usize..400,
            min_shared in 0usize..9,
        ) {
            let policy = ClusterPolicy { min_shared, ..ClusterPolicy::default() };
            let mut index = ClusterIndex::with_capacity(capacity);
            for (id, (terms, hours)) in stories.iter().enumerate() {
                // Words below 20 are common (in most stories), the rest rare.
                let mut terms: Vec<u64> = terms.iter().map(|t| if t % 3 == 0 { t % 20 } else { *t }).collect();
                terms.sort_unstable();
                index.insert(id as i64, hours * HOUR, &terms, id as i64);
            }
            let mut probe = probe;
            probe.sort_unstable();
            let reach = policy.reach().as_millis() as u64;
            for at in [4 * HOUR, 9 * HOUR] {
                let counted = index.shared_terms(&probe, at, reach, min_shared);
                let every = shared_terms_gathering_every_list(&index, &probe, at, reach);
                proptest::prop_assert_eq!(policy.candidates(counted), policy.candidates(every));
            }
        }
    }

    #[test]
    fn stored_fingerprints_read_back() {
        let fingerprint = vec![0, 1, u64::MAX, 0x0123_4567_89ab_cdef];
        assert_eq!(decode(&encode(&fingerprint)), fingerprint);
        assert!(decode(&[1, 2, 3]).is_empty());
    }
}
