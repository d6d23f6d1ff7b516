//! Watch keywords of every topic compiled into one Aho-Corasick automaton, and the validation of
//! each raw match's edges so that a keyword is found as a word, with Arabic proclitics and
//! suffixes, and not inside another word. Pure and synchronous.
//!
//! Keywords and text are folded by [`crate::text::fold`], so spans are found in folded text and
//! mapped back to byte ranges of the original text.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::model::{Field, Hit, Story};
use crate::text::{fold, fold_str, is_word_char};

/// One keyword as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordSpec {
    /// The topic it belongs to; `None` for keywords given on the command line.
    pub topic: Option<String>,
    /// The keyword as written.
    pub term: String,
    /// An exclusion (`none = [...]`): a hit suppresses the topic for that story.
    pub exclude: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("keyword {0:?} is empty after folding (only marks, spaces or format characters)")]
    EmptyKeyword(String),
    #[error("cannot build the keyword automaton: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

/// Proclitic chains allowed before a keyword that does not start with the article, in folded
/// form. `لل` is `ل` + the article with its alef dropped.
const PREFIXES: &[&str] = &[
    "", "و", "ف", "ب", "ك", "ل", "وب", "وك", "ول", "فب", "فك", "فل", "ال", "وال", "فال", "بال",
    "كال", "لل", "وبال", "وكال", "فبال", "فكال", "ولل", "فلل",
];
/// Short keywords (three letters or fewer) are easily found inside other words, so only the
/// conjunction and the article may precede them.
const SHORT_PREFIXES: &[&str] = &[
    "", "و", "ال", "وال", "فال", "بال", "كال", "لل", "ولل", "فلل",
];
/// Before a keyword that carries the article: a conjunction and a preposition other than `ل`
/// (which fuses with the article into `لل`, matched through its own variant).
const ARTICLE_PREFIXES: &[&str] = &["", "و", "ف", "ب", "ك", "وب", "وك", "فب", "فك"];
/// Before the `لل` variant of an article keyword.
const FUSED_PREFIXES: &[&str] = &["", "و", "ف"];
/// Suffixes allowed after an Arabic keyword: attached pronouns, dual and plural endings.
const SUFFIXES: &[&str] = &[
    "", "ه", "ها", "هم", "هما", "هن", "ك", "كم", "كما", "كن", "ي", "نا", "ان", "ين", "ون", "ات",
    "يه", "يون", "يين", "يات",
];
const SHORT_SUFFIXES: &[&str] = &["", "ه", "ها", "هم", "ي", "نا", "ان", "ين", "ون", "ات"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The keyword as folded.
    Plain,
    /// An article keyword with `ل` fused: `التحالف` → `للتحالف`.
    Fused,
}

#[derive(Debug)]
struct Keyword {
    spec: KeywordSpec,
    arabic: bool,
    has_article: bool,
    short: bool,
}

/// The compiled keywords of every topic.
#[derive(Debug)]
pub struct Matcher {
    automaton: AhoCorasick,
    keywords: Vec<Keyword>,
    /// For each automaton pattern: its keyword and variant.
    patterns: Vec<(usize, Variant)>,
}

/// A validated occurrence, in folded coordinates.
struct RawHit {
    keyword: usize,
    keyword_span: Range<usize>,
    token_span: Range<usize>,
}

impl Matcher {
    /// Compiles every keyword into one automaton.
    pub fn new(specs: Vec<KeywordSpec>) -> Result<Matcher, MatcherError> {
        let mut keywords = Vec::with_capacity(specs.len());
        let mut patterns = Vec::new();
        let mut texts = Vec::new();
        for spec in specs {
            let folded = fold_str(spec.term.trim());
            if folded.is_empty() {
                return Err(MatcherError::EmptyKeyword(spec.term));
            }
            let arabic = folded.chars().any(is_arabic_letter);
            let has_article = arabic && folded.starts_with("ال") && folded.chars().count() > 3;
            let letters = folded.chars().filter(|c| is_word_char(*c)).count();
            let index = keywords.len();
            texts.push(folded.clone());
            patterns.push((index, Variant::Plain));
            if has_article {
                texts.push(format!("لل{}", &folded["ال".len()..]));
                patterns.push((index, Variant::Fused));
            }
            keywords.push(Keyword {
                spec,
                arabic,
                has_article,
                short: letters <= 3,
            });
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&texts)?;
        Ok(Matcher {
            automaton,
            keywords,
            patterns,
        })
    }

    /// How many keywords (exclusions included) were compiled.
    pub fn keyword_count(&self) -> usize {
        self.keywords.len()
    }

