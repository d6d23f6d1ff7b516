//! Tables of named cases per phenomenon of the matching policy, and properties that hold for
//! any text.

use proptest::prelude::*;

use super::*;

mod hostile;

fn topic(any: Vec<KeywordSpec>) -> TopicSpec {
    TopicSpec {
        id: Some("t".into()),
        any,
        all: Vec::new(),
        none: Vec::new(),
        fields: Field::ALL.to_vec(),
    }
}

/// The token spans found for `keyword` in `text`.
fn tokens(keyword: KeywordSpec, text: &str) -> Vec<String> {
    let matcher = Matcher::new(vec![topic(vec![keyword])]).expect("keyword compiles");
    matcher
        .find_relevant(&[(Field::Title, text)])
        .into_iter()
        .map(|h| text[h.token_span].to_string())
        .collect()
}

fn check(cases: &[(&str, &str, &str, &[&str])]) {
    for (name, keyword, text, want) in cases {
        assert_eq!(tokens(KeywordSpec::plain(*keyword), text), *want, "{name}");
    }
}

#[test]
fn proclitics() {
    check(&[
        ("bare_word", "داعش", "هجوم داعش على", &["داعش"]),
        ("lam", "داعش", "بيان لداعش أمس", &["لداعش"]),
        ("waw_and_ba", "داعش", "وبداعش", &["وبداعش"]),
        (
            "article_before_a_keyword_without_it",
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
        ("fused_with_waw", "الحزب", "وللحزب رأي", &["وللحزب"]),
        (
            "fused_lam_before_lam_word",
            "الليرة",
            "انهيار لليرة السورية",
            &["لليرة"],
        ),
        ("fused_needs_both_lams", "الدولة", "دعم لدولة جارة", &[]),
        (
            "indefinite_does_not_match_article_keyword",
            "الجيش",
            "جيش جديد",
            &[],
        ),
        ("future_sin_is_not_a_proclitic", "داعش", "سداعش", &[]),
        ("root_letters_are_not_proclitics", "داعش", "مداعش", &[]),
        (
            "detached_proclitic_starts_the_token",
            "داعش",
            "بيان لـ(داعش) أمس",
            &["لـ(داعش"],
        ),
    ]);
}

#[test]
fn suffixes() {
    check(&[
        ("pronoun", "حكومة", "انتقدوا حكومتهم", &["حكومتهم"]),
        ("teh_before_dual", "مدينة", "قصف المدينتين", &["المدينتين"]),
        (
            "teh_dropped_before_plural",
            "حكومة",
            "الحكومات العربية",
            &["الحكومات"],
        ),
        (
            "plural_with_pronoun",
            "تحرك",
            "رصدت تحركاتهم",
            &["تحركاتهم"],
        ),
        (
            "accusative_nisba",
            "فلسطين",
            "أسيرا فلسطينيا",
            &["فلسطينيا"],
        ),
        (
            "nisba_feminine",
            "فلسطين",
            "الدولة الفلسطينية",
            &["الفلسطينية"],
        ),
        (
            "nisba_keyword_feminine",
            "الروسي",
            "الخارجية الروسية",
            &["الروسية"],
        ),
        ("tanween_alef", "مشروع", "قدم مشروعاً", &["مشروعاً"]),
        (
            "construct_plural_lost_nun",
            "مقاتل",
            "قال مقاتلوه",
            &["مقاتلوه"],
        ),
        ("bare_teh_is_another_word", "حماس", "بحماسة كبيرة", &[]),
        ("bare_teh_after_article", "الرياض", "وزارة الرياضة", &[]),
        (
            "real_heh_pronoun_is_allowed",
            "كتاب",
            "قرأ كتابه",
            &["كتابه"],
        ),
        ("unknown_suffix", "داعش", "داعشوني", &[]),
    ]);
}

#[test]
fn short_keywords() {
    check(&[
        ("whole_word", "قطر", "زار قطر أمس", &["قطر"]),
        ("with_article", "سد", "انهيار السد", &["السد"]),
        ("inside_a_word", "سد", "أسدل الستار", &[]),
        ("no_suffix", "قطر", "تسرب القطران", &[]),
        ("no_nisba", "قطر", "مسؤول قطري", &[]),
        ("no_chain_without_article", "قطر", "مصر وقطر", &[]),
    ]);
}

#[test]
fn multi_word_keywords() {
    check(&[
        (
            "guillemets",
            "تنظيم الدولة",
            "في تنظيم «الدولة» شرقي",
            &["تنظيم «الدولة"],
        ),
        (
            "brackets",
            "تنظيم الدولة الإسلامية",
            "أعلن تنظيم (الدولة الإسلامية) مسؤوليته",
            &["تنظيم (الدولة الإسلامية"],
        ),
        (
            "hashtag",
            "التحالف الدولي",
            "وسم #التحالف_الدولي",
            &["التحالف_الدولي"],
        ),
        (
            "en_dash",
            "غزة أريحا",
            "اتفاق غزة–أريحا أولا",
            &["غزة–أريحا"],
        ),
        (
            "suffix_on_last_word",
            "رئيس حكومة",
            "أدى رئيس حكومتها اليمين",
            &["رئيس حكومتها"],
        ),
        (
            "clause_punctuation_is_no_gap",
            "تنظيم الدولة",
            "تنظيم، الدولة",
            &[],
        ),
        (
            "another_word_is_no_gap",
            "تنظيم الدولة",
            "تنظيم هذه الدولة",
            &[],
        ),
    ]);
}

#[test]
fn latin_keywords() {
    check(&[
        ("any_case", "ISIS", "Attack by isis fighters", &["isis"]),
        ("inside_a_word", "ISIS", "crisis", &[]),
        ("possessive", "Daesh", "Daesh's leader", &["Daesh"]),
        ("accents", "Erdogan", "President Erdoğan met", &["Erdoğan"]),
        (
            "hyphen_is_a_gap",
            "Al Qaeda",
            "An Al-Qaeda affiliate",
            &["Al-Qaeda"],
        ),
        ("no_plural", "coalition", "coalitions", &[]),
    ]);
}

/// A table of named cases, one row per case: it is as long as its table, and reads top to bottom.
#[test]
fn keyword_options() {
    let with = |term: &str, options: KeywordOptions| KeywordSpec {
        term: term.into(),
        options,
    };
    let cases: &[(&str, KeywordSpec, &str, &[&str])] = &[
        (
            "suffixes_none_keeps_the_bare_word",
            with(
                "كابل",
                KeywordOptions {
                    suffixes: Some(Suffixes::None),
                    ..Default::default()
                },
            ),
            "وصل إلى كابل",
            &["كابل"],
        ),
        (
            "suffixes_none_rejects_plural",
            with(
                "كابل",
                KeywordOptions {
                    suffixes: Some(Suffixes::None),
                    ..Default::default()
                },
            ),
            "مد كابلات",
            &[],
        ),
        (
            "pronouns_only_rejects_nisba",
            with(
                "الحوثي",
                KeywordOptions {
                    suffixes: Some(Suffixes::PronounsOnly),
                    ..Default::default()
                },
            ),
            "الحوثيين",
            &[],
        ),
        (
            "prefixes_none",
            with(
                "داعش",
                KeywordOptions {
                    prefixes: Some(Prefixes::None),
                    ..Default::default()
                },
            ),
            "لداعش وداعش داعش",
            &["داعش"],
        ),
        (
            "article_only",
            with(
                "حزب",
                KeywordOptions {
                    prefixes: Some(Prefixes::ArticleOnly),
                    ..Default::default()
                },
            ),
            "بحزب والحزب",
            &["والحزب"],
        ),
        (
            "short_keyword_override",
            with(
                "قطر",
                KeywordOptions {
                    prefixes: Some(Prefixes::Default),
                    suffixes: Some(Suffixes::Default),
                    ..Default::default()
                },
            ),
            "مسؤول قطري",
            &["قطري"],
        ),
        (
            "case_sensitive_acronym",
            with(
                "US",
                KeywordOptions {
                    case_sensitive: true,
                    ..Default::default()
                },
            ),
            "let us see what the US does",
            &["US"],
        ),
    ];
    for (name, keyword, text, want) in cases {
        assert_eq!(tokens(keyword.clone(), text), *want, "{name}");
    }
}

#[test]
fn spans_and_snippets() {
    let text = "قال مصدر أمني إن عناصر لِداعـــشَ انسحبوا من القرية";
    let matcher = Matcher::from_terms(["داعش".to_owned()]).expect("compiles");
    let hits = matcher.find_relevant(&[(Field::Summary, text)]);
    assert_eq!(hits.len(), 1);
    assert_eq!(&text[hits[0].keyword_span.clone()], "داعـــشَ");
    assert_eq!(&text[hits[0].token_span.clone()], "لِداعـــشَ");
    assert_eq!(hits[0].field, Field::Summary);
    assert_eq!(hits[0].topic, None);
    assert!(
        hits[0].snippet.contains("لِداعـــشَ") && hits[0].snippet.contains("عناصر"),
        "{}",
        hits[0].snippet
    );
}

#[test]
fn topic_rules_any_all_none_and_fields() {
    let plain = |terms: &[&str]| {
        terms
            .iter()
            .map(|t| KeywordSpec::plain(*t))
            .collect::<Vec<_>>()
    };
    let topics = vec![
        TopicSpec {
            id: Some("all".into()),
            any: plain(&["داعش"]),
            all: plain(&["العراق"]),
            none: Vec::new(),
            fields: Field::ALL.to_vec(),
        },
        TopicSpec {
            id: Some("veto".into()),
            any: plain(&["داعش"]),
            all: Vec::new(),
            none: plain(&["مسلسل"]),
            fields: Field::ALL.to_vec(),
        },
        TopicSpec {
            id: Some("titles".into()),
            any: plain(&["داعش"]),
            all: Vec::new(),
            none: Vec::new(),
            fields: vec![Field::Title],
        },
    ];
    let matcher = Matcher::new(topics).expect("compiles");
    let topics_of = |title: &str, summary: &str| {
        let hits = matcher.find_relevant(&[(Field::Title, title), (Field::Summary, summary)]);
        Matcher::by_topic(&hits)
            .keys()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        topics_of("هجوم لداعش", "في العراق"),
        ["all", "titles", "veto"]
    );
    assert_eq!(topics_of("هجوم لداعش", "في سوريا"), ["titles", "veto"]);
    assert_eq!(topics_of("مسلسل عن داعش", ""), ["titles"]);
    assert_eq!(topics_of("خبر", "هجوم لداعش في العراق"), ["all", "veto"]);
}

#[test]
fn rejects_a_keyword_that_folds_to_nothing() {
    for term in ["\u{064E}", "  ", "«»", "\u{200F}"] {
        let result = Matcher::from_terms([term.to_owned()]);
        assert!(
            matches!(result, Err(MatcherError::EmptyKeyword(_))),
            "{term:?}"
        );
    }
}

proptest! {
    #[test]
    fn matching_never_panics_and_spans_are_inside(text in "\\PC{0,60}", keyword in "[ابتداعشلوفكة ]{1,8}|\\PC{1,6}") {
        if let Ok(matcher) = Matcher::from_terms([keyword]) {
            for hit in matcher.find_relevant(&[(Field::Title, &text)]) {
                prop_assert!(hit.token_span.start <= hit.keyword_span.start && hit.keyword_span.end <= hit.token_span.end);
                prop_assert!(text.get(hit.token_span.clone()).is_some());
                prop_assert!(text.get(hit.keyword_span.clone()).is_some());
            }
        }
    }
}

/// The rules of a topic as first written: for each topic, the roles of all its keywords found.
/// [`Matcher::relevant_topics`] must agree with it.
fn relevant_topics_by_scanning(matcher: &Matcher, found: &[(usize, Hit)]) -> Vec<bool> {
    (0..matcher.topics.len())
        .map(|topic| {
            let roles: Vec<Role> = found
                .iter()
                .map(|(k, _)| &matcher.keywords[*k])
                .filter(|k| k.topic == topic)
                .map(|k| k.role)
                .collect();
            roles.contains(&Role::Any)
                && !roles.contains(&Role::None)
                && (0..matcher.topics[topic].all.len()).all(|i| roles.contains(&Role::All(i)))
        })
        .collect()
}

#[test]
fn ascii_text_is_skipped_only_when_no_keyword_could_be_in_it() {
    let arabic = Matcher::from_terms(["داعش".to_owned(), "حزب الله".to_owned()]).expect("compiles");
    assert!(!arabic.ascii_pattern);
    assert!(
        arabic
            .find_relevant(&[(Field::Title, "ISIS and Hezbollah")])
            .is_empty()
    );
    let mixed = Matcher::from_terms(["داعش".to_owned(), "ISIS".to_owned()]).expect("compiles");
    assert!(mixed.ascii_pattern);
    assert_eq!(
        mixed
            .find_relevant(&[(Field::Title, "ISIS and Hezbollah")])
            .len(),
        1
    );
    // Digits are ASCII once folded, from Arabic-Indic digits too.
    let digits = Matcher::from_terms(["٢٠٢٦".to_owned()]).expect("compiles");
    assert_eq!(digits.find_relevant(&[(Field::Title, "in 2026")]).len(), 1);
}

/// Words for random stories and watch lists: keywords, their inflections and other words.
const WORDS: &[&str] = &[
    "داعش",
    "لداعش",
    "الحكومة",
    "حكومتهم",
    "الحكومات",
    "التحالف",
    "للتحالف",
    "الدولي",
    "غزة",
    "بغزة",
    "قال",
    "في",
    "ISIS",
    "isis",
    "«",
    "»",
    "(",
    "\n",
    "٢٠٢٦",
    "حماسة",
];

fn words(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..max).prop_map(|w| w.join(" "))
}

