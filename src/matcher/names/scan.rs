//! The name skeletons found in folded text in one pass, without writing the skeleton out: an
//! Aho-Corasick automaton over skeleton codes whose table also does what building the skeleton
//! does (a vowel letter left out, a letter after one of its class once, a word's final ه
//! dropped), and that stops only where a word whose skeleton ends with a name's skeleton ends.
//!
//! A name takes no suffix, so only a skeleton occurrence at the end of its word can be a name
//! (see [`super::Names::find`]): the table flags the space after such a word, and everything
//! else is one table step per character.

use std::collections::VecDeque;

use super::skeleton::{ARABIC_CODES, ASCII_CODES, HEH, VOWEL, char_code};

/// The symbols of the automaton's alphabet that every table has; the codes of the patterns'
/// other letters follow them.
const VOWEL_SYMBOL: u8 = 0;
const SPACE_SYMBOL: u8 = 1;
const HEH_SYMBOL: u8 = 2;
/// A letter that no pattern contains.
const OTHER_SYMBOL: u8 = 3;
const FIXED_SYMBOLS: usize = 4;

/// The flag of a table entry: the step leaves a word whose skeleton ends with a pattern.
const WORD_END: u32 = 1 << 31;
const NONE: u32 = u32::MAX;

/// A word whose skeleton ends with one or more patterns.
#[derive(Debug, Clone, Copy)]
pub(super) struct WordEnd {
    /// The folded byte offset where the word ends.
    pub end: usize,
    /// The automaton state there: its patterns are [`Scan::patterns_at`].
    state: u32,
}

/// The automaton of a list of skeleton patterns.
#[derive(Debug)]
pub(super) struct Scan {
    /// `table[state + symbol]`, states premultiplied by `symbols`: the next state, with
    /// [`WORD_END`]. States `0..states` are the automaton's; `states..2 * states` the same
    /// with a ه read but not yet kept (it is dropped if the word ends there).
    table: Vec<u32>,
    symbols: u32,
    states: u32,
    /// The symbol of each ASCII byte, of each character of U+0600–067F (by its low seven
    /// bits), and of each skeleton code.
    ascii: [u8; 128],
    arabic: [u8; 128],
    codes: [u8; 128],
    /// For each state: the patterns that end there, the longer first, then by number (the
    /// order of [`crate::matcher::search::Search`]).
    patterns: Vec<Vec<u32>>,
}

impl Scan {
    /// The automaton of `patterns` (skeletons: codes below 0x80, no leading or trailing
    /// space), or `None` when its table would take more than `budget` bytes.
    pub(super) fn new(patterns: &[String], budget: usize) -> Option<Scan> {
        let mut codes = [OTHER_SYMBOL; 128];
        codes[usize::from(VOWEL)] = VOWEL_SYMBOL;
        codes[usize::from(b' ')] = SPACE_SYMBOL;
        codes[usize::from(HEH)] = HEH_SYMBOL;
        let mut symbols = FIXED_SYMBOLS;
        for &b in patterns.iter().flat_map(|p| p.as_bytes()) {
            let code = codes.get_mut(usize::from(b))?;
            if *code == OTHER_SYMBOL {
                *code = u8::try_from(symbols).ok()?;
                symbols += 1;
            }
        }
        let most_states = 1 + patterns.iter().map(String::len).sum::<usize>();
        if most_states.checked_mul(2 * symbols * size_of::<u32>())? > budget {
            return None;
        }
        let trie = Trie::new(patterns, &codes, symbols);
        let symbol = |b: u8| codes[usize::from(b)];
        let mut ascii = [0; 128];
        let mut arabic = [0; 128];
        for (low, s) in ascii.iter_mut().enumerate() {
            *s = symbol(ASCII_CODES[low]);
        }
        for (low, s) in arabic.iter_mut().enumerate() {
            *s = symbol(ARABIC_CODES[low]);
        }
        Some(trie.into_scan(ascii, arabic, codes))
    }

    /// Appends to `out` every word of `text` whose skeleton ends with a pattern, in order.
    pub(super) fn word_ends(&self, text: &str, out: &mut Vec<WordEnd>) {
        out.clear();
        let bytes = text.as_bytes();
        let table = self.table.as_slice();
        let mut state = 0u32;
        let mut at = 0;
        while at < bytes.len() {
            let start = at;
            let b = bytes[at];
            let symbol = if b < 0x80 {
                at += 1;
                self.ascii[usize::from(b)]
            } else if b & 0xFE == 0xD8 {
                // U+0600–067F: two bytes, D8 or D9 first.
                let low = usize::from(b & 0x01) << 6 | usize::from(bytes[at + 1] & 0x3F);
                at += 2;
                self.arabic[low]
            } else {
                let c = text[at..].chars().next().expect("at a character boundary");
                at += c.len_utf8();
                self.codes[usize::from(char_code(c))]
            };
            let entry = table[(state + u32::from(symbol)) as usize];
            if entry & WORD_END != 0 {
                out.push(WordEnd { end: start, state });
            }
            state = entry & !WORD_END;
        }
        // The text's end ends its last word (and drops a ه read last).
        if !self.patterns_at(state).is_empty() {
            out.push(WordEnd {
                end: bytes.len(),
                state,
            });
        }
    }

