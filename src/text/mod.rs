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

mod fold;
mod folded;
mod tables;
#[cfg(test)]
mod tests;

pub use folded::Folded;

use fold::fold_with;
use folded::NoMap;

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
