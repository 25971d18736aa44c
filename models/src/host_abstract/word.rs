//! SWAR words for the packed program counters: `u128` holds every slot a
//! state can have, `u64` the first 16 (48 bits of pcs), which is all that
//! the usual bounds need (`R + A + 1 <= 16`). The model picks the word once;
//! on the narrow one every mask operation is a single instruction instead
//! of two or three, and they run several times per state and transition.

use std::ops::{Add, BitAnd, BitOr, Not, Shr, Sub};

use super::state::{Pc, FIELD_LSB, PAIRS, QUADS};

/// A machine word of 3-bit pc fields, slot 0 in the low bits.
pub trait Word:
    Copy
    + Eq
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + Not<Output = Self>
    + Shr<u32, Output = Self>
    + Add<Output = Self>
    + Sub<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    /// Bit 0 of every 3-bit field.
    const FIELD_LSB: Self;
    /// The low 3 bits of every 6-bit group, and the low 6 of every 12-bit one.
    const PAIRS: Self;
    const QUADS: Self;
    /// Slots the word holds.
    const SLOTS: usize;
    /// The low bits of `wide`.
    fn truncate(wide: u128) -> Self;
    /// `self * 0b111`: a SWAR slot mask widened to whole fields.
    fn fields(self) -> Self;
    /// The sum of the 12-bit groups (small: no group overflows).
    fn sum_groups(self) -> u32;
    fn trailing_zeros(self) -> u32;
    /// The low 64 bits.
    fn low_u64(self) -> u64;
}

impl Word for u128 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    const FIELD_LSB: Self = FIELD_LSB;
    const PAIRS: Self = PAIRS;
    const QUADS: Self = QUADS;
    const SLOTS: usize = super::state::MAX_SLOTS;
    #[inline(always)]
    fn truncate(wide: u128) -> Self {
        wide
    }
    #[inline(always)]
    fn fields(self) -> Self {
        self * 0b111
    }
    /// Multiplying by bit 0 of every group gathers them into the top one
    /// (bits 120..128, room for 255 > 37 * 6).
    #[inline(always)]
    fn sum_groups(self) -> u32 {
        const SUM12: u128 = super::state::repeat(1, 12);
        (self.wrapping_mul(SUM12) >> 120) as u32
    }
    #[inline(always)]
    fn trailing_zeros(self) -> u32 {
        u128::trailing_zeros(self)
    }
    #[inline(always)]
    fn low_u64(self) -> u64 {
        self as u64
    }
}

impl Word for u64 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    const FIELD_LSB: Self = FIELD_LSB as u64 & ((1 << 48) - 1);
    const PAIRS: Self = PAIRS as u64;
    const QUADS: Self = QUADS as u64;
    const SLOTS: usize = 16;
    #[inline(always)]
    fn truncate(wide: u128) -> Self {
        wide as u64
    }
    #[inline(always)]
    fn fields(self) -> Self {
        self.wrapping_mul(0b111)
    }
    /// Four 12-bit groups (48 bits of pcs), gathered into the fourth.
    #[inline(always)]
    fn sum_groups(self) -> u32 {
        const SUM12: u64 = 1 | 1 << 12 | 1 << 24 | 1 << 36;
        ((self.wrapping_mul(SUM12) >> 36) & 0xFFF) as u32
    }
    #[inline(always)]
    fn trailing_zeros(self) -> u32 {
        u64::trailing_zeros(self)
    }
    #[inline(always)]
    fn low_u64(self) -> u64 {
        self
    }
}

/// A mask with bit `3 * slot` set for every slot of `pcs` at `pc`, all slots
/// at once: by bit plane, a slot is at `pc` when each of its three pc bits
/// has `pc`'s value. With `pc` a constant, the planes are shared by every
/// `slots_at` of one state once inlined. Slots beyond the model's count
/// must be masked off by the caller.
#[inline(always)]
pub fn slots_at<W: Word>(pcs: W, pc: Pc) -> W {
    let plane = |bit: u32| {
        let set = (pcs >> bit) & W::FIELD_LSB;
        if (pc as u32 >> bit) & 1 == 1 {
            set
        } else {
            !set & W::FIELD_LSB
        }
    };
    plane(0) & plane(1) & plane(2)
}

/// Sum of the pc values (as numbers) of the slots in the SWAR mask `slots`,
/// by SWAR adds instead of popcounts (a software routine on the x86-64
/// baseline): fields summed in pairs into 6-bit groups, those in pairs into
/// 12-bit groups, and the groups by a multiply.
#[inline(always)]
pub fn pc_sum<W: Word>(pcs: W, slots: W) -> u32 {
    let x = pcs & slots.fields();
    let x = (x & W::PAIRS) + ((x >> 3) & W::PAIRS);
    let x = (x & W::QUADS) + ((x >> 6) & W::QUADS);
    x.sum_groups()
}

/// The pc of `slot` (`slot < W::SLOTS`).
#[inline(always)]
pub fn pc_of<W: Word>(pcs: W, slot: usize) -> Pc {
    Pc::from_bits(u128::from((pcs >> (3 * slot as u32)).low_u64() & 0b111))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both words agree with a naive per-slot sum and pc test on a spread
    /// of packed pcs (every value 0..=6 in every one of 16 slots).
    #[test]
    fn narrow_and_wide_words_agree_with_a_naive_loop() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pcs: Vec<u32> = (0..16).map(|k| ((x >> (4 * k)) % 7) as u32).collect();
            let packed: u128 = pcs
                .iter()
                .enumerate()
                .map(|(k, &p)| u128::from(p) << (3 * k))
                .sum();
            let mask: u128 = (0..16)
                .filter(|k| (x >> (k + 40)) & 1 == 1)
                .map(|k| 1u128 << (3 * k))
                .sum();
            let naive: u32 = (0..16)
                .filter(|k| mask >> (3 * k) & 1 == 1)
                .map(|k| pcs[k])
                .sum();
            assert_eq!(pc_sum(packed, mask), naive);
            assert_eq!(pc_sum(packed as u64, mask as u64), naive);
            for pc in [Pc::Idle, Pc::WaitSem, Pc::Build, Pc::Done] {
                let at: u128 = (0..16)
                    .filter(|&k| pcs[k] == pc as u32)
                    .map(|k| 1u128 << (3 * k))
                    .sum();
                assert_eq!(slots_at(packed, pc) & ((1 << 48) - 1), at);
                assert_eq!(u128::from(slots_at(packed as u64, pc)), at);
            }
            for (k, &p) in pcs.iter().enumerate() {
                assert_eq!(pc_of(packed as u64, k) as u32, p);
                assert_eq!(pc_of(packed, k) as u32, p);
            }
        }
    }
}
