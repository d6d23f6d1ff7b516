//! Watch keywords of every topic compiled into one Aho-Corasick automaton, and the validation of
//! each candidate's edges, so that a keyword is found as a word — with the Arabic proclitics and
//! suffixes that attach to it — and never inside another word. Pure and synchronous.
//!
//! The policy is `shared/reference/arabic-matching.md` §5: keywords and text are folded by
//! [`crate::text::fold`]; each keyword compiles to variants (plain; `لل`-fused for keywords with
//! the article; a `ة`→`ت` stem before pronouns and duals; a stem without `ة` before `ات`); one
//! overlapping search finds every candidate, and only those whose left edge is a boundary or an
//! allowed proclitic chain and whose right edge is a boundary or an allowed suffix are hits.
//! Name keywords (`name = true`) are found in their other spellings by the `names` module.

mod affixes;
mod names;
mod search;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use crate::model::{Field, Hit, Story};
use crate::text::{Folded, is_word_char};
use affixes::{Affixes, Variant};
use search::{Occurrence, Search};

pub use affixes::{Prefixes, Suffixes};
pub use names::{COMMON_WORDS, Strict, name_key, strictness, with_name_key};

/// Per-keyword options; `None` means the policy's default for that keyword.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeywordOptions {
    pub suffixes: Option<Suffixes>,
    pub prefixes: Option<Prefixes>,
    /// Latin keywords only: the letters must match in case (for acronyms such as `US`).
    pub case_sensitive: bool,
    /// A foreign name, found in the spellings the press gives it (see `matcher/names.rs`).
    pub name: bool,
}

/// One keyword as configured (aliases are keywords of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordSpec {
    pub term: String,
    pub options: KeywordOptions,
}

impl KeywordSpec {
    pub fn plain(term: impl Into<String>) -> KeywordSpec {
        KeywordSpec {
            term: term.into(),
            options: KeywordOptions::default(),
        }
    }
}

/// The keywords of one topic and how they combine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// `None` for keywords given on the command line.
    pub id: Option<String>,
    /// At least one of these must hit.
    pub any: Vec<KeywordSpec>,
    /// Each of these must hit as well.
    pub all: Vec<KeywordSpec>,
    /// A hit of any of these vetoes the topic.
    pub none: Vec<KeywordSpec>,
    /// The fields searched; hits elsewhere are ignored for this topic.
    pub fields: Vec<Field>,
}

#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("keyword {0:?} is empty after folding (only marks, spaces or format characters)")]
    EmptyKeyword(String),
    #[error("cannot build the keyword automaton: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Any,
    /// The index of the keyword among its topic's `all` list.
    All(usize),
    None,
}

#[derive(Debug)]
struct Keyword {
    topic: usize,
    role: Role,
    term: String,
    affixes: Affixes,
    case_sensitive: bool,
    name: bool,
}

/// The compiled keywords of every topic.
#[derive(Debug)]
pub struct Matcher {
    search: Search,
    topics: Vec<TopicSpec>,
    keywords: Vec<Keyword>,
    /// For each automaton pattern: its keyword and variant.
    patterns: Vec<(usize, Variant)>,
    /// The name keywords (`name = true`) that are not kept strict.
    names: names::Names,
    /// Whether some pattern is all ASCII: if none is, an ASCII text (which folds to ASCII)
    /// cannot hold a hit and is not searched.
    ascii_pattern: bool,
}

/// The most hits of one keyword kept in one field: a field of `ISIS, ISIS, …` would otherwise
/// carry a hit, with its snippet, per occurrence. One hit is enough to decide a topic; a few
/// show the reader where.
pub const MAX_HITS_PER_KEYWORD: usize = 16;

/// How far a snippet reaches either side of its hit, in bytes (about 40 Arabic words, more than
/// the seven words it looks for): in a field without spaces, it stops here.
pub const SNIPPET_REACH: usize = 512;

/// A validated occurrence of one keyword, in folded coordinates.
struct Candidate {
    keyword_span: Range<usize>,
    token_span: Range<usize>,
}

