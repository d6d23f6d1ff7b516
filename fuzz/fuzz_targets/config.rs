//! The config reader and its checks on any text: an error or a config, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasad::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text, std::path::Path::new("/etc/rasad/rasad.toml"));
    }
});
