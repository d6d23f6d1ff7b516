//! Folding of Arabic and Latin text so that spelling variants meet, with a map from every folded
//! byte back to the original text. Pure: no I/O, no allocation beyond the output.
//!
//! The same function folds keywords and the text they are searched in, so a keyword written
//! `أحمد` finds `احمد`, `إحمد` and `أَحْمَد`. What folds:
//! - harakat, Quranic marks, superscript alef and tatweel are deleted;
//! - format characters (ZWNJ, ZWJ, bidi marks, BOM, soft hyphen) are deleted;
//! - `أ إ آ ٱ` → `ا`, `ى ی ے` → `ي`, `ک` → `ك`, `ة` → `ه`, `ؤ ئ` → `ء`;
//! - Arabic-Indic and Persian digits → ASCII digits;
//! - Latin letters are lower-cased and common accents removed;
//! - every run of whitespace becomes one space.

use std::ops::Range;

/// Folded text and, for each of its bytes, the range of the original text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub text: String,
    /// `origin[i]` is the original byte range of the character that produced folded byte `i`.
    /// Deleted characters (marks, tatweel, format characters) belong to the kept character before
    /// them, so a span mapped back includes a word's diacritics and kashida.
    origin: Vec<Range<u32>>,
}

impl Folded {
    /// Maps a byte range of the folded text back to the original text.
    ///
    /// `range` must lie on character boundaries of `self.text` and not be empty.
    pub fn original_range(&self, range: Range<usize>) -> Range<usize> {
        debug_assert!(range.start < range.end && range.end <= self.origin.len());
        let start = self.origin[range.start].start as usize;
        let end = self.origin[range.end - 1].end as usize;
        start..end
    }
}

/// What happens to one character when folding.
enum Folding {
    Keep(char),
    Delete,
    Space,
}

/// Folds `input` (see the module doc for the rules).
pub fn fold(input: &str) -> Folded {
    let mut text = String::with_capacity(input.len());
    let mut origin: Vec<Range<u32>> = Vec::with_capacity(input.len());
    // Index in `origin` of the first byte of the last kept character, to extend its range over
    // characters deleted after it.
    let mut last_kept: Option<(usize, usize)> = None;
    let mut in_space = false;
    for (start, ch) in input.char_indices() {
        let end = (start + ch.len_utf8()) as u32;
        match fold_char(ch) {
            Folding::Delete => {
                if let Some((from, to)) = last_kept {
                    for r in &mut origin[from..to] {
                        r.end = end;
                    }
                }
            }
            Folding::Space if in_space => {
                if let Some((from, to)) = last_kept {
                    for r in &mut origin[from..to] {
                        r.end = end;
                    }
                }
            }
            Folding::Space => {
                in_space = true;
                push(
                    &mut text,
                    &mut origin,
                    &mut last_kept,
                    ' ',
                    start as u32..end,
                );
            }
            Folding::Keep(c) => {
                in_space = false;
                push(&mut text, &mut origin, &mut last_kept, c, start as u32..end);
            }
        }
    }
    Folded { text, origin }
}

fn push(
    text: &mut String,
    origin: &mut Vec<Range<u32>>,
    last_kept: &mut Option<(usize, usize)>,
    c: char,
    range: Range<u32>,
) {
    let from = origin.len();
    text.push(c);
    origin.resize(text.len(), range);
    *last_kept = Some((from, origin.len()));
}

/// Folds `input` and returns only the text; for keywords and tests.
pub fn fold_str(input: &str) -> String {
    fold(input).text
}

fn fold_char(ch: char) -> Folding {
    use Folding::*;
    match ch {
        // Harakat, Quranic annotation marks, superscript alef, tatweel.
        '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06ED}' => Delete,
        '\u{0640}' => Delete,
        // Format characters: soft hyphen, ALM, ZWSP..RLM, bidi embeddings and isolates, BOM.
        '\u{00AD}' | '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' => Delete,
        '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' => Delete,
        'أ' | 'إ' | 'آ' | 'ٱ' | '\u{0672}' | '\u{0673}' => Keep('ا'),
        'ى' | 'ی' | 'ے' | 'ې' => Keep('ي'),
        'ک' | 'ڪ' => Keep('ك'),
        'ة' | 'ۃ' => Keep('ه'),
        'ۀ' | 'ە' => Keep('ه'),
        'ؤ' | 'ئ' => Keep('ء'),
        '٠'..='٩' => Keep(char::from(b'0' + (ch as u32 - '٠' as u32) as u8)),
        '۰'..='۹' => Keep(char::from(b'0' + (ch as u32 - '۰' as u32) as u8)),
        c if c.is_whitespace() => Space,
        c if c.is_ascii() => Keep(c.to_ascii_lowercase()),
        c => Keep(fold_latin(c)),
    }
}

/// Lower-cases a non-ASCII Latin letter and strips its accent; other characters pass through.
fn fold_latin(c: char) -> char {
    let lower = c.to_lowercase().next().unwrap_or(c);
    match lower {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        'š' | 'ś' => 's',
        'ž' | 'ź' | 'ż' => 'z',
        other => other,
    }
}

/// Whether `c` (a folded character) is part of a word: a letter or a digit of any script.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_named_cases() {
        let cases = [
            ("alef_forms_meet", "أإآٱ", "اااا"),
            ("harakat_are_deleted", "مُحَمَّد", "محمد"),
            ("tatweel_is_deleted", "داعـــش", "داعش"),
            ("alef_maqsura_becomes_yeh", "مصطفى", "مصطفي"),
            ("teh_marbuta_becomes_heh", "الدولة", "الدوله"),
            ("hamza_seats_become_hamza", "مسؤول رئيس", "مسءول رءيس"),
            ("persian_letters_fold", "کی", "كي"),
            ("arabic_indic_digits_become_ascii", "٢٠٢٦ ۱۲", "2026 12"),
            (
                "latin_is_lowercased_without_accents",
                "ISIS Daésh",
                "isis daesh",
            ),
            ("whitespace_runs_become_one_space", "a \t\n b", "a b"),
            (
                "format_characters_are_deleted",
                "دا\u{200C}عش\u{200F}",
                "داعش",
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(fold_str(input), want, "{name}");
        }
    }

    #[test]
    fn maps_folded_spans_back_to_original_letters_with_their_marks() {
        let original = "قال لِداعـــشَ اليوم";
        let folded = fold(original);
        let at = folded.text.find("داعش").expect("folded text has the word");
        let range = folded.original_range(at..at + "داعش".len());
        assert_eq!(&original[range], "داعـــشَ");
    }

    #[test]
    fn maps_spans_of_latin_text() {
        let original = "The DAÉSH group";
        let folded = fold(original);
        let at = folded.text.find("daesh").expect("found");
        assert_eq!(&original[folded.original_range(at..at + 5)], "DAÉSH");
    }
}
