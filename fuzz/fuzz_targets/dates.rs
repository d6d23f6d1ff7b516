//! The date reader on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasad::source::dates::parse_timestamp;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_timestamp(text);
    }
});
