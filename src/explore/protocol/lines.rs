//! Cache-line buckets of fingerprints, shared by the fingerprint tables:
//! `visited::FpTable` (lines of 8 fingerprints) and `counting::CountTable`
//! (lines of 6 fingerprints plus their 16-bit count-and-flags words).
//!
//! Why lines: with one fingerprint per probe step (plain linear probing), an
//! insert of a *new* fingerprint at 90% load scans about 50 slots on average
//! (`(1 + 1/(1-a)^2) / 2`), which dominated the BFS. Here the hash picks a
//! 64-byte line of 8 fingerprints; a line fills from its first entry on (no
//! deletions, so the first 0 ends the search) and a full line overflows into
//! the next one. At 90% load almost every probe touches one line, and one
//! line is one cache miss (the line type is 64-byte aligned). A line is
//! matched against a fingerprint in one go: on x86-64, four SSE2 compares
//! give the masks of hits and of empty entries.
//!
//! Load: large tables grow by 1.5x when they would pass `MAX_LOAD_NUM /
//! MAX_LOAD_DEN` (15/16), so a table runs at 62-94% load: a fingerprint
//! costs 8 / load = 8.5-12.8 bytes in an `FpLine` (64 / 7 / load = 9.8-14.6
//! with flag bytes, 64 / 6 / load = 11.4-17.1 with in-degree counts). 1.5x
//! rather than 1.25x: every growth rehashes the whole table, 3 moves per
//! stored state in all instead of 5, which made the host-abstract BFS about
//! 10% faster. Small tables (under 512 lines, 32 KiB) double instead.

use super::slots::Slots;

/// Fingerprints per `FpLine`.
pub const LINE: usize = 8;
/// Grow when `len > slots * MAX_LOAD_NUM / MAX_LOAD_DEN`.
pub const MAX_LOAD_NUM: usize = 15;
pub const MAX_LOAD_DEN: usize = 16;
/// The smallest table: 2 lines (16 slots).
pub const MIN_LINES: usize = 2;

/// One cache line of fingerprints, 0 = empty.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub struct FpLine(pub [u64; LINE]);

// SAFETY: an array of plain integers: every bit pattern is valid.
unsafe impl super::slots::ZeroSlot for FpLine {}

/// A cache line whose first entries are fingerprints (0 = empty), filled
/// from the front; [`probe`] works on any of them.
///
/// # Safety
/// The type must be 64 bytes, 64-byte aligned and `repr(C)` with its
/// `ENTRIES` fingerprints (`[u64; ENTRIES]`, `ENTRIES <= 8`) first: [`probe`]
/// reads the whole line as eight words and masks off the ones past `ENTRIES`.
pub unsafe trait Line: super::slots::ZeroSlot {
    /// Fingerprint entries per line.
    const ENTRIES: usize;
    fn fps(&self) -> &[u64];
    /// Copies entry `k` (fingerprint and whatever goes with it) to entry
    /// `to_k` of `to`.
    fn move_entry(&self, k: usize, to: &mut Self, to_k: usize);
}

// SAFETY: 64 bytes, align(64), eight fingerprints and nothing else.
unsafe impl Line for FpLine {
    const ENTRIES: usize = LINE;
    #[inline(always)]
    fn fps(&self) -> &[u64] {
        &self.0
    }
    fn move_entry(&self, k: usize, to: &mut Self, to_k: usize) {
        to.0[to_k] = self.0[k];
    }
}

/// Home line of `fp` among `lines`: the low 32 bits scaled to `lines`
/// ("fastrange"), so line counts need not be powers of two. The top bits
/// are left for shard selection.
#[inline(always)]
pub fn home(fp: u64, lines: usize) -> usize {
    (((fp & 0xFFFF_FFFF) * lines as u64) >> 32) as usize
}

/// Whether a table of `lines` lines of `entries` fingerprints holding `len`
/// entries must grow before one more insert.
#[inline(always)]
pub fn must_grow(len: usize, lines: usize, entries: usize) -> bool {
    (len + 1) * MAX_LOAD_DEN > lines * entries * MAX_LOAD_NUM
}