impl Matcher {
    /// Compiles the keywords of every topic into one automaton.
    pub fn new(topics: Vec<TopicSpec>) -> Result<Matcher, MatcherError> {
        let mut keywords = Vec::new();
        let mut patterns = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut names = names::Names::default();
        for (topic_index, topic) in topics.iter().enumerate() {
            let roles = topic.any.iter().map(|k| (k, Role::Any));
            let roles = roles.chain(topic.all.iter().enumerate().map(|(i, k)| (k, Role::All(i))));
            for (spec, role) in roles.chain(topic.none.iter().map(|k| (k, Role::None))) {
                let index = keywords.len();
                let as_name = spec.options.name && names.add(index, &spec.term);
                // A name kept strict is its own spelling with no suffix.
                let options = if spec.options.name && !as_name {
                    names::strict_options(&spec.options)
                } else {
                    spec.options.clone()
                };
                let affixes = Affixes::compile(&spec.term, &options)
                    .ok_or_else(|| MatcherError::EmptyKeyword(spec.term.clone()))?;
                if !as_name {
                    for (variant, text) in affixes.variants() {
                        patterns.push((index, variant));
                        texts.push(text);
                    }
                }
                keywords.push(Keyword {
                    topic: topic_index,
                    role,
                    term: spec.term.clone(),
                    case_sensitive: spec.options.case_sensitive && !affixes.arabic,
                    name: spec.options.name,
                    affixes,
                });
            }
        }
        let ascii_pattern = texts.iter().any(|t| t.is_ascii());
        let search = Search::new(&texts)?;
        names.build()?;
        Ok(Matcher {
            search,
            topics,
            keywords,
            patterns,
            names,
            ascii_pattern,
        })
    }

    /// Keywords given on the command line: one anonymous topic searching every field.
    pub fn from_terms(terms: impl IntoIterator<Item = String>) -> Result<Matcher, MatcherError> {
        Matcher::from_keywords(terms.into_iter().map(KeywordSpec::plain).collect())
    }

    /// Keywords with their options given on the command line (`rasad match -k … --name …`).
    pub fn from_keywords(any: Vec<KeywordSpec>) -> Result<Matcher, MatcherError> {
        Matcher::new(vec![TopicSpec {
            id: None,
            any,
            all: Vec::new(),
            none: Vec::new(),
            fields: Field::ALL.to_vec(),
        }])
    }

    /// The hits of a story for every topic it is relevant to.
    pub fn match_story(&self, story: &Story) -> Vec<Hit> {
        let fields = Field::ALL.map(|field| (field, story.field_text(field)));
        self.find_relevant(&fields)
    }

    /// The hits in `fields` of every topic whose rules hold: at least one `any` keyword hits,
    /// every `all` keyword hits, and no `none` keyword hits, each in the topic's fields. The
    /// hits of `none` keywords are not returned.
    pub fn find_relevant(&self, fields: &[(Field, &str)]) -> Vec<Hit> {
        let mut found: Vec<(usize, Hit)> = Vec::new();
        with_buffers(|buffers| {
            for &(field, text) in fields {
                self.find_all(text, field, buffers, &mut found);
            }
        });
        if found.is_empty() {
            return Vec::new();
        }
        let relevant = self.relevant_topics(&found);
        found
            .into_iter()
            .filter(|(k, _)| {
                relevant[self.keywords[*k].topic] && self.keywords[*k].role != Role::None
            })
            .map(|(_, hit)| hit)
            .collect()
    }

