//! Every occurrence of the automaton's patterns in folded text, overlapping ones included, in the
//! order an overlapping Aho-Corasick search reports them: by end, the longer first, then by
//! pattern number.
//!
//! A short watch list (at most [`MAX_ANCHORED`] patterns, each at least [`ANCHOR`] bytes long) is
//! searched by its *anchors*: from each pattern, the [`ANCHOR`] bytes with the rarest letters,
//! found together by a vectorised packed searcher (Teddy), each occurrence then checked against
//! the whole pattern. Arabic patterns start with the most common letters (the article ال, a
//! proclitic ل), so the automaton has to step through nearly every byte; the anchors let the
//! search skip the text between candidates. Longer lists use the automaton: a DFA while its
//! transition table stays under [`DFA_BUDGET`] bytes, else the crate's own choice.

use std::cmp::Reverse;

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, BuildError, MatchKind, Span};

/// The length of an anchor, in bytes: two Arabic letters.
pub(super) const ANCHOR: usize = 4;
/// The most patterns searched by their anchors (the packed searcher takes up to 64).
pub(super) const MAX_ANCHORED: usize = 64;
/// The most memory a DFA may take for a long watch list: about 2 MB for 1,000 Arabic keywords,
/// 18 MB for 10,000, where it searches twice as fast as the NFA.
pub(super) const DFA_BUDGET: usize = 32 << 20;

/// One occurrence of a pattern: its number and byte range in the folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Occurrence {
    pub pattern: usize,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug)]
pub(super) enum Search {
    Automaton(AhoCorasick),
    Anchored(Anchored),
}

#[derive(Debug)]
pub(super) struct Anchored {
    searcher: packed::Searcher,
    /// For each distinct anchor (in the searcher's order): the patterns it stands for, each with
    /// the anchor's offset in the pattern.
    owners: Vec<Vec<(usize, usize)>>,
    patterns: Vec<Vec<u8>>,
}

impl Search {
    pub(super) fn new(patterns: &[String]) -> Result<Search, BuildError> {
        if let Some(anchored) = Anchored::new(patterns) {
            return Ok(Search::Anchored(anchored));
        }
        Ok(Search::Automaton(automaton(patterns)?))
    }

    /// Appends every occurrence in `haystack` to `out` (cleared first), in the order above.
    pub(super) fn find(&self, haystack: &str, out: &mut Vec<Occurrence>) {
        out.clear();
        match self {
            Search::Automaton(automaton) => out.extend(
                automaton
                    .find_overlapping_iter(haystack)
                    .map(|m| Occurrence {
                        pattern: m.pattern().as_usize(),
                        start: m.start(),
                        end: m.end(),
                    }),
            ),
            Search::Anchored(anchored) => anchored.find(haystack.as_bytes(), out),
        }
    }
}

/// The automaton for `patterns`: the crate's choice for a few (a DFA up to 100 patterns), a DFA
/// within [`DFA_BUDGET`] for more, else the crate's choice (a contiguous NFA).
pub(super) fn automaton(patterns: &[String]) -> Result<AhoCorasick, BuildError> {
    let builder = || {
        let mut builder = AhoCorasickBuilder::new();
        builder.match_kind(MatchKind::Standard);
        builder
    };
    if patterns.len() > 100
        && let Ok(dfa) = builder().kind(Some(AhoCorasickKind::DFA)).build(patterns)
        && dfa.memory_usage() <= DFA_BUDGET
    {
        return Ok(dfa);
    }
    builder().build(patterns)
}

impl Anchored {
    fn new(patterns: &[String]) -> Option<Anchored> {
        if patterns.is_empty()
            || patterns.len() > MAX_ANCHORED
            || patterns.iter().any(|p| p.len() < ANCHOR)
        {
            return None;
        }
        let mut anchors: Vec<&[u8]> = Vec::new();
        let mut owners: Vec<Vec<(usize, usize)>> = Vec::new();
        for (number, pattern) in patterns.iter().enumerate() {
            let offset = rarest_window(pattern);
            let anchor = &pattern.as_bytes()[offset..offset + ANCHOR];
            match anchors.iter().position(|a| *a == anchor) {
                Some(i) => owners[i].push((number, offset)),
                None => {
                    anchors.push(anchor);
                    owners.push(vec![(number, offset)]);
                }
            }
        }
        // Anchors are distinct and equally long: at most one starts at any byte, so a
        // leftmost-first search restarted one byte after each anchor found finds them all.
        let searcher = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&anchors)
            .build()?;
        Some(Anchored {
            searcher,
            owners,
            patterns: patterns.iter().map(|p| p.as_bytes().to_vec()).collect(),
        })
    }

    fn find(&self, haystack: &[u8], out: &mut Vec<Occurrence>) {
        let mut at = 0;
        while at < haystack.len() {
            let Some(found) = self
                .searcher
                .find_in(haystack, Span::from(at..haystack.len()))
            else {
                break;
            };
            for &(pattern, offset) in &self.owners[found.pattern().as_usize()] {
                let bytes = &self.patterns[pattern];
                let Some(start) = found.start().checked_sub(offset) else {
                    continue;
                };
                if haystack.get(start..start + bytes.len()) == Some(bytes.as_slice()) {
                    out.push(Occurrence {
                        pattern,
                        start,
                        end: start + bytes.len(),
                    });
                }
            }
            at = found.start() + 1;
        }
        // Found by where their anchors are: put them in the automaton's order (nearly sorted
        // already, which the stable sort finds in one pass; the keys are distinct).
        out.sort_by_key(|o| (o.end, Reverse(o.end - o.start), o.pattern));
    }
}

/// Where in `pattern` the [`ANCHOR`] bytes with the rarest characters start (on character
/// boundaries where the pattern has such a window, else at its start).
fn rarest_window(pattern: &str) -> usize {
    let mut best = (0, 0);
    for (start, _) in pattern.char_indices() {
        let Some(window) = pattern.get(start..start + ANCHOR) else {
            continue;
        };
        let score: u32 = window.chars().map(rarity).sum();
        if score > best.1 {
            best = (start, score);
        }
    }
    best.0
}

/// How rare a folded character is in news text, roughly: Arabic letters by their frequency, the
/// commonest (ا ل ي م و ن) lowest; the space lowest of all.
fn rarity(c: char) -> u32 {
    const BY_FREQUENCY: &str = "اليمنوهرتبعدسفكقحجشصطزخضغثذظء";
    match BY_FREQUENCY.chars().position(|f| f == c) {
        Some(rank) => 10 + rank as u32,
        None if c == ' ' => 0,
        None if c.is_ascii_alphanumeric() => 20,
        None => 45,
    }
}
