//! A fingerprint table that also counts incoming edges and carries a few
//! flag bits per state: the main BFS fills the counts (one per successor
//! computation), then Kahn's pass (`kahn.rs`) consumes them. 12 bytes a slot
//! (fingerprint, then a 24-bit count and 8 flag bits), 13.3-16.7 bytes per
//! state at 72-90% load.

use super::slots::Slots;
use super::visited::VisitedSet;

const COUNT_MASK: u32 = (1 << 24) - 1;

#[inline(always)]
fn home(fp: u64, cap: usize) -> usize {
    (((fp & 0xFFFF_FFFF) * cap as u64) >> 32) as usize
}

/// Fingerprint set with an in-degree counter and flags per slot.
#[derive(Clone, Debug)]
pub struct CountTable {
    /// `[fp low, fp high, count | flags << 24]`; fp 0 = empty.
    slots: Slots<[u32; 3]>,
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
            slots: Slots::zeroed(16),
            len: 0,
            saturated: false,
        }
    }

    #[inline(always)]
    fn fp_of(slot: &[u32; 3]) -> u64 {
        u64::from(slot[0]) | (u64::from(slot[1]) << 32)
    }

    /// The slot of `fp`, or the empty slot where it would go.
    #[inline]
    fn probe(&self, fp: u64) -> (usize, bool) {
        let cap = self.slots.len();
        let mut i = home(fp, cap);
        loop {
            match Self::fp_of(&self.slots[i]) {
                0 => return (i, false),
                f if f == fp => return (i, true),
                _ => i = if i + 1 == cap { 0 } else { i + 1 },
            }
        }
    }

    fn grow(&mut self) {
        let cap = self.slots.len() + self.slots.len() / 4;
        let old = std::mem::replace(&mut self.slots, Slots::zeroed(cap));
        for &slot in old.iter().filter(|s| Self::fp_of(s) != 0) {
            let (i, _) = self.probe(Self::fp_of(&slot));
            self.slots[i] = slot;
        }
    }

    /// Inserts `fp` with `count` incoming edges, or adds `count` to it.
    /// True if it was new.
    #[inline]
    fn add(&mut self, fp: u64, count: u32) -> bool {
        if (self.len + 1) * 10 > self.slots.len() * 9 {
            self.grow();
        }
        let (i, found) = self.probe(fp);
        let slot = &mut self.slots[i];
        if found {
            if slot[2] & COUNT_MASK == COUNT_MASK {
                self.saturated = true;
            } else {
                slot[2] += count;
            }
        } else {
            *slot = [fp as u32, (fp >> 32) as u32, count];
            self.len += 1;
        }
        !found
    }

    /// Adds `flags` to `fp`'s flags and takes one incoming edge off its
    /// count. Returns `(count left, flags)`, or `None` if `fp` is unknown.
    #[inline]
    pub fn consume_edge(&mut self, fp: u64, flags: u8) -> Option<(u32, u8)> {
        let (i, found) = self.probe(fp);
        if !found {
            return None;
        }
        let word = &mut self.slots[i][2];
        *word |= u32::from(flags) << 24;
        if *word & COUNT_MASK > 0 {
            *word -= 1;
        }
        Some((*word & COUNT_MASK, (*word >> 24) as u8))
    }

    /// Adds `flags` to `fp`'s flags; returns `(count, flags)`.
    pub fn mark(&mut self, fp: u64, flags: u8) -> Option<(u32, u8)> {
        let (i, found) = self.probe(fp);
        found.then(|| {
            let word = &mut self.slots[i][2];
            *word |= u32::from(flags) << 24;
            (*word & COUNT_MASK, (*word >> 24) as u8)
        })
    }

    #[inline(always)]
    pub fn prefetch_fp(&self, fp: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(slot) = self.slots.get(home(fp, self.slots.len())) {
            // SAFETY: a pure cache hint on an in-bounds address.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    (slot as *const [u32; 3]).cast::<i8>(),
                )
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = fp;
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
        self.probe(fp).1
    }
    fn len(&self) -> u64 {
        self.len as u64
    }
    fn heap_bytes(&self) -> u64 {
        self.slots.bytes() as u64
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