    /// For each topic, whether its rules hold given the keywords `found`: one pass over the
    /// distinct keywords found, whatever the number of topics and hits.
    fn relevant_topics(&self, found: &[(usize, Hit)]) -> Vec<bool> {
        let mut keywords: Vec<usize> = found.iter().map(|(k, _)| *k).collect();
        keywords.sort_unstable();
        keywords.dedup();
        let mut any = vec![false; self.topics.len()];
        let mut vetoed = vec![false; self.topics.len()];
        // Each keyword is one `all` entry of its topic, and each is counted once.
        let mut all = vec![0usize; self.topics.len()];
        for k in keywords {
            let keyword = &self.keywords[k];
            match keyword.role {
                Role::Any => any[keyword.topic] = true,
                Role::All(_) => all[keyword.topic] += 1,
                Role::None => vetoed[keyword.topic] = true,
            }
        }
        (0..self.topics.len())
            .map(|t| any[t] && !vetoed[t] && all[t] == self.topics[t].all.len())
            .collect()
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

    /// Appends to `found` every accepted hit in `text` of every keyword whose topic searches
    /// `field`, with the index of its keyword.
    fn find_all(
        &self,
        text: &str,
        field: Field,
        buffers: &mut Buffers,
        found: &mut Vec<(usize, Hit)>,
    ) {
        if text.is_empty() || (!self.ascii_pattern && text.is_ascii()) {
            return;
        }
        let Buffers {
            folded,
            occurrences,
            words,
        } = buffers;
        folded.refold(text);
        if self.patterns.is_empty() {
            // Only name keywords: nothing for the automaton to find.
            occurrences.clear();
        } else {
            self.search.find(&folded.text, occurrences);
        }
        let indexed = !occurrences.is_empty();
        if indexed {
            words.index(&folded.text);
        }
        // Variants of one keyword may validate the same token: keep it once.
        let mut seen: HashSet<(usize, usize, usize), BuildHasherDefault<SpanHasher>> =
            HashSet::default();
        let mut kept: HashMap<usize, usize, BuildHasherDefault<SpanHasher>> = HashMap::default();
        for m in occurrences.iter() {
            let (index, variant) = self.patterns[m.pattern];
            let keyword = &self.keywords[index];
            if !self.topics[keyword.topic].fields.contains(&field)
                || kept.get(&index).is_some_and(|n| *n >= MAX_HITS_PER_KEYWORD)
            {
                continue;
            }
            let Some(candidate) =
                self.validate(text, folded, words, index, variant, m.start..m.end)
            else {
                continue;
            };
            let keyword_span = folded.original_range(candidate.keyword_span);
            let token_span = folded.original_range(candidate.token_span);
            if keyword.case_sensitive && !same_case(&text[keyword_span.clone()], &keyword.term) {
                continue;
            }
            if !seen.insert((index, token_span.start, token_span.end)) {
                continue;
            }
            *kept.entry(index).or_default() += 1;
            found.push((
                index,
                self.hit(index, field, text, keyword_span, token_span),
            ));
        }
        if !self.names.is_empty() {
            let mut names = Vec::new();
            self.names.find(folded, words, indexed, &mut names);
            for name in names {
                if !self.topics[self.keywords[name.keyword].topic]
                    .fields
                    .contains(&field)
                    || kept
                        .get(&name.keyword)
                        .is_some_and(|n| *n >= MAX_HITS_PER_KEYWORD)
                {
                    continue;
                }
                let keyword_span = folded.original_range(name.keyword_span);
                let token_span = folded.original_range(name.token_span);
                if seen.insert((name.keyword, token_span.start, token_span.end)) {
                    *kept.entry(name.keyword).or_default() += 1;
                    let hit = self.hit(name.keyword, field, text, keyword_span, token_span);
                    found.push((name.keyword, hit));
                }
            }
        }
    }

    /// The hit of keyword number `index` at these original spans of `text`.
    fn hit(
        &self,
        index: usize,
        field: Field,
        text: &str,
        keyword_span: Range<usize>,
        token_span: Range<usize>,
    ) -> Hit {
        let keyword = &self.keywords[index];
        Hit {
            topic: self.topics[keyword.topic].id.clone(),
            keyword: keyword.term.clone(),
            name: keyword.name,
            field,
            snippet: snippet(text, &token_span),
            keyword_span,
            token_span,
        }
    }

    /// Accepts a candidate when its left edge is a word start or an allowed proclitic chain and
    /// its right edge a word end or an allowed suffix.
    fn validate(
        &self,
        original: &str,
        folded: &Folded,
        words: &Words,
        index: usize,
        variant: Variant,
        span: Range<usize>,
    ) -> Option<Candidate> {
        let text = folded.text.as_str();
        let affixes = &self.keywords[index].affixes;
        let word_start = words.start_before(span.start);
        let word_end = words.end_after(span.end);
        let prefix = &text[word_start..span.start];
        let suffix = &text[span.end..word_end];
        if !affixes.allows_prefix(variant, prefix) || !affixes.allows_suffix(variant, suffix) {
            return None;
        }
        // The suffix must not be a bare ة (فتح ≠ فتحة): a ه in it that was ة is allowed only
        // where the feminine ending is meant (nisba ية, or ة after a nisba keyword).
        let teh_in_suffix = suffix
            .char_indices()
            .any(|(i, c)| c == 'ه' && folded.was_teh_marbuta(span.end + i));
        if teh_in_suffix && !affixes.allows_feminine(suffix) {
            return None;
        }
        let token_start = if prefix.is_empty() {
            detached_proclitic(original, folded, words, affixes, variant, word_start)
        } else {
            word_start
        };
        Some(Candidate {
            keyword_span: span.start + variant.keyword_offset()..span.end,
            token_span: token_start..word_end,
        })
    }
}

/// A hasher for the small integer keys of one field's hits (multiply and rotate, as in rustc's
/// FxHash): the set lives for one field and its keys come from the text, so a keyed hash buys
/// nothing here, and SipHash costs more than the rest of a hit's bookkeeping.
#[derive(Default)]
struct SpanHasher(u64);

impl Hasher for SpanHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// What matching a field needs besides the matcher: the folded text and the occurrences found.
#[derive(Default)]
struct Buffers {
    folded: Folded,
    occurrences: Vec<Occurrence>,
    words: Words,
}

/// The words of one folded field, each a run of word characters, found in one pass: a
/// candidate's edges are then looked up, not scanned for. Scanning from each candidate to the
/// ends of its word costs the word's length per candidate, and a field that is one long word of
/// repeated keywords holds as many candidates as it has bytes / keyword length.
#[derive(Default)]
struct Words {
    runs: Vec<Range<usize>>,
}

impl Words {
    fn index(&mut self, text: &str) {
        self.runs.clear();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (is_word_char(c), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    self.runs.push(s..i);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            self.runs.push(s..text.len());
        }
    }

