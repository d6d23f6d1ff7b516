//! Where stories come from: when to poll a feed, one conditional GET, and the parse of its body
//! (decoded, repaired, then read by feed-rs with our own date reader).

pub mod address;
pub mod bounds;
pub mod dates;
pub(crate) mod decode;
mod dialects;
pub mod display;
pub(crate) mod fallback;
pub mod fetch;
pub mod health;
pub mod lenient;
pub mod parse;
pub(crate) mod plain;
pub(crate) mod poll_policy;
pub mod read;
