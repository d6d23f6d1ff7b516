//! Matching with fuzzed keywords and text: keywords are the lines before the first empty line
//! (at most 8), the text is the rest. Every span lies inside the text, on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasad::matcher::Matcher;
use rasad::model::Field;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (keywords, text) = input.split_once("\n\n").unwrap_or((input, input));
    let terms: Vec<String> = keywords.lines().take(8).map(str::to_owned).collect();
    let Ok(matcher) = Matcher::from_terms(terms) else {
        return;
    };
    for hit in matcher.find_relevant(&[(Field::Title, text), (Field::Content, text)]) {
        for span in [&hit.keyword_span, &hit.token_span] {
            assert!(span.start <= span.end && span.end <= text.len(), "{span:?}");
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        }
        assert!(hit.snippet.len() <= text.len());
    }
});
