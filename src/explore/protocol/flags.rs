//! One-pass liveness for models with a progress measure: the BFS carries,
//! for up to 8 `eventually p` properties, one bit per state saying "on a
//! path of `!p` states from an initial state" (the state is in that
//! property's G'), so no second pass is needed.
//!
//! Why it is exact: `<> p` fails iff a terminal state of G' is reachable
//! (a cycle inside G' is impossible, since the measure proves the whole graph
//! acyclic). The bit of a state is the OR over its incoming edges of the
//! predecessor's bit, masked by `!p` at the predecessor. The BFS stores the
//! bits a state arrives with in the visited table ([`FlagTable`]) and expands
//! it with those; if a later edge brings a bit the state lacked (a "gain",
//! which can happen when it was already expanded), the gain is queued, and
//! [`repropagate`] pushes it on through the successors once the BFS is done,
//! until nothing changes. Bits only ever get set, so this terminates, and
//! every gain is re-expanded at most once per bit.
//!
//! Memory: [`FlagTable`] lines hold 7 fingerprints, their 7 flag bytes and
//! the count of filled entries (64 / 7 / load = 10.4-15.7 bytes a state at
//! 58-88% load). The count spares every probe the compare against zero and
//! lets growth place an entry with one byte read: host-abstract R=6 and R=7
//! ran 10% faster with it.

use super::bfs::shard_of;
use super::hash::fingerprint;
use super::lines::{self, Line};
use super::slots::Slots;
use super::visited::VisitedSet;
use super::{Ctx, Stop};
use crate::explore::model::Model;

/// Properties one BFS can carry (one flag bit each).
pub const GROUP: usize = 8;
/// Fingerprints per line.
const ENTRIES: usize = 7;

/// One cache line: 7 fingerprints (0 = empty), their flag bytes, and how
/// many of the 7 are filled.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub struct FlagLine {
    fps: [u64; ENTRIES],
    flags: [u8; ENTRIES],
    filled: u8,
}

// SAFETY: plain integers only: every bit pattern is valid.
unsafe impl super::slots::ZeroSlot for FlagLine {}

// SAFETY: 64 bytes, align(64), repr(C) with its seven fingerprints first.
unsafe impl Line for FlagLine {
    const ENTRIES: usize = ENTRIES;
    #[inline(always)]
    fn fps(&self) -> &[u64] {
        &self.fps
    }
    fn move_entry(&self, k: usize, to: &mut Self, to_k: usize) {
        to.fps[to_k] = self.fps[k];
        to.flags[to_k] = self.flags[k];
        to.filled = to_k as u8 + 1;
    }
    #[inline(always)]
    fn filled(&self) -> Option<usize> {
        Some(usize::from(self.filled))
    }
}

/// Fingerprint set with 8 flag bits per state.
#[derive(Clone, Debug)]
pub struct FlagTable {
    lines: Slots<FlagLine>,
    len: usize,
}

impl Default for FlagTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FlagTable {
    pub fn new() -> Self {
        FlagTable {
            lines: lines::zeroed(lines::MIN_LINES),
            len: 0,
        }
    }

    /// Inserts `fp` with `flags`, or ORs `flags` into it. Returns whether it
    /// was new and the bits it gained (0 if new or if it had them all).
    #[inline(always)]
    pub fn add(&mut self, fp: u64, flags: u8) -> (bool, u8) {
        debug_assert!(fp != 0);
        if lines::must_grow::<FlagLine>(self.len, self.lines.len()) {
            self.grow();
        }
        let (l, k, found) = lines::probe(&self.lines, fp);
        let line = &mut self.lines[l];
        if !found {
            line.fps[k] = fp;
            line.flags[k] = flags;
            line.filled = k as u8 + 1;
            self.len += 1;
            return (true, 0);
        }
        let gained = flags & !line.flags[k];
        line.flags[k] |= gained;
        (false, gained)
    }

    /// Out of line: rare, and it keeps `add` small enough to inline.
    #[inline(never)]
    fn grow(&mut self) {
        lines::grow(&mut self.lines);
    }
}