    /// The start of the word that ends at or runs through byte `at` (`at` itself after a
    /// non-word character).
    fn start_before(&self, at: usize) -> usize {
        let i = self.runs.partition_point(|r| r.end < at);
        match self.runs.get(i) {
            Some(run) if run.start < at => run.start,
            _ => at,
        }
    }

    /// The end of the word that starts at or runs through byte `at` (`at` itself before a
    /// non-word character).
    fn end_after(&self, at: usize) -> usize {
        let i = self.runs.partition_point(|r| r.end <= at);
        match self.runs.get(i) {
            Some(run) if run.start <= at => run.end,
            _ => at,
        }
    }
}

/// Runs `f` with this thread's buffers, so that matching a field allocates only when it is
/// longer than any before it on this thread. A buffer grown past `KEPT_BUFFER_BYTES` by a very
/// long text (far beyond a news story) is dropped afterwards rather than kept.
fn with_buffers<T>(f: impl FnOnce(&mut Buffers) -> T) -> T {
    const KEPT_BUFFER_BYTES: usize = 4 << 20;
    thread_local! {
        static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
    }
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffers) => {
            let result = f(&mut buffers);
            if buffers.folded.text.capacity() > KEPT_BUFFER_BYTES
                || buffers.occurrences.capacity() * size_of::<Occurrence>() > KEPT_BUFFER_BYTES
                || buffers.words.runs.capacity() * size_of::<Range<usize>>() > KEPT_BUFFER_BYTES
            {
                *buffers = Buffers::default();
            }
            result
        }
        // Not reached (nothing here calls back into the matcher), but fresh buffers are right.
        Err(_) => f(&mut Buffers::default()),
    })
}

/// Where the token starts when a proclitic chain stands before the keyword, separated from it
/// only by a bracket, quote or dash and no space (`لـ(داعش)`): the token then starts at the chain.
fn detached_proclitic(
    original: &str,
    folded: &Folded,
    words: &Words,
    affixes: &Affixes,
    variant: Variant,
    word_start: usize,
) -> usize {
    let text = folded.text.as_str();
    let Some(gap) = word_start
        .checked_sub(1)
        .filter(|g| text.as_bytes()[*g] == b' ')
    else {
        return word_start;
    };
    let chain_start = words.start_before(gap);
    let chain = &text[chain_start..gap];
    if chain.is_empty() || !affixes.allows_prefix(variant, chain) {
        return word_start;
    }
    // Only now the map (most words are not after a proclitic chain): the gap must be no space.
    let gap_range = folded.original_range(gap..gap + 1);
    if original[gap_range].chars().any(char::is_whitespace) {
        word_start
    } else {
        chain_start
    }
}

/// Whether `found` has the upper- and lower-case letters of `term` in the same places (the
/// letters themselves already matched once folded).
fn same_case(found: &str, term: &str) -> bool {
    let pattern = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphabetic())
            .map(char::is_uppercase)
            .collect::<Vec<_>>()
    };
    pattern(found) == pattern(term)
}

/// A few words either side of `span`, for alerts: from after the seventh space, tab or line
/// break before the span to the seventh after it (or the ends of the text, or
/// [`SNIPPET_REACH`] bytes away), trimmed.
pub fn snippet(text: &str, span: &Range<usize>) -> String {
    text[snippet_range(text, span)].to_owned()
}

/// Where [`snippet`] lies in `text`: a byte range that holds `span`, for a caller that marks
/// the hit inside the snippet.
pub fn snippet_range(text: &str, span: &Range<usize>) -> Range<usize> {
    const SPACES: usize = 7;
    // Spaces, tabs and line breaks are ASCII, so their positions are character boundaries.
    let is_space = |b: u8| matches!(b, b' ' | b'\n' | b'\t' | b'\r');
    let bytes = text.as_bytes();
    let mut start = text.floor_char_boundary(span.start.saturating_sub(SNIPPET_REACH));
    let reach_start = start;
    let mut seen = 0;
    for i in (reach_start..span.start).rev() {
        if is_space(bytes[i]) {
            seen += 1;
            if seen == SPACES {
                start = i + 1;
                break;
            }
        }
    }
    let mut end = text.ceil_char_boundary(span.end.saturating_add(SNIPPET_REACH));
    seen = 0;
    for (i, &b) in bytes.iter().enumerate().take(end).skip(span.end) {
        if is_space(b) {
            seen += 1;
            if seen == SPACES {
                end = i;
                break;
            }
        }
    }
    let around = &text[start..end];
    let from = start + (around.len() - around.trim_start().len());
    from..from + text[from..end].trim_end().len()
}

#[cfg(test)]
mod tests;
