//! A fingerprint table that also counts incoming edges and carries a few
//! flag bits per state: the main BFS fills the counts (one per successor
//! computation), then Kahn's pass (`kahn.rs`) consumes them. 12 bytes an
//! entry: the fingerprints in cache-line buckets (`lines.rs`) and, in a
//! parallel array of 32-byte lines, a 24-bit count and 8 flag bits per
//! entry (two lines touched per edge, both prefetched; mixing 5 entries and
//! their words into one 64-byte line would cost 12.8 bytes an entry and
//! overflow more). 12.8-16 bytes per state at 75-94% load.

use super::lines::{self, FpLine, LINE};
use super::slots::Slots;
use super::visited::VisitedSet;

const COUNT_MASK: u32 = (1 << 24) - 1;

/// Fingerprint set with an in-degree counter and flags per entry.
#[derive(Clone, Debug)]
pub struct CountTable {
    /// Fingerprints in cache-line buckets, 0 = empty.
    fps: Slots<FpLine>,
    /// `count | flags << 24` of the entry at the same (line, index) in `fps`.
    words: Slots<[u32; LINE]>,
    len: usize,
    /// Some count reached its 24-bit limit (Kahn's pass cannot be trusted).
    pub saturated: bool,
}

impl Default for CountTable {
    fn default() -> Self {
        Self::new()
    }
}

impl CountTable {
    pub fn new() -> Self {
        CountTable {
            fps: lines::zeroed(lines::MIN_LINES),
            words: Slots::zeroed(lines::MIN_LINES),
            len: 0,
            saturated: false,
        }
    }

    fn grow(&mut self) {
        let grown = lines::grown(self.fps.len());
        let old_fps = std::mem::replace(&mut self.fps, lines::zeroed(grown));
        let old_words = std::mem::replace(&mut self.words, Slots::zeroed(grown));
        for (fps, words) in old_fps.iter().zip(old_words.iter()) {
            for (&fp, &word) in fps.0.iter().zip(words) {
                if fp != 0 {
                    let (l, k, _) = lines::probe(&self.fps, fp);
                    self.fps[l].0[k] = fp;
                    self.words[l][k] = word;
                }
            }
        }
    }

    /// Inserts `fp` with `count` incoming edges, or adds `count` to it.
    /// True if it was new.
    #[inline]
    fn add(&mut self, fp: u64, count: u32) -> bool {
        if lines::must_grow(self.len, self.fps.len()) {
            self.grow();
        }
        let (l, k, found) = lines::probe(&self.fps, fp);
        let word = &mut self.words[l][k];
        if found {
            if *word & COUNT_MASK == COUNT_MASK {
                self.saturated = true;
            } else {
                *word += count;
            }
        } else {
            self.fps[l].0[k] = fp;
            *word = count;
            self.len += 1;
        }
        !found
    }

    /// The word of `fp`, if present.
    #[inline(always)]
    fn word_mut(&mut self, fp: u64) -> Option<&mut u32> {
        let (l, k, found) = lines::probe(&self.fps, fp);
        found.then(|| &mut self.words[l][k])
    }

    /// Adds `flags` to `fp`'s flags and takes one incoming edge off its
    /// count. Returns `(count left, flags)`, or `None` if `fp` is unknown.
    #[inline]
    pub fn consume_edge(&mut self, fp: u64, flags: u8) -> Option<(u32, u8)> {
        let word = self.word_mut(fp)?;
        *word |= u32::from(flags) << 24;
        if *word & COUNT_MASK > 0 {
            *word -= 1;
        }
        Some((*word & COUNT_MASK, (*word >> 24) as u8))
    }

    /// Adds `flags` to `fp`'s flags; returns `(count, flags)`.
    pub fn mark(&mut self, fp: u64, flags: u8) -> Option<(u32, u8)> {
        let word = self.word_mut(fp)?;
        *word |= u32::from(flags) << 24;
        Some((*word & COUNT_MASK, (*word >> 24) as u8))
    }

    /// Hints the cache that `fp`'s fingerprint line and count words are
    /// about to be touched.
    #[inline(always)]
    pub fn prefetch_fp(&self, fp: u64) {
        lines::prefetch(&self.fps, fp);
        lines::prefetch(&self.words, fp);
    }
}

impl<S> VisitedSet<S> for CountTable {
    /// An initial state: no incoming edge counted.
    fn insert(&mut self, fp: u64, _state: &S) -> bool {
        self.add(fp, 0)
    }
    /// A successor: one more incoming edge.
    #[inline]
    fn insert_edge(&mut self, fp: u64, _state: &S) -> bool {
        self.add(fp, 1)
    }
    fn contains(&self, fp: u64, _state: &S) -> bool {
        lines::probe(&self.fps, fp).2
    }
    fn len(&self) -> u64 {
        self.len as u64
    }
    fn heap_bytes(&self) -> u64 {
        (self.fps.bytes() + self.words.bytes()) as u64
    }
    #[inline(always)]
    fn prefetch(&self, fp: u64) {
        self.prefetch_fp(fp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_edges_and_consumes_them() {
        let mut t = CountTable::new();
        let fps: Vec<u64> = (1..=5000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
            .collect();
        for &fp in &fps {
            assert!(VisitedSet::<()>::insert_edge(&mut t, fp, &()));
            assert!(!VisitedSet::<()>::insert_edge(&mut t, fp, &()));
        }
        assert!(VisitedSet::<()>::insert(&mut t, 2, &()));
        assert_eq!(t.mark(2, 0b10), Some((0, 0b10)));
        for &fp in &fps {
            assert_eq!(t.consume_edge(fp, 0), Some((1, 0)));
            assert_eq!(t.consume_edge(fp, 0b1), Some((0, 0b1)));
        }
        assert_eq!(t.consume_edge(4, 0), None);
        assert!(!t.saturated);
    }
}
