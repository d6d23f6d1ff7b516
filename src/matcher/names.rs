//! Name keywords (`name = true`): a foreign person or place found in the spellings the Arabic
//! press gives it, and refused where one of those spellings is an ordinary word.
//!
//! Arabic outlets transliterate a foreign name each their own way: ماكاري / مكاري, غوتيريش /
//! جوتيريش / غوتيريس, ستولتنبرغ / ستولتنبرج, نتنياهو / نتانياهو. Two spellings are taken as one
//! name when, once folded ([`crate::text::fold`]):
//! - their consonants agree letter for letter up to the classes below, a doubled letter counting
//!   once; ج for another g letter, an emphatic for a plain letter, ش or ز for س count as one
//!   edit, and a name of three consonants takes only the emphatic one (مكاري is not مجاري);
//! - their long vowels (ا و ي, and the hamza seat ء) are written, left out or one written for
//!   another, never at the start of the name; with the letter edits above, at most one edit in all, two for names of five
//!   consonants or more;
//! - their endings may differ as ا / ه (ة) freely and as ا / ي (ى) for one edit;
//! - a prefix may be split or joined (ماك غورك / ماكغورك, دي ميستورا / ديميستورا).
//!
//! The letter classes stand for one foreign sound each: g غ ج ق ك گ; v ف ڤ; p ب پ; t ت ط; d د ض;
//! s س ص ش (Portuguese s, as in غوتيريش / غوتيريس) with z ز ظ ذ (شولتس / شولتز). Sources: for g, a Unicode mailing
//! list answer on writing [g] in Arabic (unicode.org mail archive, unicode-ml 2010-07 #0355: غ in
//! Standard Arabic, ج in Egypt, ق where the dialect says g, گ from Persian) and the blog post
//! "G in Arabic" (pbauyp.blogspot.com, January 2007: ج in Egypt, ghain or jeem in loanwords, ڤ
//! for v); for و and ي as long vowels or consonants, rule 1 of the ALA-LC Arabic romanization table
//! (Library of Congress); for the rest, pairs the press prints for one person on one day (the
//! envoy «إيان ماكاري» / «مكاري»; غوتيريش / جوتيريش / غوتيريس; ستولتنبرغ / ستولتنبرج; نتنياهو /
//! نتانياهو; زيلينسكي / زيلنسكي), collected with their look-alike words in
//! `tests/data/name-variants.tsv`. The proclitics before a name are those of every keyword
//! (policy §5.3); a name takes no suffix.
//!
//! Precision comes first: a name whose consonants are fewer than three (أوباما, جون) is kept
//! strict — its exact folded spelling, with no suffix — as is one that would match one of
//! [`COMMON_WORDS`]' frequent ordinary words; [`strictness`] says which, for `rasad check`.
//!
//! Search: a name is found through the text's *skeleton* (its consonant classes, vowels dropped,
//! doubled letters once, words separated by one space), which must end a word's skeleton with
//! the name's; each such word is then verified on the folded text. One automaton over the folded
//! text ([`scan`]) does the skeleton's work and the search of every name's skeleton in one pass,
//! one table step per character; a watch list too large for its table searches the skeleton
//! written out ([`skeleton`]), the plain search that the automaton is tested against. Whether a
//! word is a spelling of a name is decided in [`spelling`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use super::search::{DFA_BUDGET, Occurrence, Search};
use super::{KeywordOptions, Prefixes, Suffixes};
use crate::text::{Folded, fold_str, is_word_char};
use scan::{Scan, WordEnd};
use skeleton::Skeleton;
use spelling::{Name, Shape};

/// Frequent ordinary Arabic words, one a line: the 10,000 most frequent Arabic words of the
/// `wordfreq` 3.1 list (Robyn Speer; data CC BY-SA 4.0) that the Ayaspell Arabic Hunspell
/// dictionary (Debian `hunspell-ar` 3.2; GPL-2 / LGPL-2.1 / MPL-1.1) accepts, so that the
/// frequent names in wordfreq's list (نتنياهو, ترامب) are left out.
pub const COMMON_WORDS: &str = include_str!("common_words.txt");