/// Below this many lines (32 KiB) a table doubles: small
/// tables are cheap, and regrowing them by 1.5x would rehash many times.
const DOUBLE_BELOW: usize = 1 << 9;

/// The line count after growing a table of `lines` lines.
pub fn grown(lines: usize) -> usize {
    if lines < DOUBLE_BELOW {
        (2 * lines).max(MIN_LINES)
    } else {
        lines + lines / 2
    }
}

/// Where `fp` is, or the empty entry where it would go: `(line, entry,
/// found)`. The table must have an empty entry somewhere (it never runs
/// full: `must_grow`).
#[inline(always)]
pub fn probe<L: Line>(lines: &[L], fp: u64) -> (usize, usize, bool) {
    let n = lines.len();
    let mut l = home(fp, n);
    loop {
        let (hit, empty) = matches(&lines[l], fp);
        // Entries fill from the front, so a hit always precedes the first empty.
        if hit != 0 {
            return (l, hit.trailing_zeros() as usize, true);
        }
        if empty != 0 {
            return (l, empty.trailing_zeros() as usize, false);
        }
        l = if l + 1 == n { 0 } else { l + 1 };
    }
}

/// Bit masks of the entries of `line` equal to `fp` and of the empty ones.
/// On x86-64, eight 64-bit compares in four SSE2 registers (SSE2 is part of
/// the x86-64 baseline): the scalar loop took about 110 instructions a
/// probe, a fifth of all the BFS executed on host-abstract.
#[inline(always)]
fn matches<L: Line>(line: &L, fp: u64) -> (u32, u32) {
    const { assert!(size_of::<L>() == 64 && align_of::<L>() == 64 && L::ENTRIES <= 8) };
    let valid = (1u32 << L::ENTRIES) - 1;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_castsi128_pd, _mm_cmpeq_epi32, _mm_load_si128,
            _mm_movemask_pd, _mm_set1_epi64x, _mm_setzero_si128, _mm_shuffle_epi32,
        };
        // Lanes of a 64-bit compare built from two 32-bit ones: both halves equal.
        #[inline(always)]
        fn eq64(a: __m128i, b: __m128i) -> u32 {
            // SAFETY: SSE2 only, which every x86-64 target has.
            unsafe {
                let eq = _mm_cmpeq_epi32(a, b);
                let both = _mm_and_si128(eq, _mm_shuffle_epi32::<0b10_11_00_01>(eq));
                _mm_movemask_pd(_mm_castsi128_pd(both)) as u32
            }
        }
        let words = (line as *const L).cast::<__m128i>();
        // SAFETY: SSE2 only, as above.
        let (needle, zero) = unsafe { (_mm_set1_epi64x(fp as i64), _mm_setzero_si128()) };
        let (mut hit, mut empty) = (0u32, 0u32);
        for i in 0..4 {
            // SAFETY: the line is 64 bytes and 64-byte aligned (the assertion
            // above and `Line`'s contract), so the four aligned 16-byte loads
            // (`i < 4`) stay inside it; every bit pattern is a valid __m128i.
            let v = unsafe { _mm_load_si128(words.add(i)) };
            hit |= eq64(v, needle) << (2 * i);
            empty |= eq64(v, zero) << (2 * i);
        }
        (hit & valid, empty & valid)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (mut hit, mut empty) = (0u32, 0u32);
        for (k, &f) in line.fps().iter().enumerate() {
            hit |= u32::from(f == fp) << k;
            empty |= u32::from(f == 0) << k;
        }
        (hit & valid, empty & valid)
    }
}

