//! A fingerprint table that also counts incoming edges and carries a few
//! flag bits per state: the main BFS fills the counts (one per successor
//! computation), then Kahn's pass (`kahn.rs`) consumes them.
//!
//! Layout: cache lines of 6 fingerprints, their 6 16-bit words (an 8-bit
//! count, then 8 flag bits) and the number of filled entries, so a probe is
//! one cache miss and a state costs 64 / 6 / load = 11.4-17.1 bytes at
//! 62-94% load (`lines.rs`). In-degrees
//! of 255 and more (rare: a state reached over that many edges) go to a
//! per-table side map, so counts are exact at any size.

use std::collections::BTreeMap;

use super::lines::{self, Line};
use super::slots::Slots;
use super::visited::VisitedSet;

/// Fingerprints per line.
const ENTRIES: usize = 6;
/// A count byte of this value means "see `overflow`".
const SPILLED: u16 = 0xFF;

/// One cache line: 6 fingerprints (0 = empty), then per entry `count |
/// flags << 8`, then how many entries are filled (see `Line::filled`).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub struct CountLine {
    fps: [u64; ENTRIES],
    words: [u16; ENTRIES],
    filled: u8,
    _pad: [u8; 3],
}

// SAFETY: plain integers only: every bit pattern is valid.
unsafe impl super::slots::ZeroSlot for CountLine {}

// SAFETY: 64 bytes, align(64), repr(C) with its six fingerprints first.
unsafe impl Line for CountLine {
    const ENTRIES: usize = ENTRIES;
    /// 7/8 would cost up to 18.3 bytes a state with 6 entries a line (`lines.rs`).
    const MAX_LOAD: (usize, usize) = (15, 16);
    #[inline(always)]
    fn fps(&self) -> &[u64] {
        &self.fps
    }
    fn move_entry(&self, k: usize, to: &mut Self, to_k: usize) {
        to.fps[to_k] = self.fps[k];
        to.words[to_k] = self.words[k];
        to.filled = to_k as u8 + 1;
    }
    #[inline(always)]
    fn filled(&self) -> Option<usize> {
        Some(usize::from(self.filled))
    }
}

/// Fingerprint set with an in-degree counter and flags per entry.
#[derive(Clone, Debug)]
pub struct CountTable {
    lines: Slots<CountLine>,
    len: usize,
    /// Exact counts of the entries whose count byte is `SPILLED`.
    overflow: BTreeMap<u64, u32>,
}

impl Default for CountTable {
    fn default() -> Self {
        Self::new()
    }
}

impl CountTable {
    pub fn new() -> Self {
        CountTable {
            lines: lines::zeroed(lines::MIN_LINES),
            len: 0,
            overflow: BTreeMap::new(),
        }
    }

    /// Inserts `fp` with `count` (0 or 1) incoming edges, or adds `count`
    /// to it. True if it was new.
    #[inline]
    fn add(&mut self, fp: u64, count: u16) -> bool {
        debug_assert!(fp != 0 && count <= 1);
        if lines::must_grow::<CountLine>(self.len, self.lines.len()) {
            lines::grow(&mut self.lines);
        }
        let (l, k, found) = lines::probe(&self.lines, fp);
        let line = &mut self.lines[l];
        let word = &mut line.words[k];
        if !found {
            line.fps[k] = fp;
            *word = count;
            line.filled = k as u8 + 1;
            self.len += 1;
        } else if *word & 0xFF < SPILLED - 1 {
            *word += count;
        } else if count > 0 {
            let spilled = self.overflow.entry(fp).or_insert(u32::from(SPILLED) - 1);
            *spilled += 1;
            *word |= SPILLED;
        }
        !found
    }

    /// The count of the entry `(l, k)`.
    fn count(&self, l: usize, k: usize) -> u32 {
        match self.lines[l].words[k] & 0xFF {
            SPILLED => self.overflow[&self.lines[l].fps[k]],
            c => u32::from(c),
        }
    }

    /// Adds `flags` to `fp`'s flags and takes one incoming edge off its
    /// count. Returns `(count left, flags)`, or `None` if `fp` is unknown.
    #[inline]
    pub fn consume_edge(&mut self, fp: u64, flags: u8) -> Option<(u32, u8)> {
        let (l, k, found) = lines::probe(&self.lines, fp);
        if !found {
            return None;
        }
        let word = &mut self.lines[l].words[k];
        *word |= u16::from(flags) << 8;
        let all_flags = (*word >> 8) as u8;
        match *word & 0xFF {
            0 => {}
            SPILLED => {
                let spilled = self.overflow.get_mut(&fp)?;
                *spilled -= 1;
                if *spilled < u32::from(SPILLED) {
                    self.overflow.remove(&fp);
                    *word = (*word & 0xFF00) | (SPILLED - 1);
                }
            }
            _ => *word -= 1,
        }
        Some((self.count(l, k), all_flags))
    }

    /// Adds `flags` to `fp`'s flags; returns `(count, flags)`.
    pub fn mark(&mut self, fp: u64, flags: u8) -> Option<(u32, u8)> {
        let (l, k, found) = lines::probe(&self.lines, fp);
        found.then(|| {
            self.lines[l].words[k] |= u16::from(flags) << 8;
            (self.count(l, k), (self.lines[l].words[k] >> 8) as u8)
        })
    }

    #[inline(always)]
    pub fn prefetch_fp(&self, fp: u64) {
        lines::prefetch(&self.lines, fp);
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
        lines::probe(&self.lines, fp).2
    }
    fn len(&self) -> u64 {
        self.len as u64
    }
    fn heap_bytes(&self) -> u64 {
        (self.lines.bytes() + self.overflow.len() * 24) as u64
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
    }

    #[test]
    fn filled_counts_stay_exact_through_growth() {
        let mut t = CountTable::new();
        let fps: Vec<u64> = (1..=200_000u64)
            .map(|i| super::super::hash::fingerprint(&i))
            .collect();
        for &fp in &fps {
            assert!(t.add(fp, 1));
        }
        assert!(t.lines.bytes() >= 1 << 20, "grew into a mapped table");
        for line in t.lines.iter() {
            let filled = line.fps.iter().take_while(|&&f| f != 0).count();
            assert_eq!(usize::from(line.filled), filled);
            assert!(line.fps[filled..].iter().all(|&f| f == 0));
        }
        for &fp in &fps {
            assert_eq!(t.consume_edge(fp, 0), Some((0, 0)));
        }
    }

    #[test]
    fn counts_of_255_and_more_spill_and_come_back_exact() {
        let mut t = CountTable::new();
        let fp = 0x1234_5678_9ABC_DEF1;
        assert!(VisitedSet::<()>::insert(&mut t, fp, &()));
        for _ in 0..600 {
            assert!(!VisitedSet::<()>::insert_edge(&mut t, fp, &()));
        }
        assert_eq!(t.mark(fp, 0b100), Some((600, 0b100)));
        for left in (0..600).rev() {
            assert_eq!(t.consume_edge(fp, 0), Some((left, 0b100)));
        }
        assert!(t.overflow.is_empty());
        assert_eq!(t.consume_edge(fp, 1), Some((0, 0b101)));
    }
}
