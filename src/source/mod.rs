//! Where stories come from: when to poll a feed, one conditional GET, and the parse of its body
//! (decoded, repaired, then read by feed-rs with our own date reader).

pub mod address;
pub mod bounds;
pub mod dates;
pub mod decode;
mod dialects;
pub mod display;
pub mod fallback;
pub mod fetch;
pub mod health;
pub mod lenient;
pub mod parse;
pub mod plain;
pub mod poll_policy;
pub mod read;