fn keyword_list() -> impl Strategy<Value = Vec<KeywordSpec>> {
    prop::collection::vec(
        prop::sample::select(&["داعش", "الحكومة", "التحالف الدولي", "غزة", "ISIS", "٢٠٢٦"][..]),
        0..3,
    )
    .prop_map(|terms| terms.into_iter().map(KeywordSpec::plain).collect())
}

fn topics() -> impl Strategy<Value = Vec<TopicSpec>> {
    let fields = prop::sample::subsequence(Field::ALL.to_vec(), 1..=3);
    let topic = (keyword_list(), keyword_list(), keyword_list(), fields).prop_map(
        |(mut any, all, none, fields)| {
            if any.is_empty() {
                any.push(KeywordSpec::plain("داعش"));
            }
            TopicSpec {
                id: Some("t".into()),
                any,
                all,
                none,
                fields,
            }
        },
    );
    prop::collection::vec(topic, 1..5)
}

proptest! {
    #[test]
    fn topics_hold_as_when_scanning_every_hit_per_topic(
        topics in topics(), title in words(12), summary in words(20),
    ) {
        let matcher = Matcher::new(topics).expect("compiles");
        let mut found = Vec::new();
        let mut buffers = Buffers::default();
        for (field, text) in [(Field::Title, &title), (Field::Summary, &summary)] {
            matcher.find_all(text, field, &mut buffers, &mut found);
        }
        let want = relevant_topics_by_scanning(&matcher, &found);
        if found.is_empty() {
            prop_assert!(want.iter().all(|holds| !holds));
        } else {
            prop_assert_eq!(matcher.relevant_topics(&found), want);
        }
    }

    #[test]
    fn fields_matched_together_find_what_each_finds_alone(
        texts in prop::collection::vec(words(30), 1..6),
    ) {
        // One buffer serves every field in turn: nothing of a longer field may be left over
        // for a shorter one after it.
        let matcher = Matcher::from_terms(
            ["داعش", "الحكومة", "التحالف الدولي", "غزة", "ISIS"].map(str::to_owned),
        )
        .expect("compiles");
        let fields: Vec<(Field, &str)> = texts.iter().map(|t| (Field::Content, t.as_str())).collect();
        let together = matcher.find_relevant(&fields);
        let alone: Vec<Hit> = texts
            .iter()
            .flat_map(|t| matcher.find_relevant(&[(Field::Content, t.as_str())]))
            .collect();
        prop_assert_eq!(together, alone);
    }
}

