//! Folding any text: the map back to source offsets stays inside the text, on character
//! boundaries, and in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasad::text::fold;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let folded = fold(text);
    assert_eq!(folded.text, rasad::text::fold_str(text));
    let mut previous = 0;
    for (i, c) in folded.text.char_indices() {
        let range = folded.original_range(i..i + c.len_utf8());
        assert!(range.start <= range.end && range.end <= text.len(), "{range:?}");
        assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
        assert!(range.start >= previous, "offsets go back at {i}");
        previous = range.start;
    }
});