    /// Every accepted hit of every keyword (exclusions included) in `text`.
    pub fn find(&self, text: &str, field: Field) -> Vec<Hit> {
        self.find_with_exclusions(text, field)
            .into_iter()
            .map(|(hit, _)| hit)
            .collect()
    }

    /// The hits of a story for the topics it is relevant to: every topic with at least one hit
    /// and no hit of one of its exclusions.
    pub fn match_story(&self, story: &Story) -> Vec<Hit> {
        let fields = Field::ALL.map(|field| (field, story.field_text(field)));
        self.find_relevant(&fields)
    }

    /// The hits in `fields` of every topic that has a hit and no hit of one of its exclusions;
    /// exclusion hits themselves are left out.
    pub fn find_relevant(&self, fields: &[(Field, &str)]) -> Vec<Hit> {
        let mut hits = Vec::new();
        let mut excluded = BTreeSet::new();
        for &(field, text) in fields {
            for (hit, exclude) in self.find_with_exclusions(text, field) {
                if exclude {
                    excluded.insert(hit.topic.clone());
                } else {
                    hits.push(hit);
                }
            }
        }
        hits.retain(|hit| !excluded.contains(&hit.topic));
        hits
    }

    /// The topics of `hits`, each with its hits, in topic order.
    pub fn by_topic(hits: &[Hit]) -> BTreeMap<&str, Vec<&Hit>> {
        let mut topics: BTreeMap<&str, Vec<&Hit>> = BTreeMap::new();
        for hit in hits {
            if let Some(topic) = hit.topic.as_deref() {
                topics.entry(topic).or_default().push(hit);
            }
        }
        topics
    }

    fn find_with_exclusions(&self, text: &str, field: Field) -> Vec<(Hit, bool)> {
        if text.is_empty() {
            return Vec::new();
        }
        let folded = fold(text);
        let mut seen = BTreeSet::new();
        let mut hits = Vec::new();
        for m in self.automaton.find_overlapping_iter(&folded.text) {
            let (index, variant) = self.patterns[m.pattern().as_usize()];
            let Some(raw) = self.validate(&folded.text, index, variant, m.range()) else {
                continue;
            };
            if !seen.insert((raw.keyword, raw.token_span.start, raw.token_span.end)) {
                continue;
            }
            let keyword = &self.keywords[raw.keyword];
            let hit = Hit {
                topic: keyword.spec.topic.clone(),
                keyword: keyword.spec.term.clone(),
                field,
                keyword_span: folded.original_range(raw.keyword_span),
                token_span: folded.original_range(raw.token_span),
            };
            hits.push((hit, keyword.spec.exclude));
        }
        hits
    }

    /// Accepts a raw match when its left edge is a word start or an allowed proclitic chain and
    /// its right edge a word end or an allowed suffix.
    fn validate(
        &self,
        text: &str,
        index: usize,
        variant: Variant,
        span: Range<usize>,
    ) -> Option<RawHit> {
        let keyword = &self.keywords[index];
        let word_start = word_start(text, span.start, &span);
        let word_end = word_end(text, span.end, &span);
        let prefix = &text[word_start..span.start];
        let suffix = &text[span.end..word_end];
        let (prefixes, suffixes): (&[&str], &[&str]) = if !keyword.arabic {
            (&[""], &[""])
        } else if variant == Variant::Fused {
            (FUSED_PREFIXES, SUFFIXES)
        } else if keyword.has_article {
            (ARTICLE_PREFIXES, SUFFIXES)
        } else if keyword.short {
            (SHORT_PREFIXES, SHORT_SUFFIXES)
        } else {
            (PREFIXES, SUFFIXES)
        };
        if !prefixes.contains(&prefix) || !suffixes.contains(&suffix) {
            return None;
        }
        // In `للتحالف` the keyword's own letters start at the second lam (the article's).
        let keyword_start = match variant {
            Variant::Plain => span.start,
            Variant::Fused => span.start + "ل".len(),
        };
        Some(RawHit {
            keyword: index,
            keyword_span: keyword_start..span.end,
            token_span: word_start..word_end,
        })
    }
}

/// The start of the word that contains byte `at`; a keyword that begins with a non-word
/// character starts its own token.
fn word_start(text: &str, at: usize, span: &Range<usize>) -> usize {
    if !text[span.clone()].starts_with(is_word_char) {
        return at;
    }
    let mut start = at;
    for (i, c) in text[..at].char_indices().rev() {
        if !is_word_char(c) {
            break;
        }
        start = i;
    }
    start
}

