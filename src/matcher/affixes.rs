//! What may stand before and after one keyword: its compiled variants, the proclitic chains
//! allowed on its left and the suffixes allowed on its right (policy §5.3–5.4), in folded form.

use crate::text::{fold, is_word_char};

/// Which suffixes a keyword takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suffixes {
    /// Attached pronouns, nisba, plural and dual endings, tanween alef.
    Default,
    /// The bare word only (personal names, words that collide with others).
    None,
    /// Attached pronouns only.
    PronounsOnly,
}

/// Which proclitics a keyword takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefixes {
    /// و/ف, then ب/ك/ل, then the article, with لل for ل + the article.
    Default,
    /// Only chains that contain the article.
    ArticleOnly,
    /// The word must start with the keyword.
    None,
}

/// One form of a keyword in the automaton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Plain,
    /// ل fused with the keyword's article: الحزب → للحزب.
    Fused,
    /// The final ة written ت before a pronoun or dual: حكومة → حكومتها.
    TehStem,
    FusedTehStem,
    /// The final ة dropped before the plural ات: حكومة → حكومات.
    TehDrop,
    FusedTehDrop,
}

impl Variant {
    /// Bytes of the match before the keyword's own letters (the fused ل).
    pub fn keyword_offset(self) -> usize {
        if self.fused() { "ل".len() } else { 0 }
    }

    fn fused(self) -> bool {
        matches!(
            self,
            Variant::Fused | Variant::FusedTehStem | Variant::FusedTehDrop
        )
    }
}

const PRONOUNS: &[&str] = &["ه", "ها", "هم", "هما", "هن", "ك", "كم", "كما", "كن", "نا"];
const NISBA: &[&str] = &["ي", "يه", "يون", "يين", "يان", "يتان", "يتين", "يات", "يا"];
const PLURAL_DUAL: &[&str] = &["ات", "ون", "ين", "ان", "تان", "تين", "ا"];
/// Endings before which a final ة is written ت.
const AFTER_TEH: &[&str] = &["ان", "ين", "ي", "ا"];
/// Chains before a keyword without the article.
const CHAINS: &[&str] = &[
    "", "و", "ف", "ب", "ك", "ل", "وب", "وك", "ول", "فب", "فك", "فل", "ال", "وال", "فال", "بال",
    "كال", "وبال", "وكال", "فبال", "فكال", "لل", "ولل", "فلل",
];
/// Chains that contain the article, before a keyword without it.
const ARTICLE_CHAINS: &[&str] = &[
    "", "ال", "وال", "فال", "بال", "كال", "وبال", "وكال", "فبال", "فكال", "لل", "ولل", "فلل",
];
/// Before a keyword that has the article (ل fuses with it: see [`Variant::Fused`]).
const BEFORE_ARTICLE: &[&str] = &["", "و", "ف", "ب", "ك", "وب", "وك", "فب", "فك"];
const BEFORE_FUSED: &[&str] = &["", "و", "ف"];

/// The compiled edges of one keyword.
#[derive(Debug, Clone)]
pub struct Affixes {
    folded: String,
    /// Written in Arabic letters (else Latin rules: whole words only).
    pub arabic: bool,
    /// Starts with the article ال.
    article: bool,
    /// Ends with a ة.
    teh: bool,
    /// Ends with the nisba ي (its feminine is ية).
    nisba: bool,
    prefixes: Prefixes,
    suffixes: Suffixes,
}

impl Affixes {
    /// Compiles `term` with `options`; `None` when it folds to nothing.
    pub fn compile(term: &str, options: &super::KeywordOptions) -> Option<Affixes> {
        let folded_term = fold(term);
        let folded = folded_term.text.trim_matches(' ').to_owned();
        if !folded.chars().any(is_word_char) {
            return None;
        }
        let arabic = folded.chars().any(is_arabic_letter);
        let article = arabic && folded.starts_with("ال") && letters(&folded["ال".len()..]) >= 2;
        let stem_letters = letters(if article {
            &folded["ال".len()..]
        } else {
            &folded
        });
        // Short keywords are found inside many other words: by default they take only the
        // article and no suffix (policy §5.3).
        let short = arabic && stem_letters <= 3;
        let trimmed_end = folded_term.text.trim_end_matches(' ').len();
        let teh = arabic
            && trimmed_end > 0
            && folded.ends_with('ه')
            && folded_term.was_teh_marbuta(trimmed_end - 'ه'.len_utf8());
        let nisba = arabic && !short && folded.ends_with('ي');
        let prefixes = options.prefixes.unwrap_or(if short {
            Prefixes::ArticleOnly
        } else {
            Prefixes::Default
        });
        let suffixes = options.suffixes.unwrap_or(if short {
            Suffixes::None
        } else {
            Suffixes::Default
        });
        Some(Affixes {
            folded,
            arabic,
            article,
            teh,
            nisba,
            prefixes,
            suffixes,
        })
    }

