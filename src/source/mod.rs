//! Where stories come from: when to poll a feed, one conditional GET, and the parse of its body.

pub mod fetch;
pub mod parse;
pub mod schedule;
