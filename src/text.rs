//! Folding of Arabic and Latin text so that spelling variants meet, with a map from every folded
//! byte back to the original text. Pure: no I/O.
//!
//! One function folds keywords and the text they are searched in (policy:
//! `shared/reference/arabic-matching.md` §5.1), character by character:
//! - format characters (ZWNJ, ZWJ, bidi marks, BOM, soft hyphen) and isolated haraka forms
//!   (U+FE70–FE7F) are deleted, without touching neighbouring spaces;
//! - other characters take their compatibility decomposition (NFKD): presentation forms,
//!   lam-alef, ﷲ and fullwidth forms expand; every combining mark (harakat, superscript alef,
//!   Quranic marks, Latin accents) and tatweel is deleted; a hamza mark after و or ي composes
//!   into ء, as the precomposed ؤ and ئ do;
//! - `أ إ آ ٱ ٲ ٳ` → `ا`, `ى ی ے ې` → `ي`, `ک ڪ` → `ك`, `ة ۃ` → `ه` (remembering that it was
//!   ة), `ۀ ہ ە ھ` → `ه`, `ؤ ئ` → `ء`;
//! - every decimal digit → ASCII; letters are lower-cased;
//! - every run of whitespace and *gap* characters (quotes, brackets, dashes, underscore) becomes
//!   one space: they separate words alike, and multi-word keywords may span any of them.
//!
//! The folded text keeps, for each byte, where it came from in the original, so that a hit maps
//! back to the exact original letters, diacritics and kashida included.

use std::ops::Range;

use icu_normalizer::DecomposingNormalizerBorrowed;

/// Folded text, with a map back to the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub text: String,
    /// Where the folded text came from, as segments in folded order. Most characters fold to a
    /// character of the same length, so long stretches map byte for byte and need one segment;
    /// a new one starts only where that stops (a deleted mark, a collapsed space, a digit).
    segments: Vec<Segment>,
    /// Folded byte offsets of the `ه` that were `ة`, in order.
    teh_marbuta: Vec<u32>,
    original_len: u32,
}

/// A stretch of folded text and where it starts in the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    folded: u32,
    original: u32,
    /// Byte for byte (`true`), or all from the one character at `original` (an expansion or a
    /// change of length).
    linear: bool,
}

impl Folded {
    /// Maps a non-empty byte range of the folded text (on character boundaries) back to the
    /// original text. The range ends where the next kept character starts, so the marks, tatweel
    /// and format characters deleted after the last letter are included.
    pub fn original_range(&self, range: Range<usize>) -> Range<usize> {
        debug_assert!(range.start < range.end && range.end <= self.text.len());
        // One binary search; the range's other ends lie in the same or the next few segments.
        let first = self.segment_of(range.start);
        let start = self.map(first, range.start);
        let last_index = self.segment_from(first, range.end - 1);
        let last = self.map(last_index, range.end - 1);
        // The first kept character after the range; the rest of an expansion (ﻻ → لا) shares
        // its source character with the range's last byte and is skipped.
        let index = self.segment_from(last_index, range.end);
        let mut end = if range.end < self.text.len() {
            self.map(index, range.end)
        } else {
            self.original_len
        };
        let mut next = index + 1;
        while end <= last {
            end = self
                .segments
                .get(next)
                .map_or(self.original_len, |s| s.original);
            next += 1;
        }
        start as usize..end as usize
    }

    /// Whether the folded character at byte `at` is a `ه` that was written `ة`.
    pub fn was_teh_marbuta(&self, at: usize) -> bool {
        u32::try_from(at).is_ok_and(|at| self.teh_marbuta.binary_search(&at).is_ok())
    }

    fn segment_of(&self, at: usize) -> usize {
        self.segments
            .partition_point(|s| s.folded as usize <= at)
            .saturating_sub(1)
    }

    /// `segment_of(at)`, searched forward from segment `from`, one at or before it.
    fn segment_from(&self, from: usize, at: usize) -> usize {
        let mut index = from;
        while self
            .segments
            .get(index + 1)
            .is_some_and(|s| s.folded as usize <= at)
        {
            index += 1;
        }
        index
    }

    fn map(&self, index: usize, at: usize) -> u32 {
        match self.segments.get(index) {
            Some(s) if s.linear => s.original + (at as u32 - s.folded),
            Some(s) => s.original,
            None => self.original_len,
        }
    }
}

