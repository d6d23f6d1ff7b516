//! Folded text and its map back to the original: where each folded byte came from, and the
//! sinks the folding loop reports that to.

use std::ops::Range;

use super::fold::fold_with;

/// Folded text, with a map back to the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub text: String,
    /// Where the folded text came from, as segments in folded order. Most characters fold to a
    /// character of the same length, so long stretches map byte for byte and need one segment;
    /// a new one starts only where that stops (a deleted mark, a collapsed space, a digit).
    pub(super) segments: Vec<Segment>,
    /// Folded byte offsets of the `ه` that were `ة`, in order.
    pub(super) teh_marbuta: Vec<u32>,
    pub(super) original_len: u32,
}

/// A stretch of folded text and where it starts in the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    pub(super) folded: u32,
    pub(super) original: u32,
    /// Byte for byte (`true`), or all from the one character at `original` (an expansion or a
    /// change of length).
    pub(super) linear: bool,
}

impl Folded {
    /// Maps a non-empty byte range of the folded text (on character boundaries) back to the
    /// original text. The range ends where the next kept character starts, so the marks, tatweel
    /// and format characters deleted after the last letter are included.
    pub fn original_range(&self, range: Range<usize>) -> Range<usize> {
        debug_assert!(range.start < range.end && range.end <= self.text.len());
        // One binary search; the range's other ends lie in the same or the next few segments.
        let first = self.segment_of(range.start);
        let start = self.map(first, range.start);
        let last_index = self.segment_from(first, range.end - 1);
        let last = self.map(last_index, range.end - 1);
        // The first kept character after the range; the rest of an expansion (ﻻ → لا) shares
        // its source character with the range's last byte and is skipped.
        let index = self.segment_from(last_index, range.end);
        let mut end = if range.end < self.text.len() {
            self.map(index, range.end)
        } else {
            self.original_len
        };
        let mut next = index + 1;
        while end <= last {
            end = self
                .segments
                .get(next)
                .map_or(self.original_len, |s| s.original);
            next += 1;
        }
        start as usize..end as usize
    }

    /// Whether the folded character at byte `at` is a `ه` that was written `ة`.
    pub fn was_teh_marbuta(&self, at: usize) -> bool {
        u32::try_from(at).is_ok_and(|at| self.teh_marbuta.binary_search(&at).is_ok())
    }

    pub(super) fn segment_of(&self, at: usize) -> usize {
        self.segments
            .partition_point(|s| s.folded as usize <= at)
            .saturating_sub(1)
    }

    /// `segment_of(at)`, searched forward from segment `from`, one at or before it.
    pub(super) fn segment_from(&self, from: usize, at: usize) -> usize {
        let mut index = from;
        while self
            .segments
            .get(index + 1)
            .is_some_and(|s| s.folded as usize <= at)
        {
            index += 1;
        }
        index
    }

    pub(super) fn map(&self, index: usize, at: usize) -> u32 {
        match self.segments.get(index) {
            Some(s) if s.linear => s.original + (at as u32 - s.folded),
            Some(s) => s.original,
            None => self.original_len,
        }
    }
}

impl Folded {
    /// An empty text, to be filled by [`Folded::refold`].
    pub fn new() -> Folded {
        Folded {
            text: String::new(),
            segments: Vec::new(),
            teh_marbuta: Vec::new(),
            original_len: 0,
        }
    }

    /// Folds `input` into `self`, reusing its buffers: the result equals `fold(input)`.
    pub fn refold(&mut self, input: &str) {
        assert!(
            u32::try_from(input.len()).is_ok(),
            "texts are far below 4 GiB"
        );
        self.text.clear();
        self.text.reserve(input.len());
        self.segments.clear();
        self.teh_marbuta.clear();
        self.original_len = input.len() as u32;
        let mut map = Map {
            segments: &mut self.segments,
            teh_marbuta: &mut self.teh_marbuta,
        };
        fold_with(input, &mut self.text, &mut map);
    }
}

impl Default for Folded {
    fn default() -> Folded {
        Folded::new()
    }
}

/// Where the folding loop reports where folded text comes from: the map of [`Folded`], or
/// nowhere when only the text is wanted.
pub(super) trait MapWriter {
    /// The folded text about to be appended at `folded` comes from `original`, byte for byte
    /// (`linear`) or all from the one character there.
    fn note(&mut self, folded: u32, original: u32, linear: bool);
    /// The `ه` about to be appended at `folded` was `ة`.
    fn teh_marbuta(&mut self, folded: u32);
}

pub(super) struct NoMap;

impl MapWriter for NoMap {
    #[inline(always)]
    fn note(&mut self, _: u32, _: u32, _: bool) {}
    #[inline(always)]
    fn teh_marbuta(&mut self, _: u32) {}
}

pub(super) struct Map<'a> {
    pub(super) segments: &'a mut Vec<Segment>,
    pub(super) teh_marbuta: &'a mut Vec<u32>,
}

impl MapWriter for Map<'_> {
    /// Starts a new segment unless the text about to be appended continues the last one.
    #[inline]
    fn note(&mut self, folded: u32, original: u32, linear: bool) {
        if let Some(last) = self.segments.last()
            && linear
            && last.linear
            && original.wrapping_sub(last.original) == folded.wrapping_sub(last.folded)
        {
            return;
        }
        self.segments.push(Segment {
            folded,
            original,
            linear,
        });
    }

    #[inline]
    fn teh_marbuta(&mut self, folded: u32) {
        self.teh_marbuta.push(folded);
    }
}
