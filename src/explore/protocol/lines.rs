//! Cache-line buckets of fingerprints, shared by the fingerprint tables:
//! `visited::FpTable` (lines of 8 fingerprints), `flags::FlagTable` (7 plus
//! their flag bytes) and `counting::CountTable` (6 plus their 16-bit
//! count-and-flags words).
//!
//! Why lines: with one fingerprint per probe step (plain linear probing), an
//! insert of a *new* fingerprint at 90% load scans about 50 slots on average
//! (`(1 + 1/(1-a)^2) / 2`), which dominated the BFS. Here the hash picks a
//! 64-byte line of fingerprints; a line fills from its first entry on (no
//! deletions, so the first 0 ends the search) and a full line overflows into
//! the next one. One line is one cache miss (the line type is 64-byte
//! aligned), and it is matched against a fingerprint in one go: on x86-64,
//! SSE2 compares give the masks of hits and of empty entries.
//!
//! Load: overflow still clusters. Measured on 8-entry lines, an insert (a
//! search for an absent fingerprint) scans 1.2 lines at 62% load, 1.7 at
//! 75%, 2.3 at 80%, 3.5 at 85%, 6.8 at 90% and 18 at 94%. So a table grows
//! by 1.5x when it would pass [`Line::MAX_LOAD`] (7/8 by default), and runs
//! at 58-88% load: a fingerprint costs 8 / load = 9.1-13.7 bytes in an
//! `FpLine`, 64 / 7 / load = 10.4-15.7 with flag bytes. With 15/16
//! (62-94%) the host-abstract BFS was 6-10% slower at R=6..7, for 0-10%
//! less memory. `CountTable` keeps 15/16: with 6 entries a line, 7/8 would
//! cost up to 18.3 bytes a state (11.4-17.1 at 15/16). 1.5x rather than
//! 1.25x: every growth rehashes the whole table, 3 moves per stored state
//! in all instead of 5, which made the host-abstract BFS about 10% faster.
//! Small tables (under 512 lines, 32 KiB) double instead.

use super::slots::Slots;

/// Fingerprints per `FpLine`.
pub const LINE: usize = 8;
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
    /// The most a table of these lines is filled before it grows, as a
    /// fraction `(numerator, denominator)`: see the module doc.
    const MAX_LOAD: (usize, usize) = (7, 8);
    fn fps(&self) -> &[u64];
    /// Copies entry `k` (fingerprint and whatever goes with it) to entry
    /// `to_k` of `to`, the first empty one there.
    fn move_entry(&self, k: usize, to: &mut Self, to_k: usize);
    /// How many entries are filled, if the line keeps that count in a spare
    /// byte: probes then need no compare against zero to find the first
    /// empty entry, and growth places an entry with one byte read.
    #[inline(always)]
    fn filled(&self) -> Option<usize> {
        None
    }
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

/// Whether a table of `lines` lines of `L` holding `len` entries must grow
/// before one more insert.
#[inline(always)]
pub fn must_grow<L: Line>(len: usize, lines: usize) -> bool {
    let (num, den) = L::MAX_LOAD;
    (len + 1) * den > lines * L::ENTRIES * num
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
        let line = &lines[l];
        let (hit, empty) = match line.filled() {
            Some(_) => (matches(line, fp).0, empties(line)),
            None => matches(line, fp),
        };
        // Entries fill from the front, so a hit always precedes the first empty.
        if hit != 0 {
            return (l, (hit.trailing_zeros() / 2) as usize, true);
        }
        if empty != 0 {
            return (l, (empty.trailing_zeros() / 2) as usize, false);
        }
        l = if l + 1 == n { 0 } else { l + 1 };
    }
}

/// A mask (entry `k` at bit `2 k`) whose lowest bit is the first empty
/// entry of `line`; 0 if it is full.
#[inline(always)]
fn empties<L: Line>(line: &L) -> u32 {
    match line.filled() {
        Some(n) if n < L::ENTRIES => 1 << (2 * n),
        Some(_) => 0,
        None => matches(line, 0).1,
    }
}