/// What one source character becomes.
#[derive(Clone, Copy)]
enum Fold {
    Keep(char),
    /// A `ه` that was `ة`.
    TehMarbuta,
    Delete,
    /// Hamza above or below: deleted, but turns a preceding و or ي into ء.
    HamzaMark,
    /// Whitespace or a gap character: one space per run.
    Gap,
    /// Needs the compatibility decomposition (rare characters).
    Decompose,
}

/// Folds `input` (see the module documentation).
pub fn fold(input: &str) -> Folded {
    let mut folded = Folded::new();
    folded.refold(input);
    folded
}

/// Folds `input` and returns only the text; for keywords, fingerprints and tests. The same text
/// as `fold(input).text`, without building the map.
pub fn fold_str(input: &str) -> String {
    let mut text = String::with_capacity(input.len());
    fold_with(input, &mut text, &mut NoMap);
    text
}

impl Folded {
    /// An empty text, to be filled by [`Folded::refold`].
    pub fn new() -> Folded {
        Folded {
            text: String::new(),
            segments: Vec::new(),
            teh_marbuta: Vec::new(),
            original_len: 0,
        }
    }

    /// Folds `input` into `self`, reusing its buffers: the result equals `fold(input)`.
    pub fn refold(&mut self, input: &str) {
        assert!(
            u32::try_from(input.len()).is_ok(),
            "texts are far below 4 GiB"
        );
        self.text.clear();
        self.text.reserve(input.len());
        self.segments.clear();
        self.teh_marbuta.clear();
        self.original_len = input.len() as u32;
        let mut map = Map {
            segments: &mut self.segments,
            teh_marbuta: &mut self.teh_marbuta,
        };
        fold_with(input, &mut self.text, &mut map);
    }
}

impl Default for Folded {
    fn default() -> Folded {
        Folded::new()
    }
}

/// Where the folding loop reports where folded text comes from: the map of [`Folded`], or
/// nowhere when only the text is wanted.
trait Sink {
    /// The folded text about to be appended at `folded` comes from `original`, byte for byte
    /// (`linear`) or all from the one character there.
    fn note(&mut self, folded: u32, original: u32, linear: bool);
    /// The `ه` about to be appended at `folded` was `ة`.
    fn teh_marbuta(&mut self, folded: u32);
}

struct NoMap;

impl Sink for NoMap {
    #[inline(always)]
    fn note(&mut self, _: u32, _: u32, _: bool) {}
    #[inline(always)]
    fn teh_marbuta(&mut self, _: u32) {}
}

struct Map<'a> {
    segments: &'a mut Vec<Segment>,
    teh_marbuta: &'a mut Vec<u32>,
}

impl Sink for Map<'_> {
    /// Starts a new segment unless the text about to be appended continues the last one.
    #[inline]
    fn note(&mut self, folded: u32, original: u32, linear: bool) {
        if let Some(last) = self.segments.last()
            && linear
            && last.linear
            && original.wrapping_sub(last.original) == folded.wrapping_sub(last.folded)
        {
            return;
        }
        self.segments.push(Segment {
            folded,
            original,
            linear,
        });
    }

    #[inline]
    fn teh_marbuta(&mut self, folded: u32) {
        self.teh_marbuta.push(folded);
    }
}

/// What the folding loop does with a character: copy it (`SAME`), put another character of the
/// same length in its place (`SWAP`), or leave it to [`Out::apply`] (`OTHER`). `SPACE` and `GAP`
/// are the ASCII space and other ASCII gap characters (one space per run), `TEH` is ة (swapped
/// for ه and remembered), `ARABIC_LEAD` the lead byte of U+0600–06FF (see [`ARABIC_KIND`]).
const SAME: u8 = 0;
const SWAP: u8 = 1;
const SPACE: u8 = 2;
const GAP: u8 = 3;
const TEH: u8 = 4;
const ARABIC_LEAD: u8 = 5;
const OTHER: u8 = 6;

/// The kind of each byte that can start a character. ASCII bytes are whole characters; the lead
/// bytes of U+0600–06FF are `ARABIC_LEAD`; every other lead byte is `OTHER`.
const LEAD: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut i = 0;
    while i < 128 {
        table[i] = match classify(i as u8 as char) {
            Fold::Keep(c) if c as usize == i => SAME,
            // ASCII characters keep to ASCII: a swap keeps the length.
            Fold::Keep(_) => SWAP,
            Fold::Gap if i == b' ' as usize => SPACE,
            Fold::Gap => GAP,
            _ => OTHER,
        };
        i += 1;
    }
    let mut lead = 0xD8;
    while lead <= 0xDB {
        table[lead] = ARABIC_LEAD;
        lead += 1;
    }
    table
};

