//! Visited sets: a table of 64-bit fingerprints in cache-line buckets (8
//! bytes a slot, no per-state allocation; `lines.rs` explains the layout and
//! load: 9.1-13.7 bytes per stored state) and an exact table that keeps
//! whole states (`Eq`) to rule collisions out (linear probing over u32
//! indices, grown by 1.25x at 90% load).

use super::lines::{self, FpLine};
use super::slots::Slots;

/// Grow when `len > cap * MAX_LOAD_NUM / MAX_LOAD_DEN`.
const MAX_LOAD_NUM: usize = 9;
const MAX_LOAD_DEN: usize = 10;
const MIN_CAP: usize = 16;

/// Home slot of `fp` in a table of `cap` slots: the low 32 bits scaled to
/// `cap` ("fastrange"), so capacities need not be powers of two. The top
/// bits are left for shard selection.
#[inline(always)]
fn home(fp: u64, cap: usize) -> usize {
    (((fp & 0xFFFF_FFFF) * cap as u64) >> 32) as usize
}

fn grown(cap: usize) -> usize {
    (cap + cap / 4).max(MIN_CAP)
}

/// A set of states keyed by fingerprint (`fp != 0`, see `hash::fingerprint`).
pub trait VisitedSet<S>: Send + Sync {
    /// Inserts the state; true if it was not in the set.
    fn insert(&mut self, fp: u64, state: &S) -> bool;
    /// Inserts a successor reached over one more edge (tables that count
    /// in-degrees count it; the others just insert).
    #[inline]
    fn insert_edge(&mut self, fp: u64, state: &S) -> bool {
        self.insert(fp, state)
    }
    /// Inserts a successor that arrives with liveness flag bits (see
    /// `flags.rs`): whether it was new, and the bits it gained. Tables
    /// without flags just insert the edge and gain nothing.
    #[inline]
    fn insert_flagged(&mut self, fp: u64, state: &S, _flags: u8) -> (bool, u8) {
        (self.insert_edge(fp, state), 0)
    }
    fn contains(&self, fp: u64, state: &S) -> bool;
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes held (slots and stored states, not states' own heap data).
    fn heap_bytes(&self) -> u64;
    /// Hints the cache that `fp`'s slot is about to be probed.
    fn prefetch(&self, _fp: u64) {}
}

/// Fingerprint set: cache-line buckets of fingerprints (see `lines.rs`).
#[derive(Clone, Debug)]
pub struct FpTable {
    lines: Slots<FpLine>,
    len: usize,
}

impl Default for FpTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FpTable {
    pub fn new() -> Self {
        FpTable {
            lines: lines::zeroed(lines::MIN_LINES),
            len: 0,
        }
    }

    /// Inserts `fp`; true if new.
    #[inline]
    pub fn insert_fp(&mut self, fp: u64) -> bool {
        debug_assert!(fp != 0);
        if lines::must_grow::<FpLine>(self.len, self.lines.len()) {
            lines::grow(&mut self.lines);
        }
        let (l, k, found) = lines::probe(&self.lines, fp);
        if !found {
            self.lines[l].0[k] = fp;
            self.len += 1;
        }
        !found
    }