/// The snippet as first written, with iterator adapters.
fn snippet_by_iterators(text: &str, span: &Range<usize>) -> String {
    const WORDS: usize = 6;
    let is_space = |b: &u8| matches!(b, b' ' | b'\n' | b'\t' | b'\r');
    let bytes = text.as_bytes();
    let start = bytes[..span.start]
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| is_space(b))
        .nth(WORDS)
        .map_or(0, |(i, _)| i + 1);
    let end = bytes[span.end..]
        .iter()
        .enumerate()
        .filter(|(_, b)| is_space(b))
        .nth(WORDS)
        .map_or(text.len(), |(i, _)| span.end + i);
    text[start..end].trim().to_owned()
}

proptest! {
    #[test]
    fn snippets_are_as_first_written(text in "[ab \n\t\rد]{0,80}", a in 0usize..80, b in 0usize..80) {
        let (a, b) = (a.min(text.len()), b.min(text.len()));
        let span = a.min(b)..a.max(b);
        if text.is_char_boundary(span.start) && text.is_char_boundary(span.end) {
            prop_assert_eq!(snippet(&text, &span), snippet_by_iterators(&text, &span));
        }
    }
}

/// Every occurrence as the overlapping Aho-Corasick search reports it, in its order.
fn occurrences_by_automaton(patterns: &[String], text: &str) -> Vec<Occurrence> {
    let automaton = aho_corasick::AhoCorasickBuilder::new()
        .match_kind(aho_corasick::MatchKind::Standard)
        .build(patterns)
        .expect("builds");
    automaton
        .find_overlapping_iter(text)
        .map(|m| Occurrence {
            pattern: m.pattern().as_usize(),
            start: m.start(),
            end: m.end(),
        })
        .collect()
}