    /// The patterns that end where `word` ends, the longer first, then by number.
    pub(super) fn patterns(&self, word: WordEnd) -> &[u32] {
        self.patterns_at(word.state)
    }

    fn patterns_at(&self, state: u32) -> &[u32] {
        &self.patterns[((state / self.symbols) % self.states) as usize]
    }
}

/// The patterns' trie, completed into the automaton's transitions.
struct Trie {
    /// `next[state * symbols + symbol]`.
    next: Vec<u32>,
    symbols: usize,
    /// The symbol on the edge into each state (the root's is never compared).
    label: Vec<u8>,
    patterns: Vec<Vec<u32>>,
}

impl Trie {
    fn new(patterns: &[String], codes: &[u8; 128], symbols: usize) -> Trie {
        let mut trie = Trie {
            next: vec![NONE; symbols],
            symbols,
            label: vec![u8::MAX],
            patterns: vec![Vec::new()],
        };
        for (number, pattern) in patterns.iter().enumerate() {
            let mut state = 0;
            for &b in pattern.as_bytes() {
                let symbol = codes[usize::from(b)];
                let slot = state * symbols + usize::from(symbol);
                state = match trie.next[slot] {
                    NONE => {
                        let new = trie.label.len();
                        trie.next[slot] = new as u32;
                        trie.next.extend(std::iter::repeat_n(NONE, symbols));
                        trie.label.push(symbol);
                        trie.patterns.push(Vec::new());
                        new
                    }
                    next => next as usize,
                };
            }
            trie.patterns[state].push(number as u32);
        }
        // Failure links, breadth first: each state's missing transitions are its failure
        // state's, and its patterns include the failure state's (shorter suffixes).
        let mut queue = VecDeque::new();
        for slot in 0..symbols {
            match trie.next[slot] {
                NONE => trie.next[slot] = 0,
                child => queue.push_back((child as usize, 0usize)),
            }
        }
        while let Some((state, fail)) = queue.pop_front() {
            let inherited = trie.patterns[fail].clone();
            trie.patterns[state].extend(inherited);
            for symbol in 0..symbols {
                let slot = state * symbols + symbol;
                let fallback = trie.next[fail * symbols + symbol];
                match trie.next[slot] {
                    NONE => trie.next[slot] = fallback,
                    child => queue.push_back((child as usize, fallback as usize)),
                }
            }
        }
        for list in &mut trie.patterns {
            list.sort_by_key(|&p| (std::cmp::Reverse(patterns[p as usize].len()), p));
        }
        trie
    }

    fn go(&self, state: usize, symbol: u8) -> usize {
        self.next[state * self.symbols + usize::from(symbol)] as usize
    }

    /// The table: for a state and a pending ه or not, what each symbol does to the skeleton
    /// (see [`super::skeleton::Skeleton::build`]) and so to the automaton.
    fn into_scan(self, ascii: [u8; 128], arabic: [u8; 128], codes: [u8; 128]) -> Scan {
        let states = self.label.len();
        let symbols = self.symbols;
        // The skeleton's last letter is the label of a state other than the root; at the root
        // it is none of the patterns' first letters, and writing it again leaves the root.
        let repeated = |state: usize, symbol: u8| state != 0 && self.label[state] == symbol;
        let entry =
            |to: usize, word_end: bool| (to * symbols) as u32 | if word_end { WORD_END } else { 0 };
        let mut table = vec![0u32; 2 * states * symbols];
        for state in 0..states {
            let pending = states + state;
            for symbol in 0..symbols as u8 {
                let ends_word = !self.patterns[state].is_empty();
                let kept = match symbol {
                    VOWEL_SYMBOL => entry(state, false),
                    _ if repeated(state, symbol) => entry(state, false),
                    HEH_SYMBOL => entry(pending, false),
                    SPACE_SYMBOL => entry(self.go(state, symbol), ends_word),
                    _ => entry(self.go(state, symbol), false),
                };
                // A ه read last: a vowel or another ه keeps it (the second is the same letter
                // again), the end of the word drops it, another letter keeps it and follows it.
                let with_heh = self.go(state, HEH_SYMBOL);
                let after_heh = match symbol {
                    VOWEL_SYMBOL | HEH_SYMBOL => entry(with_heh, false),
                    SPACE_SYMBOL if repeated(state, symbol) => entry(state, false),
                    SPACE_SYMBOL => entry(self.go(state, symbol), ends_word),
                    _ => entry(self.go(with_heh, symbol), false),
                };
                table[state * symbols + usize::from(symbol)] = kept;
                table[pending * symbols + usize::from(symbol)] = after_heh;
            }
        }
        Scan {
            table,
            symbols: symbols as u32,
            states: states as u32,
            ascii,
            arabic,
            codes,
            patterns: self.patterns,
        }
    }
}
