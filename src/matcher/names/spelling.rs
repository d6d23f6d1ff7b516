//! The checks of a name's spelling: a term compiled into its shape (consonant classes and the
//! vowel letters between them), and whether a folded token is one of the spellings of it.

use super::super::affixes::{Affixes, Variant};
use super::skeleton::skeleton_str;
use super::{KeywordOptions, MIN_CONSONANTS, Suffixes};
use crate::text::{fold_str, is_word_char};

/// Prefixes of names that the press writes joined or apart.
pub(super) const SPLIT_PREFIXES: &[&str] = &[
    "ماك", "مك", "دي", "دو", "فان", "فون", "ابو", "بن", "عبد", "لا",
];

/// One name keyword, compiled.
#[derive(Debug)]
pub(super) struct Name {
    /// Folded, words separated by one space.
    pub(super) folded: String,
    pub(super) arabic: bool,
    /// The article ال, when the name starts with it (then its shape is of the rest).
    pub(super) article: bool,
    /// The name's letters with their spaces removed (and without the article).
    pub(super) shape: Shape,
    pub(super) affixes: Affixes,
}

impl Name {
    pub(super) fn new(term: &str) -> Option<Name> {
        let folded = fold_str(term)
            .split(|c: char| !is_word_char(c))
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if folded.is_empty() {
            return None;
        }
        let arabic = folded
            .chars()
            .any(|c| ('\u{0620}'..='\u{06FF}').contains(&c));
        let article = folded.starts_with("ال") && folded.chars().count() > 4;
        let core = if article {
            &folded["ال".len()..]
        } else {
            &folded
        };
        let shape = Shape::of(&core.replace(' ', ""));
        let options = KeywordOptions {
            suffixes: Some(Suffixes::None),
            ..KeywordOptions::default()
        };
        let affixes = Affixes::compile(&folded, &options)?;
        Some(Name {
            folded,
            arabic,
            article,
            shape,
            affixes,
        })
    }

    /// The skeletons searched for: the name's, and its split or joined form.
    pub(super) fn skeletons(&self) -> Vec<String> {
        let core = if self.article {
            &self.folded["ال".len()..]
        } else {
            &self.folded
        };
        let mut out = vec![skeleton_str(core), skeleton_str(&core.replace(' ', ""))];
        if let Some(prefix) = SPLIT_PREFIXES.iter().find(|p| {
            core.strip_prefix(**p)
                .is_some_and(|rest| rest.chars().count() >= 3 && !rest.starts_with(' '))
        }) {
            out.push(skeleton_str(&format!("{prefix} {}", &core[prefix.len()..])));
        }
        out.retain(|s| !s.trim().is_empty());
        out.sort();
        out.dedup();
        out
    }

    /// Whether the folded `token` (a word, or two with one space between them) is this name
    /// after an allowed proclitic chain; the byte offset in `token` where the name starts.
    /// `other` is a buffer for the shape of each candidate, reused so that a check allocates
    /// nothing once it has grown.
    pub(super) fn accepts(&self, token: &str, other: &mut Shape) -> Option<usize> {
        let first_word_len = token.find(' ').unwrap_or(token.len());
        let mut chain_ends = token[..first_word_len]
            .char_indices()
            .map(|(i, _)| i)
            .take(5)
            .filter(|&i| {
                self.affixes.allows_prefix(Variant::Plain, &token[..i])
                    || (self.article && self.affixes.allows_prefix(Variant::Fused, &token[..i]))
            });
        chain_ends.find(|&at| {
            let rest = &token[at..];
            let core = if self.article {
                // After the chain: the article, or ل fused with it (للفلوجة, لليرة).
                let before = &token[..at];
                let fused = self.affixes.allows_prefix(Variant::Fused, before);
                let plain = self.affixes.allows_prefix(Variant::Plain, before);
                match (rest.strip_prefix("ال"), rest.strip_prefix("لل")) {
                    (Some(core), _) if plain => Some(core),
                    (_, Some(core)) if fused => Some(core),
                    _ => None,
                }
            } else {
                Some(rest)
            };
            core.is_some_and(|core| {
                other.fill(core.chars().filter(|c| *c != ' '));
                self.shape.same_name(other)
            })
        })
    }
}

/// A spelling reduced to what tells names apart: consonant classes and the vowel letters between
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Shape {
    pub(super) consonants: Vec<char>,
    /// The letter written for each consonant (the first of a doubled one).
    pub(super) letters: Vec<char>,
    /// The vowel letters, group after group: `consonants.len() + 1` groups, before the first
    /// consonant, between each two, after the last (the ending).
    vowel_letters: Vec<char>,
    /// Where each group of `vowel_letters` ends.
    vowel_ends: Vec<usize>,
}

impl Shape {
    pub(super) fn of(word: &str) -> Shape {
        let mut shape = Shape::default();
        shape.fill(word.chars());
        shape
    }

    /// Makes this the shape of the letters `word`, in the buffers it already holds.
    pub(super) fn fill(&mut self, word: impl Iterator<Item = char>) {
        self.consonants.clear();
        self.letters.clear();
        self.vowel_letters.clear();
        self.vowel_ends.clear();
        let mut group_start = 0;
        let mut word = word.peekable();
        while let Some(c) = word.next() {
            match class(c, word.peek().is_none()) {
                None => self.vowel_letters.push(c),
                Some(k) => {
                    // A doubled letter (or two of one class) counts once.
                    if self.consonants.last() == Some(&k) && self.vowel_letters.len() == group_start
                    {
                        continue;
                    }
                    self.consonants.push(k);
                    self.letters.push(c);
                    self.vowel_ends.push(self.vowel_letters.len());
                    group_start = self.vowel_letters.len();
                }
            }
        }
        self.vowel_ends.push(self.vowel_letters.len());
    }