/// Bit masks of the entries of `line` equal to `fp` and of the empty ones,
/// entry `k` at bit `2 k`. On x86-64 (SSE2 is part of its baseline): eight
/// 32-bit-lane compares per mask, packed down to one byte per lane and
/// read with one movemask, so a 64-bit entry matches where both its lane
/// bits are set. A scalar loop took about 110 instructions a probe (a fifth
/// of all the BFS executed on host-abstract), 64-bit compares built from
/// shuffles about 50, this about 25.
#[inline(always)]
fn matches<L: Line>(line: &L, fp: u64) -> (u32, u32) {
    const { assert!(size_of::<L>() == 64 && align_of::<L>() == 64 && L::ENTRIES <= 8) };
    // Bit 2k for each fingerprint entry k.
    let valid = 0x5555 & ((1u32 << (2 * L::ENTRIES)) - 1);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi32, _mm_load_si128, _mm_movemask_epi8, _mm_packs_epi16,
            _mm_packs_epi32, _mm_set1_epi64x, _mm_setzero_si128,
        };
        let words = (line as *const L).cast::<__m128i>();
        // SAFETY: SSE2 only, which every x86-64 target has. The line is 64
        // bytes and 64-byte aligned (the assertion above and `Line`'s
        // contract), so the four aligned 16-byte loads stay inside it; every
        // bit pattern is a valid __m128i. Saturating packs keep the all-ones
        // and all-zeros compare lanes as they are, in lane order.
        let (hit, empty) = unsafe {
            let v = [0, 1, 2, 3].map(|i| _mm_load_si128(words.add(i)));
            let lanes = |x: __m128i| {
                let c = v.map(|w| _mm_cmpeq_epi32(w, x));
                let packed =
                    _mm_packs_epi16(_mm_packs_epi32(c[0], c[1]), _mm_packs_epi32(c[2], c[3]));
                _mm_movemask_epi8(packed) as u32
            };
            (
                lanes(_mm_set1_epi64x(fp as i64)),
                lanes(_mm_setzero_si128()),
            )
        };
        // Both 32-bit lanes of an entry equal: bits 2k and 2k+1.
        (hit & (hit >> 1) & valid, empty & (empty >> 1) & valid)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (mut hit, mut empty) = (0u32, 0u32);
        for (k, &f) in line.fps().iter().enumerate() {
            hit |= u32::from(f == fp) << (2 * k);
            empty |= u32::from(f == 0) << (2 * k);
        }
        (hit & valid, empty & valid)
    }
}

/// Hints the cache that `fp`'s home line is about to be probed, and the
/// line after it: an insert scans about 2 lines on average at this load
/// (host-abstract R=7 ran 5% faster than with the home line alone). Most
/// probes never need the second line, but asking for it only when the home
/// line turns out full (read 4 or 10 probes later, once it has arrived) was
/// slower still: R=7 took 3.62-3.68 s against 3.26-3.31 s.
#[inline(always)]
pub fn prefetch<T>(slots: &[T], fp: u64) {
    #[cfg(target_arch = "x86_64")]
    if let Some(slot) = slots.get(home(fp, slots.len())) {
        // SAFETY: prefetching is a pure cache hint; the pointer is in bounds
        // (the next line may not be, but a prefetch never faults).
        unsafe {
            let at = (slot as *const T).cast::<i8>();
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at);
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                at.wrapping_add(64),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slots, fp);
}

/// Grows `lines` in place (see [`Slots::extend_zeroed`]) and rehashes it.
///
/// Why in place is safe: the home line of a fingerprint only moves up when
/// the table grows (`home` is monotone in the line count), so lines are
/// rehashed from the last to the first: each is emptied, then its entries
/// are placed from their new home on, which is at or above the line being
/// emptied, among lines that hold only rehashed entries and never lose one
/// again. The few entries that would land below their old line (a long
/// overflow near the start of the table) or past the end (a cluster that
/// wrapped around) wait in a side list and are placed last, with a normal
/// probe over the finished table. Against rehashing into a fresh table,
/// this spares the kernel zeroing the old size again on every growth (a
/// tenth of host-abstract's BFS time went to that) and halves the peak.
pub fn grow<L: Line>(lines: &mut Slots<L>) {
    let old = lines.len();
    let n = grown(old);
    lines.extend_zeroed(n);
    // SAFETY: all-zero bytes are a valid (empty) line (ZeroSlot).
    let empty: L = unsafe { std::mem::zeroed() };
    let mut later = Vec::new();
    for l in (0..old).rev() {
        let line = std::mem::replace(&mut lines[l], empty);
        for (k, &fp) in line.fps().iter().enumerate() {
            if fp == 0 {
                break; // lines fill from the front
            }
            let at = home(fp, n);
            match (at >= l).then(|| first_empty_from(lines, at)).flatten() {
                Some((to, to_k)) => line.move_entry(k, &mut lines[to], to_k),
                None => later.push((line, k)),
            }
        }
    }
    for (line, k) in later {
        // The first empty entry from the home line on, wrapping at the end
        // (the table is never full: `must_grow`).
        let at = home(line.fps()[k], n);
        let (to, to_k) = first_empty_from(lines, at)
            .or_else(|| first_empty_from(lines, 0))
            .expect("a growing table has empty entries");
        line.move_entry(k, &mut lines[to], to_k);
    }
}