/// The kind of each character of the Arabic block: `SAME`, `SWAP` (for a two-byte character),
/// `TEH` or `OTHER`.
const ARABIC_KIND: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match (ARABIC[i], char::from_u32(0x0600 + i as u32)) {
            (Fold::Keep(c), Some(ch)) if c as u32 == ch as u32 => SAME,
            (Fold::Keep(c), Some(_)) if c.len_utf8() == 2 => SWAP,
            (Fold::TehMarbuta, Some(_)) => TEH,
            _ => OTHER,
        };
        i += 1;
    }
    table
};

/// For a byte and the one before it (the high byte), whether the byte may stay in a run of
/// characters that fold to themselves: an ASCII character that folds to itself; a space after
/// anything but a space; the lead byte of U+0600–06FF (its second byte decides); the second byte
/// of a character of U+0600–06FF that folds to itself. Stepping byte by byte, the loop does not
/// wait for each character's length, so it runs as fast as the bytes load.
static KEEPS: [bool; 1 << 16] = {
    let mut table = [false; 1 << 16];
    let mut previous = 0;
    while previous < 256 {
        let mut byte = 0;
        while byte < 256 {
            table[(previous << 8) | byte] = match LEAD[byte] {
                SAME => true,
                SPACE => previous != b' ' as usize,
                ARABIC_LEAD => true,
                _ => {
                    byte & 0xC0 == 0x80
                        && LEAD[previous] == ARABIC_LEAD
                        && ARABIC_KIND[arabic_index(previous as u8, byte as u8)] == SAME
                }
            };
            byte += 1;
        }
        previous += 1;
    }
    table
};

/// The folding loop: appends the folding of `input` to `text` and reports the map to `sink`.
///
/// Characters that fold to themselves are copied in runs, and characters that fold to another of
/// the same length are swapped in place of one; both keep the map byte for byte, so while the
/// map's last segment is known to reach the current position (`aligned`), they do not consult
/// it. Everything else goes through [`Out::apply`], as [`classify`] says.
fn fold_with<S: Sink>(input: &str, text: &mut String, sink: &mut S) {
    let mut out = Out {
        text,
        sink,
        in_gap: false,
    };
    let bytes = input.as_bytes();
    // The run of characters that fold to themselves, not yet copied, starts at `run`.
    let mut run = 0;
    let mut at = 0;
    // Whether the map's last segment is byte for byte and reaches `run` (and the end of the
    // folded text): then text copied or swapped there continues it.
    let mut aligned = false;
    loop {
        // The tight loop: skip what folds to itself, one byte at a time (see `KEEPS`). `previous`
        // stands for the byte before: a space there when the folded text ends with one.
        let from = at;
        let mut previous = if out.in_gap { b' ' } else { 0 };
        // Four bytes a step while all four stay, then byte by byte to where the run ends.
        while let Some(&[a, b, c, d]) = bytes.get(at..at + 4) {
            let keep = |previous: u8, byte: u8| KEEPS[((previous as usize) << 8) | byte as usize];
            if !(keep(previous, a) & keep(a, b) & keep(b, c) & keep(c, d)) {
                break;
            }
            previous = d;
            at += 4;
        }
        while at < bytes.len() {
            let byte = bytes[at];
            if !KEEPS[((previous as usize) << 8) | byte as usize] {
                break;
            }
            previous = byte;
            at += 1;
        }
        // Stopped on the second byte of a two-byte character: the character starts before.
        if at < bytes.len() && bytes[at] & 0xC0 == 0x80 && at > from {
            at -= 1;
        }
        let in_gap = if at > from {
            bytes[at - 1] == b' '
        } else {
            out.in_gap
        };
        out.in_gap = in_gap;
        if at >= bytes.len() {
            break;
        }
        let byte = bytes[at];
        // The character's kind, length (0: decode it) and folding.
        let (kind, len, fold) = match LEAD[byte as usize] {
            ARABIC_LEAD if at + 1 < bytes.len() => {
                let index = arabic_index(byte, bytes[at + 1]);
                (ARABIC_KIND[index], 2, ARABIC[index])
            }
            kind if byte < 0x80 => (kind, 1, ASCII[byte as usize]),
            _ => (OTHER, 0, Fold::Decompose),
        };
        out.copy_run(input, run..at, &mut aligned);
        let swap = match (kind, fold) {
            (SWAP, Fold::Keep(c)) => Some(c),
            (TEH, _) => {
                out.sink.teh_marbuta(out.text.len() as u32);
                Some('ه')
            }
            (GAP, _) if !out.in_gap => Some(' '),
            _ => None,
        };
        if let Some(c) = swap {
            if !aligned {
                out.note(at as u32, true);
                aligned = true;
            }
            out.in_gap = c == ' ';
            out.text.push(c);
            at += len;
            run = at;
            continue;
        }
        // Everything else may change the length or delete: the map is consulted again.
        aligned = false;
        let start = at as u32;
        if len > 0 {
            let ch = input[at..at + len]
                .chars()
                .next()
                .expect("`at` is on a character boundary");
            out.apply(fold, ch, start);
            at += len;
            run = at;
            continue;
        }
        let ch = input[at..]
            .chars()
            .next()
            .expect("`at` is on a character boundary");
        at += ch.len_utf8();
        run = at;
        match classify(ch) {
            Fold::Decompose => {
                let nfkd = DecomposingNormalizerBorrowed::new_nfkd();
                // The parts are base characters and marks: none needs decomposing again.
                for part in nfkd.normalize_iter(std::iter::once(ch)) {
                    out.apply_part(classify(part), part, start);
                }
            }
            other => out.apply(other, ch, start),
        }
    }
    out.copy_run(input, run..bytes.len(), &mut aligned);
}

