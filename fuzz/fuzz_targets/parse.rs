//! Decode + repair + parse + stories: any bytes as a feed body, with or without a charset.
//!
//! `parse_feed_with` catches a panic of the feed parser and reads the body once more (see its
//! doc), so a caught panic is no finding here: the panic hook prints it without aborting, and
//! what counts is a body that still ends in `ParseError::Panic` (the feed lost) or a panic that
//! escapes (libfuzzer-sys aborts on it).
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use rasad::source::parse::{BodyHints, ParseError, parse_feed_with};

static HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("caught: {info}"))));
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
    match parse_feed_with(body, hints) {
        Ok(feed) => {
            for story in feed.stories("fuzz", chrono::Utc::now()) {
                assert!(!story.title.contains('\0'), "a NUL reached a story");
            }
        }
        Err(ParseError::Panic(reason)) => panic!("the feed was lost to a panic: {reason}"),
        Err(_) => {}
    }
});