/// The first empty entry at or after line `from`, without wrapping past
/// the end.
#[inline(always)]
fn first_empty_from<L: Line>(lines: &[L], from: usize) -> Option<(usize, usize)> {
    (from..lines.len()).find_map(|l| {
        let empty = empties(&lines[l]);
        (empty != 0).then(|| (l, (empty.trailing_zeros() / 2) as usize))
    })
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

    /// Entry bit `k` moved to bit `2 k`, as `matches` reports it.
    fn spread(mask: u32) -> u32 {
        (0..8).map(|k| (mask >> k & 1) << (2 * k)).sum()
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
        assert_eq!(matches(&line, fp), (spread(0b000_010), spread(0b111_000)));
        line.fps = [1, 2, 3, 4, 5, 6];
        assert_eq!(matches(&line, fp), (0, 0));
        // Equal in one 32-bit half only is not a hit.
        line.fps[2] = fp & 0xFFFF_FFFF;
        line.fps[3] = fp & !0xFFFF_FFFF;
        assert_eq!(matches(&line, fp), (0, 0));
        let full = FpLine([7, 0, fp, 0, 9, fp, 0, fp]);
        assert_eq!(
            matches(&full, fp),
            (spread(0b1010_0100), spread(0b0100_1010))
        );
    }

    /// Every entry is findable: the lines from its home up to its own
    /// (cyclically) are full, and each line is filled from the front.
    fn assert_well_formed(lines: &[FpLine], expected: &[u64]) {
        let n = lines.len();
        let mut held = 0;
        for (l, line) in lines.iter().enumerate() {
            let filled = line.0.iter().take_while(|&&f| f != 0).count();
            assert!(
                line.0[filled..].iter().all(|&f| f == 0),
                "line {l} has a gap"
            );
            for &fp in &line.0[..filled] {
                held += 1;
                let mut at = home(fp, n);
                while at != l {
                    assert!(lines[at].0.iter().all(|&f| f != 0), "{fp:#x} unreachable");
                    at = (at + 1) % n;
                }
            }
        }
        assert_eq!(held, expected.len());
        for &fp in expected {
            assert!(probe(lines, fp).2, "{fp:#x} lost");
        }
    }

    /// Inserts `fps` growing at the table's load limit, checking the table
    /// after every growth.
    fn fill(fps: &[u64]) -> Slots<FpLine> {
        let mut lines = zeroed::<FpLine>(MIN_LINES);
        for (i, &fp) in fps.iter().enumerate() {
            if must_grow::<FpLine>(i, lines.len()) {
                grow(&mut lines);
                assert_well_formed(&lines, &fps[..i]);
            }
            let (l, k, found) = probe(&lines, fp);
            assert!(!found);
            lines[l].0[k] = fp;
        }
        lines
    }

    #[test]
    fn growth_in_place_keeps_every_entry_findable() {
        // Spread fingerprints, through small (boxed) and mapped tables.
        let spread: Vec<u64> = (1..=150_000u64)
            .map(|i| super::super::hash::fingerprint(&i))
            .collect();
        let lines = fill(&spread);
        assert!(lines.len() * 64 >= 1 << 20, "reached a mapped table");
        assert_well_formed(&lines, &spread);
        // Crowded at the end of the table, so clusters wrap around to line
        // 0 and must wait until the rest is placed; and crowded at the
        // start, where overflow runs longer than the home moves up.
        let ends: Vec<u64> = (1..=3000u64)
            .map(|i| {
                i << 32
                    | if i % 2 == 0 {
                        0xFFFF_FFFF - i % 64
                    } else {
                        i % 64
                    }
            })
            .collect();
        let lines = fill(&ends);
        assert_well_formed(&lines, &ends);
    }

    #[test]
    fn growth_keeps_load_in_its_band() {
        assert_eq!(grown(0), MIN_LINES);
        assert_eq!(grown(MIN_LINES), 2 * MIN_LINES);
        assert_eq!(grown(DOUBLE_BELOW), DOUBLE_BELOW + DOUBLE_BELOW / 2);
        assert!(!must_grow::<FpLine>(13, 2) && must_grow::<FpLine>(14, 2));
    }
}