/// The index in U+0600–06FF of the two-byte character `lead`, `next` (110110xx 10yyyyyy).
#[inline(always)]
const fn arabic_index(lead: u8, next: u8) -> usize {
    (((lead & 0x03) as usize) << 6) | (next & 0x3F) as usize
}

struct Out<'a, S> {
    text: &'a mut String,
    sink: &'a mut S,
    in_gap: bool,
}

impl<S: Sink> Out<'_, S> {
    /// Copies a run of characters that fold to themselves (ASCII or two-byte Arabic only);
    /// `aligned` as in [`fold_with`].
    #[inline]
    fn copy_run(&mut self, input: &str, run: Range<usize>, aligned: &mut bool) {
        if run.is_empty() {
            return;
        }
        if !*aligned {
            self.note(run.start as u32, true);
            *aligned = true;
        }
        self.text.push_str(&input[run]);
    }

    #[inline]
    fn apply(&mut self, fold: Fold, ch: char, start: u32) {
        let same_length = |c: char| c.len_utf8() == ch.len_utf8();
        match fold {
            Fold::Keep(c) => self.push(c, start, same_length(c)),
            Fold::TehMarbuta => {
                self.sink.teh_marbuta(self.text.len() as u32);
                self.push('ه', start, same_length('ه'));
            }
            Fold::Delete => {}
            Fold::HamzaMark => {
                // و + U+0654 is ؤ, ي + U+0654 is ئ: both fold to ء. The three are 2 bytes long.
                let text = &mut *self.text;
                if text.ends_with(['و', 'ي']) {
                    text.truncate(text.len() - 2);
                    text.push('ء');
                }
            }
            Fold::Gap if self.in_gap => {}
            Fold::Gap => self.push(' ', start, same_length(' ')),
            Fold::Decompose => {
                let mut lower = ch.to_lowercase();
                let linear = lower.len() == 1;
                for c in lower.by_ref() {
                    self.push(c, start, linear && same_length(c));
                }
            }
        }
    }

    /// Like `apply`, for one part of a decomposed character: its output never maps byte for byte.
    fn apply_part(&mut self, fold: Fold, part: char, start: u32) {
        match fold {
            Fold::Keep(c) => self.push(c, start, false),
            Fold::TehMarbuta => {
                self.sink.teh_marbuta(self.text.len() as u32);
                self.push('ه', start, false);
            }
            Fold::Gap if !self.in_gap => self.push(' ', start, false),
            Fold::Decompose => {
                for c in part.to_lowercase() {
                    self.push(c, start, false);
                }
            }
            other => self.apply(other, part, start),
        }
    }

    /// Appends `c`, which came from the source character at `start`; `linear` when it is as
    /// long as that character (so the map stays byte for byte).
    #[inline]
    fn push(&mut self, c: char, start: u32, linear: bool) {
        self.in_gap = c == ' ';
        self.note(start, linear);
        self.text.push(c);
    }

    #[inline]
    fn note(&mut self, original: u32, linear: bool) {
        self.sink.note(self.text.len() as u32, original, linear);
    }
}

