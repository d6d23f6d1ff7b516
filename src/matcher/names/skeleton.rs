//! The skeleton of folded text written out (consonant classes, vowels left out, one space
//! between words) and its plain search: the fallback of a watch list too large for the
//! automaton, and the reference that the automaton is tested against.

use std::ops::Range;

use super::super::search::{Occurrence, Search};
use super::spelling::{Shape, class};
use super::{Found, Names, fast_path};
use crate::text::{Folded, is_word_char};

/// The skeleton of folded text: consonant classes, one space between words.
pub(super) fn skeleton_str(folded: &str) -> String {
    let mut out = Skeleton::default();
    out.build(folded);
    out.text
}

/// A folded text's skeleton: one ASCII byte per consonant class (the class letter's offset in
/// the Arabic block; 0x7F for a letter or digit of another script), vowels left out, a letter
/// after one of its class written once, one space between words; with the folded offset of each
/// byte's letter. One byte per class keeps the pass over every field short.
#[derive(Default)]
pub(super) struct Skeleton {
    pub(super) text: String,
    /// For each byte of `text`: where its letter (or the gap) starts in the folded text.
    pub(super) starts: Vec<u32>,
}

/// A vowel letter in the skeleton's codes: left out.
pub(super) const VOWEL: u8 = 0;
/// The code of ه.
pub(super) const HEH: u8 = 0x47;

/// The skeleton code of a folded character: its class letter's offset in the Arabic block, 0x7F
/// for a letter or digit of another script, a space for anything else, [`VOWEL`] for a vowel.
pub(super) fn char_code(c: char) -> u8 {
    if !is_word_char(c) {
        return b' ';
    }
    match class(c, false) {
        None => VOWEL,
        Some(k @ '\u{0621}'..='\u{064A}') => (k as u32 - 0x0600) as u8,
        Some(_) => 0x7F,
    }
}

/// [`char_code`] of the ASCII characters.
pub(super) static ASCII_CODES: [u8; 128] = {
    let mut codes = [b' '; 128];
    let mut b = 0;
    while b < 128 {
        if (b as u8).is_ascii_alphanumeric() {
            codes[b] = 0x7F;
        }
        b += 1;
    }
    codes
};

/// [`char_code`] of U+0600–067F, by the low seven bits of the code point: computed once (a
/// table lookup per letter instead of the class match).
pub(super) static ARABIC_CODES: std::sync::LazyLock<[u8; 128]> = std::sync::LazyLock::new(|| {
    let mut codes = [b' '; 128];
    for (low, code) in codes.iter_mut().enumerate() {
        if let Some(c) = char::from_u32(0x0600 + low as u32) {
            *code = char_code(c);
        }
    }
    codes
});

impl Skeleton {
    pub(super) fn build(&mut self, folded: &str) {
        let mut bytes = std::mem::take(&mut self.text).into_bytes();
        bytes.clear();
        self.starts.clear();
        let input = folded.as_bytes();
        let mut last = 0u8;
        // Where a ه was written: it is dropped if the word ends there (the ending ة or ه).
        let mut heh: Option<usize> = None;
        let arabic_codes: &[u8; 128] = &ARABIC_CODES;
        bytes.reserve(input.len() / 3);
        self.starts.reserve(input.len() / 3);
        let mut at = 0;
        while at < input.len() {
            // The Arabic letters (two bytes, D8 or D9 first) and ASCII by table; the rest, rare
            // in Arabic news, through `char`.
            let (code, len) = match input[at] {
                b @ 0..=0x7F => (ASCII_CODES[usize::from(b)], 1),
                lead @ (0xD8 | 0xD9) => {
                    let low = usize::from(lead & 0x01) << 6 | usize::from(input[at + 1] & 0x3F);
                    (arabic_codes[low], 2)
                }
                _ => {
                    let c = folded[at..]
                        .chars()
                        .next()
                        .expect("at a character boundary");
                    (char_code(c), c.len_utf8())
                }
            };
            let start = at;
            at += len;
            if code == VOWEL {
                heh = None;
                continue;
            }
            if code == b' '
                && let Some(len) = heh.take()
            {
                bytes.truncate(len);
                self.starts.truncate(len);
                last = bytes.last().copied().unwrap_or(0);
            }
            if code == last {
                // ه doubled at a word's end is a letter and its ending (وجهه): kept.
                if code == HEH {
                    heh = None;
                }
                continue;
            }
            if code == b' ' && bytes.is_empty() {
                continue;
            }
            heh = (code == HEH).then_some(bytes.len());
            last = code;
            bytes.push(code);
            self.starts.push(start as u32);
        }
        if let Some(len) = heh {
            bytes.truncate(len);
            self.starts.truncate(len);
        }
        self.text = String::from_utf8(bytes).expect("the skeleton is ASCII");
    }

    /// The folded range of the letters of skeleton bytes `range`.
    pub(super) fn folded_range(&self, folded: &str, range: Range<usize>) -> Range<usize> {
        let start = self.starts[range.start] as usize;
        let last = self.starts[range.end - 1] as usize;
        let end = last + folded[last..].chars().next().map_or(0, char::len_utf8);
        start..end
    }
}

impl Names {
    /// [`Names::find`] by the skeleton of the whole text, searched as one string.
    pub(super) fn find_in_skeleton(
        &self,
        search: &Search,
        folded: &Folded,
        words: &mut super::super::Words,
        mut indexed: bool,
        (skeleton, occurrences, shape): (&mut Skeleton, &mut Vec<Occurrence>, &mut Shape),
        out: &mut Vec<Found>,
    ) {
        skeleton.build(&folded.text);
        search.find(&skeleton.text, occurrences);
        let text = folded.text.as_str();
        for m in occurrences.iter() {
            // The search is overlapping, so the occurrence at the word's end is reported as
            // well: one that a consonant of its word follows is skipped (but in the test that
            // compares this shortcut with the plain search).
            if fast_path()
                && skeleton
                    .text
                    .as_bytes()
                    .get(m.end)
                    .is_some_and(|b| *b != b' ')
            {
                continue;
            }
            if !indexed {
                words.index(text);
                indexed = true;
            }
            let Range { start, end } = skeleton.folded_range(text, m.start..m.end);
            let token = words.start_before(start)..words.end_after(end);
            self.verify(m.pattern, (text, token), shape, out);
        }
    }
}
