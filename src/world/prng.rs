//! Seeded randomness: the ChaCha8 [`Prng`] and the [`SeedTree`] of named sub-streams.
//!
//! One root seed per run; every component (the scheduler, the fault plan,
//! buggify, each simulated instance) draws from its own stream derived from
//! `(root, name)`, so adding draws in one component never shifts another's
//! values. Both the derivation (FNV-1a + SplitMix64, written here) and the
//! generator (ChaCha8, rand_chacha 0.3) are value-stable by definition.

use std::hash::{Hash, Hasher};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A deterministic pseudo-random generator (ChaCha8).
///
/// `Hash`/`Eq` cover the generator's position, so a world state that holds a
/// `Prng` fingerprints by where the stream is, not by how it got there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prng {
    rng: ChaCha8Rng,
}

impl Hash for Prng {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rng.get_seed().hash(state);
        self.rng.get_stream().hash(state);
        self.rng.get_word_pos().hash(state);
    }
}

impl Prng {
    /// A generator seeded with 32 bytes expanded from `seed` by SplitMix64.
    pub fn from_u64(seed: u64) -> Self {
        let mut state = seed;
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        Prng {
            rng: ChaCha8Rng::from_seed(bytes),
        }
    }

    /// The next raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A uniform value in `0..n` (no modulo bias). `below(0)` is 0 and still
    /// consumes a draw, so a degenerate input does not shift later values
    /// differently from a normal one.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            self.next_u64();
            return 0;
        }
        // Rejection sampling over the largest multiple of n that fits in u64.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// True with probability `num / den`. Always draws once; `den == 0` is
    /// false, `num >= den` is true.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        let v = self.below(den);
        den != 0 && v < num
    }

    /// A uniform value in `lo..hi`; an empty range gives `lo` (after one draw).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo))
    }
}

/// Derives independent, named sub-streams from one root seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeedTree {
    root: u64,
}

impl SeedTree {
    pub fn new(root: u64) -> Self {
        SeedTree { root }
    }

    /// The root seed this tree was built from.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The seed of the sub-stream `name` (what [`SeedTree::stream`] seeds with).
    pub fn seed_of(&self, name: &str) -> u64 {
        let mut state = self.root ^ fnv1a64(name.as_bytes());
        splitmix64(&mut state)
    }

    /// The generator for component `name`: same (root, name), same values.
    pub fn stream(&self, name: &str) -> Prng {
        Prng::from_u64(self.seed_of(name))
    }

    /// A nested tree for a sub-component (`tree.child("host-1").stream("faults")`).
    pub fn child(&self, name: &str) -> SeedTree {
        SeedTree {
            root: self.seed_of(name),
        }
    }
}

/// FNV-1a, 64-bit: a fixed, documented string hash (std's hashers are not
/// value-stable across releases).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// One SplitMix64 step: advances `state` and returns a well-mixed output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(mut p: Prng, n: usize) -> Vec<u64> {
        (0..n).map(|_| p.next_u64()).collect()
    }

    #[test]
    fn pinned_outputs_for_seed_42() {
        // Pinned so an accidental change of algorithm or derivation is caught:
        // changing these values breaks every recorded seed.
        let tree = SeedTree::new(42);
        assert_eq!(tree.seed_of("scheduler"), PINNED_SCHEDULER_SEED);
        assert_eq!(first(tree.stream("scheduler"), 3), PINNED_SCHEDULER);
        assert_eq!(first(Prng::from_u64(42), 3), PINNED_DIRECT);
    }

    const PINNED_SCHEDULER_SEED: u64 = 0x5ee4_5ea0_d546_65cc;
    const PINNED_SCHEDULER: [u64; 3] = [
        0x1f4f_b9b4_e5d9_3dfb,
        0x0c01_f423_a24d_9b18,
        0x11ed_5321_f37f_8abc,
    ];
    const PINNED_DIRECT: [u64; 3] = [
        0x3115_9ef9_87c9_1afc,
        0x1755_9844_b416_9001,
        0xf7d0_afbf_9ad9_a69f,
    ];

    #[test]
    fn fnv_and_splitmix_match_reference_values() {
        // Published FNV-1a test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        // SplitMix64 reference: seed 0 gives 0xe220a8397b1dcdaf first.
        let mut s = 0;
        assert_eq!(splitmix64(&mut s), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn names_give_independent_streams() {
        let tree = SeedTree::new(42);
        assert_ne!(
            first(tree.stream("faults"), 4),
            first(tree.stream("buggify"), 4)
        );
        assert_eq!(
            first(tree.stream("faults"), 4),
            first(tree.stream("faults"), 4)
        );
        assert_ne!(
            first(tree.stream("faults"), 4),
            first(SeedTree::new(43).stream("faults"), 4)
        );
        assert_ne!(tree.child("a").stream("x"), tree.child("b").stream("x"));
    }

    #[test]
    fn bounded_draws_stay_in_range_and_degenerate_inputs_do_not_panic() {
        let mut p = Prng::from_u64(7);
        for n in 1..50 {
            assert!(p.below(n) < n);
            let v = p.range(10, 10 + n);
            assert!((10..10 + n).contains(&v));
        }
        assert_eq!(p.below(0), 0);
        assert_eq!(p.range(5, 5), 5);
        assert_eq!(p.range(9, 3), 9);
        assert!(!p.chance(1, 0));
        assert!(p.chance(3, 3));
        assert!(!p.chance(0, 3));
    }

    #[test]
    fn hash_and_eq_follow_stream_position() {
        let a = Prng::from_u64(1);
        let mut b = a.clone();
        assert_eq!(a, b);
        b.next_u64();
        assert_ne!(a, b);
    }
}
