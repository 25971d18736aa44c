//! Stable 64-bit hashing for state fingerprints and task histories.
//!
//! `std`'s `DefaultHasher` is keyed per process on some platforms and slow
//! (SipHash); fingerprints only need to be identical within one process and
//! fast, so this is a small multiply-fold hasher (the "mum" step of
//! wyhash-style hashes). Collisions are possible in principle, as with any
//! fingerprinting model checker; 64 bits keep them improbable.

use std::hash::{Hash, Hasher};

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;

/// 64x64 -> 128-bit multiply, folded back to 64 bits.
#[inline]
fn mum(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

/// Combines two 64-bit values into one (order-sensitive).
#[inline]
pub fn mix(a: u64, b: u64) -> u64 {
    mum(a ^ P0, b ^ P1)
}

/// A deterministic, fast [`Hasher`].
#[derive(Clone, Debug)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher { state: P2 }
    }
}

impl StableHasher {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(word));
        }
        let rem = chunks.remainder();
        if !rem.is_empty() {
            let mut word = [0u8; 8];
            word[..rem.len()].copy_from_slice(rem);
            // The length tag keeps "ab" and "ab\0" apart.
            self.write_u64(u64::from_le_bytes(word) ^ ((rem.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.state = mum(self.state ^ x ^ P0, P1);
    }
    #[inline]
    fn write_u8(&mut self, x: u8) {
        self.write_u64(x as u64 | 0x100)
    }
    #[inline]
    fn write_u16(&mut self, x: u16) {
        self.write_u64(x as u64 | 0x2_0000)
    }
    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64 | 0x4_0000_0000)
    }
    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64)
    }
    #[inline]
    fn write_i64(&mut self, x: i64) {
        self.write_u64(x as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        mum(self.state ^ P2, P0)
    }
}

/// Hashes one value with [`StableHasher`].
#[inline]
pub fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = StableHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equal_and_different_values_differ() {
        assert_eq!(hash_of("abc"), hash_of("abc"));
        assert_ne!(hash_of("abc"), hash_of("abd"));
        assert_ne!(hash_of(&(1u64, 2u64)), hash_of(&(2u64, 1u64)));
        assert_ne!(hash_of(&0u64), hash_of(&1u64));
        assert_ne!(mix(1, 2), mix(2, 1));
    }
}