impl<S> VisitedSet<S> for FlagTable {
    fn insert(&mut self, fp: u64, _state: &S) -> bool {
        self.add(fp, 0).0
    }
    #[inline]
    fn insert_flagged(&mut self, fp: u64, _state: &S, flags: u8) -> (bool, u8) {
        self.add(fp, flags)
    }
    fn contains(&self, fp: u64, _state: &S) -> bool {
        lines::probe(&self.lines, fp).2
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

/// Bit k set: `props[k]` does not hold in `state`.
#[inline]
pub fn not_p<M: Model>(ctx: &Ctx<M>, props: &[usize], state: &M::State) -> u8 {
    props.iter().enumerate().fold(0, |bits, (k, &p)| {
        bits | (u8::from(!ctx.table.holds(p, ctx.model, state)) << k)
    })
}

/// What the one-pass liveness check found.
#[derive(Clone, Debug, Default)]
pub struct FlagOutcome {
    /// Every explored transition increased the progress measure.
    pub acyclic: bool,
    /// Bit k: a terminal state of `props[k]`'s G' exists (`<> p` fails).
    pub violated: u8,
    /// States re-expanded to push late bits on.
    pub repropagated: u64,
}

/// Pushes the queued gains `(state, bits)` on through the graph until no
/// state gains a bit, adding to `violated` the bits that reach a terminal
/// state. Single-threaded: gains are rare (none at all when every state's
/// predecessors agree), so this is a short tail after the BFS.
pub fn repropagate<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    props: &[usize],
    tables: &mut [V],
    mut gains: Vec<(M::State, u8)>,
    out: &mut FlagOutcome,
) -> Result<(), Stop> {
    let (mut scratch, mut next_states) = (Vec::new(), Vec::new());
    while let Some((state, bits)) = gains.pop() {
        out.repropagated += 1;
        let pass = bits & not_p(ctx, props, &state);
        next_states.clear();
        let listed = ctx
            .model
            .successors(&state, &mut scratch, |_, next| next_states.push(next));
        if listed == 0 {
            out.violated |= pass;
        }
        if pass == 0 {
            continue;
        }
        for next in next_states.drain(..) {
            let fp = fingerprint(&next);
            let (new, gained) = tables[shard_of(fp)].insert_flagged(fp, &next, pass);
            if new {
                return Err(Stop(
                    "liveness: a successor is missing from the BFS table (nondeterministic \
                     model?)"
                        .into(),
                ));
            }
            if gained != 0 {
                gains.push((next, gained));
            }
        }
        if out.repropagated.is_multiple_of(1 << 16) {
            if let Some(stop) = ctx.budget_stop(0) {
                return Err(stop);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_ored_in_and_gains_reported() {
        let mut t = FlagTable::new();
        let fps: Vec<u64> = (1..=3000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
            .collect();
        for &fp in &fps {
            assert_eq!(t.add(fp, 0b01), (true, 0));
        }
        for &fp in &fps {
            assert_eq!(t.add(fp, 0b01), (false, 0));
            assert_eq!(t.add(fp, 0b11), (false, 0b10));
            assert_eq!(t.add(fp, 0b10), (false, 0));
        }
        assert_eq!(VisitedSet::<()>::len(&t), 3000);
    }

    #[test]
    fn filled_counts_stay_exact_through_growth() {
        let mut t = FlagTable::new();
        let fps: Vec<u64> = (1..=200_000u64).map(|i| fingerprint(&i)).collect();
        for (i, &fp) in fps.iter().enumerate() {
            assert_eq!(t.add(fp, (i % 251) as u8), (true, 0));
        }
        assert!(t.lines.bytes() >= 1 << 20, "grew into a mapped table");
        for line in t.lines.iter() {
            let filled = line.fps.iter().take_while(|&&f| f != 0).count();
            assert_eq!(usize::from(line.filled), filled);
            assert!(line.fps[filled..].iter().all(|&f| f == 0));
        }
        for (i, &fp) in fps.iter().enumerate() {
            assert_eq!(t.add(fp, (i % 251) as u8), (false, 0), "{i}");
        }
    }
}
