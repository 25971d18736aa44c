//! The visited-state table of schedule DFS: 64-bit world fingerprints mapped
//! to the sleep set and depth they were explored with.
//!
//! An open-addressing table keyed by the fingerprint itself (already a hash),
//! so lookups are deterministic and allocation-free. Each slot holds the
//! fingerprint next to the entry index, so a probe touches one cache line
//! (the table is far larger than the CPU caches on big checks).
//!
//! Parallel DFS layers a subtree's cache over the merged caches of the
//! subtrees finished before it ([`StateCache::over`], [`StateCache::absorb`]).

use std::sync::Arc;

/// What exploring a state covered: the stable ids of the tasks that were
/// asleep (not explored) there, and the shallowest depth it was seen at.
pub(crate) struct Visit {
    pub sleep: Vec<u64>,
    pub depth: u32,
}

pub(crate) struct StateCache {
    /// (fingerprint, index + 1 into `entries`); index 0 = empty slot.
    slots: Vec<(u64, u32)>,
    entries: Vec<(u64, Visit)>,
    /// The visits of subtrees finished earlier (parallel DFS), read-only:
    /// consulted when a fingerprint is not in `entries`.
    base: Option<Arc<StateCache>>,
    /// Entries for states that `base` does not know.
    fresh: usize,
}

/// What a lookup decided.
pub(crate) enum Lookup {
    /// Seen with a sleep set contained in the current one, at most as deep: prune.
    Covered,
    /// Seen, but the current visit may explore more; the entry was widened.
    Revisit,
    /// Never seen; now recorded.
    New,
}

impl StateCache {
    pub(crate) fn new() -> Self {
        StateCache {
            slots: vec![(0, 0); 1 << 12],
            entries: Vec::new(),
            base: None,
            fresh: 0,
        }
    }

    /// An empty cache layered over `base`: a state `base` covers is pruned,
    /// and a state it knows but does not cover is explored and recorded here.
    pub(crate) fn over(base: Arc<StateCache>) -> Self {
        StateCache {
            base: Some(base),
            ..StateCache::new()
        }
    }

    /// Distinct states known (in `base` too).
    pub(crate) fn len(&self) -> usize {
        self.base.as_ref().map_or(0, |b| b.len()) + self.fresh
    }

    /// Folds the visits of `layer` (made by [`StateCache::over`] on this
    /// cache, then detached) into this one: a state visited in both counts
    /// as explored outside the intersection of their sleep sets, at the
    /// shallower depth (as a revisit does).
    pub(crate) fn absorb(&mut self, layer: StateCache) {
        for (fp, visit) in layer.entries {
            match self.find(fp) {
                (_, Some(e)) => {
                    let mine = &mut self.entries[e].1;
                    mine.sleep.retain(|s| visit.sleep.binary_search(s).is_ok());
                    mine.depth = mine.depth.min(visit.depth);
                }
                (slot, None) => {
                    self.fresh += 1;
                    self.insert(slot, fp, visit);
                }
            }
        }
    }

    /// Lets go of the base (so that its owner can absorb this layer).
    pub(crate) fn detach(&mut self) {
        self.base = None;
    }

