//! Decode + repair + parse + stories: any bytes as a feed body, with or without a charset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasad::source::parse::{BodyHints, parse_feed_with};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the HTTP charset the body comes with, as servers send them.
    let (content_type, body) = match data.split_first() {
        Some((0, rest)) => (Some("text/xml; charset=windows-1256"), rest),
        Some((1, rest)) => (Some("application/rss+xml; charset=utf-16"), rest),
        _ => (None, data),
    };
    let hints = BodyHints {
        content_type,
        url: None,
    };
    if let Ok(feed) = parse_feed_with(body, hints) {
        for story in feed.stories("fuzz", chrono::Utc::now()) {
            assert!(!story.title.contains('\0'), "a NUL reached a story");
        }
    }
});