    /// The strings to search for, each with its variant.
    pub fn variants(&self) -> Vec<(Variant, String)> {
        let mut variants = vec![(Variant::Plain, self.folded.clone())];
        let fused = (self.article && self.prefixes != Prefixes::None).then(|| {
            // ل + the article drops the alef; before a word that starts with ل it also drops a lam
            // (الليل → لليل): never three lams.
            let rest = &self.folded["ال".len()..];
            match rest.strip_prefix('ل') {
                Some(after_lam) => format!("لل{after_lam}"),
                None => format!("لل{rest}"),
            }
        });
        if let Some(fused) = &fused {
            variants.push((Variant::Fused, fused.clone()));
        }
        if self.teh && self.suffixes != Suffixes::None {
            let stem = |s: &str| s[..s.len() - 'ه'.len_utf8()].to_owned();
            variants.push((Variant::TehStem, format!("{}ت", stem(&self.folded))));
            if let Some(fused) = &fused {
                variants.push((Variant::FusedTehStem, format!("{}ت", stem(fused))));
            }
            if self.suffixes == Suffixes::Default {
                variants.push((Variant::TehDrop, stem(&self.folded)));
                if let Some(fused) = &fused {
                    variants.push((Variant::FusedTehDrop, stem(fused)));
                }
            }
        }
        variants
    }

    /// Whether `prefix`, the letters between the word start and the match, may stand there.
    pub fn allows_prefix(&self, variant: Variant, prefix: &str) -> bool {
        if !self.arabic || self.prefixes == Prefixes::None {
            return prefix.is_empty();
        }
        let allowed = match (self.article, variant.fused(), self.prefixes) {
            (true, true, _) => BEFORE_FUSED,
            (true, false, _) => BEFORE_ARTICLE,
            (false, _, Prefixes::ArticleOnly) => ARTICLE_CHAINS,
            (false, _, _) => CHAINS,
        };
        allowed.contains(&prefix)
    }

    /// Whether `suffix`, the letters between the match and the word end, may stand there.
    pub fn allows_suffix(&self, variant: Variant, suffix: &str) -> bool {
        if !self.arabic {
            return suffix.is_empty();
        }
        let pronoun = PRONOUNS.contains(&suffix);
        match variant {
            Variant::Plain | Variant::Fused => match self.suffixes {
                Suffixes::None => suffix.is_empty(),
                Suffixes::PronounsOnly => suffix.is_empty() || pronoun,
                Suffixes::Default => suffix.is_empty() || pronoun || self.default_suffix(suffix),
            },
            Variant::TehStem | Variant::FusedTehStem => {
                pronoun || (self.suffixes == Suffixes::Default && AFTER_TEH.contains(&suffix))
            }
            Variant::TehDrop | Variant::FusedTehDrop => suffix
                .strip_prefix("ات")
                .is_some_and(|rest| rest.is_empty() || PRONOUNS.contains(&rest)),
        }
    }

    fn default_suffix(&self, suffix: &str) -> bool {
        if NISBA.contains(&suffix) || PLURAL_DUAL.contains(&suffix) || (self.nisba && suffix == "ه")
        {
            return true;
        }
        // A plural with a pronoun (تحركاتهم), or a construct dual or plural that lost its ن
        // before a pronoun (مقاتلوه, حزباهم).
        ["ات", "ا", "و", "ي"].iter().any(|head| {
            suffix
                .strip_prefix(head)
                .is_some_and(|rest| PRONOUNS.contains(&rest))
        })
    }

    /// Whether a suffix that contains a ه written ة is a feminine ending here: the nisba ية, or
    /// ة after a nisba keyword. A bare ة after any other keyword makes another word (فتحة).
    pub fn allows_feminine(&self, suffix: &str) -> bool {
        suffix == "يه" || (self.nisba && suffix == "ه")
    }
}

fn letters(text: &str) -> usize {
    text.chars().filter(|c| is_word_char(*c)).count()
}

fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0620}'..='\u{064A}' | '\u{066E}'..='\u{06D3}' | '\u{06FA}'..='\u{06FF}')
}
