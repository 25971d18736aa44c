//! State fingerprints: an in-house, value-stable 64-bit hasher (fixed seed,
//! folded 128-bit multiplies) so that fingerprints, and with them every
//! exploration order, are identical across runs, threads and platforms.

use std::hash::{Hash, Hasher};

const SEED: u64 = 0x243F_6A88_85A3_08D3; // digits of pi: any fixed odd value works
const MUL: u64 = 0x9E37_79B9_7F4A_7C15; // 2^64 / golden ratio
const FIN: u64 = 0xD6E8_FEB8_6659_FD93;

/// The low and high halves of the 128-bit product, xored: a cheap full-width mix.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Feeds every written word through a folded multiply. Integers are written
/// as little-endian-independent values (`u128` as two words), so a state's
/// fingerprint does not depend on the platform.
#[derive(Clone, Copy, Debug)]
pub struct FpHasher {
    h: u64,
}

impl Default for FpHasher {
    fn default() -> Self {
        FpHasher { h: SEED }
    }
}

impl FpHasher {
    #[inline(always)]
    fn add(&mut self, word: u64) {
        self.h = fold_mul(self.h ^ word, MUL);
    }
}

impl Hasher for FpHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        // The length tag keeps "ab" + "" apart from "a" + "b".
        self.add(u64::from_le_bytes(word) ^ ((bytes.len() as u64) << 56));
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.h ^ (self.h >> 29), FIN)
    }
}

/// The 64-bit fingerprint of a state. Never 0: 0 marks an empty slot in the
/// visited tables (the one value folded onto 1 doubles that value's
/// collision odds, a negligible 2^-64).
#[inline]
pub fn fingerprint<S: Hash + ?Sized>(state: &S) -> u64 {
    let mut hasher = FpHasher::default();
    state.hash(&mut hasher);
    hasher.finish().max(1)
}

/// Expected number of fingerprint collisions among `n` distinct states
/// (birthday bound `n^2 / 2^65`).
pub fn collision_odds(n: u64) -> f64 {
    let n = n as f64;
    n * n / 2f64.powi(65)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_value_stable() {
        // Pinned values: a change here changes every exploration order (and
        // so every BFS trace), on every platform.
        assert_eq!(fingerprint(&1u128), 0x3fe1_8bc2_8697_a816);
        assert_eq!(fingerprint(&(7u32, 9u8)), 0x27ce_77c3_2a39_d392);
        assert_eq!(fingerprint("abc"), 0x0813_d4d1_6987_7e74);
        assert_ne!(fingerprint(&1u128), fingerprint(&2u128));
        assert_ne!(fingerprint(&(1u64 << 40)), fingerprint(&(1u64 << 41)));
    }

    #[test]
    fn no_collisions_on_dense_small_structured_states() {
        // Structured inputs (small fields, many words) are what models produce.
        let mut fps: Vec<u64> = (0u32..200_000)
            .map(|i| fingerprint(&(i & 0xff, i >> 8, [0u8; 3], i % 7)))
            .collect();
        fps.sort_unstable();
        fps.dedup();
        assert_eq!(fps.len(), 200_000);
    }

    #[test]
    fn slot_bits_are_spread() {
        // The low 32 bits pick a slot, the top 8 a shard: both must vary.
        let fps: Vec<u64> = (0u64..4096).map(|i| fingerprint(&i)).collect();
        let mut low = fps.iter().map(|f| f & 0xff).collect::<Vec<_>>();
        let mut high = fps.iter().map(|f| f >> 56).collect::<Vec<_>>();
        low.sort_unstable();
        low.dedup();
        high.sort_unstable();
        high.dedup();
        assert!(
            low.len() > 240 && high.len() > 240,
            "{} {}",
            low.len(),
            high.len()
        );
    }
}