/// Fewer consonant classes than this and a name is kept strict.
const MIN_CONSONANTS: usize = 3;

/// The longest word, in bytes of folded text, that is checked as a spelling of a name: a name
/// of a dozen letters with its proclitics and ending is well under it.
const MAX_NAME_TOKEN_BYTES: usize = 128;

/// Why a name keyword is matched strictly (its exact spelling only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strict {
    /// Its consonants, vowels left out, are too few to tell it from other words.
    ShortSkeleton(String),
    /// One of its spellings is this frequent ordinary word.
    CommonWord(String),
    /// It is not written in Arabic letters.
    NotArabic,
}

impl std::fmt::Display for Strict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Strict::ShortSkeleton(s) => write!(
                f,
                "its consonants without vowels ({s:?}) are too few to tell it from other words"
            ),
            Strict::CommonWord(w) => write!(f, "one of its spellings is the common word {w:?}"),
            Strict::NotArabic => write!(f, "it is not written in Arabic letters"),
        }
    }
}

/// `None` when `term` is matched in all its spellings, else why it is matched strictly.
pub fn strictness(term: &str) -> Option<Strict> {
    let name = Name::new(term)?;
    if !name.arabic {
        return Some(Strict::NotArabic);
    }
    if name.shape.consonants.len() < MIN_CONSONANTS {
        return Some(Strict::ShortSkeleton(
            name.shape.consonants.iter().collect(),
        ));
    }
    common_collision(&name).map(Strict::CommonWord)
}

/// The key under which the spellings of one name meet (story clustering): the consonant
/// classes of the folded `word`, vowels left out and a doubled letter once. `None` under three
/// consonants, too few to tell one name from another.
pub fn name_key(word: &str) -> Option<String> {
    with_name_key(word, |consonants| consonants.iter().collect())
}

/// What `with` makes of [`name_key`]'s consonant classes, read from a shape the thread keeps:
/// a story's fingerprint asks for the key of every word of its headline and lead, and a key
/// built as a `String` (and a shape allocated) per word was most of that cost.
pub fn with_name_key<T>(word: &str, with: impl FnOnce(&[char]) -> T) -> Option<T> {
    thread_local! {
        static SHAPE: RefCell<Shape> = RefCell::default();
    }
    SHAPE.with_borrow_mut(|shape| {
        shape.fill(word.chars());
        (shape.consonants.len() >= MIN_CONSONANTS).then(|| with(&shape.consonants))
    })
}

/// The options a strict name is compiled with as a plain keyword: its spelling, no suffix.
pub fn strict_options(options: &KeywordOptions) -> KeywordOptions {
    KeywordOptions {
        suffixes: Some(Suffixes::None),
        prefixes: Some(options.prefixes.unwrap_or(Prefixes::Default)),
        case_sensitive: options.case_sensitive,
        name: true,
    }
}