/// How each ASCII character folds, computed once at compile time.
const ASCII: [Fold; 128] = {
    let mut table = [Fold::Delete; 128];
    let mut i = 0;
    while i < 128 {
        table[i] = classify(i as u8 as char);
        i += 1;
    }
    table
};

/// How each character of the Arabic block folds, computed once at compile time.
const ARABIC: [Fold; 256] = {
    let mut table = [Fold::Delete; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match char::from_u32(0x0600 + i as u32) {
            Some(c) => arabic(c),
            None => Fold::Delete,
        };
        i += 1;
    }
    table
};

const fn classify(ch: char) -> Fold {
    match ch {
        'A'..='Z' => Fold::Keep(ch.to_ascii_lowercase()),
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' => Fold::Gap,
        '"' | '\'' | '(' | ')' | '[' | ']' | '-' | '_' => Fold::Gap,
        '\0'..='\u{7F}' => Fold::Keep(ch),
        '\u{0600}'..='\u{06FF}' => arabic(ch),
        '«' | '»' | '‘' | '’' | '‚' | '‛' | '“' | '”' | '„' | '‟' | '‹' | '›' => {
            Fold::Gap
        }
        '\u{2010}'..='\u{2015}' | '﴾' | '﴿' | '\u{2212}' => Fold::Gap,
        // Format characters (Cf): soft hyphen, zero-width and bidi controls, BOM.
        '\u{00AD}'
        | '\u{070F}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' => Fold::Delete,
        '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}' => Fold::Delete,
        // Isolated haraka forms: deleted before decomposition, which would turn them into a
        // space and a mark and split the word.
        '\u{FE70}'..='\u{FE7F}' => Fold::Delete,
        c if is_mark(c) => Fold::Delete,
        c if c.is_whitespace() => Fold::Gap,
        _ => Fold::Decompose,
    }
}

/// The Arabic block, U+0600–06FF.
const fn arabic(ch: char) -> Fold {
    match ch {
        'أ' | 'إ' | 'آ' | 'ٱ' | 'ٲ' | 'ٳ' | 'ٵ' => Fold::Keep('ا'),
        'ى' | 'ی' | 'ے' | 'ې' => Fold::Keep('ي'),
        'ک' | 'ڪ' => Fold::Keep('ك'),
        'ة' | 'ۃ' => Fold::TehMarbuta,
        'ۀ' | 'ہ' | 'ە' | 'ھ' => Fold::Keep('ه'),
        'ؤ' | 'ئ' | 'ٶ' | 'ٷ' | 'ٸ' => Fold::Keep('ء'),
        '٠'..='٩' => Fold::Keep((b'0' + (ch as u32 - '٠' as u32) as u8) as char),
        '۰'..='۹' => Fold::Keep((b'0' + (ch as u32 - '۰' as u32) as u8) as char),
        '\u{0654}' | '\u{0655}' => Fold::HamzaMark,
        // Harakat and other marks, superscript alef, Quranic annotation signs, tatweel.
        '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06ED}'
        | '\u{0640}' => Fold::Delete,
        // Arabic number signs and the letter mark are format characters.
        '\u{0600}'..='\u{0605}' | '\u{061C}' => Fold::Delete,
        _ => Fold::Keep(ch),
    }
}

/// Combining marks that can follow a base letter (Mn/Me in the scripts news text uses).
const fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{0483}'..='\u{0489}' | '\u{0591}'..='\u{05C7}'
        | '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}'
        | '\u{08D3}'..='\u{08FF}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}' | '\u{3099}' | '\u{309A}')
}

/// Whether `c` (a folded character) is part of a word: a letter or a digit of any script.
#[inline]
pub fn is_word_char(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => true,
        '\0'..='\u{7F}' => false,
        // The Arabic letters (tatweel, a modifier letter, among them), without the Unicode
        // tables; every other character asks them.
        '\u{0620}'..='\u{064A}' => true,
        _ => c.is_alphanumeric(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
            sink: &mut map,
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
            'ا', 'ل', 'ة', 'أ', 'ى', 'ي', 'و', 'ه', 'ـ', '\u{064E}', '\u{0654}', ' ', ' ', ' ',
            '\n', '\t', '-', '_', '(', '"', 'a', 'Z', 'é', '1', '.', '«', '»', '\u{00A0}',
            '\u{200C}', '\u{FEFB}', '\u{FDF2}', '\u{FE76}', '\u{FEA9}', 'Ｎ', '\u{0301}', 'ß', 'İ',
            '\u{2028}',
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
}