    fn find(&self, fp: u64) -> (usize, Option<usize>) {
        let mask = self.slots.len() - 1;
        let mut i = (fp as usize) & mask;
        loop {
            match self.slots[i] {
                (_, 0) => return (i, None),
                (f, e) if f == fp => return (i, Some(e as usize - 1)),
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        let mut slots = vec![(0u64, 0u32); self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (k, (fp, _)) in self.entries.iter().enumerate() {
            let mut i = (*fp as usize) & mask;
            while slots[i].1 != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = (*fp, k as u32 + 1);
        }
        self.slots = slots;
    }

    /// The recorded visit of `fp`, here or in the base.
    fn get(&self, fp: u64) -> Option<&Visit> {
        match self.find(fp) {
            (_, Some(e)) => Some(&self.entries[e].1),
            (_, None) => self.base.as_ref().and_then(|b| b.get(fp)),
        }
    }

    fn insert(&mut self, slot: usize, fp: u64, visit: Visit) {
        self.entries.push((fp, visit));
        self.slots[slot] = (fp, self.entries.len() as u32);
        if self.entries.len() * 2 > self.slots.len() {
            self.grow();
        }
    }

    /// Looks `fp` up with the current (sorted) sleep set and depth, recording the visit.
    pub(crate) fn visit(&mut self, fp: u64, sleep: &[u64], depth: u32) -> Lookup {
        let covers = |visit: &Visit| {
            visit.sleep.iter().all(|s| sleep.binary_search(s).is_ok()) && visit.depth <= depth
        };
        match self.find(fp) {
            (_, Some(e)) => {
                let visit = &mut self.entries[e].1;
                if covers(visit) {
                    return Lookup::Covered;
                }
                // After this visit, everything outside the intersection is explored.
                visit.sleep.retain(|s| sleep.binary_search(s).is_ok());
                visit.depth = visit.depth.min(depth);
                Lookup::Revisit
            }
            (slot, None) => {
                let known = self.base.as_ref().and_then(|b| b.get(fp));
                if known.is_some_and(covers) {
                    return Lookup::Covered;
                }
                let mut visit = Visit {
                    sleep: sleep.to_vec(),
                    depth,
                };
                let lookup = match known {
                    Some(old) => {
                        visit.sleep.retain(|s| old.sleep.binary_search(s).is_ok());
                        visit.depth = visit.depth.min(old.depth);
                        Lookup::Revisit
                    }
                    None => {
                        self.fresh += 1;
                        Lookup::New
                    }
                };
                self.insert(slot, fp, visit);
                lookup
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_only_when_covered() {
        let mut c = StateCache::new();
        assert!(matches!(c.visit(7, &[1, 2], 5), Lookup::New));
        assert!(matches!(c.visit(7, &[1, 2, 3], 5), Lookup::Covered));
        assert!(matches!(c.visit(7, &[1], 5), Lookup::Revisit));
        // Now stored sleep is {1}: {1,3} covers it, but a shallower visit does not.
        assert!(matches!(c.visit(7, &[1, 3], 6), Lookup::Covered));
        assert!(matches!(c.visit(7, &[1, 3], 2), Lookup::Revisit));
        for fp in 0..10_000u64 {
            c.visit(fp.wrapping_mul(0x9e37_79b9_7f4a_7c15), &[], 0);
        }
        assert!(c.len() >= 10_000);
        assert!(matches!(c.visit(7, &[1, 3], 9), Lookup::Covered));
    }

    #[test]
    fn a_layer_prunes_what_its_base_covers_and_merges_back() {
        let mut base = StateCache::new();
        base.visit(7, &[1, 2], 5);
        base.visit(8, &[], 5);
        let base = Arc::new(base);
        let mut layer = StateCache::over(base.clone());
        assert!(matches!(layer.visit(7, &[1, 2, 3], 6), Lookup::Covered));
        // Known to the base but not covered: explored, recorded with the intersection.
        assert!(matches!(layer.visit(7, &[1], 6), Lookup::Revisit));
        assert!(matches!(layer.visit(7, &[1, 4], 6), Lookup::Covered));
        assert!(matches!(layer.visit(9, &[2], 1), Lookup::New));
        assert_eq!(layer.len(), 3, "7 and 8 from the base, 9 fresh");
        let mut other = StateCache::over(base.clone());
        assert!(matches!(other.visit(9, &[3], 2), Lookup::New));
        layer.detach();
        other.detach();
        drop(base.clone());
        let mut merged = Arc::try_unwrap(base).ok().expect("no other owner");
        merged.absorb(layer);
        merged.absorb(other);
        assert_eq!(merged.len(), 3);
        // 7: {1,2} ∩ {1} = {1}; 9: {2} ∩ {3} = {} at depth 1.
        assert!(matches!(merged.visit(7, &[1], 9), Lookup::Covered));
        assert!(matches!(merged.visit(9, &[], 1), Lookup::Covered));
        assert!(matches!(merged.visit(9, &[], 0), Lookup::Revisit));
    }
}