    #[inline]
    pub fn contains_fp(&self, fp: u64) -> bool {
        lines::probe(&self.lines, fp).2
    }
}

impl<S> VisitedSet<S> for FpTable {
    #[inline]
    fn insert(&mut self, fp: u64, _state: &S) -> bool {
        self.insert_fp(fp)
    }
    #[inline]
    fn contains(&self, fp: u64, _state: &S) -> bool {
        self.contains_fp(fp)
    }
    fn len(&self) -> u64 {
        self.len as u64
    }
    fn heap_bytes(&self) -> u64 {
        self.lines.bytes() as u64
    }
    #[inline(always)]
    fn prefetch(&self, fp: u64) {
        lines::prefetch(&self.lines, fp);
    }
}

#[inline(always)]
fn prefetch_slot<T>(slots: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(slot) = slots.get(i) {
        // SAFETY: prefetching is a pure cache hint; the pointer is in bounds.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (slot as *const T).cast::<i8>(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slots, i);
}

/// Exact set: slots index into a vector of (fingerprint, state); equality is
/// decided by `Eq`, so two states with one fingerprint are both kept.
#[derive(Clone, Debug)]
pub struct ExactTable<S> {
    slots: Slots<u32>, // 0 = empty, else index + 1 into `entries`
    entries: Vec<(u64, S)>,
}

impl<S> Default for ExactTable<S> {
    fn default() -> Self {
        ExactTable {
            slots: Slots::zeroed(MIN_CAP),
            entries: Vec::new(),
        }
    }
}

impl<S: Eq + Clone + Send + Sync> ExactTable<S> {
    pub fn new() -> Self {
        Self::default()
    }

    fn grow(&mut self) {
        self.slots = Slots::zeroed(grown(self.slots.len()));
        let cap = self.slots.len();
        for (index, (fp, _)) in self.entries.iter().enumerate() {
            let mut i = home(*fp, cap);
            while self.slots[i] != 0 {
                i = if i + 1 == cap { 0 } else { i + 1 };
            }
            self.slots[i] = index as u32 + 1;
        }
    }

    /// The slot holding `state`, or the empty slot where it would go.
    fn probe(&self, fp: u64, state: &S) -> (usize, bool) {
        let cap = self.slots.len();
        let mut i = home(fp, cap);
        loop {
            match self.slots[i] {
                0 => return (i, false),
                n => {
                    let (efp, es) = &self.entries[n as usize - 1];
                    if *efp == fp && es == state {
                        return (i, true);
                    }
                }
            }
            i = if i + 1 == cap { 0 } else { i + 1 };
        }
    }
}

impl<S: Eq + Clone + Send + Sync> VisitedSet<S> for ExactTable<S> {
    fn insert(&mut self, fp: u64, state: &S) -> bool {
        if (self.entries.len() + 1) * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            self.grow();
        }
        let (i, found) = self.probe(fp, state);
        if !found {
            self.entries.push((fp, state.clone()));
            self.slots[i] = self.entries.len() as u32;
        }
        !found
    }
    fn contains(&self, fp: u64, state: &S) -> bool {
        self.probe(fp, state).1
    }
    fn len(&self) -> u64 {
        self.entries.len() as u64
    }
    fn heap_bytes(&self) -> u64 {
        (self.slots.bytes() + self.entries.capacity() * std::mem::size_of::<(u64, S)>()) as u64
    }
    #[inline(always)]
    fn prefetch(&self, fp: u64) {
        prefetch_slot(&self.slots, home(fp, self.slots.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp_table_inserts_once_and_grows() {
        let mut t = FpTable::new();
        // Past the doubling phase of small tables, into the 1.5x band.
        for fp in 1..=100_000u64 {
            let fp = fp.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            assert!(t.insert_fp(fp));
            assert!(!t.insert_fp(fp));
            assert!(t.contains_fp(fp));
        }
        assert_eq!(VisitedSet::<()>::len(&t), 100_000);
        assert!(!t.contains_fp(2));
        let bytes = VisitedSet::<()>::heap_bytes(&t) as f64 / 100_000.0;
        assert!((8.5..=12.8).contains(&bytes), "{bytes} bytes per entry");
    }

    #[test]
    fn exact_table_keeps_colliding_states_apart() {
        let mut t = ExactTable::new();
        // Same fingerprint, different states: both stored.
        assert!(t.insert(7, &"a"));
        assert!(t.insert(7, &"b"));
        assert!(!t.insert(7, &"a"));
        for i in 0..1000u64 {
            assert!(t.insert(i + 100, &"x"));
        }
        assert_eq!(t.len(), 1002);
        assert!(t.contains(7, &"b") && !t.contains(7, &"c"));
    }
}