/// The end of the word that contains the byte before `at`.
fn word_end(text: &str, at: usize, span: &Range<usize>) -> usize {
    if !text[span.clone()].ends_with(is_word_char) {
        return at;
    }
    let mut end = at;
    for c in text[at..].chars() {
        if !is_word_char(c) {
            break;
        }
        end += c.len_utf8();
    }
    end
}

fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0620}'..='\u{064A}' | '\u{066E}'..='\u{06D3}' | '\u{06FA}'..='\u{06FF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(terms: &[&str]) -> Matcher {
        let specs = terms
            .iter()
            .map(|t| KeywordSpec {
                topic: Some("t".into()),
                term: t.to_string(),
                exclude: false,
            })
            .collect();
        Matcher::new(specs).expect("keywords compile")
    }

    fn matched(keyword: &str, text: &str) -> Vec<String> {
        matcher(&[keyword])
            .find(text, Field::Title)
            .into_iter()
            .map(|h| text[h.token_span].to_string())
            .collect()
    }

    #[test]
    fn finds_keywords_as_words_with_clitics() {
        let cases: &[(&str, &str, &str, &[&str])] = &[
            ("plain_word", "داعش", "هجوم داعش على", &["داعش"]),
            ("lam_preposition", "داعش", "بيان لداعش أمس", &["لداعش"]),
            ("conjunction_and_preposition", "داعش", "وبداعش", &["وبداعش"]),
            (
                "article_before_plain_keyword",
                "تحالف",
                "التحالف الدولي",
                &["التحالف"],
            ),
            (
                "fused_lam_article",
                "التحالف",
                "قال للتحالف إن",
                &["للتحالف"],
            ),
            ("pronoun_suffix", "داعش", "مقاتلي داعشهم", &["داعشهم"]),
            (
                "diacritics_and_tatweel",
                "داعش",
                "عناصر دَاعِـــشْ",
                &["دَاعِـــشْ"],
            ),
            ("hamza_forms_meet", "أمريكا", "قالت امريكا", &["امريكا"]),
            (
                "teh_marbuta_meets_heh",
                "الدولة الإسلامية",
                "تنظيم الدوله الاسلاميه",
                &["الدوله الاسلاميه"],
            ),
            ("inside_another_word", "سد", "أسدل الستار", &[]),
            ("future_prefix_is_not_a_proclitic", "داعش", "سداعش", &[]),
            ("unknown_suffix", "داعش", "داعشوني", &[]),
            (
                "latin_whole_word_any_case",
                "ISIS",
                "Attack by isis fighters",
                &["isis"],
            ),
            ("latin_inside_a_word", "ISIS", "crisis", &[]),
            ("latin_possessive", "Daesh", "Daesh's leader", &["Daesh"]),
        ];
        for (name, keyword, text, want) in cases {
            assert_eq!(matched(keyword, text), *want, "{name}");
        }
    }

    #[test]
    fn keyword_span_excludes_the_proclitics() {
        let text = "بيان لداعش";
        let hits = matcher(&["داعش"]).find(text, Field::Summary);
        assert_eq!(hits.len(), 1);
        assert_eq!(&text[hits[0].keyword_span.clone()], "داعش");
        assert_eq!(hits[0].field, Field::Summary);
    }

    #[test]
    fn exclusions_suppress_their_topic_only() {
        let specs = vec![
            KeywordSpec {
                topic: Some("a".into()),
                term: "داعش".into(),
                exclude: false,
            },
            KeywordSpec {
                topic: Some("a".into()),
                term: "مباراة".into(),
                exclude: true,
            },
            KeywordSpec {
                topic: Some("b".into()),
                term: "داعش".into(),
                exclude: false,
            },
        ];
        let m = Matcher::new(specs).expect("compiles");
        let story = Story {
            feed: "f".into(),
            key: "k".into(),
            title: "داعش في مباراة".into(),
            summary_html: String::new(),
            summary: String::new(),
            content_html: String::new(),
            content: String::new(),
            url: None,
            guid: None,
            published: None,
            fetched: chrono::Utc::now(),
        };
        let hits = m.match_story(&story);
        let topics: Vec<_> = hits.iter().filter_map(|h| h.topic.as_deref()).collect();
        assert_eq!(topics, ["b"]);
    }

    #[test]
    fn rejects_a_keyword_that_folds_to_nothing() {
        let err = Matcher::new(vec![KeywordSpec {
            topic: None,
            term: "\u{064E}".into(),
            exclude: false,
        }]);
        assert!(matches!(err, Err(MatcherError::EmptyKeyword(_))));
    }
}
