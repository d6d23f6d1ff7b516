//! The folding loop: runs of characters that fold to themselves are copied, the rest folded
//! one character at a time as the tables say.

use std::ops::Range;

use icu_normalizer::DecomposingNormalizerBorrowed;

use super::folded::MapWriter;
use super::tables::*;

/// The folding loop: appends the folding of `input` to `text` and writes where it comes from to `map`.
///
/// Characters that fold to themselves are copied in runs, and characters that fold to another of
/// the same length are swapped in place of one; both keep the map byte for byte, so while the
/// map's last segment is known to reach the current position (`aligned`), they do not consult
/// it. Everything else goes through [`Out::apply`], as [`classify`] says.
///
/// Kept as one loop on purpose: it is the hot path of every fold, its state (`run`, `at`,
/// `aligned`) changes hands on every character, and it reads top to bottom: skip what stays,
/// classify the next character, swap it in place, or fold it and consult the map again.
pub(super) fn fold_with<S: MapWriter>(input: &str, text: &mut String, map: &mut S) {
    let mut out = Out {
        text,
        map,
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
        let from = at;
        at = skip_kept(bytes, at, out.in_gap);
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
                out.map.teh_marbuta(out.text.len() as u32);
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

/// Where the run of bytes from `at` that fold to themselves ends (see `KEEPS`), on a character
/// boundary; `in_gap` says whether the folded text ends with a space. The tight loop of
/// folding: four bytes a step while all four stay, then byte by byte.
#[inline(always)]
fn skip_kept(bytes: &[u8], mut at: usize, in_gap: bool) -> usize {
    let from = at;
    // `previous` stands for the byte before: a space there when the folded text ends with one.
    let mut previous = if in_gap { b' ' } else { 0 };
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
    at
}

pub(super) struct Out<'a, S> {
    pub(super) text: &'a mut String,
    pub(super) map: &'a mut S,
    pub(super) in_gap: bool,
}

impl<S: MapWriter> Out<'_, S> {
    /// Copies a run of characters that fold to themselves (ASCII or two-byte Arabic only);
    /// `aligned` as in [`fold_with`].
    #[inline]
    pub(super) fn copy_run(&mut self, input: &str, run: Range<usize>, aligned: &mut bool) {
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
    pub(super) fn apply(&mut self, fold: Fold, ch: char, start: u32) {
        let same_length = |c: char| c.len_utf8() == ch.len_utf8();
        match fold {
            Fold::Keep(c) => self.push(c, start, same_length(c)),
            Fold::TehMarbuta => {
                self.map.teh_marbuta(self.text.len() as u32);
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
    pub(super) fn apply_part(&mut self, fold: Fold, part: char, start: u32) {
        match fold {
            Fold::Keep(c) => self.push(c, start, false),
            Fold::TehMarbuta => {
                self.map.teh_marbuta(self.text.len() as u32);
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
    pub(super) fn push(&mut self, c: char, start: u32, linear: bool) {
        self.in_gap = c == ' ';
        self.note(start, linear);
        self.text.push(c);
    }

    #[inline]
    pub(super) fn note(&mut self, original: u32, linear: bool) {
        self.map.note(self.text.len() as u32, original, linear);
    }
}