    /// The vowel letters of group `i` (see [`Shape::vowel_letters`]).
    fn vowels(&self, i: usize) -> &[char] {
        let start = i.checked_sub(1).map_or(0, |before| self.vowel_ends[before]);
        &self.vowel_letters[start..self.vowel_ends[i]]
    }

    /// Whether `other` spells the same name (see the module doc).
    pub(super) fn same_name(&self, other: &Shape) -> bool {
        if self.consonants != other.consonants {
            return false;
        }
        let last = self.vowel_ends.len() - 1;
        let budget = if self.consonants.len() >= 5 { 2 } else { 1 };
        let mut cost: usize = self
            .letters
            .iter()
            .zip(&other.letters)
            .filter(|(a, b)| !same_sound(**a, **b))
            .count();
        // Three consonants leave too little to tell a name from a word once one of them turns
        // into another Arabic letter (مكاري / مجاري): only an emphatic may stand for its plain
        // letter there (أنطونيو / أنتونيو).
        let emphatic = |c: char| matches!(c, 'ط' | 'ض' | 'ص' | 'ظ');
        if self.consonants.len() <= MIN_CONSONANTS
            && self
                .letters
                .iter()
                .zip(&other.letters)
                .any(|(a, b)| !same_sound(*a, *b) && !emphatic(*a) && !emphatic(*b))
        {
            return false;
        }
        for i in 0..=last {
            let (a, b) = (self.vowels(i), other.vowels(i));
            cost = cost.saturating_add(if i == 0 {
                // A word-initial alef or waw carries the name's first sound: never dropped.
                if a.is_empty() != b.is_empty() {
                    return false;
                }
                vowel_distance(a, b)
            } else if i == last {
                ending_distance(a, b)
            } else {
                vowel_distance(a, b)
            });
            if cost > budget {
                return false;
            }
        }
        true
    }
}

/// The consonant class of a folded letter, `None` for a vowel letter (ا و ي ء, and ه as the
/// last letter: the ending ة or ه).
pub(super) fn class(c: char, last: bool) -> Option<char> {
    Some(match c {
        'ا' | 'و' | 'ي' | 'ء' => return None,
        'ه' if last => return None,
        'غ' | 'ج' | 'ق' | 'ك' | 'گ' => 'ك',
        'ف' | 'ڤ' => 'ف',
        'ب' | 'پ' => 'ب',
        'ت' | 'ط' => 'ت',
        'د' | 'ض' => 'د',
        'س' | 'ص' | 'ش' | 'ز' | 'ظ' | 'ذ' => 'س',
        other => other,
    })
}

/// Whether two letters of one class are free to stand for each other: the letters for g other
/// than ج (غ ق ك گ), ف and ڤ, ب and پ. ج (also the Arabic j), an emphatic for a plain letter
/// (طوني / توني) and ش for س count as one edit: مجاري is not ماكاري.
pub(super) fn same_sound(a: char, b: char) -> bool {
    let g = |c| matches!(c, 'غ' | 'ق' | 'ك' | 'گ');
    a == b || (g(a) && g(b)) || matches!((a, b), ('ف', 'ڤ') | ('ڤ', 'ف') | ('ب', 'پ') | ('پ', 'ب'))
}

/// Vowel letters written in one and not the other, or one for another (سوليفان / ساليفان).
pub(super) fn vowel_distance(a: &[char], b: &[char]) -> usize {
    edit_distance(a, b, |x| x)
}

/// The ending: ا and ه (ة) are one; ا and ي (ى) one edit apart. A vowel ending where the other
/// has none is another word (a nisba ي, a tanween alef): `usize::MAX`.
pub(super) fn ending_distance(a: &[char], b: &[char]) -> usize {
    if a.is_empty() != b.is_empty() {
        return usize::MAX;
    }
    let norm = |c: char| if c == 'ه' { 'ا' } else { c };
    match (a.split_last(), b.split_last()) {
        (Some((&x, a_rest)), Some((&y, b_rest)))
            if norm(x) != norm(y) && "اي".contains(norm(x)) && "اي".contains(norm(y)) =>
        {
            1 + edit_distance(a_rest, b_rest, norm)
        }
        _ => edit_distance(a, b, norm),
    }
}

/// The longest group of vowel letters whose edit distance is computed on the stack; a longer
/// one (no name or word of a name's length has one) takes a buffer of its own.
const VOWEL_GROUP_ON_STACK: usize = 32;

/// Levenshtein distance between `a` and `b`, letters compared after `norm`.
fn edit_distance(a: &[char], b: &[char], norm: impl Fn(char) -> char) -> usize {
    let mut on_stack = [0usize; VOWEL_GROUP_ON_STACK + 1];
    let mut on_heap = Vec::new();
    let row: &mut [usize] = if b.len() <= VOWEL_GROUP_ON_STACK {
        &mut on_stack[..=b.len()]
    } else {
        on_heap.resize(b.len() + 1, 0);
        &mut on_heap
    };
    for (j, cell) in row.iter_mut().enumerate() {
        *cell = j;
    }
    for (i, &x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substituted = diagonal + usize::from(norm(x) != norm(y));
            diagonal = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}