/// Hints the cache that `fp`'s home line is about to be probed.
#[inline(always)]
pub fn prefetch<T>(slots: &[T], fp: u64) {
    #[cfg(target_arch = "x86_64")]
    if let Some(slot) = slots.get(home(fp, slots.len())) {
        // SAFETY: prefetching is a pure cache hint; the pointer is in bounds.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (slot as *const T).cast::<i8>(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slots, fp);
}

/// Replaces `lines` by a grown table holding the same entries.
pub fn grow<L: Line>(lines: &mut Slots<L>) {
    let old = std::mem::replace(lines, zeroed(grown(lines.len())));
    for line in old.iter() {
        for (k, &fp) in line.fps().iter().enumerate() {
            if fp != 0 {
                let (l, to_k, _) = probe(lines, fp);
                line.move_entry(k, &mut lines[l], to_k);
            }
        }
    }
}

/// A zeroed array of `lines` lines.
pub fn zeroed<L: Line>(lines: usize) -> Slots<L> {
    Slots::zeroed(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_line_overflows_into_the_next_and_wraps_at_the_end() {
        let mut lines = vec![FpLine::default(); 4];
        // Fingerprints whose low 32 bits are 0 all have line 0 at home;
        // 0xFFFF_FFFF lands in the last line.
        let at_zero = |i: u64| (i + 1) << 32;
        for i in 0..LINE as u64 + 3 {
            let (l, k, found) = probe(&lines, at_zero(i));
            assert!(!found);
            assert_eq!((l, k), ((i as usize) / LINE, (i as usize) % LINE));
            lines[l].0[k] = at_zero(i);
        }
        // Every one is found again where it went, overflowed ones included.
        for i in 0..LINE as u64 + 3 {
            assert_eq!(
                probe(&lines, at_zero(i)),
                ((i as usize) / LINE, (i as usize) % LINE, true)
            );
        }
        // Fill the last line: its overflow wraps to line 0, then line 1.
        let at_end = |i: u64| (i + 1) << 32 | 0xFFFF_FFFF;
        for i in 0..LINE as u64 {
            let (l, k, _) = probe(&lines, at_end(i));
            assert_eq!((l, k), (3, i as usize));
            lines[l].0[k] = at_end(i);
        }
        assert_eq!(probe(&lines, at_end(99)), (1, 3, false));
    }

    /// A line with 6 fingerprints and two words of other data after them,
    /// as the flag and count lines have.
    #[derive(Clone, Copy, Default)]
    #[repr(C, align(64))]
    struct SixLine {
        fps: [u64; 6],
        tail: [u64; 2],
    }
    // SAFETY: plain integers only.
    unsafe impl crate::explore::protocol::slots::ZeroSlot for SixLine {}
    // SAFETY: 64 bytes, align(64), repr(C) with its six fingerprints first.
    unsafe impl Line for SixLine {
        const ENTRIES: usize = 6;
        fn fps(&self) -> &[u64] {
            &self.fps
        }
        fn move_entry(&self, k: usize, to: &mut Self, to_k: usize) {
            to.fps[to_k] = self.fps[k];
        }
    }

    #[test]
    fn line_matches_see_only_fingerprint_entries() {
        let fp = 0x1234_5678_9abc_def0;
        // The data after the fingerprints holds the needle and a zero: neither
        // may count as a hit or an empty entry.
        let mut line = SixLine {
            fps: [3, fp, 5, 0, 0, 0],
            tail: [fp, 0],
        };
        assert_eq!(matches(&line, fp), (0b000_010, 0b111_000));
        line.fps = [1, 2, 3, 4, 5, 6];
        assert_eq!(matches(&line, fp), (0, 0));
        // Equal in one 32-bit half only is not a hit.
        line.fps[2] = fp & 0xFFFF_FFFF;
        line.fps[3] = fp & !0xFFFF_FFFF;
        assert_eq!(matches(&line, fp), (0, 0));
        let full = FpLine([7, 0, fp, 0, 9, fp, 0, fp]);
        assert_eq!(matches(&full, fp), (0b1010_0100, 0b0100_1010));
    }

    #[test]
    fn growth_keeps_load_in_its_band() {
        assert_eq!(grown(0), MIN_LINES);
        assert_eq!(grown(MIN_LINES), 2 * MIN_LINES);
        assert_eq!(grown(DOUBLE_BELOW), DOUBLE_BELOW + DOUBLE_BELOW / 2);
        assert!(!must_grow(14, 2, LINE) && must_grow(15, 2, LINE));
    }
}