fn occurrences(search: &Search, text: &str) -> Vec<Occurrence> {
    let mut out = vec![Occurrence {
        pattern: 99,
        start: 0,
        end: 0,
    }];
    search.find(text, &mut out);
    out
}

#[test]
fn short_watch_lists_are_searched_by_anchors_long_ones_by_an_automaton() {
    let few: Vec<String> = ["داعش", "التحالف الدولي", "للتحالف الدولي"]
        .map(str::to_owned)
        .to_vec();
    assert!(matches!(Search::new(&few), Ok(Search::Anchored(_))));
    // A pattern shorter than an anchor, or too many patterns: the automaton.
    let short = vec!["غزه".to_owned(), "us".to_owned()];
    assert!(matches!(Search::new(&short), Ok(Search::Automaton(_))));
    let many: Vec<String> = (0..200).map(|i| format!("كلمه{i}")).collect();
    assert!(matches!(Search::new(&many), Ok(Search::Automaton(_))));
    let text = "قال للتحالف الدولي إن داعش والتحالف الدولي";
    assert_eq!(
        occurrences(&Search::new(&few).expect("builds"), text),
        occurrences_by_automaton(&few, text)
    );
}

/// Patterns that overlap, nest, repeat and share anchors, over a small alphabet.
fn pattern_set() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[الدعشتب ]{2,7}", 1..24)
}

proptest! {
    #[test]
    fn anchors_find_what_the_automaton_finds_in_its_order(
        patterns in pattern_set(), text in "[الدعشتبxy ]{0,120}",
    ) {
        let search = Search::new(&patterns).expect("builds");
        prop_assert_eq!(occurrences(&search, &text), occurrences_by_automaton(&patterns, &text));
    }

    #[test]
    fn anchors_find_watch_words_in_news_text(text in words(40)) {
        let terms = ["داعش", "الحكومة", "التحالف الدولي", "غزة بغزة", "لداعش"].map(str::to_owned);
        let patterns: Vec<String> = terms.iter().map(|t| crate::text::fold_str(t)).collect();
        let search = Search::new(&patterns).expect("builds");
        prop_assert!(matches!(search, Search::Anchored(_)));
        let folded = crate::text::fold_str(&text);
        prop_assert_eq!(occurrences(&search, &folded), occurrences_by_automaton(&patterns, &folded));
    }
}