#[cfg(test)]
thread_local! {
    /// Off in the test that compares the shortcuts of [`Names::find`] with the plain search.
    static FAST_PATH: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Whether [`Names::find`] takes its shortcuts: always, but in the test that compares them with
/// the plain search.
#[cfg(test)]
fn fast_path() -> bool {
    FAST_PATH.with(std::cell::Cell::get)
}

#[cfg(not(test))]
const fn fast_path() -> bool {
    true
}

/// The name keywords of a matcher: their skeletons in one search.
#[derive(Debug, Default)]
pub struct Names {
    names: Vec<(usize, Name)>,
    search: Option<Search>,
    /// The same skeletons as one automaton over the folded text, while its table stays under
    /// [`DFA_BUDGET`]: what [`Names::find`] uses.
    scan: Option<Scan>,
    /// The skeletons searched for.
    skeletons: Vec<String>,
    /// For each pattern of the search: the index in `names`.
    patterns: Vec<usize>,
}

/// A name found: its keyword, and the folded spans of the name and of the whole token.
pub struct Found {
    pub keyword: usize,
    pub keyword_span: Range<usize>,
    pub token_span: Range<usize>,
}

impl Names {
    /// Adds keyword number `keyword` as a name; `false` (and nothing added) when it is strict.
    pub fn add(&mut self, keyword: usize, term: &str) -> bool {
        if strictness(term).is_some() {
            return false;
        }
        let Some(name) = Name::new(term) else {
            return false;
        };
        self.names.push((keyword, name));
        true
    }

    /// Builds the search once every name is added.
    pub fn build(&mut self) -> Result<(), aho_corasick::BuildError> {
        let mut texts = Vec::new();
        for (i, (_, name)) in self.names.iter().enumerate() {
            for skeleton in name.skeletons() {
                texts.push(skeleton);
                self.patterns.push(i);
            }
        }
        if !texts.is_empty() {
            self.search = Some(Search::new(&texts)?);
            self.scan = Scan::new(&texts, DFA_BUDGET);
        }
        self.skeletons = texts;
        Ok(())
    }

    /// Appends every name found in `folded` to `out`, by the end of its skeleton occurrence,
    /// the longer occurrence first, then by pattern. `words` are the word runs of
    /// `folded.text`, indexed here unless `indexed` says they already are, when the skeleton
    /// is searched as a whole (a watch list whose automaton is over budget).
    ///
    /// A name takes no suffix: its token's consonants end with the name's, so an occurrence
    /// that a consonant of its word follows is never accepted, and only occurrences at the end
    /// of a word's skeleton are verified.
    pub(super) fn find(
        &self,
        folded: &Folded,
        words: &mut super::Words,
        indexed: bool,
        out: &mut Vec<Found>,
    ) {
        thread_local! {
            static BUFFERS: RefCell<(Skeleton, Vec<Occurrence>, Vec<WordEnd>, Shape)> =
                RefCell::default();
        }
        BUFFERS.with(|cell| {
            let Ok(mut buffers) = cell.try_borrow_mut() else {
                return;
            };
            let (skeleton, occurrences, ends, shape) = &mut *buffers;
            match (&self.scan, &self.search) {
                (Some(scan), _) if fast_path() => {
                    let buffers = (skeleton, ends, shape);
                    self.find_at_word_ends(scan, &folded.text, buffers, out)
                }
                (_, Some(search)) => {
                    let buffers = (skeleton, occurrences, shape);
                    self.find_in_skeleton(search, folded, words, indexed, buffers, out)
                }
                (_, None) => {}
            }
        });
    }

    /// [`Names::find`] by the automaton over the folded text: each word it stops at is checked
    /// against the skeleton of the words before it, as far back as a name's token reaches.
    fn find_at_word_ends(
        &self,
        scan: &Scan,
        text: &str,
        (skeleton, ends, shape): (&mut Skeleton, &mut Vec<WordEnd>, &mut Shape),
        out: &mut Vec<Found>,
    ) {
        scan.word_ends(text, ends);
        for &word in ends.iter() {
            // A name of one word: its skeleton lies in this word's, so its token is the word.
            // A name of several: a window from a word's start, whose skeleton is the text's from
            // there on; an occurrence that starts before it has a token longer than a name's.
            let mut window = None;
            for &pattern in scan.patterns(word) {
                let pattern = pattern as usize;
                let skeleton_of_name = self.skeletons[pattern].as_bytes();
                if !skeleton_of_name.contains(&b' ') {
                    if let Some(start) = own_word_start(text, word.end) {
                        self.verify(pattern, (text, start..word.end), shape, out);
                    }
                    continue;
                }
                let from = *window.get_or_insert_with(|| {
                    let from = window_start(text, word.end);
                    skeleton.build(&text[from..word.end]);
                    from
                });
                let written = skeleton.text.as_bytes();
                let Some(first) = written.len().checked_sub(skeleton_of_name.len()) else {
                    continue;
                };
                if written[first..] != *skeleton_of_name {
                    continue;
                }
                let start = from + skeleton.starts[first] as usize;
                let token = word_start(text, from, start)..word.end;
                self.verify(pattern, (text, token), shape, out);
            }
        }
    }

    /// Appends the name of skeleton `pattern` to `out` if the folded `token` is one of its
    /// spellings after an allowed proclitic chain; `shape` is the buffer of the check.
    fn verify(
        &self,
        pattern: usize,
        (text, token): (&str, Range<usize>),
        shape: &mut Shape,
        out: &mut Vec<Found>,
    ) {
        // A name with its proclitics is a short word: a longer run (one word of thousands of
        // letters) is not checked, which keeps a field linear.
        if token.len() > MAX_NAME_TOKEN_BYTES {
            return;
        }
        let (keyword, name) = &self.names[self.patterns[pattern]];
        let Some(offset) = name.accepts(&text[token.clone()], shape) else {
            return;
        };
        let keyword_start = token.start + offset;
        out.push(Found {
            keyword: *keyword,
            keyword_span: keyword_start..token.end,
            token_span: token,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The first word start at or after `end - MAX_NAME_TOKEN_BYTES` (0 near the text's start):
/// a name's token that ends at `end` starts there or later.
fn window_start(text: &str, end: usize) -> usize {
    let Some(mut at) = end.checked_sub(MAX_NAME_TOKEN_BYTES) else {
        return 0;
    };
    while !text.is_char_boundary(at) {
        at += 1;
    }
    let mut rest = text[at..end].char_indices();
    let inside_a_word = text[..at].chars().next_back().is_some_and(is_word_char);
    let mut word = inside_a_word;
    for (i, c) in rest.by_ref() {
        match (word, is_word_char(c)) {
            (true, false) => word = false,
            (false, true) => return at + i,
            _ => {}
        }
    }
    end
}

/// The start of the word that ends at `end`, unless the word is longer than a name's token.
fn own_word_start(text: &str, end: usize) -> Option<usize> {
    let mut floor = end.saturating_sub(MAX_NAME_TOKEN_BYTES);
    while !text.is_char_boundary(floor) {
        floor += 1;
    }
    let start = word_start(text, floor, end);
    let longer = start == floor && text[..start].chars().next_back().is_some_and(is_word_char);
    (!longer).then_some(start)
}

/// The start of the word around byte `at` of `text`, looking no further back than `from`.
fn word_start(text: &str, from: usize, at: usize) -> usize {
    let mut start = at;
    for (i, c) in text[from..at].char_indices().rev() {
        if !is_word_char(c) {
            break;
        }
        start = from + i;
    }
    start
}

/// The frequent ordinary word that `name` would match, if any.
fn common_collision(name: &Name) -> Option<String> {
    common_index()
        .get(&name.shape.consonants.iter().collect::<String>())?
        .iter()
        .find(|word| {
            fold_str(word) != name.folded
                && name
                    .accepts(&fold_str(word), &mut Shape::default())
                    .is_some()
        })
        .cloned()
}

/// The common words by the consonant classes of each of their forms without a proclitic chain.
fn common_index() -> &'static HashMap<String, Vec<String>> {
    static INDEX: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: HashMap<String, Vec<String>> = HashMap::new();
        for word in COMMON_WORDS.lines().filter(|w| !w.is_empty()) {
            let folded = fold_str(word);
            let mut keys: Vec<String> = Vec::new();
            for (at, _) in folded.char_indices().take(5) {
                let rest = &folded[at..];
                for core in [Some(rest), rest.strip_prefix("ال"), rest.strip_prefix("لل")]
                    .into_iter()
                    .flatten()
                {
                    keys.push(Shape::of(core).consonants.iter().collect());
                }
            }
            keys.sort();
            keys.dedup();
            for key in keys {
                index.entry(key).or_default().push(word.to_owned());
            }
        }
        index
    })
}

/// The original words where `term`, as a name, is found in `text`.
#[cfg(test)]
fn spelled(text: &str, term: &str) -> Vec<String> {
    let mut names = Names::default();
    assert!(
        names.add(0, term),
        "{term} is strict: {:?}",
        strictness(term)
    );
    names.build().expect("builds");
    let folded = crate::text::fold(text);
    let mut words = super::Words::default();
    let mut out = Vec::new();
    names.find(&folded, &mut words, false, &mut out);
    out.iter()
        .map(|f| text[folded.original_range(f.token_span.clone())].to_owned())
        .collect()
}

mod scan;
mod skeleton;
mod spelling;
#[cfg(test)]
mod tests;
